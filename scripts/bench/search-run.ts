// The search scenario (issue 28), on a store of its own (scripts/bench/search-seed.ts): ours' search_messages and,
// beside it in the same run on a copy of the same rows, the peer's answer to the same request, a LIKE '%term%' scan of
// the user's messages as Open WebUI searches (scripts/bench/peer-server.ts). One load per query kind, then every kind
// in turn, each on ours and the peer back to back, in rounds; the median round of each.
import { progress, type Options, type Run } from './bench.js'
import type { DatabaseCpu } from './database-cpu.js'
import { seededDatabases } from './databases.js'
import { median, measureSettled, startServer, type Scenario, type Started } from './measure.js'
import type { Measure, SearchResult, ServerName } from './report.js'
import { indexSize, SEARCH_KINDS, SEARCH_SMOKE_SIZE, seedSearch, type SearchFixture, type SearchSeedSize } from './search-seed.js'
import { adminQuery } from './seed.js'
import { stop } from './servers.js'

/** Ours answers with search_messages, the peer with its LIKE scan; no other server has the route. */
const SEARCH_SERVERS: ServerName[] = ['ours', 'peer']
/** Hits a request asks for: the API's default page. */
const LIMIT = 20

export function searchSize (options: Options): SearchSeedSize {
  if (options.smoke) return SEARCH_SMOKE_SIZE
  return { searched: options.searchSize, otherUsers: 99, others: Math.round(options.searchSize / 10) }
}

const pathOf = (fixture: SearchFixture, q: string) => `/api/v2/users/${fixture.userId}/search?q=${encodeURIComponent(q)}&limit=${LIMIT}`

/** A load per query kind, and `mix`: the kinds' queries in turn. */
function loads (fixture: SearchFixture, headers: Record<string, string>): Scenario[] {
  const request = (path: string) => () => ({ method: 'GET' as const, path, headers })
  return [
    ...fixture.queries.map(({ kind, q }) => ({ name: `search ${kind}`, request: request(pathOf(fixture, q)) })),
    { name: 'search mix', request: request(fixture.queries.map(({ q }) => pathOf(fixture, q)).join('\n')) },
  ]
}

/**
 * PostgreSQL would scan a million rows with parallel workers, processes of its own whose CPU the benchmark cannot
 * read (scripts/bench/database-cpu.ts): the search databases run each query in its backend alone, so that all of its
 * CPU is counted. It changes the LIKE scan's latency on an idle machine (up to the workers' share), not its CPU.
 */
async function serialQueries (run: Run, database: string): Promise<void> {
  await adminQuery(run.adminUrl, [`ALTER DATABASE ${database} SET max_parallel_workers_per_gather = 0`])
}

export async function measureSearch (run: Run, options: Options, databaseCpu: DatabaseCpu | undefined): Promise<SearchResult | undefined> {
  const names = SEARCH_SERVERS.filter((name) => options.only.includes(name))
  if (names.length === 0) return undefined
  const size = searchSize(options)
  progress(options.smoke, `seeding the search store: ${size.searched.toLocaleString('en-US')} messages of user 1, ${size.others.toLocaleString('en-US')} of ${size.otherUsers} others`)
  // The index's size is read on the seeded database, before any copy of it is made.
  const fill = async (url: string) => ({ ...await seedSearch(url, size), index: await indexSize(url) })
  const databases = await seededDatabases(run, options.store, 'search', fill, (database) => serialQueries(run, database))
  const { fixture } = databases
  progress(options.smoke, `search store seeded: rows ${fixture.rowsSeconds.toFixed(0)} s, index ${fixture.indexSeconds.toFixed(0)} s`)
  const started: Started[] = []
  try {
    for (const name of names) started.push(await startServer(run, options, name, await databases.copyFor(name), databaseCpu))
    const rounds = new Map<string, Measure[]>()
    const plan = { seconds: options.duration, connections: options.searchConnections, warmUp: !options.smoke }
    const scenarios = new Map(started.map((server) => [server.name, loads(fixture, server.headers)]))
    for (let round = 0; round < options.rounds; round++) {
      for (let i = 0; i < SEARCH_KINDS.length + 1; i++) {
        for (const server of started) {
          const scenario = scenarios.get(server.name)![i]!
          const key = `${server.name} ${scenario.name}`
          rounds.set(key, [...rounds.get(key) ?? [], await measureSettled(server, scenario, plan, options.smoke)])
        }
      }
    }
    const kinds = [...SEARCH_KINDS, 'mix']
    return {
      userId: fixture.userId,
      messages: fixture.messages,
      storeMessages: fixture.storeMessages,
      rowsSeconds: fixture.rowsSeconds,
      indexSeconds: fixture.indexSeconds,
      index: fixture.index,
      connections: options.searchConnections,
      queries: fixture.queries,
      loads: Object.fromEntries(kinds.map((kind) => [kind, Object.fromEntries(started.map((server) =>
        [server.name, median(rounds.get(`${server.name} search ${kind}`)!)]))])),
    }
  } finally {
    for (const server of started) await stop(server.spawned.child)
  }
}
