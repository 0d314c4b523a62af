// A real local HTTP server that plays an identity provider endpoint and misbehaves on command:
// each request is answered according to the current `mode`. Counts what it receives.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type FaultMode =
  | 'ok' | 'status' | 'hang' | 'reset' | 'garbage' | 'html' | 'slow' | 'huge' | 'endless' | 'redirect' | 'respond'

/** One answer of `respond` mode. */
export interface ScriptedAnswer {
  status: number
  headers?: Record<string, string>
  /** Sent as is; a non-string is sent as JSON. Default: no body. */
  body?: unknown
}

export interface FaultServer {
  readonly url: string
  readonly port: number
  /** Requests received (also while misbehaving). */
  readonly requests: IncomingMessage[]
  mode: FaultMode
  /** The JSON body of `ok` answers (and the status/headers of `status` answers). */
  body: unknown
  status: number
  headers: Record<string, string>
  /** Delay of `slow` answers, in ms. */
  delayMs: number
  /** Where `redirect` points. */
  location: string
  /** The body of `status` answers. Default `{"error":"fault"}`; '' sends none (Glewlwyd's 404). */
  statusBody: string
  /** `respond` mode: the answer to each request, from its headers and its (form) body. */
  respond: (req: IncomingMessage, body: string) => ScriptedAnswer
  close(): Promise<void>
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers }).end(body)
}

export async function startFaultServer(initial: Partial<Pick<FaultServer, 'mode' | 'body'>> = {}): Promise<FaultServer> {
  const sockets = new Set<Socket>()
  const state = {
    mode: initial.mode ?? 'ok',
    body: initial.body ?? { active: true, sub: 'alice', scope: 'read', exp: Math.floor(Date.now() / 1000) + 3600 },
    status: 500,
    headers: {} as Record<string, string>,
    delayMs: 10_000,
    location: 'http://127.0.0.1:1/',
    statusBody: JSON.stringify({ error: 'fault' }),
    respond: (() => ({ status: 500 })) as FaultServer['respond'],
  }
  const requests: IncomingMessage[] = []
  const server: Server = createServer((req, res) => {
    requests.push(req)
    if (state.mode === 'respond') {
      let body = ''
      req.on('data', (chunk: Buffer) => { body += chunk.toString() })
      req.on('end', () => {
        const answer = state.respond(req, body)
        const text = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body)
        res.writeHead(answer.status, { 'content-length': String(Buffer.byteLength(text)), ...(typeof answer.body === 'object' ? { 'content-type': 'application/json' } : {}), ...answer.headers }).end(text)
      })
      return undefined
    }
    req.resume()
    switch (state.mode) {
      case 'ok': return send(res, 200, JSON.stringify(state.body))
      case 'status': return send(res, state.status, state.statusBody, state.headers)
      case 'hang': return undefined
      case 'reset':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
        res.write('{"active": true, "sub": "al')
        setTimeout(() => res.socket?.destroy(), 20)
        return undefined
      case 'garbage': return send(res, 200, '\u0000\u00ffnot json at all', { 'content-type': 'application/octet-stream' })
      case 'html': return send(res, 200, '<html><body>Bad gateway</body></html>', { 'content-type': 'text/html' })
      case 'slow': {
        const timer = setTimeout(() => send(res, 200, JSON.stringify(state.body)), state.delayMs)
        res.on('close', () => clearTimeout(timer))
        return undefined
      }
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' })
        const chunk = Buffer.alloc(1024 * 1024, 0x20)
        let sent = 0
        const pump = (): void => {
          while (sent < 50 && res.write(chunk)) sent++
          if (sent >= 50) res.end()
          else res.once('drain', pump)
        }
        res.write('{"active": true, "padding": "')
        pump()
        return undefined
      }
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/json' })
        const interval = setInterval(() => res.write('[[[[[[[[[[[[[[[[[[[['), 1)
        res.on('close', () => clearInterval(interval))
        return undefined
      }
      case 'redirect': return send(res, 302, '', { location: state.location })
    }
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  })
}
