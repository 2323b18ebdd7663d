// A real Prometheus (Debian's, which npm test's pretest installs when missing: scripts/ensure-prometheus.sh) scrapes
// the built server on its METRICS_PORT every second and evaluates docs/prometheus/alerts.yml; its own query API then
// gives an operation's request rate and the histogram's p99. promtool checks the alerting rules and lints /metrics.
// What Prometheus reads does not depend on the store:
// stores: sqlite
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { exitedWhy, freePort, startApp, tempDir, until, LogCapture, API, API_V2 } from '../helper.js'
import { scrapeUrl } from '../prometheus.js'

const PROMETHEUS = '/usr/bin/prometheus'
const PROMTOOL = '/usr/bin/promtool'
const ALERTS = join(projectRoot, 'docs', 'prometheus', 'alerts.yml')
const missing = [PROMETHEUS, PROMTOOL].filter((binary) => !existsSync(binary))
if (missing.length > 0) throw new Error(`${missing.join(' and ')} missing: run \`bash scripts/ensure-prometheus.sh\` (npm test does), or install Debian's prometheus package`)

t.test('promtool check rules: docs/prometheus/alerts.yml', async (t) => {
  const check = spawnSync(PROMTOOL, ['check', 'rules', ALERTS], { encoding: 'utf8' })
  t.equal(check.status, 0, check.stderr || 'exits 0')
  t.match(check.stdout, /SUCCESS: \d+ rules found/)
})

interface Vector { metric: Record<string, string>, value: [number, string] }

t.test('a real Prometheus scrapes METRICS_PORT: an operation\'s request rate and its p99 through Prometheus\' query API', async (t) => {
  const metricsPort = await freePort()
  const dir = tempDir(t)
  const webPort = await freePort()
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [ALERTS],
    scrape_configs: [{ job_name: 'trackbot', static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }] }],
  }))
  const log = new LogCapture()
  const prometheus = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${webPort}`, '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { prometheus.kill('SIGKILL') })
  prometheus.stdout.setEncoding('utf8').on('data', (chunk: string) => log.add(chunk))
  prometheus.stderr.setEncoding('utf8').on('data', (chunk: string) => log.add(chunk))
  const api = `http://127.0.0.1:${webPort}`

  // Started meanwhile: Prometheus hands its targets to the scraper only every 5 s, and scrapes fail until the server listens.
  const server = await startApp(t, { transport: 'process', env: { METRICS_PORT: String(metricsPort) } })
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`
  t.equal((await server.request('GET', '/metrics')).status, 404, 'not on the API\'s port')
  const user = await server.createUser()

  // What Prometheus' own linter says of the answer: prom-client's runtime metrics name a few gauges `_total`, ours nothing.
  const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: await (await fetch(metricsUrl)).text(), encoding: 'utf8' })
  const findings = `${lint.stdout}${lint.stderr}`.split('\n').filter((line) => line !== '')
  t.same(findings.filter((line) => !/^nodejs_\w+ non-counter metrics should not have "_total" suffix$/.test(line)), [], 'promtool check metrics: nothing on ours')

  const running = () => {
    const why = exitedWhy(prometheus)
    if (why !== undefined) throw new Error(`Prometheus stopped (${why}):\n${log.output()}`)
  }
  const query = async (promql: string): Promise<Vector[]> => {
    running()
    const answer = await (await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`)).json() as { status: string, data: { result: Vector[] }, error?: string }
    if (answer.status !== 'success') throw new Error(`${promql}: ${answer.error}`)
    return answer.data.result
  }
  await until('Prometheus to be ready', async () => {
    running()
    return await fetch(`${api}/-/ready`).then((response) => response.ok, () => false)
  }, { cause: () => log.output() })
  await until('Prometheus to scrape the server', async () => (await query('up{job="trackbot"}'))[0]?.value[1] === '1', { cause: () => log.output() })

  // Requests keep coming while Prometheus is asked: a rate needs two scrapes with requests between them.
  let sending = true
  const traffic = (async () => {
    while (sending) {
      await server.request('GET', `${API}/users/${user.id}`)
      await server.request('GET', `${API_V2}/users/${user.id}`)
    }
  })()
  t.teardown(() => { sending = false })
  const selector = '{job="trackbot", api_version="v1", operation_id="get_user_by_id"}'
  const rate = await until('a request rate of v1 get_user_by_id', async () => {
    const [sample] = await query(`sum(rate(http_server_request_duration_seconds_count${selector}[10s]))`)
    return sample !== undefined && Number(sample.value[1]) > 0 ? Number(sample.value[1]) : undefined
  }, { cause: () => log.output() })
  t.ok(rate > 0, `get_user_by_id: ${rate.toFixed(1)} requests/s`)
  const p99 = Number((await query(`histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket${selector}[10s])))`))[0]?.value[1])
  t.ok(p99 > 0 && p99 <= 10, `its p99, within the histogram's bounds: ${p99} s`)
  const series = await query(`http_server_request_duration_seconds_count${selector}`)
  t.match(series.map((sample) => sample.metric), [{ http_route: '/api/v1/users/{userId}', http_request_method: 'GET', http_response_status_code: '200', instance: `127.0.0.1:${metricsPort}` }],
    'one series, under the route template')
  sending = false
  await traffic

  // Every rule evaluates without error, and every metric the rules name is one the server exports.
  const rules = await until('every alerting rule evaluated', async () => {
    running()
    const answer = await (await fetch(`${api}/api/v1/rules`)).json() as { data: { groups: Array<{ rules: Array<{ name: string, health: string, lastError?: string }> }> } }
    const all = answer.data.groups.flatMap((group) => group.rules)
    return all.length > 0 && all.every((rule) => rule.health !== 'unknown') ? all : undefined
  }, { cause: () => log.output() })
  t.same(rules.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.lastError}`), [], 'no rule fails to evaluate')
  const exported = new Set((await scrapeUrl(metricsUrl)).types.keys())
  const named = new Set([...readFileSync(ALERTS, 'utf8').matchAll(/\b((?:http_server|trackbot|nodejs)_\w+)/g)].map(([, name]) => name!.replace(/_(bucket|count|sum)$/, '')))
  t.same([...named].filter((name) => !exported.has(name)), [], `the rules name only exported metrics: ${[...named].join(', ')}`)

  // While Prometheus still holds its connection to the metrics port, which must not keep the server from exiting.
  t.equal(await server.stop(), 0, 'SIGTERM: the server exits, scraped or not')
  prometheus.kill('SIGTERM')
  await until('Prometheus to exit', () => exitedWhy(prometheus) !== undefined)
})
