// `npm run bench [-- --store postgres --duration 5 --rounds 3 --connections 50 --smoke --only floor,peer,ours
// --scenarios post,post-parts]`:
// the floor, the peer and our production build, one after the other (2 cores: never together), each on
// its own fresh copy of the same seeded database, loaded by wrk over loopback (scripts/bench/load.ts). Ours
// runs as `npm start` runs it, request log included, written to a file as in production. Prints one table
// and writes it as JSON to bench/results/latest-<store>.json and a timestamped copy to the git-ignored
// bench/results/history/ (smoke runs: a temp dir). Exit 1 only when a server failed to start or
// answered a request with a non-2xx or an error; never on speed.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SignJWT } from 'jose'
import { projectRoot } from '../../src/project-root.js'
import { freePort } from '../free-port.js'
import { load, type LoadRequest } from './load.js'
import { cpuSeconds, rssMb } from './proc.js'
import { formatReport, SCENARIOS, SERVERS, type Measure, type Report, type ScenarioName, type ServerName } from './report.js'
import { adminQuery, copySqlite, FULL_SIZE, postgresUrl, seed, SMOKE_SIZE, type Fixture, type SeedSize, type Store } from './seed.js'

interface Options { store: Store, duration: number, rounds: number, connections: number, smoke: boolean, only: ServerName[], scenarios: ScenarioName[] }

/** How a server process is started: node's arguments, and variables its environment gets beside the run's. */
interface Launch { args: string[], env: Record<string, string> }

/**
 * Our server is started exactly as `npm start` starts it: the environment its script sets (the allocator's
 * settings), its node flags and entry point.
 */
function npmStart (): Launch {
  const { scripts } = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const words = scripts.start.split(/\s+/)
  const env: Record<string, string> = {}
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const [name, ...value] = words.shift()!.split('=')
    env[name!] = value.join('=')
  }
  const [command, ...args] = words
  if (command !== 'node') throw new Error(`package.json's start script must run node, after any VAR=value, got: ${scripts.start}`)
  return { args, env }
}

const LAUNCH: Record<ServerName, () => Launch> = {
  floor: () => ({ args: ['dist/scripts/bench/floor-server.js'], env: {} }),
  peer: () => ({ args: ['dist/scripts/bench/peer-server.js'], env: {} }),
  ours: npmStart,
  'ours-jwt': npmStart,
}

// ours-jwt: tokens required, HS256. Its requests carry an admin token, which reaches every row, so each
// scenario does the same work as on ours plus verifying the token (a user's token on a conversation path
// would add the owner look-up, src/contract/access.ts).
const BENCH_SECRET = 'benchmark-secret-of-thirty-two-characters-or-more'
const SERVER_ENV: Partial<Record<ServerName, Record<string, string>>> = {
  'ours-jwt': { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: BENCH_SECRET },
}

async function benchToken (): Promise<string> {
  return await new SignJWT({ scope: 'trackbot:admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench')
    .setExpirationTime('1d').sign(new TextEncoder().encode(BENCH_SECRET))
}
const WARM_UP_SECONDS = 1
const GROWTH_SECONDS = 3
/** More deletes per second than any server here reaches, so the pool outlasts the run (a repeated id is a 404). */
const DELETE_RATE_BOUND = 40_000
/** Servers whose growth figure is measured: ours is the one that must stay flat, the floor shows what flat is. */
const GROWTH_SERVERS: ServerName[] = ['floor', 'ours']

const live = new Set<ChildProcess>()
const cleanups: Array<() => Promise<void>> = []

function options (): Options {
  const { values } = parseArgs({
    options: {
      store: { type: 'string', default: 'sqlite' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string', default: SERVERS.join(',') },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
    },
  })
  if (values.store !== 'sqlite' && values.store !== 'postgres') throw new Error(`--store must be sqlite or postgres, got "${values.store}"`)
  const only = values.only.split(',').map((name) => name.trim())
  const unknown = only.filter((name) => !(SERVERS as readonly string[]).includes(name))
  if (unknown.length > 0) throw new Error(`--only takes ${SERVERS.join(',')}; unknown: ${unknown.join(',')}`)
  const picked = values.scenarios.split(',').map((name) => name.trim())
  const unknownScenarios = picked.filter((name) => !(SCENARIOS as readonly string[]).includes(name))
  if (unknownScenarios.length > 0) throw new Error(`--scenarios takes ${SCENARIOS.join(',')}; unknown: ${unknownScenarios.join(',')}`)
  const duration = values.smoke ? 1 : Number(values.duration)
  const rounds = values.smoke ? 1 : Number(values.rounds)
  const connections = Number(values.connections)
  // Whole seconds: wrk's resolution.
  if (![duration, rounds, connections].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new Error('--duration (seconds), --rounds and --connections must be whole numbers of at least 1')
  }
  return {
    store: values.store,
    duration,
    rounds,
    connections,
    smoke: values.smoke,
    only: SERVERS.filter((name) => only.includes(name)),
    scenarios: SCENARIOS.filter((name) => picked.includes(name)),
  }
}

const progress = (smoke: boolean, message: string) => { if (!smoke) console.error(`bench: ${message}`) }

/** One seeded database, and a fresh copy of it per server. */
interface Databases { fixture: Fixture, copyFor (server: ServerName): Promise<string> }

function seedSize ({ smoke, duration, rounds }: Options): SeedSize {
  const size = smoke ? SMOKE_SIZE : FULL_SIZE
  return { ...size, deletePool: Math.ceil(DELETE_RATE_BOUND * rounds * (duration + (smoke ? 0 : WARM_UP_SECONDS))) }
}

async function sqliteDatabases (size: SeedSize): Promise<Databases> {
  const dir = mkdtempSync(join(tmpdir(), 'trackbot-bench-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  const seeded = `file:${join(dir, 'seeded.db')}`
  const fixture = await seed(seeded, size)
  return {
    fixture,
    async copyFor (server) {
      const url = `file:${join(dir, `${server}.db`)}`
      copySqlite(seeded, url)
      return url
    },
  }
}

async function postgresDatabases (size: SeedSize): Promise<Databases> {
  const admin = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
  const prefix = `trackbot_bench_${process.pid}`
  const created: string[] = []
  const create = async (name: string, template?: string) => {
    created.push(name)
    await adminQuery(admin, [`CREATE DATABASE ${name}${template === undefined ? '' : ` TEMPLATE ${template}`}`])
    return postgresUrl(admin, name)
  }
  cleanups.push(() => adminQuery(admin, created.map((name) => `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)))
  const fixture = await seed(await create(`${prefix}_seed`), size)
  // A database name is an unquoted identifier here: ours-jwt becomes ours_jwt.
  return { fixture, copyFor: (server) => create(`${prefix}_${server.replace(/-/g, '_')}`, `${prefix}_seed`) }
}

interface Spawned { child: ChildProcess, origin: string, output: () => string }

/** Where the servers' output goes: one file each, removed with the run. */
let logDir: string | undefined
function logFile (server: ServerName): string {
  if (logDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'trackbot-bench-logs-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    logDir = dir
  }
  return join(logDir, `${server}.log`)
}

/** The last bytes of a file: a failed server's last words. */
function tail (file: string, bytes = 8000): string {
  const fd = openSync(file, 'r')
  try {
    const size = statSync(file).size
    const buffer = Buffer.alloc(Math.min(bytes, size))
    readSync(fd, buffer, 0, buffer.length, size - buffer.length)
    return buffer.toString()
  } finally {
    closeSync(fd)
  }
}

/**
 * With the environment it was given (ours logs each request at its default level), its stdout and stderr
 * to a file: as a log shipper would take them, and nothing of the benchmark's own CPU spent reading them.
 */
function spawnServer (server: ServerName, databaseUrl: string, port: number): Spawned {
  const file = logFile(server)
  const fd = openSync(file, 'a')
  const { args, env } = LAUNCH[server]()
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ...SERVER_ENV[server] },
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  live.add(child)
  child.on('exit', () => live.delete(child))
  return { child, origin: `http://127.0.0.1:${port}`, output: () => tail(file) }
}

async function waitReady ({ child, origin, output }: Spawned): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before ready:\n${output()}`)
    try {
      if ((await fetch(`${origin}/readyz`)).status === 200) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`server not ready in 30 s:\n${output()}`)
}

/** A server that died under load would otherwise show up as a scenario of connection errors. */
function assertAlive (child: ChildProcess, scenario: string): void {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`exited (code ${child.exitCode}, signal ${child.signalCode}) during ${scenario}`)
  }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  // A server that hangs on close must not hang the benchmark.
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

interface Scenario {
  name: ScenarioName
  /** The request of the next run: the delete scenario's moves on with every run. */
  request (): LoadRequest
  /** Told how many requests a run built, answered or not. */
  ran? (issued: number): void
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

async function loadScenario (origin: string, scenario: Scenario, seconds: number, connections: number): Promise<Measure> {
  const result = await load(origin, scenario.request(), seconds, connections)
  scenario.ran?.(result.issued)
  return {
    requestsPerSecond: result.requests / result.seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    requests: result.requests,
    seconds: result.seconds,
    failures: result.statusErrors + result.socketErrors,
    // wrk counts answers of 400 and above, not each code.
    statusCodes: { 'below 400': result.requests - result.statusErrors, '400 and above': result.statusErrors },
    generatorCpuUsPerRequest: result.generatorCpuUsPerRequest,
    // Set by measure(), which watches the server process.
    cpuUsPerRequest: 0,
  }
}

const middleOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!

/** The round with the median throughput, all its figures, and every round's throughput beside it. */
function median (rounds: Measure[]): Measure {
  const sorted = [...rounds].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)
  const middle = sorted[Math.floor((sorted.length - 1) / 2)]!
  return {
    ...middle,
    // A failure in any round fails the run.
    failures: rounds.reduce((sum, round) => sum + round.failures, 0),
    statusCodes: rounds.reduce<Record<string, number>>((all, round) => {
      for (const [code, count] of Object.entries(round.statusCodes)) all[code] = (all[code] ?? 0) + count
      return all
    }, {}),
    cpuUsPerRequest: middleOf(rounds.map((round) => round.cpuUsPerRequest)),
    generatorCpuUsPerRequest: middleOf(rounds.map((round) => round.generatorCpuUsPerRequest)),
    roundsRequestsPerSecond: rounds.map((round) => Math.round(round.requestsPerSecond)),
  }
}

interface Started { name: ServerName, spawned: Spawned, spawnToReadyMs: number, rssIdleMb: number, scenarios: Scenario[] }

async function startServer (name: ServerName, databaseUrl: string, fixture: Fixture, options: Options): Promise<Started> {
  const started = performance.now()
  const spawned = spawnServer(name, databaseUrl, await freePort())
  try {
    await waitReady(spawned)
  } catch (error) {
    throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const spawnToReadyMs = performance.now() - started
  const headers: Record<string, string> = SERVER_ENV[name]?.AUTH_MODE === 'jwt' ? { authorization: `Bearer ${await benchToken()}` } : {}
  const picked = scenarios(fixture, headers).filter((scenario) => options.scenarios.includes(scenario.name))
  return { name, spawned, spawnToReadyMs, rssIdleMb: rssMb(spawned.child.pid!), scenarios: picked }
}

async function measure (server: Started, scenario: Scenario, options: Options): Promise<Measure> {
  try {
    if (!options.smoke) await loadScenario(server.spawned.origin, scenario, WARM_UP_SECONDS, options.connections)
    const pid = server.spawned.child.pid!
    const cpuBefore = cpuSeconds(pid)
    const measured = await loadScenario(server.spawned.origin, scenario, options.duration, options.connections)
    assertAlive(server.spawned.child, scenario.name)
    measured.cpuUsPerRequest = (cpuSeconds(pid) - cpuBefore) * 1e6 / Math.max(1, measured.requests)
    progress(options.smoke, `${server.name} ${scenario.name}: ${measured.requestsPerSecond.toFixed(0)} req/s`)
    return measured
  } catch (error) {
    throw new Error(`${server.name}: ${error instanceof Error ? error.message : String(error)}\n${server.spawned.output()}`)
  }
}

async function measureGrowth (server: Started, fixture: Fixture, options: Options): Promise<Record<string, Measure>> {
  const growth: Record<string, Measure> = {}
  // The growth figure is page50's at other sizes: measured when page50 is.
  if (!GROWTH_SERVERS.includes(server.name) || (options.smoke && server.name !== 'ours') || !options.scenarios.includes('page50')) return growth
  for (const { userId, conversations } of fixture.growthUsers) {
    const page: Scenario = { name: 'page50', request: () => ({ method: 'GET', path: `/api/v1/users/${userId}/conversations?limit=50` }) }
    growth[conversations] = await measure(server, page, { ...options, duration: options.smoke ? 1 : GROWTH_SECONDS })
  }
  return growth
}

/**
 * All servers are started first (one at a time, so each start is timed alone) and then idle while another
 * is loaded. Scenarios are interleaved, each run on every server back to back, so a slowdown of the
 * machine part-way through (other load, CPU throttling) hits all servers in a scenario alike instead of
 * whichever server happened to run last.
 */
async function measureAll (databases: Databases, options: Options): Promise<Report['servers']> {
  const started: Started[] = []
  for (const name of options.only) started.push(await startServer(name, await databases.copyFor(name), databases.fixture, options))
  const runs = new Map<string, Measure[]>()
  const count = started[0]?.scenarios.length ?? 0
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < count; i++) {
      for (const server of started) {
        const scenario = server.scenarios[i]!
        const key = `${server.name} ${scenario.name}`
        runs.set(key, [...runs.get(key) ?? [], await measure(server, scenario, options)])
      }
    }
  }
  const measuredOf = (server: Started) => Object.fromEntries(server.scenarios.map((scenario) => [scenario.name, median(runs.get(`${server.name} ${scenario.name}`)!)]))
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

function commit (): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: projectRoot, encoding: 'utf8' }).trim() !== ''
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
  return Object.entries(report.servers).flatMap(([server, result]) =>
    Object.entries({ ...result.scenarios, ...Object.fromEntries(Object.entries(result.growth).map(([n, m]) => [`growth ${n}`, m])) })
      .filter(([, measure]) => measure.failures > 0)
      .map(([scenario, measure]) => `${server} ${scenario}: ${measure.failures} failed (status codes ${JSON.stringify(measure.statusCodes)})`))
}

async function cleanUp (): Promise<void> {
  for (const child of live) await stop(child)
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error('bench: cleanup:', error))
}

async function main (): Promise<void> {
  const opts = options()
  const startedAt = new Date().toISOString()
  progress(opts.smoke, `seeding ${opts.store}`)
  const size = seedSize(opts)
  const databases = opts.store === 'postgres' ? await postgresDatabases(size) : await sqliteDatabases(size)
  const report: Report = {
    store: opts.store,
    startedAt,
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    connections: opts.connections,
    durationSeconds: opts.duration,
    rounds: opts.rounds,
    smoke: opts.smoke,
    commit: commit(),
    seed: size,
    servers: {},
    // Other work on this machine skews every figure; the load average at start and end shows whether there was any.
    loadAverage: { start: loadavg(), end: [] },
  }
  report.servers = await measureAll(databases, opts)
  report.loadAverage.end = loadavg()
  console.log(formatReport(report))
  const { latest, file } = writeResults(report)
  progress(opts.smoke, `wrote ${latest} and ${file}`)
  const failed = failures(report)
  if (failed.length > 0) {
    console.error(`bench: FAILED: requests that did not get a 2xx:\n${failed.join('\n')}`)
    process.exitCode = 1
  }
}

// Interrupted: stop the servers and drop the databases before going.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { cleanUp().finally(() => process.exit(130)) })
}
// Last resort on any other way out: no server outlives the benchmark.
process.on('exit', () => { for (const child of live) child.kill('SIGKILL') })

main()
  .catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`)
    process.exitCode = 1
  })
  .finally(cleanUp)
