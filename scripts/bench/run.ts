// `npm run bench [-- --store postgres --duration 5 --rounds 3 --connections 50 --smoke --only floor,peer,ours
// --scenarios post,post-parts,search,history --baseline /tmp/baseline --search-size 1000000 --search-connections 1]`:
// the floor, the peer and our production build, one after the other (2 cores: never together), each on
// its own fresh copy of the same seeded database, loaded by wrk over loopback (scripts/bench/load.ts). Ours
// runs as `npm start` runs it, request log included, written to a file as in production. With --baseline, ours as
// built in another checkout runs beside it as ours-before, on a copy of the same rows migrated by that checkout's
// migrations. The search and history scenarios run on stores of their own (scripts/bench/search-run.ts,
// scripts/bench/history-run.ts). Prints the tables and writes them as JSON to bench/results/latest-<store>.json and a
// timestamped copy to the git-ignored bench/results/history/ (smoke runs: a temp dir). Exit 1 only when a server
// failed to start or answered a request with a non-2xx or an error (history: another answer than the request's own,
// or a wrong result); never on speed.
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { projectRoot } from '../../src/project-root.js'
import { providerOf } from '../../src/store/database-url.js'
import { readMigrations } from '../../src/store/migrate/index.js'
import { createRun, parseOptions, progress, type Options, type Run } from './bench.js'
import { databaseCpu, type DatabaseCpu } from './database-cpu.js'
import { seededDatabases, type Databases } from './databases.js'
import { historySize, measureHistory } from './history-run.js'
import type { LoadRequest } from './load.js'
import { median, measure, startServer, WARM_UP_SECONDS, type Scenario, type Started } from './measure.js'
import { rssMb } from './proc.js'
import { formatReport, type Measure, type Report, type ServerName } from './report.js'
import { measureSearch, searchSize } from './search-run.js'
import { FULL_SIZE, seed, SMOKE_SIZE, type Fixture, type SeedSize } from './seed.js'
import { stop, stopAll } from './servers.js'

const GROWTH_SECONDS = 3
/** More deletes per second than any server here reaches, so the pool outlasts the run (a repeated id is a 404). */
const DELETE_RATE_BOUND = 40_000
/** Servers whose growth figure is measured: ours is the one that must stay flat, the floor shows what flat is. */
const GROWTH_SERVERS: ServerName[] = ['floor', 'ours']

function seedSize ({ smoke, duration, rounds }: Options): SeedSize {
  const size = smoke ? SMOKE_SIZE : FULL_SIZE
  return { ...size, deletePool: Math.ceil(DELETE_RATE_BOUND * rounds * (duration + (smoke ? 0 : WARM_UP_SECONDS))) }
}

/**
 * One seeded database for this checkout's servers and, with --baseline, one for ours-before with the same rows in
 * the schema of the baseline's own migrations (its server refuses none and applies none: its history is complete).
 */
async function mainDatabases (run: Run, options: Options, size: SeedSize): Promise<Databases<Fixture>> {
  const now = await seededDatabases(run, options.store, 'seed', (url) => seed(url, size))
  const baseline = options.baseline
  if (baseline === undefined || !options.only.includes('ours-before')) return now
  const migrations = (url: string) => readMigrations(join(baseline, 'prisma', providerOf(url), 'migrations'))
  const before = await seededDatabases(run, options.store, 'before', (url) => seed(url, size, migrations(url)))
  return { fixture: now.fixture, copyFor: (server) => (server === 'ours-before' ? before : now).copyFor(server) }
}

/** A range split in two: the first half, and the rest. */
function halves ([first, last]: [number, number]): [[number, number], [number, number]] {
  const middle = Math.floor((first + last) / 2)
  return [[first, middle], [middle + 1, last]]
}

/**
 * post-parts' message: an assistant's turn that calls a tool, with the model that wrote it and the tokens it used,
 * as an agent stores it through v2 (a tool_call alone: its text is empty).
 */
const TOOL_CALL_MESSAGE = {
  role: 'assistant',
  parts: [{ type: 'tool_call', id: 'call_7Qk2', name: 'get_weather', arguments: { city: 'Lisbon', days: 2, units: 'metric' } }],
  model: 'gpt-4o',
  usage: { inputTokens: 412, outputTokens: 96 },
}

/**
 * The scenarios, in SCENARIOS' order; `deleted` walks the delete pool, fresh for each server since each has its own
 * copy. `headers` go on every request (ours-jwt's token).
 */
function scenarios (fixture: Fixture, headers: Record<string, string> = {}): Scenario[] {
  const api = '/api/v1'
  const random = ([first, last]: [number, number]) => ({ first, last, order: 'random' as const })
  // Reads and writes on separate halves of the typical rows: a server's creates would otherwise lengthen the lists
  // its next round reads, the more the faster it writes (the floor's list ran 15x slower by the third round than
  // the first), and its posts change the conversations it reads: the servers would not read the same data.
  const [readUsers, writeUsers] = halves(fixture.typicalUsers)
  const [readConversations, writeConversations] = halves(fixture.typicalConversations)
  let deleted = fixture.deletePool[0]
  const fixed = (request: Omit<LoadRequest, 'headers'>) => () => ({ ...request, headers })
  const create = {
    method: 'POST' as const,
    path: `${api}/users/{id}/conversations`,
    ids: random(writeUsers),
    body: JSON.stringify({ title: 'Bench', metadata: { model: 'bench' }, messages: [{ role: 'user', content: 'Hello from the benchmark' }] }),
  }
  return [
    { name: 'get', request: fixed({ method: 'GET', path: `${api}/conversations/{id}`, ids: random(readConversations) }) },
    { name: 'list', request: fixed({ method: 'GET', path: `${api}/users/{id}/conversations`, ids: random(readUsers) }) },
    { name: 'page50', request: fixed({ method: 'GET', path: `${api}/users/${fixture.bigUser}/conversations?limit=50` }) },
    { name: 'create', request: fixed(create) },
    // The same create with a new Idempotency-Key each time, as a client that may retry sends it: what a key
    // costs (compare create's CPU us/req). The floor and the peer know no keys and serve a plain create.
    { name: 'create-key', request: fixed({ ...create, uniqueHeader: 'Idempotency-Key' }) },
    {
      name: 'post',
      request: fixed({ method: 'POST', path: `${api}/conversations/{id}/messages`, ids: random(writeConversations), body: JSON.stringify({ role: 'user', content: 'One more question' }) }),
    },
    // The same post through v2 with a tool call, model and usage (compare post's CPU us/req): what a rich message
    // costs. The floor and the peer store the same columns (parts, model, usage; the conversation's usage and
    // lastMessageAt) and answer v2's Message.
    {
      name: 'post-parts',
      request: fixed({ method: 'POST', path: '/api/v2/conversations/{id}/messages', ids: random(writeConversations), body: JSON.stringify(TOOL_CALL_MESSAGE) }),
    },
    {
      name: 'delete',
      request: () => ({ method: 'DELETE', path: `${api}/conversations/{id}`, ids: { first: deleted, last: fixture.deletePool[1], order: 'sequence' }, headers }),
      ran (issued) {
        deleted += issued
        // Past the pool, deletes are 404s and fail the run; this says why.
        if (deleted > fixture.deletePool[1] + 1) throw new Error(`the delete pool ran out: raise DELETE_RATE_BOUND (${DELETE_RATE_BOUND}) in scripts/bench/run.ts`)
      },
    },
  ]
}

async function measureGrowth (server: Started, fixture: Fixture, options: Options): Promise<Record<string, Measure>> {
  const growth: Record<string, Measure> = {}
  // The growth figure is page50's at other sizes: measured when page50 is.
  if (!GROWTH_SERVERS.includes(server.name) || (options.smoke && server.name !== 'ours') || !options.scenarios.includes('page50')) return growth
  for (const { userId, conversations } of fixture.growthUsers) {
    const page: Scenario = { name: 'page50', request: () => ({ method: 'GET', path: `/api/v1/users/${userId}/conversations?limit=50` }) }
    growth[conversations] = await measure(server, page, { seconds: options.smoke ? 1 : GROWTH_SECONDS, connections: options.connections, warmUp: !options.smoke }, options.smoke)
  }
  return growth
}

/**
 * All servers are started first (one at a time, so each start is timed alone) and then idle while another
 * is loaded. Scenarios are interleaved, each run on every server back to back, so a slowdown of the
 * machine part-way through (other load, CPU throttling) hits all servers in a scenario alike instead of
 * whichever server happened to run last.
 */
async function measureAll (run: Run, options: Options, cpu: DatabaseCpu | undefined): Promise<Report['servers']> {
  const picked = scenarioNames(options)
  if (picked.length === 0) return {}
  progress(options.smoke, `seeding ${options.store}`)
  const databases = await mainDatabases(run, options, seedSize(options))
  const started: Array<Started & { scenarios: Scenario[] }> = []
  for (const name of options.only) {
    const server = await startServer(run, options, name, await databases.copyFor(name), cpu)
    started.push({ ...server, scenarios: scenarios(databases.fixture, server.headers).filter((scenario) => picked.includes(scenario.name)) })
  }
  const runs = new Map<string, Measure[]>()
  const plan = { seconds: options.duration, connections: options.connections, warmUp: !options.smoke }
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < picked.length; i++) {
      for (const server of started) {
        const scenario = server.scenarios[i]!
        const key = `${server.name} ${scenario.name}`
        runs.set(key, [...runs.get(key) ?? [], await measure(server, scenario, plan, options.smoke)])
      }
    }
  }
  const measuredOf = (server: typeof started[number]) => Object.fromEntries(server.scenarios.map((scenario) => [scenario.name, median(runs.get(`${server.name} ${scenario.name}`)!)]))
  const results: Report['servers'] = {}
  for (const server of started) {
    const growth = await measureGrowth(server, databases.fixture, options)
    results[server.name] = {
      spawnToReadyMs: server.spawnToReadyMs,
      rssIdleMb: server.rssIdleMb,
      rssAfterMb: rssMb(server.spawned.child.pid!),
      rssPeakMb: rssMb(server.spawned.child.pid!, 'VmHWM'),
      scenarios: measuredOf(server),
      growth,
    }
  }
  for (const server of started) await stop(server.spawned.child)
  return results
}

/** The picked scenarios but search and history, which run on stores of their own. */
const scenarioNames = (options: Options): string[] => options.scenarios.filter((name) => name !== 'search' && name !== 'history')

function commitOf (dir: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: dir, encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head}+dirty` : head
  } catch {
    return 'unknown'
  }
}

/**
 * latest-<store>.json (committed: docs/performance.md's tables) and, for comparing runs, a timestamped copy under
 * history/ (git-ignored).
 */
function writeResults (report: Report): { latest: string, file: string } {
  const dir = report.smoke ? join(tmpdir(), 'trackbot-bench-results') : join(projectRoot, 'bench', 'results')
  const historyDir = join(dir, 'history')
  mkdirSync(historyDir, { recursive: true })
  const text = JSON.stringify(report, null, 2) + '\n'
  const file = join(historyDir, `${report.store}-${report.startedAt.replace(/:/g, '-')}.json`)
  const latest = join(dir, `latest-${report.store}.json`)
  writeFileSync(file, text)
  writeFileSync(latest, text)
  return { latest, file }
}

function failures (report: Report): string[] {
  const failed = (server: string, measures: Record<string, Measure>) => Object.entries(measures)
    .filter(([, measure]) => measure.failures > 0)
    .map(([scenario, measure]) => `${server} ${scenario}: ${measure.failures} failed (status codes ${JSON.stringify(measure.statusCodes)})`)
  return [
    ...Object.entries(report.servers).flatMap(([server, result]) =>
      failed(server, { ...result.scenarios, ...Object.fromEntries(Object.entries(result.growth).map(([n, m]) => [`growth ${n}`, m])) })),
    ...Object.entries(report.search?.loads ?? {}).flatMap(([kind, servers]) =>
      Object.entries(servers).flatMap(([server, measure]) => failed(server, { [`search ${kind}`]: measure }))),
    ...(report.history?.failures ?? []).map((failure) => `ours history ${failure}`),
  ]
}

const run = createRun()

async function cleanUp (): Promise<void> {
  await stopAll()
  await run.cleanUp()
}

async function main (): Promise<void> {
  const options = parseOptions()
  const startedAt = new Date().toISOString()
  // PostgreSQL's backends do the queries' work: their CPU is read beside each server's.
  const cpu = options.store === 'postgres' ? databaseCpu(run.adminUrl) : undefined
  if (cpu !== undefined) run.onCleanUp(() => cpu.close())
  const report: Report = {
    store: options.store,
    startedAt,
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    connections: options.connections,
    durationSeconds: options.duration,
    rounds: options.rounds,
    smoke: options.smoke,
    commit: commitOf(projectRoot),
    seed: {
      ...scenarioNames(options).length === 0 ? {} : seedSize(options),
      ...options.scenarios.includes('search') ? { search: searchSize(options) } : {},
      ...options.scenarios.includes('history') ? { history: historySize(options) } : {},
    },
    servers: {},
    ...options.baseline === undefined ? {} : { baseline: { dir: options.baseline, commit: commitOf(options.baseline) } },
    // Other work on this machine skews every figure; the load average at start and end shows whether there was any.
    loadAverage: { start: loadavg(), end: [] },
  }
  report.servers = await measureAll(run, options, cpu)
  if (options.scenarios.includes('search')) report.search = await measureSearch(run, options, cpu)
  if (options.scenarios.includes('history')) report.history = await measureHistory(run, options, cpu)
  report.loadAverage.end = loadavg()
  console.log(formatReport(report))
  const { latest, file } = writeResults(report)
  progress(options.smoke, `wrote ${latest} and ${file}`)
  const failed = failures(report)
  if (failed.length > 0) {
    console.error(`bench: FAILED: requests that did not get a 2xx (history: their own answer and a right result):\n${failed.join('\n')}`)
    process.exitCode = 1
  }
}

// Interrupted: stop the servers and drop the databases before going.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { cleanUp().finally(() => process.exit(130)) })
}

main()
  .catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  })
  .finally(cleanUp)
