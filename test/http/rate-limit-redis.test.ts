// Rate limit budgets in Redis (REDIS_URL): one budget for every instance sharing it; a Redis that is down
// (refusing connections) or hanging (accepting them and never answering) fails open: requests are served,
// uncounted, and the outage is logged. Redis-backed budgets do not depend on the store:
// stores: sqlite
import t from 'tap'
import { API, startApp } from '../helper.js'
import { cuttableProxy } from '../tcp-proxy.js'
import { freshAdmin, secretAuth } from '../tokens.js'

const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379'
const UNREACHABLE = /Redis \(REDIS_URL\) unreachable/

// README: a request waits at most 500 ms on a hanging Redis. Far beyond that on the busiest machine, so only
// a request (or a start) that waits on Redis for good crosses it: this is no measure of the 500 ms.
const HANG_BOUND_MS = 30_000

/** `promise`, or a failure saying `what` hung if it has not settled within HANG_BOUND_MS. */
async function unlessHung<T> (what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung on Redis: not done after ${HANG_BOUND_MS} ms (README: a hanging Redis fails open within 500 ms)`)), HANG_BOUND_MS)
  })
  try {
    return await Promise.race([promise, hung])
  } finally {
    clearTimeout(timer)
  }
}

t.test('two instances sharing one Redis draw on one budget', async (t) => {
  const options = { auth: secretAuth, rateLimit: { perMinute: 4, redisUrl: REDIS_URL } }
  const first = await startApp(t, options)
  const second = await startApp(t, { ...options, databaseUrl: first.databaseUrl })
  const admin = await freshAdmin()
  const statuses = []
  for (const { request } of [first, second, first, second, first, second]) statuses.push((await request('GET', `${API}/users/1`, { headers: admin })).status)
  t.same(statuses, [404, 404, 404, 404, 429, 429], 'four requests between them, then both refuse')
  t.equal((await second.request('GET', `${API}/users/1`, { headers: await freshAdmin() })).status, 404, 'another subject is unaffected')
})

t.test('a Redis that is down fails open, with one warning', async (t) => {
  const { request, log } = await startApp(t, { rateLimit: { perMinute: 1, redisUrl: 'redis://127.0.0.1:9' } })
  const replies = []
  for (let i = 0; i < 5; i++) replies.push(await request('POST', `${API}/users`, { body: { name: `U${i}` } }))
  t.same(replies.map((reply) => reply.status), [201, 201, 201, 201, 201], 'served, uncounted: not a 500, not a 429')
  const warnings = log.lines.filter((line) => UNREACHABLE.test(line.msg))
  t.equal(warnings.length, 1, 'the outage is logged once, not once a request')
})

t.test('a Redis that accepts connections and never answers, from the start, fails open, with one warning', async (t) => {
  const silent = await cuttableProxy(new URL(REDIS_URL))
  t.teardown(silent.cut)
  silent.hang()
  const { request, log } = await unlessHung('the start', startApp(t, { auth: secretAuth, rateLimit: { perMinute: 1, redisUrl: `redis://127.0.0.1:${silent.port}` } }))
  await log.waitFor(UNREACHABLE, 'the outage to be logged')
  const admin = await freshAdmin()
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await unlessHung(`request ${i + 1}`, request('GET', `${API}/users/1`, { headers: admin }))).status)
  t.same(statuses, [404, 404, 404], 'served past the budget of 1, uncounted: not a 429, not a 5xx, not hung')
  t.equal(log.lines.filter((line) => UNREACHABLE.test(line.msg)).length, 1, 'the outage is logged once, not once a request')
})

t.test('a Redis that stops answering while in use fails open', async (t) => {
  const proxy = await cuttableProxy(new URL(REDIS_URL))
  t.teardown(proxy.cut)
  const { request, log } = await startApp(t, { auth: secretAuth, rateLimit: { perMinute: 2, redisUrl: `redis://127.0.0.1:${proxy.port}` } })
  const admin = await freshAdmin()
  const counted = await request('GET', `${API}/users/1`, { headers: admin })
  t.equal(counted.status, 404)
  t.equal(counted.headers['ratelimit-remaining'], '1', 'counted in Redis while it answers')

  proxy.hang()
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await unlessHung(`request ${i + 1}`, request('GET', `${API}/users/1`, { headers: admin }))).status)
  t.same(statuses, [404, 404, 404], 'served past the budget of 2, uncounted: not a 429, not a 5xx, not hung')
  await log.waitFor(UNREACHABLE, 'the outage logged as a warning')
})
