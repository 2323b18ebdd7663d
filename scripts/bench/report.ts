// The benchmark's results: their JSON shape, and the tables printed from it.
import type { IndexSize, SearchQuery } from './search-seed.js'

/**
 * `ours-jwt` is ours with AUTH_MODE=jwt, every request carrying a token: beside `ours`, the cost of verifying one.
 * `ours-before` is ours as built in another checkout (--baseline): beside `ours`, what a change cost.
 */
export const SERVERS = ['floor', 'peer', 'ours', 'ours-jwt', 'ours-before'] as const
export type ServerName = typeof SERVERS[number]

/**
 * What is measured, in this order (scripts/bench/run.ts builds each request; docs/performance.md says what each is).
 * `search` runs on a store of its own (scripts/bench/search-seed.ts), on ours and the peer only; `history` too
 * (scripts/bench/history-run.ts), on ours only.
 */
export const SCENARIOS = ['get', 'list', 'page50', 'create', 'create-key', 'post', 'post-parts', 'delete', 'search', 'history'] as const
export type ScenarioName = typeof SCENARIOS[number]

/**
 * Scenarios that are another's request with one thing more, and what that costs: the CPU per request of the first
 * against the second's, per server, in the same run. post-parts' bound is 1.3x (issue 27).
 */
const VARIANTS: Array<[variant: ScenarioName, of: ScenarioName]> = [
  // An Idempotency-Key.
  ['create-key', 'create'],
  // A tool call, model and usage, through v2.
  ['post-parts', 'post'],
]

export interface Measure {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  requests: number
  /** Measured seconds: shorter than asked only if the delete pool ran out. */
  seconds: number
  /** Answers of 400 and above, connection errors and timeouts: any of them fails the run. */
  failures: number
  /** Answers below 400 and of 400 and above (the load generator, wrk, counts no finer). */
  statusCodes: Record<string, number>
  /**
   * The server process's CPU time (user + system) per request. Unlike req/s, it does not move with what
   * else shares the cores (the database, the load generator): the part of the cost that is the server's own.
   * With rounds, the median of the rounds' figures.
   */
  cpuUsPerRequest: number
  /**
   * PostgreSQL: the CPU time per request of the backends connected to the server's database, where its queries run
   * (scripts/bench/database-cpu.ts). Not in cpuUsPerRequest.
   */
  databaseCpuUsPerRequest?: number
  /**
   * The load generator's CPU time per request, the same way: it shares the cores with the server, so it
   * must stay well below the floor's figure for the floor's throughput to be the floor's.
   */
  generatorCpuUsPerRequest: number
  /** Throughput of each round, when the scenario ran more than once; the figures above are the median round's. */
  roundsRequestsPerSecond?: number[]
}

export interface ServerResult {
  spawnToReadyMs: number
  rssIdleMb: number
  rssAfterMb: number
  /** The most resident memory the process held at any point of the run (VmHWM): no GC timing in it. */
  rssPeakMb: number
  scenarios: Record<string, Measure>
  /** page50 by the user's conversation count. */
  growth: Record<string, Measure>
}

/** The search scenario: ours' search_messages beside the peer's LIKE scan of the same rows, on the search store. */
export interface SearchResult {
  /** The searched user, their messages and the store's. */
  userId: number
  messages: number
  storeMessages: number
  /** Inserting the rows; the search migration indexing them. */
  rowsSeconds: number
  indexSeconds: number
  index: IndexSize
  connections: number
  queries: SearchQuery[]
  /** By query kind, and `mix` (every kind in turn): ours (search_messages) and the peer (LIKE). */
  loads: Record<string, { ours?: Measure, peer?: Measure }>
}

/** One run of a way of doing something with a history (or, in a HistoryMeasure, the runs'), as history-run.ts measures it. */
export interface HistoryCost {
  /** Requests the client made, and the bytes of their answers. */
  requests: number
  bytes: number
  /** The bytes of their bodies, for the ways that write a history (import_user_data and by hand). */
  sent?: number
  /** The server process's CPU time. */
  cpuMs: number
  /** PostgreSQL: its database backends' CPU time, not in cpuMs. */
  databaseCpuMs?: number
  /** From the first request sent to the last answer's last byte read. */
  wallMs: number
  /** The most the server held resident during it (VmHWM) over what it held before (VmRSS). */
  rssGrowthMb: number
}

/** The CPU of the run with the median CPU (server and database together), the median wall time, the most RSS growth. */
export interface HistoryMeasure extends HistoryCost {
  runs: HistoryCost[]
}

/** The history scenario: fork_conversation, export_user_data and import_user_data, each beside what a client does without it. */
export interface HistoryResult {
  /** The forked conversation's messages; the exported user, their conversations and messages. */
  forkMessages: number
  exportUserId: number
  exportConversations: number
  exportMessages: number
  /** Writing all of it through the API. */
  seedSeconds: number
  repetitions: { fork: number, export: number, import: number }
  /** The paging way's limit. */
  pageSize: number
  /** create_messages' messages a request, when a client writes a conversation by hand. */
  batchSize: number
  /** A way is missing when none of its runs succeeded. */
  fork: { fork?: HistoryMeasure, handCopy?: HistoryMeasure }
  export: { export?: HistoryMeasure, paging?: HistoryMeasure }
  /**
   * The exported user's history written into a new user, by import_user_data and by hand; bodies: the imports it took,
   * of whole lines, each within the 64 MiB bound.
   */
  import: { bodies: number, import?: HistoryMeasure, handWrite?: HistoryMeasure }
  /** Requests that got another answer than theirs, results that were wrong: any fails the run. */
  failures: string[]
}

export interface Report {
  store: string
  startedAt: string
  node: string
  cpu: string
  cores: number
  connections: number
  durationSeconds: number
  /** Interleaved rounds per scenario; the table shows the median round. */
  rounds: number
  smoke: boolean
  commit: string
  seed: object
  /** 1, 5 and 15 minute load averages. */
  loadAverage: { start: number[], end: number[] }
  servers: Partial<Record<ServerName, ServerResult>>
  /** --baseline: the checkout ours-before ran from, and its commit. */
  baseline?: { dir: string, commit: string }
  search?: SearchResult
  history?: HistoryResult
}

/** CPU per request of the server, and on PostgreSQL of its database's backends too: the whole cost of a request. */
const totalCpu = (measure: Measure) => measure.cpuUsPerRequest + (measure.databaseCpuUsPerRequest ?? 0)

const ratio = (value: number, reference: number | undefined) => reference ? (value / reference).toFixed(2) + 'x' : '-'

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)))
  const line = (cells: string[]) => cells.map((cell, c) => c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

/** PostgreSQL's runs show the database backends' CPU per request beside the server's. */
const hasDatabaseCpu = (report: Report) => report.store === 'postgres'

function scenarioRows (report: Report): string[][] {
  const names = Object.keys(Object.values(report.servers)[0]?.scenarios ?? {})
  return names.flatMap((scenario) => SERVERS.flatMap((server) => {
    const measure = report.servers[server]?.scenarios[scenario]
    if (measure === undefined) return []
    const of = (reference: ServerName) => report.servers[reference]?.scenarios[scenario]?.requestsPerSecond
    const cpuOf = (reference: ServerName) => report.servers[reference]?.scenarios[scenario]?.cpuUsPerRequest
    return [[scenario, server, measure.cpuUsPerRequest.toFixed(0), ratio(measure.cpuUsPerRequest, cpuOf('floor')),
      ...hasDatabaseCpu(report) ? [(measure.databaseCpuUsPerRequest ?? 0).toFixed(0)] : [],
      measure.requestsPerSecond.toFixed(0), measure.p50Ms.toFixed(1), measure.p99Ms.toFixed(1),
      ratio(measure.requestsPerSecond, of('floor')), ratio(measure.requestsPerSecond, of('peer')), ratio(measure.requestsPerSecond, of('ours')),
      measure.generatorCpuUsPerRequest.toFixed(0), String(measure.failures)]]
  }))
}

function processRows (report: Report): string[][] {
  return SERVERS.flatMap((server) => {
    const result = report.servers[server]
    return result === undefined ? [] : [[server, '', result.spawnToReadyMs.toFixed(0), result.rssIdleMb.toFixed(0), result.rssAfterMb.toFixed(0), result.rssPeakMb.toFixed(0)]]
  })
}

function growthRows (report: Report): string[][] {
  return SERVERS.flatMap((server) => Object.entries(report.servers[server]?.growth ?? {}).map(([size, measure]) =>
    [server, Number(size).toLocaleString('en-US'), measure.requestsPerSecond.toFixed(0), measure.p50Ms.toFixed(1), measure.p99Ms.toFixed(1), String(measure.failures)]))
}

function variantRows (report: Report): string[][] {
  return VARIANTS.flatMap(([variant, of]) => SERVERS.flatMap((server) => {
    const scenarios = report.servers[server]?.scenarios
    const [measure, reference] = [scenarios?.[variant], scenarios?.[of]]
    if (measure === undefined || reference === undefined) return []
    return [[`${variant} vs ${of}`, server, reference.cpuUsPerRequest.toFixed(0), measure.cpuUsPerRequest.toFixed(0),
      ratio(measure.cpuUsPerRequest, reference.cpuUsPerRequest)]]
  }))
}

/** Each scenario on ours-before and ours: what the change between the two checkouts cost (issue 28: post at most 1.25x). */
function beforeRows (report: Report): string[][] {
  const [before, after] = [report.servers['ours-before']?.scenarios, report.servers.ours?.scenarios]
  if (before === undefined || after === undefined) return []
  return Object.keys(after).flatMap((scenario) => {
    const [was, is] = [before[scenario], after[scenario]]
    return was === undefined || is === undefined ? [] : [[scenario, totalCpu(was).toFixed(0), totalCpu(is).toFixed(0), ratio(totalCpu(is), totalCpu(was))]]
  })
}

const grouped = (n: number) => Math.round(n).toLocaleString('en-US')
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

function searchSection (report: Report, search: SearchResult): string[] {
  const kinds = Object.keys(search.loads)
  const database = hasDatabaseCpu(report)
  const cells = (measure: Measure | undefined) => measure === undefined
    ? ['-', ...database ? ['-'] : [], '-', '-', '-']
    : [totalCpu(measure).toFixed(0), ...database ? [(measure.databaseCpuUsPerRequest ?? 0).toFixed(0)] : [],
        // No query answered within the load: wrk's percentiles are of nothing.
        ...measure.requests === 0 ? ['-', '-'] : [measure.p50Ms.toFixed(1), measure.p99Ms.toFixed(1)], measure.requestsPerSecond.toFixed(1)]
  const columns = (server: string) => [`${server} us/q`, ...database ? ['of it DB'] : [], 'p50 ms', 'p99 ms', 'q/s']
  const rows = kinds.map((kind) => {
    const { ours, peer } = search.loads[kind]!
    const query = search.queries.find((q) => q.kind === kind)
    return [kind, query?.q ?? 'each in turn', query === undefined ? '' : grouped(query.hits), ...cells(ours), ...cells(peer),
      ours === undefined || peer === undefined ? '-' : ratio(totalCpu(peer), totalCpu(ours)), String((ours?.failures ?? 0) + (peer?.failures ?? 0))]
  })
  const index = search.index
  const pgParts = index.indexesBytes === undefined ? '' : ` (rows ${megabytes(index.rowsBytes ?? 0)}, their indexes ${megabytes(index.indexesBytes)})`
  return [
    `search: user ${search.userId}'s ${grouped(search.messages)} messages of ${grouped(search.storeMessages)}, seeded in ${(search.rowsSeconds + search.indexSeconds).toFixed(0)} s ` +
      `(rows ${search.rowsSeconds.toFixed(0)} s, the search migration's index ${search.indexSeconds.toFixed(0)} s); ` +
      `index ${megabytes(index.indexBytes)}${pgParts} of a ${megabytes(index.databaseBytes)} database; ${search.connections} connection${search.connections === 1 ? '' : 's'}`,
    `ours: search_messages (limit=20); LIKE: the peer's Prisma findMany, content contains each term${report.store === 'postgres' ? ' (ILIKE)' : ''}, 20 newest; ` +
      `CPU us/query: the server's${database ? ' and its database backends\' (of it DB)' : ''}`,
    table(['kind', 'query', 'hits', ...columns('ours'), ...columns('LIKE'), 'LIKE/ours CPU', 'failed'], rows),
  ]
}

function historySection (report: Report, history: HistoryResult): string[] {
  const database = hasDatabaseCpu(report)
  const cpuMs = (cost: HistoryCost) => cost.cpuMs + (cost.databaseCpuMs ?? 0)
  // The columns a table shows beside requests, CPU and wall time.
  const optional = {
    'RSS growth MB': (cost: HistoryCost) => cost.rssGrowthMb.toFixed(1),
    sent: (cost: HistoryCost) => megabytes(cost.sent ?? 0),
    read: (cost: HistoryCost) => megabytes(cost.bytes),
  }
  type Optional = keyof typeof optional
  const cells = (cost: HistoryCost | undefined, reference: HistoryCost | undefined, shown: Optional[]) => cost === undefined
    ? ['-', '-', ...database ? ['-'] : [], '-', ...shown.map(() => '-'), '-', '-']
    : [grouped(cost.requests), cpuMs(cost).toFixed(0), ...database ? [(cost.databaseCpuMs ?? 0).toFixed(0)] : [], cost.wallMs.toFixed(0),
        ...shown.map((column) => optional[column](cost)),
        reference === undefined ? '-' : ratio(cpuMs(cost), cpuMs(reference)), reference === undefined ? '-' : ratio(cost.wallMs, reference.wallMs)]
  const columns = (shown: Optional[], of: string) => ['requests', 'CPU ms', ...database ? ['of it DB'] : [], 'wall ms', ...shown, `CPU vs ${of}`, `wall vs ${of}`]
  const { fork, handCopy } = history.fork
  const { export: exported, paging } = history.export
  const { bodies, import: imported, handWrite } = history.import
  const perConversation = grouped(history.exportMessages / history.exportConversations)
  const { fork: forkRuns, export: exportRuns, import: importRuns } = history.repetitions
  const readShown: Optional[] = ['RSS growth MB', 'read']
  const writeShown: Optional[] = ['RSS growth MB', 'sent', 'read']
  return [
    `history: a fork of a conversation of ${grouped(history.forkMessages)} messages, an export of user ${history.exportUserId}'s ` +
      `${grouped(history.exportConversations)} conversations of ${perConversation} messages and an import of its lines into a new user, ` +
      `seeded through the API in ${history.seedSeconds.toFixed(0)} s; ` +
      `ours alone, one operation at a time; CPU ms: the server's${database ? ' and its database backends\' (of it DB)' : ''}, ` +
      `median of ${forkRuns} (fork), ${exportRuns} (export) and ${importRuns} (import) runs`,
    table(['way', 'what', ...columns([], 'fork')], [
      ['fork', 'fork_conversation', ...cells(fork, fork, [])],
      ['by hand', `list_messages whole, create_conversation, create_messages of ${history.batchSize}`, ...cells(handCopy, fork, [])],
    ]),
    'RSS growth: the most of the runs, each on a server started for it (the export\'s bound: under 50 MB); read: the bytes of the answers',
    table(['way', 'what', ...columns(readShown, 'export')], [
      ['export', 'export_user_data, read as a stream', ...cells(exported, exported, readShown)],
      ['by hand', `list_conversations and list_messages, limit=${history.pageSize}`, ...cells(paging, exported, readShown)],
    ]),
    'the export\'s lines into a user created for each run, each on a server started for it, the result exported and compared with them; ' +
      'RSS growth as above; sent: the bytes of the requests\' bodies',
    table(['way', 'what', ...columns(writeShown, 'import')], [
      ['import', `import_user_data, the export's lines${bodies === 1 ? '' : ` in ${bodies} bodies of whole lines (64 MiB each at most)`}`,
        ...cells(imported, imported, writeShown)],
      ['by hand', `create_conversation, create_messages of ${history.batchSize}`, ...cells(handWrite, imported, writeShown)],
    ]),
  ]
}

const variantsTitle = 'what one thing more costs: CPU us/req of a request without it and with it, same server, same run'

export function formatReport (report: Report): string {
  const growth = growthRows(report)
  const variants = variantRows(report)
  const before = beforeRows(report)
  const main = scenarioRows(report)
  const dbColumn = hasDatabaseCpu(report) ? ['DB us/req'] : []
  return [
    `${report.store}, ${report.connections} connections, median of ${report.rounds} rounds of ${report.durationSeconds} s per scenario${report.smoke ? ' (smoke)' : ''}; node ${report.node}, ${report.cores} x ${report.cpu}; ${report.commit}; load ${report.loadAverage.start.map((n) => n.toFixed(1)).join(' ')}`,
    ...main.length === 0
      ? []
      : [table(['scenario', 'server', 'CPU us/req', 'CPU vs floor', ...dbColumn, 'req/s', 'p50 ms', 'p99 ms', 'vs floor', 'vs peer', 'vs ours', 'load gen us/req', 'failed'], main), ''],
    ...variants.length === 0 ? [] : [variantsTitle, table(['scenarios', 'server', 'without', 'with', 'ratio'], variants), ''],
    ...before.length === 0
      ? []
      : [`ours against ours-before (--baseline ${report.baseline?.dir}, ${report.baseline?.commit}): CPU us/req${hasDatabaseCpu(report) ? ' with the database backends\'' : ''}, same run`,
          table(['scenario', 'before', 'ours', 'ratio'], before), ''],
    ...report.search === undefined ? [] : [...searchSection(report, report.search), ''],
    ...report.history === undefined ? [] : [...historySection(report, report.history), ''],
    ...processRows(report).length === 0 ? [] : [table(['server', '', 'spawn-to-ready ms', 'RSS idle MB', 'RSS after MB', 'RSS peak MB'], processRows(report))],
    // Measured with page50 only.
    ...growth.length === 0 ? [] : ['', 'growth: page50 (limit=50) of a user with N conversations', table(['server', 'N', 'req/s', 'p50 ms', 'p99 ms', 'failed'], growth)],
  ].join('\n').trimEnd()
}
