// GET /metrics over HTTP: Prometheus' text format; each request in the duration histogram under its operationId,
// contract version and route template, never its URL; refusals counted by reason; requests in flight; outside the
// API (no token, no rate limit); on a port of its own with METRICS_PORT. The runtime's metrics are prom-client's.
// Shedding's, the database's and a full disk's refusals are counted where those are provoked already:
// test/http/load-shedding.test.ts, test/store/database-errors.test.ts, test/store/storage-full.test.ts.
// A real Prometheus scraping a server: test/process/prometheus.test.ts.
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer, request as httpRequest } from 'node:http'
import t from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { contracts } from '../contract.js'
import { API, API_V2, freePort, startApp, until } from '../helper.js'
import { parseExposition, scrape, scrapeUrl } from '../prometheus.js'
import { secretAuth } from '../tokens.js'

const DURATION = 'http_server_request_duration_seconds'

/** Every route template of every version's operations, as the http_route label writes them. */
const TEMPLATES = new Set(CONTRACT_VERSIONS.flatMap((version) => contracts[version].specOperations.map((operation) => `${contracts[version].basePath}${operation.path}`)))

t.test('GET /metrics is Prometheus text: each request under its operationId, version and route template', async (t) => {
  const { app, request, createUser } = await startApp(t)
  const user = await createUser()
  for (let i = 0; i < 3; i++) t.equal((await request('GET', `${API_V2}/users/${user.id}`)).status, 200)

  const reply = await app.inject({ url: '/metrics' })
  t.equal(reply.statusCode, 200)
  t.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  t.equal(reply.headers['cache-control'], 'no-store')
  const metrics = parseExposition(reply.body)

  t.equal(metrics.types.get(DURATION), 'histogram')
  const created = { http_request_method: 'POST', http_route: '/api/v1/users', http_response_status_code: '201', api_version: 'v1', operation_id: 'create_user' }
  t.equal(metrics.value(`${DURATION}_count`, created), 1, 'create_user, once')
  const read = { http_request_method: 'GET', http_route: '/api/v2/users/{userId}', http_response_status_code: '200', api_version: 'v2', operation_id: 'get_user_by_id' }
  t.equal(metrics.value(`${DURATION}_count`, read), 3, 'v2 get_user_by_id, three times, under its route template')
  t.ok(metrics.value(`${DURATION}_sum`, read) > 0)
  const buckets = metrics.find(`${DURATION}_bucket`, read)
  t.same(buckets.map((bucket) => bucket.labels.le).slice(-2), ['10', '+Inf'], 'OpenTelemetry\'s boundaries, up to 10 s')
  t.ok(buckets.every((bucket, i) => i === 0 || bucket.value >= buckets[i - 1]!.value), 'buckets are cumulative')
  t.equal(buckets.at(-1)!.value, 3, '+Inf holds every request')

  t.equal(metrics.types.get('http_server_active_requests'), 'gauge')
  t.equal(metrics.value('http_server_active_requests'), 1, 'in flight: this scrape')
  for (const [name, type] of [['nodejs_eventloop_lag_seconds', 'gauge'], ['nodejs_heap_size_used_bytes', 'gauge'], ['nodejs_gc_duration_seconds', 'histogram'], ['process_cpu_seconds_total', 'counter']]) {
    t.equal(metrics.types.get(name!), type, `the runtime's ${name}`)
  }
})

t.test('labels come from route templates and operationIds only, never from a URL', async (t) => {
  const { app, request, createUser } = await startApp(t)
  const user = await createUser()
  const secret = randomUUID()
  const answers = [
    await request('GET', `/${secret}`),
    await request('GET', `${API}/${secret}`),
    await request('GET', `${API_V2}/users/${user.id}/${secret}?q=${secret}`),
    await request('GET', `${API_V2}/users/${secret}`),
    await request('GET', `${API}/users/${user.id}?${secret}=1`),
    await request('GET', `${API_V2}/users/${user.id}/search?q=${secret}`),
    await request('DELETE', `${API}/users/${secret}`),
  ]
  t.same(answers.map((answer) => answer.status), [404, 404, 404, 400, 400, 200, 400])

  const text = (await app.inject({ url: '/metrics' })).body
  t.notOk(text.includes(secret), 'the URLs\' own text is in no label')
  const metrics = parseExposition(text)
  const samples = metrics.find(`${DURATION}_count`)
  const routes = new Set(samples.map((sample) => sample.labels.http_route!))
  t.same([...routes].filter((route) => !TEMPLATES.has(route) && route !== 'unmatched'), [], 'every route is a spec template, or unmatched')
  t.same(new Set(samples.filter((sample) => sample.labels.http_route === 'unmatched').map((sample) => `${sample.labels.api_version} ${sample.labels.operation_id}`)),
    new Set([' ', 'v1 ', 'v2 ']), 'unmatched: the version whose path it is under, no operation')
  t.equal(metrics.value(`${DURATION}_count`, { http_route: '/api/v2/users/{userId}', operation_id: 'get_user_by_id', http_response_status_code: '400' }), 1, 'a bad id is its route\'s 400')

  // A method outside HTTP's own set is _OTHER, as OpenTelemetry's http.request.method: clients cannot add values.
  t.equal((await app.inject({ method: 'PROPFIND', url: `${API}/users/${user.id}` })).statusCode, 405)
  t.equal((await scrape(app)).value(`${DURATION}_count`, { http_request_method: '_OTHER', http_route: 'unmatched', http_response_status_code: '405' }), 1)
})

t.test('refusals are counted by reason, replays by operation; other answers are not refusals', async (t) => {
  const { app, request, createUser, createConversation } = await startApp(t)
  const key = { 'idempotency-key': randomUUID() }
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: key })).status, 201)
  const replayed = await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: key })
  t.equal(replayed.headers['idempotent-replayed'], 'true')
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Bob' }, headers: key })).status, 422)
  const v2Key = { 'idempotency-key': randomUUID() }
  for (let i = 0; i < 3; i++) t.equal((await request('POST', `${API_V2}/users`, { body: { name: 'Cy' }, headers: v2Key })).status, 201)
  const owner = await createUser()

  const conversation = await createConversation(owner.id)
  const stale = { 'if-match': `"${conversation.id}.999"` }
  t.equal((await request('PATCH', `${API}/conversations/${conversation.id}`, { body: { title: 'x' }, headers: stale })).status, 412)
  t.equal((await request('DELETE', `${API_V2}/conversations/${conversation.id}`, { headers: stale })).status, 412)
  t.equal((await request('GET', `${API}/users/${owner.id + 1000}`)).status, 404)
  t.equal((await request('POST', `${API}/users`, { body: {} })).status, 400)

  const metrics = await scrape(app)
  t.equal(metrics.types.get('trackbot_refusals_total'), 'counter')
  t.same(Object.fromEntries(metrics.find('trackbot_refusals_total').map((sample) => [sample.labels.reason, sample.value])),
    { idempotency_key_reused: 1, precondition_failed: 2 }, 'a 404 or a 400 is no refusal')
  t.equal(metrics.value('trackbot_idempotency_replays_total', { api_version: 'v1', operation_id: 'create_user' }), 1)
  t.equal(metrics.value('trackbot_idempotency_replays_total', { api_version: 'v2', operation_id: 'create_user' }), 2)
  t.equal(metrics.value(`${DURATION}_count`, { operation_id: 'update_conversation', http_response_status_code: '412' }), 1, 'and each is in the histogram under its status')
})

t.test('never rate limited and never behind the API\'s token; its 429s counted', async (t) => {
  const { app, request } = await startApp(t, { auth: secretAuth, rateLimit: { perMinute: 2 } })
  const from = { remoteAddress: '10.0.0.7' }
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await request('GET', `${API}/users/1`, from)).status)
  t.same(statuses, [401, 401, 429], 'the API wants a token, and this address\'s budget is spent')
  for (let i = 0; i < 3; i++) {
    const reply = await app.inject({ url: '/metrics', remoteAddress: '10.0.0.7' })
    t.equal(reply.statusCode, 200, 'no token, past the budget')
    t.equal(reply.headers['ratelimit-limit'], undefined, 'not counted against it')
  }
  t.equal((await scrape(app)).value('trackbot_refusals_total', { reason: 'rate_limited' }), 1)
})

t.test('each app counts its own requests: one registry per app, the runtime\'s shared', async (t) => {
  const first = await startApp(t)
  const second = await startApp(t)
  await first.createUser()
  const [mine, theirs] = [await scrape(first.app), await scrape(second.app)]
  t.equal(mine.value(`${DURATION}_count`, { operation_id: 'create_user' }), 1)
  t.equal(theirs.value(`${DURATION}_count`, { operation_id: 'create_user' }), 0)
  t.ok(theirs.types.has('nodejs_heap_size_used_bytes'), 'both show the process\'s runtime')
})

t.test('METRICS_PORT: /metrics on a port of its own, not the API\'s; requests in flight until their response ends', async (t) => {
  const port = await freePort()
  const { origin, request } = await startApp(t, { transport: 'http', metricsListener: { port, host: '127.0.0.1' } })
  const metricsUrl = `http://127.0.0.1:${port}/metrics`
  const onApi = await request('GET', '/metrics')
  t.equal(onApi.status, 404, 'not on the API\'s port')
  t.match(onApi.body, { type: 'urn:trackbot:problem:route-not-found' })

  const metrics = await scrapeUrl(metricsUrl)
  t.equal(metrics.value(`${DURATION}_count`, { http_route: 'unmatched', http_response_status_code: '404' }), 1, 'the API\'s requests are counted there')
  t.equal(metrics.value('http_server_active_requests'), 0, 'a scrape there is none of the API\'s requests')
  const head = await fetch(metricsUrl, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(await head.text(), '')
  const elsewhere = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.equal(elsewhere.status, 404)
  t.match(await elsewhere.json(), { status: 404, detail: 'This port serves /metrics only.' })
  const post = await fetch(metricsUrl, { method: 'POST' })
  t.equal(post.status, 405)
  t.equal(post.headers.get('allow'), 'GET, HEAD')

  // A request whose body has not all arrived is in flight; so until it ends, whether answered or abandoned.
  const inFlight = async () => (await scrapeUrl(metricsUrl)).value('http_server_active_requests')
  for (const end of ['answered', 'abandoned'] as const) {
    const body = JSON.stringify({ name: 'Slow' })
    const slow = httpRequest(`${origin}${API}/users`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length) } })
    const answered = new Promise<number>((resolve, reject) => {
      slow.on('response', (response) => { response.resume(); resolve(response.statusCode!) })
      slow.on('error', reject)
    })
    slow.write(body.slice(0, 3))
    await until('the request to be in flight', async () => await inFlight() === 1)
    if (end === 'answered') {
      slow.end(body.slice(3))
      t.equal(await answered, 201)
    } else {
      answered.catch(() => {})
      slow.destroy()
    }
    await until(`the ${end} request to be in flight no more`, async () => await inFlight() === 0)
    t.pass(`${end}: in flight, then not`)
  }
})

t.test('a METRICS_PORT already in use fails the start, as PORT would', async (t) => {
  const port = await freePort()
  const taken = createServer().listen(port, '127.0.0.1')
  await once(taken, 'listening')
  t.teardown(() => { taken.close() })
  await t.rejects(startApp(t, { transport: 'http', metricsListener: { port, host: '127.0.0.1' } }), { code: 'EADDRINUSE' })
})
