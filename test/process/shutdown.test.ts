// SIGTERM while clients are writing: requests in flight finish, late ones get a documented 503 (never a
// reset or a foreign body), new connections are refused, the process exits 0 and nothing acknowledged is
// lost. A second signal does not wait.
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { contractErrors } from '../contract.js'
import { API, exitedWhy, startApp, until, type ProcessApp, type Reply, exited } from '../helper.js'
import { connectionGone } from './processes.js'

const MESSAGES = Array.from({ length: 50 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i} `.repeat(20) }))

t.test('SIGTERM under load: in-flight requests finish, nothing acknowledged is lost, exit 0', async (t) => {
  const env = { LOG_LEVEL: 'warn' }
  const server = await startApp(t, { transport: 'process', env })
  const userId = (await server.createUser({ name: 'Shutdown' })).id

  const answered: Reply[] = []
  const refusals: string[] = []
  let signalled = false
  let failure: unknown
  const worker = async () => {
    // Bounded: far more creates than the signal waits for.
    for (let i = 0; i < 2000; i++) {
      try {
        // Big creates (50 messages each) keep requests in flight when the signal lands. The 503s of the drain
        // are expected, and checked below with the rest.
        answered.push(await server.request('POST', `${API}/users/${userId}/conversations`, { body: { messages: MESSAGES }, expectServerError: true }))
      } catch (error) {
        const gone = connectionGone(error)
        if (signalled && gone !== undefined) {
          refusals.push(gone)
          return
        }
        failure ??= error
        // The contract check failed, or a connection failed before the signal: the server's output says why.
        throw gone === undefined ? error : new Error(`a request failed (${gone}) before the signal:\n${server.output()}`, { cause: error })
      }
    }
    throw new Error(`a worker made 2000 creates and was never refused: ${signalled ? 'the server did not stop listening' : 'no signal'}`)
  }
  const workers = Promise.all(Array.from({ length: 6 }, worker))
  await until('30 creates answered before the signal', () => {
    if (failure !== undefined) return true
    const why = exitedWhy(server.child)
    if (why !== undefined) throw new Error(`${why} before the signal:\n${server.output()}`)
    return answered.length >= 30
  }, { intervalMs: 5, cause: server.output })
  signalled = true
  const exitCode = server.stop()
  await workers
  t.equal(await exitCode, 0, 'exits 0')

  const statuses = new Set(answered.map((reply) => reply.status))
  const unexpected = answered.filter((reply) => reply.status !== 201 && reply.status !== 503)
  t.same([...statuses].filter((status) => status !== 201 && status !== 503), [], `only 201 or a documented 503: ${[...statuses]}${unexpected.map((reply) => `\n${server.log.about(reply.headers['x-request-id'])}`).join('')}`)
  for (const late of answered.filter((reply) => reply.status === 503)) {
    t.match(late.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503 })
    t.equal(late.headers['retry-after'], '1')
  }
  // Refused once the listener is closed; or, for a request that raced the close of its idle keep-alive
  // connection, that connection closed under it (ECONNRESET, undici's "other side closed"): never answered.
  t.equal(refusals.length, 6, `after the listener closed, every worker's next connection failed: ${refusals.join(', ')}`)

  // Everything acknowledged is there after a restart.
  const again = await startApp(t, { transport: 'process', databaseUrl: server.databaseUrl, env })
  const acknowledged = answered.filter((reply) => reply.status === 201).map((reply) => reply.body.id)
  const listed = (await again.request('GET', `${API}/users/${userId}/conversations`)).body
  t.same(listed.map((c: any) => c.id).sort((a: number, b: number) => a - b), acknowledged.sort((a, b) => a - b), `all ${acknowledged.length} acknowledged creates are stored, and no others`)
  t.ok(listed.every((c: any) => c.messageCount === MESSAGES.length))
  t.equal(await again.stop(), 0)
})

/**
 * A raw connection to the server with a POST whose body is not all sent, resolved once the server has taken the
 * request (its headers parsed, the request in flight): `Expect: 100-continue` makes Node answer an interim
 * 100 Continue at that moment, an event to wait for instead of a guess at how long the server takes.
 */
async function requestInFlight (server: ProcessApp, body: { length: number, sent: string }): Promise<{ socket: Socket, received: () => string }> {
  const socket = connect(Number(server.env.PORT), '127.0.0.1')
  let raw = ''
  socket.on('data', (chunk) => { raw += chunk })
  await once(socket, 'connect')
  socket.write(`POST ${API}/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body.sent}`)
  await until('the server to take the request (100 Continue)', () => {
    const why = exitedWhy(server.child)
    if (why !== undefined) throw new Error(`${why} before it took the request:\n${server.output()}`)
    return raw.startsWith('HTTP/1.1 100 Continue\r\n\r\n')
  }, { cause: () => `received: ${JSON.stringify(raw)}\n${server.output()}` })
  return { socket, received: () => raw.slice('HTTP/1.1 100 Continue\r\n\r\n'.length) }
}

t.test('a second signal exits at once instead of waiting for a request that will not finish', async (t) => {
  const server = await startApp(t, { transport: 'process' })

  // A request whose body never comes: it stays in flight, so the first signal's close has to wait.
  const { socket } = await requestInFlight(server, { length: 100, sent: '{"na' })
  t.teardown(() => { socket.destroy() })

  server.child.kill('SIGTERM')
  await server.log.waitFor(/finishing in-flight requests/, 'the first SIGTERM logged', () => exitedWhy(server.child))
  t.equal(server.child.exitCode, null, 'the first signal waits for the request in flight')
  server.child.kill('SIGTERM')
  const { code } = await exited(server.child, 'the exit on the second SIGTERM', server.output)
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
  const server = await startApp(t, { transport: 'process' })

  const body = JSON.stringify({ name: 'In flight' })
  const { socket, received } = await requestInFlight(server, { length: body.length, sent: body.slice(0, 5) })
  t.teardown(() => { socket.destroy() })
  let closed = false
  socket.on('close', () => { closed = true })
  server.child.kill('SIGTERM')
  await server.log.waitFor(/finishing in-flight requests/, 'the SIGTERM logged', () => exitedWhy(server.child))
  // The rest of the body, and a second request pipelined on the same connection, arrive during the drain.
  socket.write(`${body.slice(5)}GET ${API}/users/1 HTTP/1.1\r\nHost: x\r\n\r\n`)
  await until('the server to close the connection', () => closed, { cause: () => `received: ${JSON.stringify(received())}\n${server.output()}` })
  const { code } = await exited(server.child, 'the exit after the drain', server.output)
  t.equal(code, 0)

  const [first, second] = parseResponses(received())
  t.equal(first?.status, 201, 'the request in flight finished')
  t.same(contractErrors({ method: 'POST', url: `${API}/users`, ...first! }), [])
  t.equal(second?.status, 503, 'the pipelined request is turned away')
  t.same(contractErrors({ method: 'GET', url: `${API}/users/1`, ...second! }), [], 'as a documented Problem with Retry-After')
  t.equal(second?.headers.connection, 'close')
})
