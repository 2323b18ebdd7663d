// Past MAX_EVENT_LOOP_DELAY_MS of event-loop lag, API requests get the 503 problem with Retry-After at
// once, and the health endpoints and /metrics (which counts the shed requests) still answer; once the loop
// keeps up again, requests are served.
// The test lags its own event loop far past the bound for as long as it asserts the shedding, and waits
// for states (the plugin's view of the lag), never for a duration: a busy machine only lengthens the waits.
// Shedding does not depend on the store:
// stores: sqlite
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { API, startApp, until } from '../helper.js'
import { scrape } from '../prometheus.js'

// Well above the lag a loaded machine's scheduling adds to a one-second mean, far below the lag made below.
const BOUND_MS = 100
// Each turn of the loop blocks this long while lagging: every sample of the plugin sees the lag.
const BLOCK_MS = 4 * BOUND_MS

/** Blocks the event loop, as a long synchronous job would. */
function busy (ms: number): void {
  const end = Date.now() + ms
  while (Date.now() < end);
}

/** Lags the event loop on every turn until stopped (or the test ends); `turns` counts the blocks so far. */
function lagging (t: { teardown: (fn: () => unknown) => void }): { stop: () => void, turns: () => number } {
  let turns = 0
  const timer = setInterval(() => { turns++; busy(BLOCK_MS) }, 1)
  t.teardown(() => clearInterval(timer))
  return { stop: () => clearInterval(timer), turns: () => turns }
}

t.test('a lagging event loop sheds API requests with a 503 problem, not the health endpoints', async (t) => {
  const { app, request, createUser } = await startApp(t, { maxEventLoopDelayMs: BOUND_MS })
  const sampled = () => `isUnderPressure() is ${app.isUnderPressure()}`
  // Starting (migrations, compiling validators) may lag the loop past the bound.
  await until('the start-up lag to pass', () => !app.isUnderPressure(), { cause: sampled })
  const userId = (await createUser()).id
  t.equal((await request('GET', `${API}/users/${userId}`)).status, 200, 'served while the loop keeps up')

  const lag = lagging(t)
  await until('the plugin to see the lag', () => app.isUnderPressure(), { cause: sampled })
  const shed = await request('GET', `${API}/users/${userId}`, { expectServerError: true })
  t.equal(shed.status, 503)
  t.equal(shed.headers['retry-after'], '1')
  t.equal(String(shed.headers['content-type']).split(';')[0], 'application/problem+json')
  t.match(shed.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503, instance: `${API}/users/${userId}` })
  t.ok(shed.headers['x-request-id'], 'the platform headers are kept')
  t.equal((await request('GET', '/healthz')).status, 200, '/healthz still answers')
  t.equal((await request('GET', '/readyz')).status, 200, '/readyz still answers')
  const metrics = await scrape(app)
  t.same(metrics.find('trackbot_refusals_total').map((sample) => [sample.labels.reason, sample.value]), [['load_shed', 1]], '/metrics answers, and counts the 503 as shed')
  t.ok(app.isUnderPressure(), 'the loop lagged throughout')

  lag.stop()
  await until('the plugin to see the loop keep up again', () => !app.isUnderPressure(), { cause: sampled })
  t.equal((await request('GET', `${API}/users/${userId}`)).status, 200, 'served again once the loop keeps up')
})

t.test('0 turns shedding off', async (t) => {
  const { app, request } = await startApp(t, { maxEventLoopDelayMs: 0 })
  t.equal(app.hasDecorator('isUnderPressure'), false, 'no sampling at all')
  const lag = lagging(t)
  await until('the loop to lag', () => lag.turns() >= 3)
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Ada' } })).status, 201, 'served while the loop lags')
  lag.stop()
})

t.test('MAX_EVENT_LOOP_DELAY_MS is checked', async (t) => {
  t.equal(loadConfig({}).maxEventLoopDelayMs, 1000)
  t.equal(loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '0' }).maxEventLoopDelayMs, 0)
  t.equal(loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '250' }).maxEventLoopDelayMs, 250)
  for (const bad of ['-1', '1.5', 'fast', '3600001']) t.throws(() => loadConfig({ MAX_EVENT_LOOP_DELAY_MS: bad }), /MAX_EVENT_LOOP_DELAY_MS/)
})
