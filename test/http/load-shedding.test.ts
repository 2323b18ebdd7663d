// Past MAX_EVENT_LOOP_DELAY_MS of event-loop lag, API requests get the 503 problem with Retry-After at
// once, and the health endpoints still answer.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { API, startApp } from '../helper.js'

/** Blocks the event loop, as a long synchronous job would. */
function busy (ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until);
}

/** Waits for the plugin's samples (one a second) to agree with `pressured`. */
async function until (app: { isUnderPressure: () => boolean }, pressured: boolean): Promise<boolean> {
  for (let waited = 0; waited < 5000; waited += 20) {
    if (app.isUnderPressure() === pressured) return true
    await sleep(20)
  }
  return false
}

t.test('a lagging event loop sheds API requests with a 503 problem, not the health endpoints', async (t) => {
  const { app, request } = await startApp(t, undefined, { maxEventLoopDelayMs: 5 })
  // Starting (migrations, compiling validators) lags the loop past so small a bound.
  t.ok(await until(app, false), 'the start-up lag has passed')
  const userId = (await request('POST', `${API}/users`, { body: { name: 'Ada' } })).body.id
  t.equal((await request('GET', `${API}/users/${userId}`)).status, 200, 'served while the loop keeps up')

  busy(1500)
  t.ok(await until(app, true), 'the lag is seen')
  const shed = await request('GET', `${API}/users/${userId}`, { expectServerError: true })
  t.equal(shed.status, 503)
  t.equal(shed.headers['retry-after'], '1')
  t.equal(String(shed.headers['content-type']).split(';')[0], 'application/problem+json')
  t.match(shed.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503, instance: `${API}/users/${userId}` })
  t.ok(shed.headers['x-request-id'], 'the platform headers are kept')
  t.equal((await request('GET', '/healthz')).status, 200, '/healthz still answers')
  t.equal((await request('GET', '/readyz')).status, 200, '/readyz still answers')
})

t.test('0 turns shedding off', async (t) => {
  const { app, request } = await startApp(t, undefined, { maxEventLoopDelayMs: 0 })
  t.equal(app.hasDecorator('isUnderPressure'), false, 'no sampling at all')
  busy(300)
  await sleep(1100)
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Ada' } })).status, 201)
})

t.test('MAX_EVENT_LOOP_DELAY_MS is checked', async (t) => {
  t.equal(loadConfig({}).maxEventLoopDelayMs, 1000)
  t.equal(loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '0' }).maxEventLoopDelayMs, 0)
  t.equal(loadConfig({ MAX_EVENT_LOOP_DELAY_MS: '250' }).maxEventLoopDelayMs, 250)
  for (const bad of ['-1', '1.5', 'fast', '3600001']) t.throws(() => loadConfig({ MAX_EVENT_LOOP_DELAY_MS: bad }), /MAX_EVENT_LOOP_DELAY_MS/)
})
