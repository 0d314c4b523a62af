// Every line a Fastify (pino) logger writes, kept for the test to scan.
import { Writable } from 'node:stream'

export function captureLogs(): { stream: Writable; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line.length > 0))
      callback()
    },
  })
  return { stream, lines }
}
