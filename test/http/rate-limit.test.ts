// RATE_LIMIT_PER_MINUTE over HTTP: off by default; per token subject, or per address without a valid token;
// a 429 problem with Retry-After and the RateLimit headers; one budget for every instance sharing a Redis; a
// Redis that is down fails open, logged.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { API, freshDatabaseUrl, request as inject, snapshot, startApp, store } from '../helper.js'
import { bearer, mint, secretAuth, userToken } from '../tokens.js'

const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379'

/** An admin token of a subject no other test (or earlier run, in a shared Redis) has used. */
const freshAdmin = async () => bearer(await mint({ sub: `test-${randomUUID()}`, scope: 'trackbot:admin' }))

t.test('off by default: no RateLimit headers, no 429 however many requests', async (t) => {
  const { request } = await startApp(t)
  const user = (await request('POST', `${API}/users`, { body: { name: 'Ada' } })).body
  const replies = await Promise.all(Array.from({ length: 150 }, () => request('GET', `${API}/users/${user.id}`)))
  t.same(new Set(replies.map((reply) => reply.status)), new Set([200]))
  t.equal(replies.some((reply) => 'ratelimit-limit' in reply.headers), false)
})

t.test('per client address without a token: a 429 problem past the budget, which changes nothing', async (t) => {
  const { request, databaseUrl } = await startApp(t, undefined, { rateLimit: { perMinute: 3 } })
  const from = (remoteAddress: string) => ({ remoteAddress })
  const remaining = []
  for (let i = 0; i < 3; i++) {
    const reply = await request('POST', `${API}/users`, { body: { name: `U${i}` }, ...from('10.0.0.1') })
    t.equal(reply.status, 201)
    t.equal(reply.headers['ratelimit-limit'], '3')
    remaining.push(reply.headers['ratelimit-remaining'])
  }
  t.same(remaining, ['2', '1', '0'], 'RateLimit-Remaining counts down')
  const before = await snapshot(databaseUrl)
  const refused = await request('POST', `${API}/users`, { body: { name: 'one too many' }, ...from('10.0.0.1') })
  t.equal(refused.status, 429)
  t.match(refused.body, { type: 'urn:trackbot:problem:too-many-requests', status: 429, instance: `${API}/users` })
  const retryAfter = Number(refused.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After within the minute (${retryAfter})`)
  t.equal(refused.headers['ratelimit-remaining'], '0')
  t.equal(refused.headers['ratelimit-reset'], refused.headers['retry-after'])
  t.equal(await snapshot(databaseUrl), before, 'the refused create stored nothing')

  t.equal((await request('GET', `${API}/users/1`, from('10.0.0.2'))).status, 200, 'another address has its own budget')
  // Health probes are never limited, whoever sends them.
  for (let i = 0; i < 5; i++) t.equal((await request('GET', '/healthz', from('10.0.0.1'))).status, 200)
})

t.test('behind a trusted proxy (TRUST_PROXY) each forwarded client has its own budget; no one else can choose theirs', async (t) => {
  const { request } = await startApp(t, undefined, { rateLimit: { perMinute: 1 }, trustProxy: ['10.0.0.0/24'] })
  const via = (peer: string, client: string) => ({ remoteAddress: peer, headers: { 'x-forwarded-for': client } })
  t.equal((await request('GET', '/api/v1/users/1', via('10.0.0.5', '198.51.100.1'))).status, 404)
  t.equal((await request('GET', '/api/v1/users/1', via('10.0.0.5', '198.51.100.1'))).status, 429, 'the forwarded client spent its budget')
  t.equal((await request('GET', '/api/v1/users/1', via('10.0.0.5', '198.51.100.2'))).status, 404, 'another client behind the same proxy has its own')
  // A peer that is not a trusted proxy is the client, whatever it forwards.
  t.equal((await request('GET', '/api/v1/users/1', via('192.0.2.7', '198.51.100.3'))).status, 404)
  t.equal((await request('GET', '/api/v1/users/1', via('192.0.2.7', '198.51.100.4'))).status, 429, 'an untrusted X-Forwarded-For is ignored')
})

t.test('per token subject with tokens required; refused tokens count against their address', async (t) => {
  const { request } = await startApp(t, undefined, { auth: secretAuth, rateLimit: { perMinute: 2 } })
  const admin = await freshAdmin()
  const ada = (await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: admin })).body
  const bob = (await request('POST', `${API}/users`, { body: { name: 'Bob' }, headers: admin })).body
  const sameAddress = { remoteAddress: '10.0.0.9' }
  const asAda = bearer(await userToken(ada.id))
  const asBob = bearer(await userToken(bob.id))
  t.equal((await request('GET', `${API}/users/${ada.id}`, { headers: asAda, ...sameAddress })).status, 200)
  t.equal((await request('GET', `${API}/users/${ada.id}`, { headers: asAda, ...sameAddress })).status, 200)
  t.equal((await request('GET', `${API}/users/${ada.id}`, { headers: asAda, ...sameAddress })).status, 429, 'Ada spent hers')
  t.equal((await request('GET', `${API}/users/${bob.id}`, { headers: asBob, ...sameAddress })).status, 200, 'Bob, behind the same address, has his own')
  // A fresh token of Ada's is still Ada.
  t.equal((await request('GET', `${API}/users/${ada.id}`, { headers: bearer(await userToken(ada.id, { expiresIn: 600 })), ...sameAddress })).status, 429)

  const guessing = { headers: bearer('not.a.token'), remoteAddress: '10.0.0.10' }
  t.equal((await request('GET', `${API}/users/${ada.id}`, guessing)).status, 401)
  t.equal((await request('GET', `${API}/users/${ada.id}`, guessing)).status, 401)
  t.equal((await request('GET', `${API}/users/${ada.id}`, guessing)).status, 429, 'guessing tokens is limited too')
})

if (store !== 'sqlite') {
  t.pass('Redis-backed budgets do not depend on the store: they run on the SQLite pass')
} else {
  t.test('two instances sharing one Redis draw on one budget', async (t) => {
    const databaseUrl = await freshDatabaseUrl(t)
    const options = { databaseUrl, auth: secretAuth, rateLimit: { perMinute: 4, redisUrl: REDIS_URL } }
    const first = await buildApp(options)
    t.teardown(() => first.close())
    const second = await buildApp(options)
    t.teardown(() => second.close())
    const admin = await freshAdmin()
    const statuses = []
    for (const app of [first, second, first, second, first, second]) statuses.push((await inject(app, 'GET', `${API}/users/1`, { headers: admin })).status)
    t.same(statuses, [404, 404, 404, 404, 429, 429], 'four requests between them, then both refuse')
    t.equal((await inject(second, 'GET', `${API}/users/1`, { headers: await freshAdmin() })).status, 404, 'another subject is unaffected')
  })

  t.test('a Redis that is down fails open, with one warning', async (t) => {
    const lines: any[] = []
    const app = await buildApp({
      databaseUrl: await freshDatabaseUrl(t),
      rateLimit: { perMinute: 1, redisUrl: 'redis://127.0.0.1:9' },
      logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } },
    })
    t.teardown(() => app.close())
    const replies = []
    for (let i = 0; i < 5; i++) replies.push(await inject(app, 'POST', `${API}/users`, { body: { name: `U${i}` } }))
    t.same(replies.map((reply) => reply.status), [201, 201, 201, 201, 201], 'served, uncounted: not a 500, not a 429')
    const warnings = lines.filter((line) => /Redis \(REDIS_URL\) unreachable/.test(line.msg))
    t.equal(warnings.length, 1, 'the outage is logged once, not once a request')
  })
}
