// One JSON log line per request: method, operationId, status, time and the request id the client sees.
import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { API, freshDatabaseUrl, request, store } from '../helper.js'

function captureLines (): { stream: Writable, lines: () => any[] } {
  let text = ''
  const stream = new Writable({ write (chunk, _encoding, done) { text += chunk; done() } })
  return { stream, lines: () => text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)) }
}

if (store !== 'sqlite') {
  t.pass('logging does not depend on the store: runs on the SQLite pass')
} else {
  t.test('each request logs one line carrying its operationId, status, time and request id', async (t) => {
    const log = captureLines()
    const app = await buildApp({ databaseUrl: await freshDatabaseUrl(t), logger: { level: 'info', stream: log.stream } })
    t.teardown(() => app.close())
    const before = log.lines().length

    const created = await request<any>(app, 'POST', `${API}/users`, { body: { name: 'Ada' }, headers: { 'x-request-id': 'trace-abc' } })
    const missing = await request(app, 'GET', `${API}/conversations/424242`)
    const invalid = await request(app, 'GET', `${API}/users/zero`)
    const nowhere = await request(app, 'GET', `${API}/nowhere`)

    const requests = log.lines().slice(before).filter((line) => line.msg === 'request')
    t.equal(requests.length, 4, 'one line per request, not fastify\'s two')
    t.equal(log.lines().filter((line) => /incoming request|request completed/.test(line.msg)).length, 0)
    t.match(requests[0], { level: 30, reqId: 'trace-abc', method: 'POST', url: `${API}/users`, operationId: 'create_user', status: 201, ms: Number })
    t.equal(created.headers['x-request-id'], 'trace-abc')
    t.match(requests[1], { reqId: missing.headers['x-request-id'], operationId: 'get_conversation_by_id', status: 404 })
    t.match(requests[2], { reqId: invalid.headers['x-request-id'], operationId: 'get_user_by_id', status: 400 })
    t.match(requests[3], { reqId: nowhere.headers['x-request-id'], status: 404 })
    t.equal(requests[3].operationId, undefined, 'a request no operation serves has no operationId')
    t.not(requests[1].reqId, requests[2].reqId, 'generated ids differ')
  })
}
