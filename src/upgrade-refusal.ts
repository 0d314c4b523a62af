// A refused WebSocket upgrade that a browser page can read: a page sees any refused upgrade (HTTP
// 401/403/503) only as `close 1006`, so on request the upgrade is accepted (RFC 6455 §4.2.2) and the
// socket closed at once: a text frame `{"type":"auth_error","error","error_description"}`, then a
// close frame with 4000 + the status (1013 for an outage) and the failure key as its reason. Written
// on the raw socket: the route's handler never runs, and no WebSocket library is involved.
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { failureKey, type AuthFailure } from './auth.js'
import { closeCode } from './websocket.js'

const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
/** How long the socket may linger for the client's closing frame. */
const LINGER_MS = 1_000

/** One unmasked, final frame (a server's frames are never masked). */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length
  const head = length < 126 ? Buffer.from([0x80 | opcode, length]) : Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
  return Buffer.concat([head, payload])
}

/** Whether the upgrade can be accepted to be closed (a version 13 handshake with its key). */
export function canCloseUpgrade(request: FastifyRequest): boolean {
  const { headers } = request
  return typeof headers['sec-websocket-key'] === 'string' && headers['sec-websocket-version'] === '13'
}

/** Accepts the upgrade, says why it is refused, closes. The reply is taken over (hijacked). */
export function refuseByClosing(request: FastifyRequest, reply: FastifyReply, failure: AuthFailure): void {
  const { headers } = request
  const socket = request.raw.socket
  const accept = createHash('sha1').update(`${headers['sec-websocket-key'] as string}${HANDSHAKE_GUID}`).digest('base64')
  // A client that offered subprotocols gets the first back, so that the browser completes the handshake.
  const offered = typeof headers['sec-websocket-protocol'] === 'string' ? headers['sec-websocket-protocol'].split(',')[0]?.trim() : undefined
  reply.hijack()
  const key = failureKey(failure)
  const message = JSON.stringify({ type: 'auth_error', error: key, error_description: failure.errors[0]?.message })
  const close = Buffer.alloc(2 + Buffer.byteLength(key))
  close.writeUInt16BE(closeCode(failure), 0)
  close.write(key, 2)
  socket.on('error', () => socket.destroy())
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${offered === undefined || offered === '' ? '' : `Sec-WebSocket-Protocol: ${offered}\r\n`}\r\n`)
  socket.write(frame(0x1, Buffer.from(message)))
  socket.end(frame(0x8, close))
  setTimeout(() => socket.destroy(), LINGER_MS).unref()
}
