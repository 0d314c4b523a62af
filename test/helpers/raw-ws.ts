// A WebSocket client over a raw TCP socket, for handshakes the `ws` client will not send (its own
// Connection header cannot be replaced): the request head is written as given, frames are
// masked as RFC 6455 §5.3 requires, text and close frames are read back.
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'

export interface RawFrame { opcode: number; payload: Buffer }

export interface RawWebSocket {
  /** The status line and headers of the answer. */
  head: string
  send(text: string): void
  /** The next frame from the server (text 0x1, close 0x8). */
  next(): Promise<RawFrame>
  /** Resolves when the server has ended the connection. */
  ended: Promise<void>
  destroy(): void
}

function mask(opcode: number, payload: Buffer): Buffer {
  const key = randomBytes(4)
  const masked = Buffer.from(payload.map((byte, i) => byte ^ key[i % 4]!))
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), key, masked])
}

/** Opens with `head` (the whole request head, ending in an empty line); resolves once the answer's head came. */
export function rawWebSocket(port: number, head: string): Promise<RawWebSocket> {
  const socket: Socket = connect(port, '127.0.0.1')
  let buffer = Buffer.alloc(0)
  const frames: RawFrame[] = []
  const waiting: Array<(frame: RawFrame) => void> = []
  let answered: ((head: string) => void) | undefined
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('error', () => {})
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk])
    if (answered !== undefined) {
      const end = buffer.indexOf('\r\n\r\n')
      if (end === -1) return
      const text = buffer.subarray(0, end).toString('latin1')
      buffer = buffer.subarray(end + 4)
      answered(text)
      answered = undefined
    }
    // Unmasked server frames with payloads under 126 bytes are all this helper reads.
    while (buffer.length >= 2 && buffer.length >= 2 + (buffer[1]! & 0x7f)) {
      const length = buffer[1]! & 0x7f
      const frame = { opcode: buffer[0]! & 0x0f, payload: buffer.subarray(2, 2 + length) }
      buffer = buffer.subarray(2 + length)
      const waiter = waiting.shift()
      if (waiter !== undefined) waiter(frame)
      else frames.push(frame)
    }
  })
  return new Promise((resolve) => {
    answered = (answer) => resolve({
      head: answer,
      send: (text) => socket.write(mask(0x1, Buffer.from(text))),
      next: () => (frames.length > 0 ? Promise.resolve(frames.shift()!) : new Promise((done) => waiting.push(done))),
      ended,
      destroy: () => socket.destroy(),
    })
    socket.write(head)
  })
}

/** A request head for a WebSocket opening handshake with the headers given (the key and version added). */
export function handshake(path: string, headers: Record<string, string>): string {
  const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  return `${lines.join('\r\n')}\r\n\r\n`
}
