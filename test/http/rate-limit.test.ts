// RATE_LIMIT_PER_MINUTE over HTTP: off by default; per token subject, or per address without a valid token;
// a 429 problem with Retry-After and the RateLimit headers. Budgets in Redis: test/http/rate-limit-redis.test.ts.
import t from 'tap'
import { API, startApp, storeContents } from '../helper.js'
import { bearer, freshAdmin, secretAuth, userToken } from '../tokens.js'

t.test('off by default: no RateLimit headers, no 429 however many requests', async (t) => {
  const { request, createUser } = await startApp(t)
  const user = await createUser()
  const replies = await Promise.all(Array.from({ length: 150 }, () => request('GET', `${API}/users/${user.id}`)))
  t.same(new Set(replies.map((reply) => reply.status)), new Set([200]))
  t.equal(replies.some((reply) => 'ratelimit-limit' in reply.headers), false)
})

t.test('per client address without a token: a 429 problem past the budget, which changes nothing', async (t) => {
  const { request, databaseUrl } = await startApp(t, { rateLimit: { perMinute: 3 } })
  const from = (remoteAddress: string) => ({ remoteAddress })
  const remaining = []
  for (let i = 0; i < 3; i++) {
    const reply = await request('POST', `${API}/users`, { body: { name: `U${i}` }, ...from('10.0.0.1') })
    t.equal(reply.status, 201)
    t.equal(reply.headers['ratelimit-limit'], '3')
    remaining.push(reply.headers['ratelimit-remaining'])
  }
  t.same(remaining, ['2', '1', '0'], 'RateLimit-Remaining counts down')
  const before = await storeContents(databaseUrl)
  const refused = await request('POST', `${API}/users`, { body: { name: 'one too many' }, ...from('10.0.0.1') })
  t.equal(refused.status, 429)
  t.match(refused.body, { type: 'urn:trackbot:problem:too-many-requests', status: 429, instance: `${API}/users` })
  const retryAfter = Number(refused.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After within the minute (${retryAfter})`)
  t.equal(refused.headers['ratelimit-remaining'], '0')
  t.equal(refused.headers['ratelimit-reset'], refused.headers['retry-after'])
  t.equal(await storeContents(databaseUrl), before, 'the refused create stored nothing')

  t.equal((await request('GET', `${API}/users/1`, from('10.0.0.2'))).status, 200, 'another address has its own budget')
  // Health probes are never limited, whoever sends them.
  for (let i = 0; i < 5; i++) t.equal((await request('GET', '/healthz', from('10.0.0.1'))).status, 200)
})

t.test('behind a trusted proxy (TRUST_PROXY) each forwarded client has its own budget; no one else can choose theirs', async (t) => {
  const { request } = await startApp(t, { rateLimit: { perMinute: 1 }, trustProxy: ['10.0.0.0/24'] })
  const via = (peer: string, client: string) => ({ remoteAddress: peer, headers: { 'x-forwarded-for': client } })
  t.equal((await request('GET', '/api/v1/users/1', via('10.0.0.5', '198.51.100.1'))).status, 404)
  t.equal((await request('GET', '/api/v1/users/1', via('10.0.0.5', '198.51.100.1'))).status, 429, 'the forwarded client spent its budget')
  t.equal((await request('GET', '/api/v1/users/1', via('10.0.0.5', '198.51.100.2'))).status, 404, 'another client behind the same proxy has its own')
  // A peer that is not a trusted proxy is the client, whatever it forwards.
  t.equal((await request('GET', '/api/v1/users/1', via('192.0.2.7', '198.51.100.3'))).status, 404)
  t.equal((await request('GET', '/api/v1/users/1', via('192.0.2.7', '198.51.100.4'))).status, 429, 'an untrusted X-Forwarded-For is ignored')
})

t.test('per token subject with tokens required; refused tokens count against their address', async (t) => {
  const { request, createUser } = await startApp(t, { auth: secretAuth, rateLimit: { perMinute: 2 } })
  const admin = await freshAdmin()
  const ada = await createUser({ name: 'Ada' }, admin)
  const bob = await createUser({ name: 'Bob' }, admin)
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
