// When the store cannot answer, clients get a 503 with Retry-After, never a raw 500 with driver text,
// counted in /metrics as the database's, and the server recovers by itself once the store is back.
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { sqliteFile } from '../../src/store/database-url.js'
import { API, startApp, store, TEST_DATABASE_URL, testDatabaseUrl } from '../helper.js'
import { scrape } from '../prometheus.js'
import { cuttableProxy } from '../tcp-proxy.js'

t.test('PostgreSQL unreachable: 503 with Retry-After, then recovery', { skip: store === 'postgres' ? false : 'PostgreSQL only' }, async (t) => {
  const url = new URL(await testDatabaseUrl(t))
  const proxy = await cuttableProxy(new URL(TEST_DATABASE_URL))
  t.teardown(proxy.cut)
  url.host = `127.0.0.1:${proxy.port}`
  const { app, request, createUser } = await startApp(t, { databaseUrl: url.toString() })
  const user = await createUser()

  await proxy.cut()
  for (const [method, path, body] of [['GET', `${API}/users/${user.id}`], ['POST', `${API}/users`, { name: 'Bo' }]] as const) {
    const reply = await request(method, path, { body, expectServerError: true })
    t.equal(reply.status, 503, reply.text)
    t.equal(reply.headers['retry-after'], '1')
    t.match(reply.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503 })
    t.notMatch(reply.text, /can't reach|127\.0\.0\.1|prisma/i, 'no driver text')
  }
  t.equal((await request('GET', '/readyz', { expectServerError: true })).status, 503)
  t.same((await scrape(app)).find('trackbot_refusals_total').map((sample) => [sample.labels.reason, sample.value]), [['database_unavailable', 2]],
    'both counted as the database\'s; /readyz\'s answer is no refusal')

  await proxy.open()
  t.equal((await request('GET', `${API}/users/${user.id}`)).status, 200)
  t.equal((await request('GET', '/readyz')).status, 200)
})

t.test('SQLite locked by another process past the busy timeout: 503 with Retry-After', { skip: store === 'sqlite' ? false : 'SQLite only' }, async (t) => {
  const { app, request, databaseUrl } = await startApp(t)
  const other = new Sqlite(sqliteFile(databaseUrl))
  t.teardown(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  const reply = await request('POST', `${API}/users`, { body: { name: 'Ada' }, expectServerError: true })
  other.exec('ROLLBACK')
  t.equal(reply.status, 503)
  t.equal(reply.headers['retry-after'], '1')
  t.equal((await scrape(app)).value('trackbot_refusals_total', { reason: 'database_unavailable' }), 1, 'counted as the database\'s: what an alert on lock timeouts watches')
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Ada' } })).status, 201, 'fine once the lock is gone')
})
