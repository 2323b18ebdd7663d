// One run of the benchmark: its options, and what it leaves behind until it ends (a temporary directory for the SQLite
// files and the servers' logs, PostgreSQL databases), all removed by cleanUp().
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { adminQuery, postgresUrl, type Store } from './seed.js'
import { SCENARIOS, SERVERS, type ScenarioName, type ServerName } from './report.js'
import { SEARCH_FULL_SIZE } from './search-seed.js'
import { checkBaseline } from './servers.js'

export interface Options {
  store: Store
  duration: number
  rounds: number
  connections: number
  smoke: boolean
  only: ServerName[]
  scenarios: ScenarioName[]
  /** A checkout of another commit, built: its ours runs as ours-before. */
  baseline?: string
  /** The search store's searched user's messages (others have a tenth as many between them). */
  searchSize: number
  /** The search loads' connections: one, so that p50 and p99 are what one user waits. */
  searchConnections: number
}

export function parseOptions (): Options {
  const { values } = parseArgs({
    options: {
      store: { type: 'string', default: 'sqlite' },
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      baseline: { type: 'string' },
      'search-size': { type: 'string', default: String(SEARCH_FULL_SIZE.searched) },
      'search-connections': { type: 'string', default: '1' },
    },
  })
  if (values.store !== 'sqlite' && values.store !== 'postgres') throw new Error(`--store must be sqlite or postgres, got "${values.store}"`)
  const baseline = values.baseline === undefined ? undefined : resolve(values.baseline)
  if (baseline !== undefined) checkBaseline(baseline)
  // ours-before runs when there is a baseline to run it from.
  const only = (values.only ?? SERVERS.filter((name) => name !== 'ours-before' || baseline !== undefined).join(',')).split(',').map((name) => name.trim())
  const unknown = only.filter((name) => !(SERVERS as readonly string[]).includes(name))
  if (unknown.length > 0) throw new Error(`--only takes ${SERVERS.join(',')}; unknown: ${unknown.join(',')}`)
  if (only.includes('ours-before') && baseline === undefined) throw new Error('--only ours-before needs --baseline <dir>, a built checkout to run it from')
  const picked = values.scenarios.split(',').map((name) => name.trim())
  const unknownScenarios = picked.filter((name) => !(SCENARIOS as readonly string[]).includes(name))
  if (unknownScenarios.length > 0) throw new Error(`--scenarios takes ${SCENARIOS.join(',')}; unknown: ${unknownScenarios.join(',')}`)
  const duration = values.smoke ? 1 : Number(values.duration)
  const rounds = values.smoke ? 1 : Number(values.rounds)
  const connections = Number(values.connections)
  const searchSize = Number(values['search-size'])
  const searchConnections = Number(values['search-connections'])
  // Whole seconds: wrk's resolution.
  if (![duration, rounds, connections, searchConnections].every((n) => Number.isInteger(n) && n >= 1)) {
    throw new Error('--duration (seconds), --rounds, --connections and --search-connections must be whole numbers of at least 1')
  }
  // The rare query word is planted in five messages, the phrase in a ten-thousandth (at least two).
  if (!Number.isInteger(searchSize) || searchSize < 1000) throw new Error('--search-size must be a whole number of at least 1000')
  return {
    store: values.store,
    duration,
    rounds,
    connections,
    smoke: values.smoke,
    only: SERVERS.filter((name) => only.includes(name)),
    scenarios: SCENARIOS.filter((name) => picked.includes(name)),
    baseline,
    searchSize,
    searchConnections,
  }
}

export const progress = (smoke: boolean, message: string) => { if (!smoke) console.error(`bench: ${message}`) }

/** What a run made and must remove: its temporary directory, its databases. */
export interface Run {
  /** The run's temporary directory (SQLite files, the servers' logs). */
  dir: string
  /** The PostgreSQL server's admin URL. */
  adminUrl: string
  /** A prefix for the run's PostgreSQL database names, unique to the run. */
  prefix: string
  /** Creates a database (from a template), dropped when the run ends; its URL. */
  createDatabase (name: string, template?: string): Promise<string>
  onCleanUp (cleanup: () => Promise<void>): void
  cleanUp (): Promise<void>
}

export function createRun (): Run {
  const cleanups: Array<() => Promise<void>> = []
  const dir = mkdtempSync(join(tmpdir(), 'trackbot-bench-'))
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
  const created: string[] = []
  return {
    dir,
    adminUrl,
    prefix: `trackbot_bench_${process.pid}`,
    async createDatabase (name, template) {
      if (created.length === 0) cleanups.push(() => adminQuery(adminUrl, created.map((db) => `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)))
      created.push(name)
      await adminQuery(adminUrl, [`CREATE DATABASE ${name}${template === undefined ? '' : ` TEMPLATE ${template}`}`])
      return postgresUrl(adminUrl, name)
    },
    onCleanUp (cleanup) { cleanups.push(cleanup) },
    async cleanUp () {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error('bench: cleanup:', error))
    },
  }
}
