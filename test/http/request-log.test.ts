// One JSON log line per request: method, operationId, status, time and the request id the client sees: the
// client's own X-Request-Id when it is a sane token, else one of the server's. Logging does not depend on the store:
// stores: sqlite
import { request as httpGet } from 'node:http'
import t from 'tap'
import { API, startApp } from '../helper.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('each request logs one line carrying its operationId, status, time and request id', async (t) => {
  const { request, log } = await startApp(t, { logLevel: 'info' })
  const lines = () => log.lines
  const before = lines().length

  const created = await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: { 'x-request-id': 'trace-abc' } })
  const missing = await request('GET', `${API}/conversations/424242`)
  const invalid = await request('GET', `${API}/users/zero`)
  const nowhere = await request('GET', `${API}/nowhere`)

  const requests = lines().slice(before).filter((line) => line.msg === 'request')
  t.equal(requests.length, 4, 'one line per request, not fastify\'s two')
  t.equal(lines().filter((line) => /incoming request|request completed/.test(line.msg)).length, 0)
  t.match(requests[0], { level: 30, reqId: 'trace-abc', method: 'POST', url: `${API}/users`, operationId: 'create_user', status: 201, ms: Number })
  t.equal(created.headers['x-request-id'], 'trace-abc')
  t.match(requests[1], { reqId: missing.headers['x-request-id'], operationId: 'get_conversation_by_id', status: 404 })
  t.match(requests[2], { reqId: invalid.headers['x-request-id'], operationId: 'get_user_by_id', status: 400 })
  t.match(requests[3], { reqId: nowhere.headers['x-request-id'], status: 404 })
  t.equal(requests[3].operationId, undefined, 'a request no operation serves has no operationId')
  t.not(requests[1].reqId, requests[2].reqId, 'generated ids differ')
})

t.test('a client\'s sane X-Request-Id is kept; a malformed one is replaced by one of the server\'s', async (t) => {
  const { request, origin, log } = await startApp(t, { transport: 'http', logLevel: 'info' })
  /** The id the answer carries and the one its log line carries. */
  const idsOf = (reply: { headers: Record<string, unknown> }) => {
    const id = reply.headers['x-request-id']
    return { id, logged: log.lines.filter((line) => line.msg === 'request' && line.reqId === id).length }
  }

  for (const sane of ['trace-abc', 'svc:checkout.v2_7-9', 'a', 'x'.repeat(128), '0f8fad5b-d9cb-469f-a165-70867728950e']) {
    const reply = await request('GET', `${API}/users/1`, { headers: { 'x-request-id': sane } })
    t.same(idsOf(reply), { id: sane, logged: 1 }, `kept: ${sane.length > 40 ? `${sane.length} characters` : JSON.stringify(sane)}`)
  }

  const malformed = ['', 'x'.repeat(129), 'has space', 'a;b', 'one, two', '<script>alert(1)</script>', '../../etc/passwd', '"quoted"', 'tab\there', 'caf\u00e9', '%41']
  for (const bad of malformed) {
    const reply = await request('GET', `${API}/users/1`, { headers: { 'x-request-id': bad } })
    const { id, logged } = idsOf(reply)
    t.match(id, UUID, `replaced by a UUID: ${bad.length > 40 ? `${bad.length} characters` : JSON.stringify(bad)}`)
    t.not(id, bad)
    t.equal(logged, 1, 'the log line carries the server\'s id')
  }
  t.notMatch(log.output(), /<script>|etc\/passwd/, 'a malformed id reaches no log line')

  // Two X-Request-Id headers: Node joins them, and the joined value is no sane token.
  const duplicated = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const url = new URL(`${API}/users/1`, origin)
    httpGet({ host: url.hostname, port: url.port, path: url.pathname, headers: ['x-request-id', 'first', 'x-request-id', 'second'] }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.headers))
    }).on('error', reject).end()
  })
  t.match(duplicated['x-request-id'], UUID, 'two ids are one malformed one: replaced')
})
