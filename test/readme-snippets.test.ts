// Every ```ts block of the README compiles under `strict` against the packed package, as a user
// would paste it: each block is a module of a scratch project where the tarball is installed, and
// one tsc run checks them all, with TypeScript 5.9 (this repository's) and with TypeScript 7.
// Names a block uses without declaring them (`app`, `provider`, `token`…) come from a prelude of
// ambient declarations; a block's own declarations and imports shadow them.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { consumerProject, devVersion, ROOT, type Consumer } from './helpers/packed.js'

interface Snippet { line: number; file: string; code: string }

/** The ```ts blocks of a Markdown text, with the README line of their first line of code. */
export function tsBlocks(markdown: string): Snippet[] {
  const lines = markdown.split('\n')
  const blocks: Snippet[] = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```ts\s*$/.exec(lines[i]!)
    if (fence === null) continue
    const indent = fence[1]!.length
    const start = i + 1
    let end = start
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end]!)) end++
    const code = lines.slice(start, end).map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length))).join('\n')
    blocks.push({ line: start + 1, file: `readme-${String(start + 1).padStart(4, '0')}.ts`, code })
    i = end
  }
  return blocks
}

// What a block may use without declaring: what the README's prose says it is.
const PRELUDE = `
declare const app: import('fastify').FastifyInstance
declare const fastifyTokenAuth: typeof import('fastify-token-auth').default
declare const provider: import('fastify-token-auth').AnyProvider
declare const token: string
declare const tokens: { current(): string }
`

const TSCONFIG = {
  compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], skipLibCheck: true },
}

/** tsc's errors, each pointed at its README line. */
function compile(tsc: string, dir: string, snippets: Snippet[]): { code: number | null; errors: string[] } {
  const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8' })
  const errors = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const at = /^(readme-\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
    const snippet = at === null ? undefined : snippets.find((candidate) => candidate.file === at[1])
    return snippet === undefined ? line : `README.md:${snippet.line + Number(at![2]) - 1}:${at![3]} ${at![4]}`
  })
  return { code: result.status, errors }
}

describe('README TypeScript blocks compile against the packed package (strict)', { timeout: 300_000 }, () => {
  const snippets = tsBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  let consumer: Consumer
  before(async () => {
    consumer = await consumerProject('fta-readme-', [
      'fastify@5', 'ws@8', `@types/node@${devVersion('@types/node')}`, `@types/ws@${devVersion('@types/ws')}`,
      `@fastify/websocket@${devVersion('@fastify/websocket')}`, `redis@${devVersion('redis')}`, `@opentelemetry/api@${devVersion('@opentelemetry/api')}`,
      // The plugins the README shows beside this one.
      `@fastify/cors@${devVersion('@fastify/cors')}`, `@fastify/rate-limit@${devVersion('@fastify/rate-limit')}`, `@fastify/formbody@${devVersion('@fastify/formbody')}`,
    ])
    writeFileSync(join(consumer.dir, 'prelude.d.ts'), PRELUDE)
    for (const snippet of snippets) writeFileSync(join(consumer.dir, snippet.file), snippet.code)
    writeFileSync(join(consumer.dir, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, files: ['prelude.d.ts', ...snippets.map((snippet) => snippet.file)] }))
  })
  after(() => consumer.remove())

  test('the README has the blocks this test is about', () => {
    assert.ok(snippets.length >= 15, `found ${snippets.length} blocks`)
    for (const snippet of snippets) assert.ok(snippet.code.trim().length > 0, `README.md:${snippet.line} is not empty`)
  })

  test('TypeScript 5.9', () => {
    const { code, errors } = compile(join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), consumer.dir, snippets)
    assert.deepEqual(errors, [])
    assert.equal(code, 0)
  })

  test('TypeScript 7 (the native compiler)', () => {
    const located = spawnSync(process.execPath, [join(ROOT, 'scripts', 'typescript-7.mjs')], { encoding: 'utf8' })
    assert.equal(located.status, 0, located.stderr)
    const { code, errors } = compile(located.stdout.trim(), consumer.dir, snippets)
    assert.deepEqual(errors, [])
    assert.equal(code, 0)
  })
})
