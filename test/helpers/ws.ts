// A real ws client with everything a test wants to look at: the upgrade answer, the messages,
// how it closed.
import type { IncomingMessage } from 'node:http'
import WebSocket from 'ws'

export interface Client {
  ws: WebSocket
  /** Resolves when open; rejects with the HTTP status when the upgrade is refused. */
  opened: Promise<IncomingMessage>
  /** The refused upgrade's answer, if any. */
  refused: Promise<{ status: number; headers: Record<string, unknown> } | undefined>
  messages: unknown[]
  closed: Promise<{ code: number; reason: string }>
  /** The next message not yet taken (parsed when JSON). */
  next(): Promise<unknown>
}

export function connect(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Client {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers })
  const messages: unknown[] = []
  const waiting: Array<(message: unknown) => void> = []
  let taken = 0
  ws.on('message', (data) => {
    const text = String(data)
    let message: unknown = text
    try { message = JSON.parse(text) } catch { /* plain text */ }
    messages.push(message)
    const waiter = waiting.shift()
    if (waiter !== undefined) {
      taken++
      waiter(message)
    }
  })
  let refusedResolve!: (value: { status: number; headers: Record<string, unknown> } | undefined) => void
  const refused = new Promise<{ status: number; headers: Record<string, unknown> } | undefined>((resolve) => { refusedResolve = resolve })
  const opened = new Promise<IncomingMessage>((resolve, reject) => {
    ws.on('upgrade', (response) => resolve(response))
    ws.on('unexpected-response', (_request, response) => {
      refusedResolve({ status: response.statusCode ?? 0, headers: response.headers })
      response.resume()
      reject(new Error(`upgrade refused: ${response.statusCode}`))
      ws.terminate()
    })
    ws.on('error', reject)
  })
  opened.then(() => refusedResolve(undefined), () => {})
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  })
  return {
    ws, opened, refused, messages, closed,
    next: () => (taken < messages.length ? Promise.resolve(messages[taken++]) : new Promise((resolve) => waiting.push(resolve))),
  }
}

/** How an upgrade ended: 101 when the socket opened (it is closed again), else the refusal's status. */
export async function upgradeStatus(client: Client): Promise<number | undefined> {
  try {
    await client.opened
    client.ws.close()
    return 101
  } catch {
    return (await client.refused)?.status
  }
}
