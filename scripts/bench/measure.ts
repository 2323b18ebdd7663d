// A started server and how a load on it is measured: wrk's figures (scripts/bench/load.ts), and the CPU the server
// spent, read from /proc before and after (on PostgreSQL its database backends' beside it).
import { join } from 'node:path'
import { providerOf } from '../../src/store/database-url.js'
import { freePort } from '../free-port.js'
import { progress, type Options, type Run } from './bench.js'
import { backendSeconds, type BackendCpu, type DatabaseCpu } from './database-cpu.js'
import { load, type LoadRequest } from './load.js'
import { cpuSeconds, rssMb } from './proc.js'
import type { Measure, ServerName } from './report.js'
import { assertAlive, headersFor, spawnServer, waitReady, type Spawned } from './servers.js'

export const WARM_UP_SECONDS = 1

/** CPU seconds so far: the server process's, and on PostgreSQL its database's backends'. */
interface CpuReading { server: number, backends?: BackendCpu }

export interface Started {
  name: ServerName
  spawned: Spawned
  spawnToReadyMs: number
  rssIdleMb: number
  /** Every request to it carries these (ours-jwt's token). */
  headers: Record<string, string>
  readCpu (): Promise<CpuReading>
}

export interface Scenario {
  name: string
  /** The request of the next run: the delete scenario's moves on with every run. */
  request (): LoadRequest
  /** Told how many requests a run built, answered or not. */
  ran? (issued: number): void
}

/** Starts `name` on the database at `url` and waits until it is ready; `databaseCpu` on PostgreSQL. */
export async function startServer (run: Run, options: Options, name: ServerName, url: string, databaseCpu: DatabaseCpu | undefined): Promise<Started> {
  const started = performance.now()
  const spawned = spawnServer(name, options.baseline, url, await freePort(), join(run.dir, `${name}-${started.toFixed(0)}.log`))
  try {
    await waitReady(spawned)
  } catch (error) {
    throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const spawnToReadyMs = performance.now() - started
  const pid = spawned.child.pid!
  const database = providerOf(url) === 'postgres' ? new URL(url).pathname.slice(1) : undefined
  return {
    name,
    spawned,
    spawnToReadyMs,
    rssIdleMb: rssMb(pid),
    headers: await headersFor(name),
    readCpu: async () => ({
      server: cpuSeconds(pid),
      backends: database === undefined || databaseCpu === undefined ? undefined : await databaseCpu.read(database),
    }),
  }
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
    // Set by the caller, which watches the server process.
    cpuUsPerRequest: 0,
  }
}

/** The CPU figures of a load from readings before and after it, over the requests it served. */
function cpuPerRequest (before: CpuReading, after: CpuReading, requests: number): Pick<Measure, 'cpuUsPerRequest' | 'databaseCpuUsPerRequest'> {
  const per = (seconds: number) => seconds * 1e6 / Math.max(1, requests)
  return {
    cpuUsPerRequest: per(after.server - before.server),
    ...before.backends === undefined || after.backends === undefined ? {} : { databaseCpuUsPerRequest: per(backendSeconds(before.backends, after.backends)) },
  }
}

interface LoadOptions { seconds: number, connections: number, warmUp: boolean }

/** A warm-up (not in a smoke run), then the measured load. */
export async function measure (server: Started, scenario: Scenario, { seconds, connections, warmUp }: LoadOptions, smoke: boolean): Promise<Measure> {
  try {
    if (warmUp) await loadScenario(server.spawned.origin, scenario, WARM_UP_SECONDS, connections)
    const before = await server.readCpu()
    const measured = await loadScenario(server.spawned.origin, scenario, seconds, connections)
    assertAlive(server.spawned.child, scenario.name)
    Object.assign(measured, cpuPerRequest(before, await server.readCpu(), measured.requests))
    progress(smoke, `${server.name} ${scenario.name}: ${measured.requestsPerSecond.toFixed(0)} req/s`)
    return measured
  } catch (error) {
    throw new Error(`${server.name}: ${error instanceof Error ? error.message : String(error)}\n${server.spawned.output()}`)
  }
}

/** Ten milliseconds: the clock tick of /proc's CPU times. */
const TICK_SECONDS = 0.01
const SETTLE_POLL_MS = 100
const SETTLE_LIMIT_MS = 60_000

const totalSeconds = ({ server, backends }: CpuReading) => server + [...backends?.values() ?? []].reduce((sum, seconds) => sum + seconds, 0)

/** Waits until the server (and its backends) used less than a tick of CPU in one poll: the work sent to it is done. */
export async function settle (server: Started): Promise<void> {
  const deadline = Date.now() + SETTLE_LIMIT_MS
  let last = totalSeconds(await server.readCpu())
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS))
    const now = totalSeconds(await server.readCpu())
    if (now - last < TICK_SECONDS) return
    last = now
  }
  throw new Error(`still busy ${SETTLE_LIMIT_MS / 1000} s after its load ended`)
}

/**
 * A load of requests slow enough (a LIKE scan of a million rows takes about a second) that the ones wrk leaves in
 * flight when it stops would skew the CPU per request: the server still works them off, uncounted. So it starts with
 * the server idle, ends when it is idle again, and counts each connection's last request, in flight when wrk stopped,
 * as served (it was: the server does not stop a query when the client goes).
 */
export async function measureSettled (server: Started, scenario: Scenario, { seconds, connections, warmUp }: LoadOptions, smoke: boolean): Promise<Measure> {
  try {
    if (warmUp) await loadScenario(server.spawned.origin, scenario, WARM_UP_SECONDS, connections)
    await settle(server)
    const before = await server.readCpu()
    const measured = await loadScenario(server.spawned.origin, scenario, seconds, connections)
    await settle(server)
    assertAlive(server.spawned.child, scenario.name)
    Object.assign(measured, cpuPerRequest(before, await server.readCpu(), measured.requests + connections))
    progress(smoke, `${server.name} ${scenario.name}: ${measured.requestsPerSecond.toFixed(1)} req/s, ${measured.cpuUsPerRequest.toFixed(0)} us/req`)
    return measured
  } catch (error) {
    throw new Error(`${server.name} ${scenario.name}: ${error instanceof Error ? error.message : String(error)}\n${server.spawned.output()}`)
  }
}

const middleOf = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!
const middleBy = (rounds: Measure[], by: (round: Measure) => number) => [...rounds].sort((a, b) => by(a) - by(b))[Math.floor((rounds.length - 1) / 2)]!

/**
 * The round with the median throughput, all its figures, and every round's throughput beside it; the CPU figures of the
 * round with the median CPU (server and database together).
 */
export function median (rounds: Measure[]): Measure {
  const middle = middleBy(rounds, (round) => round.requestsPerSecond)
  const cpu = middleBy(rounds, (round) => round.cpuUsPerRequest + (round.databaseCpuUsPerRequest ?? 0))
  return {
    ...middle,
    // A failure in any round fails the run.
    failures: rounds.reduce((sum, round) => sum + round.failures, 0),
    statusCodes: rounds.reduce<Record<string, number>>((all, round) => {
      for (const [code, count] of Object.entries(round.statusCodes)) all[code] = (all[code] ?? 0) + count
      return all
    }, {}),
    cpuUsPerRequest: cpu.cpuUsPerRequest,
    databaseCpuUsPerRequest: cpu.databaseCpuUsPerRequest,
    generatorCpuUsPerRequest: middleOf(rounds.map((round) => round.generatorCpuUsPerRequest)),
    roundsRequestsPerSecond: rounds.map((round) => Math.round(round.requestsPerSecond)),
  }
}
