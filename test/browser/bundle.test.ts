// What a page downloads for the ws-client: src/ws-client.ts bundled by esbuild for the browser,
// minified and gzipped, stays under 3 KB; it reads nothing but itself and names no Node global.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { bundleWsClient } from '../helpers/browser.js'

test('the ws-client browser bundle: under 3 KB minified and gzipped, no Node built-ins', async () => {
  const { code, inputs } = await bundleWsClient()
  const gzipped = gzipSync(code, { level: 9 }).length
  console.log(`# ws-client browser bundle: ${code.length} bytes minified, ${gzipped} bytes gzipped`)
  assert.ok(gzipped < 3 * 1024, `${gzipped} bytes gzipped`)
  assert.deepEqual(inputs, ['src/ws-client.ts'])
  // Buffer, process, require, node: modules, and the socket's EventEmitter methods; a timer's unref
  // only where it exists (unref?.()).
  for (const nodeOnly of [/(?<![\w$])Buffer\b/, /(?<![\w$.])process\./, /\brequire\(/, /["']node:/, /\.unref\(/, /\.(?:on|off|once)\(/]) {
    assert.doesNotMatch(code, nodeOnly)
  }
})
