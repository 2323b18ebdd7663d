// PostgreSQL does a query's work in a backend process of its own, not in the server's: on PostgreSQL the benchmark
// adds the CPU of the backends connected to a server's database (pg_stat_activity's client backends of that
// database, their times from /proc) to the server's. SQLite's work is in the server process already.
//
// What this misses: backends that exit while a load runs (a server's pool keeps its connections while it is busy),
// parallel query workers (the search databases turn them off, scripts/bench/run.ts), autovacuum.
import pg from 'pg'
import { cpuSeconds } from './proc.js'

/** CPU seconds so far of each backend, by pid. */
export type BackendCpu = Map<number, number>

export interface DatabaseCpu {
  read (database: string): Promise<BackendCpu>
  close (): Promise<void>
}

/** Reads through one connection to the admin database (not one of those measured). */
export function databaseCpu (adminUrl: string): DatabaseCpu {
  let client: Promise<pg.Client> | undefined
  const connected = () => {
    client ??= (async () => {
      const opened = new pg.Client({ connectionString: adminUrl })
      await opened.connect()
      return opened
    })()
    return client
  }
  return {
    async read (database) {
      const { rows } = await (await connected()).query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = \'client backend\'', [database])
      const cpu: BackendCpu = new Map()
      for (const { pid } of rows) {
        // Gone between the query and the read: it did its work before `before`, or it is lost either way.
        try {
          cpu.set(pid, cpuSeconds(pid))
        } catch {}
      }
      return cpu
    },
    async close () {
      if (client !== undefined) await (await client).end()
    },
  }
}

/** CPU seconds the backends spent between two readings; a backend new since `before` counts from its start. */
export function backendSeconds (before: BackendCpu, after: BackendCpu): number {
  let seconds = 0
  for (const [pid, now] of after) seconds += now - (before.get(pid) ?? 0)
  return seconds
}
