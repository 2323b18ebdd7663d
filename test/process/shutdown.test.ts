// SIGTERM while clients are writing: requests in flight finish, late ones get a documented 503 (never a
// reset or a foreign body), new connections are refused, the process exits 0 and nothing acknowledged is
// lost. A second signal does not wait.
import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { contractErrors } from '../contract.js'
import { API, freshDatabaseUrl, httpRequest, store, tempDir, type Reply } from '../helper.js'
import { freePort, startServer, stop, waitReady } from '../server-process.js'

const MESSAGES = Array.from({ length: 50 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i} `.repeat(20) }))

t.test('SIGTERM under load: in-flight requests finish, nothing acknowledged is lost, exit 0', async (t) => {
  const databaseUrl = store === 'sqlite' ? `file:${join(tempDir(t), 'shutdown.db')}` : await freshDatabaseUrl(t)
  const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }
  const server = startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  await waitReady(server.origin, server.child)
  const userId = (await httpRequest<any>(server.origin, 'POST', `${API}/users`, { body: { name: 'Shutdown' } })).body.id

  const answered: Reply[] = []
  let refused = 0
  let signalled = false
  const worker = async () => {
    while (true) {
      try {
        // Big creates (50 messages each) keep requests in flight when the signal lands.
        answered.push(await httpRequest(server.origin, 'POST', `${API}/users/${userId}/conversations`, { body: { messages: MESSAGES } }))
      } catch (error) {
        if (!(error instanceof TypeError)) throw error // the contract check failed: rethrow it
        // fetch failed: refused (the listener is closed) or the server is gone.
        if (!signalled) throw new Error(`a request failed before the signal: ${String(error.cause ?? error)}`)
        refused++
        return
      }
    }
  }
  const workers = Array.from({ length: 6 }, worker)
  while (answered.length < 30) await new Promise((resolve) => setTimeout(resolve, 5))
  signalled = true
  const exitCode = stop(server.child)
  await Promise.all(workers)
  t.equal(await exitCode, 0, 'exits 0')

  const statuses = new Set(answered.map((reply) => reply.status))
  t.same([...statuses].filter((status) => status !== 201 && status !== 503), [], `only 201 or a documented 503: ${[...statuses]}`)
  for (const late of answered.filter((reply) => reply.status === 503)) {
    t.match(late.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503 })
    t.equal(late.headers['retry-after'], '1')
  }
  t.equal(refused, 6, 'after the listener closed, every worker\'s next connection was refused')

  // Everything acknowledged is there after a restart.
  const again = startServer(env)
  t.teardown(() => { again.child.kill('SIGKILL') })
  await waitReady(again.origin, again.child)
  const acknowledged = answered.filter((reply) => reply.status === 201).map((reply) => reply.body.id)
  const listed = (await httpRequest<any>(again.origin, 'GET', `${API}/users/${userId}/conversations`)).body
  t.same(listed.map((c: any) => c.id).sort((a: number, b: number) => a - b), acknowledged.sort((a, b) => a - b), `all ${acknowledged.length} acknowledged creates are stored, and no others`)
  t.ok(listed.every((c: any) => c.messageCount === MESSAGES.length))
  t.equal(await stop(again.child), 0)
})

t.test('a second signal exits at once instead of waiting for a request that will not finish', async (t) => {
  const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: await freshDatabaseUrl(t), LOG_LEVEL: 'info' }
  const server = startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  await waitReady(server.origin, server.child)

  // A request whose body never comes: it stays in flight, so the first signal's close has to wait.
  const socket = connect(Number(env.PORT), '127.0.0.1')
  await once(socket, 'connect')
  socket.write(`POST ${API}/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na`)
  t.teardown(() => { socket.destroy() })
  await new Promise((resolve) => setTimeout(resolve, 200))

  server.child.kill('SIGTERM')
  while (!/finishing in-flight requests/.test(server.output())) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(server.child.exitCode, null, 'the first signal waits for the request in flight')
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 1, 'the second signal exits at once, non-zero')
  t.match(server.output(), /SIGTERM again: exiting now/)
})

interface RawResponse { status: number, headers: Record<string, string>, text: string }

/** HTTP/1.1 responses read off a raw socket until it closes (Content-Length framed, as ours are). */
function parseResponses (raw: string): RawResponse[] {
  const responses: RawResponse[] = []
  let rest = raw
  while (rest.startsWith('HTTP/1.1')) {
    const end = rest.indexOf('\r\n\r\n')
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n')
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
    const length = Number(headers['content-length'] ?? 0)
    responses.push({ status: Number(statusLine!.split(' ')[1]), headers, text: rest.slice(end + 4, end + 4 + length) })
    rest = rest.slice(end + 4 + length)
  }
  return responses
}

t.test('the request in flight when SIGTERM lands finishes; one pipelined behind it gets a 503 problem', async (t) => {
  const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: await freshDatabaseUrl(t), LOG_LEVEL: 'info' }
  const server = startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  await waitReady(server.origin, server.child)

  const body = JSON.stringify({ name: 'In flight' })
  const socket = connect(Number(env.PORT), '127.0.0.1')
  await once(socket, 'connect')
  let raw = ''
  socket.on('data', (chunk) => { raw += chunk })
  const closed = once(socket, 'close')
  socket.write(`POST ${API}/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  while (!/finishing in-flight requests/.test(server.output())) await new Promise((resolve) => setTimeout(resolve, 20))
  // The rest of the body, and a second request pipelined on the same connection, arrive during the drain.
  socket.write(`${body.slice(5)}GET ${API}/users/1 HTTP/1.1\r\nHost: x\r\n\r\n`)
  await closed
  const [code] = await exited
  t.equal(code, 0)

  const [first, second] = parseResponses(raw)
  t.equal(first?.status, 201, 'the request in flight finished')
  t.same(contractErrors({ method: 'POST', url: `${API}/users`, ...first! }), [])
  t.equal(second?.status, 503, 'the pipelined request is turned away')
  t.same(contractErrors({ method: 'GET', url: `${API}/users/1`, ...second! }), [], 'as a documented Problem with Retry-After')
  t.equal(second?.headers.connection, 'close')
})
