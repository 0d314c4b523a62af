// The member names of a JSON object text (RFC 8259), decoded and in order, duplicates included:
// what a JOSE header check compares, since JSON.parse keeps only the last of two `alg` members and
// hides that `"\u0061lg"` is `alg`. A full tokenizer, so that nothing inside a string or a nested
// value can pass for a name.

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const COMMA = 0x2c
const COLON = 0x3a
const MINUS = 0x2d

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }

const isDigit = (code: number): boolean => code >= 0x30 && code <= 0x39
const isHex = (code: number): boolean => isDigit(code) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66)

class Tokenizer {
  i = 0
  constructor(readonly text: string) {}

  whitespace(): void {
    const { text } = this
    for (;;) {
      const code = text.charCodeAt(this.i)
      if (code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d) this.i++
      else return
    }
  }

  /** A string at the cursor, decoded; undefined when it is not one. */
  string(): string | undefined {
    const { text } = this
    if (text.charCodeAt(this.i) !== QUOTE) return undefined
    let start = ++this.i
    let decoded = ''
    for (;;) {
      const code = text.charCodeAt(this.i)
      if (Number.isNaN(code) || code < 0x20) return undefined
      if (code === QUOTE) {
        decoded += text.slice(start, this.i++)
        return decoded
      }
      if (code !== BACKSLASH) {
        this.i++
        continue
      }
      decoded += text.slice(start, this.i)
      const escape = text[this.i + 1] ?? ''
      if (escape === 'u') {
        for (let k = 2; k < 6; k++) if (!isHex(text.charCodeAt(this.i + k))) return undefined
        decoded += String.fromCharCode(Number.parseInt(text.slice(this.i + 2, this.i + 6), 16))
        this.i += 6
      } else {
        const simple = Object.hasOwn(SIMPLE_ESCAPES, escape) ? SIMPLE_ESCAPES[escape] : undefined
        if (simple === undefined) return undefined
        decoded += simple
        this.i += 2
      }
      start = this.i
    }
  }

  number(): boolean {
    const { text } = this
    if (text.charCodeAt(this.i) === MINUS) this.i++
    if (text.charCodeAt(this.i) === 0x30) this.i++
    else if (!this.digits()) return false
    if (text.charCodeAt(this.i) === 0x2e) {
      this.i++
      if (!this.digits()) return false
    }
    const e = text.charCodeAt(this.i)
    if (e === 0x65 || e === 0x45) {
      this.i++
      const sign = text.charCodeAt(this.i)
      if (sign === 0x2b || sign === MINUS) this.i++
      if (!this.digits()) return false
    }
    return true
  }

  digits(): boolean {
    const start = this.i
    while (isDigit(this.text.charCodeAt(this.i))) this.i++
    return this.i > start
  }

  literal(): boolean {
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.i)) {
        this.i += word.length
        return true
      }
    }
    return false
  }

  /** `"name" :` at the cursor (after whitespace); the decoded name. */
  memberHead(): string | undefined {
    this.whitespace()
    const name = this.string()
    if (name === undefined) return undefined
    this.whitespace()
    if (this.text.charCodeAt(this.i) !== COLON) return undefined
    this.i++
    return name
  }
}

/**
 * The names of the top-level members of `text`, decoded, in order, duplicates included; undefined
 * when `text` is not exactly one JSON object (with optional surrounding whitespace).
 */
export function objectMemberNames(text: string): string[] | undefined {
  const t = new Tokenizer(text)
  const names: string[] = []
  // Open containers, innermost last: iterative, so that no nesting depth can overflow the stack.
  const open: number[] = []
  t.whitespace()
  if (text.charCodeAt(t.i) !== OPEN_OBJECT) return undefined
  for (;;) {
    t.whitespace()
    const code = text.charCodeAt(t.i)
    if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      t.i++
      t.whitespace()
      const close = code === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY
      if (text.charCodeAt(t.i) === close) t.i++
      else {
        open.push(code)
        if (code === OPEN_OBJECT) {
          const name = t.memberHead()
          if (name === undefined) return undefined
          if (open.length === 1) names.push(name)
        }
        continue
      }
    } else if (code === QUOTE) {
      if (t.string() === undefined) return undefined
    } else if (code === MINUS || isDigit(code)) {
      if (!t.number()) return undefined
    } else if (!t.literal()) return undefined
    // A value ended: close what it ends, or go on to the next element or member.
    for (;;) {
      if (open.length === 0) {
        t.whitespace()
        return t.i === text.length ? names : undefined
      }
      t.whitespace()
      const next = text.charCodeAt(t.i)
      const container = open[open.length - 1]
      if (next === COMMA) {
        t.i++
        if (container === OPEN_OBJECT) {
          const name = t.memberHead()
          if (name === undefined) return undefined
          if (open.length === 1) names.push(name)
        }
        break
      }
      if (next !== (container === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) return undefined
      t.i++
      open.pop()
    }
  }
}
