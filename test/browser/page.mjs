// Runs in the browser (Debian's chromium, driven by browser.test.ts): each scenario does what a web
// page would, and returns plain data for the test to assert on. Plain JavaScript because the
// project's TypeScript config has no DOM library. The ws-client is /ws-client.js, the esbuild bundle
// of src/ws-client.ts made at test time.
import { AuthFlow, readRefusal } from '/ws-client.js'

const wsBase = `ws://${location.host}`

function within(promise, ms, what) {
  let timer
  const late = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms) })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

function opened(socket) {
  return within(new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true })
    socket.addEventListener('close', (event) => reject(new Error(`closed with ${event.code} before open`)), { once: true })
  }), 10_000, 'open')
}

function nextMessage(socket) {
  return within(new Promise((resolve) => socket.addEventListener('message', (event) => resolve(JSON.parse(event.data)), { once: true })), 10_000, 'message')
}

function closed(socket) {
  return within(new Promise((resolve) => socket.addEventListener('close', (event) => resolve(event), { once: true })), 10_000, 'close')
}

async function echo(socket, text) {
  const reply = nextMessage(socket)
  socket.send(text)
  return reply
}

globalThis.scenarios = {
  /** fetch on the same origin, without and with the token. */
  async fetchMe({ token }) {
    const without = await fetch('/api/me')
    const withToken = await fetch('/api/me', { headers: { authorization: `Bearer ${token}` } })
    return {
      without: { status: without.status, challenge: without.headers.get('www-authenticate'), body: await without.json() },
      with: { status: withToken.status, body: await withToken.json() },
    }
  },

  /**
   * fetch to an API on another origin (@fastify/cors): without a token (a simple request), with it
   * (the Authorization header makes the browser send a preflight first; no credentials mode needed), and
   * to a scope whose CORS options do not expose WWW-Authenticate.
   */
  async crossOrigin({ api, token }) {
    const read = async (response) => ({ status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.json() })
    const without = await read(await fetch(`${api}/api/me`))
    const withToken = await fetch(`${api}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    const bare = await read(await fetch(`${api}/bare/me`))
    return { without, with: { status: withToken.status, body: await withToken.json() }, bare }
  },

  /** The same API while its identity provider is down: a 503 whose Retry-After a page reads only where it is exposed. */
  async crossOriginOutage({ api }) {
    const read = async (response) => ({ status: response.status, retryAfter: response.headers.get('retry-after'), error: (await response.json()).error })
    const headers = (n) => ({ authorization: `Bearer never-seen-token.${n}.${Date.now()}` })
    return { exposed: await read(await fetch(`${api}/api/me`, { headers: headers(1) })), bare: await read(await fetch(`${api}/bare/me`, { headers: headers(2) })) }
  },

  /** A ticket minted with the token over fetch, then the WebSocket with the ticket in its URL. */
  async ticket({ token }) {
    const response = await fetch('/ws-ticket', { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    const { ticket } = await response.json()
    const url = `${wsBase}/stream?ticket=${encodeURIComponent(ticket)}`
    const socket = new WebSocket(url)
    await opened(socket)
    const reply = await echo(socket, 'with-ticket')
    socket.close()
    return { status: response.status, url, reply }
  },

  /** The token as a subprotocol: fine for a JWT's characters; '/', '+' and '=' throw at once. */
  async subprotocol({ token, badTokens }) {
    const thrown = {}
    for (const bad of badTokens) {
      try {
        new WebSocket(`${wsBase}/stream`, ['bearer', bad]).close()
        thrown[bad] = null
      } catch (err) {
        thrown[bad] = { name: err.name, mentionsToken: String(err.message).includes(bad) }
      }
    }
    const socket = new WebSocket(`${wsBase}/stream`, ['bearer', token])
    await opened(socket)
    const reply = await echo(socket, 'with-subprotocol')
    socket.close()
    return { thrown, protocol: socket.protocol, reply }
  },

  /**
   * First-message authentication with AuthFlow and tokens that live `life` seconds (shorter than
   * the default refreshAhead of 5 s), fetched fresh from the server each time, through `renewals`
   * renewals; then a message still gets through.
   */
  async renewal({ life, renewals }) {
    let fetched = 0
    const flow = new AuthFlow({
      async getToken() {
        fetched++
        const response = await fetch(`/test/token?life=${life}`)
        return (await response.json()).token
      },
    })
    const events = []
    for (const type of ['authenticated', 'renewed', 'error', 'refused', 'closed']) {
      flow.on(type, (event) => events.push({ type, at: Date.now(), expiresAt: event.expiresAt ?? null, reason: event.reason ?? null, code: event.code ?? null }))
    }
    const socket = new WebSocket(`${wsBase}/first`)
    let reauthRequired = 0
    socket.addEventListener('message', (event) => { if (String(event.data).includes('"reauth_required"')) reauthRequired++ })
    const started = Date.now()
    // Called while the socket is still connecting: the flow sends at open.
    const first = await flow.authenticate(socket)
    await within(new Promise((resolve) => {
      const check = () => { if (events.filter((e) => e.type === 'renewed').length >= renewals || socket.readyState !== WebSocket.OPEN) resolve() }
      flow.on('renewed', check)
      flow.on('closed', check)
    }), 30_000, 'renewals')
    const elapsed = Date.now() - started
    const open = socket.readyState === WebSocket.OPEN
    const reply = open ? await echo(socket, 'after-renewals') : null
    flow.close()
    return { first: { authenticated: first.authenticated, uid: first.uid }, events, fetched, elapsed, open, reply, reauthRequired }
  },

  /** First messages the server refuses: what the flow reports, and what readRefusal reads from the raw close event. */
  async refusedFirstMessage({ path, token }) {
    const socket = new WebSocket(`${wsBase}${path}`)
    const raw = closed(socket).then((event) => ({ code: event.code, reason: event.reason, refusal: readRefusal(event) ?? null }))
    const flow = new AuthFlow({ getToken: () => token })
    const refused = new Promise((resolve) => flow.on('refused', resolve))
    const rejection = await flow.authenticate(socket).then(
      () => null,
      (err) => ({ name: err.name, reason: err.reason, code: err.code, error: err.error }),
    )
    return { rejection, refused: await within(refused, 10_000, 'refused'), raw: await raw }
  },

  /**
   * An upgrade to a route with upgradeRefusal: 'close', its credential a ticket (`fresh`, `tampered`
   * or `expired`, minted from `token` for `path`) or subprotocols: what AuthFlow's `refused` event
   * says, what the raw close event says, and the auth_error message before it.
   */
  async refusedUpgradeClose({ path, token, ticket, protocols }) {
    let url = `${wsBase}${path}`
    if (ticket !== undefined) {
      const ttl = ticket === 'expired' ? '&ttl=1' : ''
      const response = await fetch(`/ws-ticket?route=${encodeURIComponent(path)}${ttl}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
      let minted = (await response.json()).ticket
      // One character of the signature changed.
      if (ticket === 'tampered') minted = `${minted.slice(0, -2)}${minted.at(-2) === 'A' ? 'B' : 'A'}${minted.at(-1)}`
      // A ticket valid 1 ms is past its exp by the time it is used; a few ms more make sure.
      if (ticket === 'expired') await new Promise((resolve) => setTimeout(resolve, 5))
      url += `?ticket=${encodeURIComponent(minted)}`
    }
    const socket = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols)
    let opened = false
    let authError = null
    socket.addEventListener('open', () => { opened = true })
    socket.addEventListener('message', (event) => { authError = JSON.parse(event.data) })
    const raw = closed(socket).then((event) => ({ code: event.code, reason: event.reason }))
    const flow = new AuthFlow({ getToken: () => token ?? 'unused' })
    let refusal = null
    flow.on('refused', (event) => { refusal = event })
    flow.attach(socket)
    const rawClose = await raw
    // The flow hears the same close event: its `refused` (if any) has been emitted by the next task.
    await new Promise((resolve) => setTimeout(resolve, 0))
    flow.dispose()
    return { opened, refused: refusal, raw: rawClose, authError }
  },

  /** A fresh ticket for `path`, the socket, one echo. */
  async ticketTo({ path, token }) {
    const response = await fetch(`/ws-ticket?route=${encodeURIComponent(path)}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
    const socket = new WebSocket(`${wsBase}${path}?ticket=${encodeURIComponent((await response.json()).ticket)}`)
    await opened(socket)
    const reply = await echo(socket, 'with-ticket')
    socket.close()
    return { opened: true, reply }
  },

  /** An upgrade refused with plain HTTP 401: all a page gets is a close with 1006 and no reason. */
  async refusedUpgrade() {
    const socket = new WebSocket(`${wsBase}/stream`)
    const event = await closed(socket)
    return { code: event.code, reason: event.reason, refusal: readRefusal(event) ?? null }
  },
}
globalThis.ready = true
