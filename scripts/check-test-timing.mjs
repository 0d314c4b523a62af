// Finds tests that depend on the machine's speed (issue 16): a sleep longer than 50 ms, a sleep
// until a wall-clock instant, or an assertion that a wall-clock duration stayed under 5 s. Such a
// test fails on a busy machine, or makes the suite slow; use virtual time (test/helpers/clock.ts)
// or wait for the event (test/helpers/poll.ts) instead.
//
//   node scripts/check-test-timing.mjs [file or directory …]     (default: test)
//
// Reads the code with the TypeScript parser. A sleep is a call of setTimeout, sleep, delay or wait
// (not a method: socket.setTimeout(…) is a socket's idle timeout); its delay counts when it is a
// literal, a const, or arithmetic of those, or when it is computed from the wall clock. Inside
// Promise.race(…) such a timer is a cap on a wait instead, which must be 5 s or more. A bound is
// a comparison inside assert(…)/assert.ok(…) whose smaller side is a wall-clock duration
// (`Date.now() - t`, `performance.now() - t`, or a variable set to one) and whose larger side is
// under 5,000 (or not a number the script can read), or whose smaller side is the wall-clock
// instant and whose larger side is some instant plus less than 5,000. A line that must keep such a
// timer (one that runs on virtual time, which the script cannot see) says `timing-ok: <why>` in a
// comment on it or the line above. Exit 1 and one line per finding, or exit 0.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'

export const LONGEST_SLEEP_MS = 50
export const SHORTEST_BOUND_MS = 5_000
const SLEEPS = new Set(['setTimeout', 'sleep', 'delay', 'wait'])
const SOURCE = /\.(?:ts|mts|cts|js|mjs|cjs)$/

function sourceFiles(path) {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path, { withFileTypes: true })
    .filter((entry) => entry.name !== 'node_modules')
    .flatMap((entry) => (entry.isDirectory() ? sourceFiles(join(path, entry.name)) : SOURCE.test(entry.name) ? [join(path, entry.name)] : []))
    .sort()
}

const unwrap = (node) => {
  while (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isNonNullExpression(node) || ts.isAwaitExpression(node)) node = node.expression
  return node
}

/**
 * Every variable's initializer by name, whatever its scope; null for a name bound more than one
 * way (two values, a destructuring, a parameter): unknown, rather than another scope's value.
 */
function declarations(file) {
  const found = new Map()
  const bind = (name, initializer) => {
    found.set(name, found.has(name) && found.get(name)?.getText() !== initializer?.getText() ? null : initializer ?? null)
  }
  const bindPattern = (pattern) => {
    if (ts.isIdentifier(pattern)) bind(pattern.text, undefined)
    else for (const element of pattern.elements) if (!ts.isOmittedExpression(element)) bindPattern(element.name)
  }
  const visit = (node) => {
    if (ts.isVariableDeclaration(node)) {
      if (ts.isIdentifier(node.name)) bind(node.name.text, node.initializer)
      else bindPattern(node.name)
    }
    if (ts.isParameter(node)) bindPattern(node.name)
    ts.forEachChild(node, visit)
  }
  visit(file)
  return found
}

function checkFile(path, display) {
  const text = readFileSync(path, 'utf8')
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, path.endsWith('x') ? ts.ScriptKind.TSX : undefined)
  const initializers = declarations(file)
  const findings = []
  const lines = text.split('\n')
  const report = (node, message) => {
    const { line, character } = file.getLineAndCharacterOfPosition(node.getStart(file))
    if (/timing-ok:/.test(lines[line] ?? '') || /timing-ok:/.test(lines[line - 1] ?? '')) return
    findings.push(`${display}:${line + 1}:${character + 1}  ${message}: ${node.getText(file).replace(/\s+/g, ' ').slice(0, 100)}`)
  }

  /** The number an expression always has, or undefined. */
  const value = (node, seen = new Set()) => {
    node = unwrap(node)
    if (ts.isNumericLiteral(node)) return Number(node.text.replaceAll('_', ''))
    if (ts.isPrefixUnaryExpression(node) && node.operator === ts.SyntaxKind.MinusToken) {
      const inner = value(node.operand, seen)
      return inner === undefined ? undefined : -inner
    }
    if (ts.isIdentifier(node)) {
      const initializer = initializers.get(node.text)
      if (initializer == null || seen.has(node.text)) return undefined
      return value(initializer, new Set([...seen, node.text]))
    }
    if (ts.isBinaryExpression(node)) {
      const left = value(node.left, seen)
      const right = value(node.right, seen)
      if (left === undefined || right === undefined) return undefined
      switch (node.operatorToken.kind) {
        case ts.SyntaxKind.PlusToken: return left + right
        case ts.SyntaxKind.MinusToken: return left - right
        case ts.SyntaxKind.AsteriskToken: return left * right
        case ts.SyntaxKind.SlashToken: return left / right
        default: return undefined
      }
    }
    return undefined
  }

  /** Whether an expression reads the wall clock, directly or through a variable set from it. */
  const readsClock = (node, seen = new Set()) => {
    let found = false
    const visit = (child) => {
      if (found) return
      child = unwrap(child)
      if (ts.isCallExpression(child) && ts.isPropertyAccessExpression(child.expression)) {
        const target = child.expression.expression.getText(file)
        const method = child.expression.name.text
        if ((target === 'Date' || target === 'performance') && method === 'now') { found = true; return }
      }
      if (ts.isNewExpression(child) && child.expression.getText(file) === 'Date' && (child.arguments?.length ?? 0) === 0) { found = true; return }
      if (ts.isIdentifier(child) && !seen.has(child.text)) {
        const initializer = initializers.get(child.text)
        if (initializer != null && readsClock(initializer, new Set([...seen, child.text]))) { found = true; return }
      }
      // A property of an object that holds a clock reading somewhere is not a clock reading.
      if (ts.isPropertyAccessExpression(child)) return
      ts.forEachChild(child, visit)
    }
    visit(node)
    return found
  }

  /** A wall-clock duration: a difference with a clock reading in it, or a variable set to one. */
  const isDuration = (node, seen = new Set()) => {
    node = unwrap(node)
    if (ts.isIdentifier(node)) {
      const initializer = initializers.get(node.text)
      return initializer != null && !seen.has(node.text) && isDuration(initializer, new Set([...seen, node.text]))
    }
    return ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.MinusToken && readsClock(node)
  }

  /** The constant part of a bound: its value, or the sum of its constant additive terms. */
  const constantPart = (node) => {
    const whole = value(node)
    if (whole !== undefined) return { ms: whole, exact: true }
    node = unwrap(node)
    if (ts.isBinaryExpression(node) && (node.operatorToken.kind === ts.SyntaxKind.PlusToken || node.operatorToken.kind === ts.SyntaxKind.MinusToken)) {
      const left = constantPart(node.left)
      const right = constantPart(node.right)
      const sign = node.operatorToken.kind === ts.SyntaxKind.MinusToken ? -1 : 1
      return { ms: left.ms + sign * right.ms, exact: false }
    }
    return { ms: 0, exact: false }
  }

  /** Whether a call is inside the arguments of Promise.race(…). */
  const racedAgainst = (call) => {
    for (let node = call.parent; node !== undefined && !ts.isSourceFile(node); node = node.parent) {
      if (ts.isCallExpression(node) && node.expression.getText(file) === 'Promise.race') return true
    }
    return false
  }

  const checkSleep = (call) => {
    const name = call.expression.text
    const args = call.arguments
    if (args.length === 0) return
    // setTimeout(callback, ms) or timers/promises' setTimeout(ms[, value]); sleep(ms), delay(ms), wait(ms).
    const first = unwrap(args[0])
    const callbackForm = name === 'setTimeout' && (ts.isArrowFunction(first) || ts.isFunctionExpression(first) || (args.length >= 2 && value(first) === undefined))
    const delay = callbackForm ? args[1] : args[0]
    if (delay === undefined) return
    const ms = value(delay)
    if (racedAgainst(call)) {
      // A timer raced against the awaited work is a cap: a wall-clock bound, not a sleep.
      if (ms !== undefined && ms < SHORTEST_BOUND_MS) report(call, `caps the wait at ${ms} ms (under ${SHORTEST_BOUND_MS} ms: a busy machine hits it)`)
    } else if (readsClock(delay)) report(call, 'sleeps until a wall-clock instant (use virtual time, or wait for the event)')
    else if (ms !== undefined && ms > LONGEST_SLEEP_MS) report(call, `sleeps ${ms} ms (over ${LONGEST_SLEEP_MS} ms: use virtual time, or wait for the event)`)
  }

  const checkAssertion = (call) => {
    const visit = (node) => {
      node = unwrap(node)
      if (ts.isBinaryExpression(node)) {
        const kind = node.operatorToken.kind
        const less = kind === ts.SyntaxKind.LessThanToken || kind === ts.SyntaxKind.LessThanEqualsToken
        const greater = kind === ts.SyntaxKind.GreaterThanToken || kind === ts.SyntaxKind.GreaterThanEqualsToken
        if (less || greater) {
          const [small, large] = less ? [node.left, node.right] : [node.right, node.left]
          const bound = constantPart(large)
          const advice = `(under ${SHORTEST_BOUND_MS} ms: assert it on virtual time, or measure it in bench/)`
          if (isDuration(small)) {
            // A duration's bound must be a number the script can read, and a generous one.
            if (bound.exact && bound.ms < SHORTEST_BOUND_MS) report(node, `asserts a wall-clock bound of ${Math.round(bound.ms)} ms ${advice}`)
            else if (!bound.exact) report(node, `asserts a wall-clock bound the script cannot read as ${SHORTEST_BOUND_MS} ms or more (constant part ${Math.round(bound.ms)} ms) ${advice}`)
          } else if (readsClock(small) && !bound.exact && bound.ms > 0 && bound.ms < SHORTEST_BOUND_MS) {
            // The clock's instant against another instant plus a margin: the margin is the bound.
            report(node, `asserts a wall-clock bound of ${Math.round(bound.ms)} ms past an instant ${advice}`)
          }
          return
        }
        visit(node.left)
        visit(node.right)
        return
      }
      if (ts.isPrefixUnaryExpression(node)) visit(node.operand)
    }
    if (call.arguments[0] !== undefined) visit(call.arguments[0])
  }

  const visit = (node) => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression
      if (ts.isIdentifier(callee) && SLEEPS.has(callee.text)) checkSleep(node)
      const name = callee.getText(file)
      if (name === 'assert' || name === 'assert.ok' || name === 'ok') checkAssertion(node)
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return findings
}

const roots = process.argv.slice(2)
const files = (roots.length === 0 ? ['test'] : roots).flatMap(sourceFiles)
const findings = files.flatMap((path) => checkFile(path, relative(process.cwd(), path)))
for (const finding of findings) console.log(finding)
if (findings.length > 0) {
  console.log(`\n${findings.length} timing problem${findings.length === 1 ? '' : 's'} in ${files.length} files: a busy machine fails or slows these tests (see scripts/check-test-timing.mjs)`)
  process.exitCode = 1
} else {
  console.log(`check-test-timing: ${files.length} files, no sleep over ${LONGEST_SLEEP_MS} ms, no wall-clock bound under ${SHORTEST_BOUND_MS} ms`)
}
