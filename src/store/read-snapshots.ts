// Read snapshots: several queries that all see the database as it was at the first of them, for the full
// lists read in chunks (src/store/chunks.ts). Writes committed meanwhile stay invisible to them, so a row
// bumped to the top of a list between two chunks is neither skipped nor served twice.

// The client type from the generated client itself (database.ts re-exports it): database.ts reaches this file
// through prisma-errors.ts, which knows ReadSnapshotsBusy.
import type { PrismaClient } from '../../generated/prisma/sqlite/client.js'
import type { Provider } from './migrate/index.js'

/** What queries run on: the client, or the client of one transaction. */
export type Queryable = Pick<PrismaClient, '$queryRaw'>

export interface ReadSnapshot {
  /** Queries on it see one state of the database. */
  client: Queryable
  /** Ends the read transaction; safe to call more than once, and after the transaction expired. */
  end (): Promise<void>
}

export type OpenReadSnapshot = () => Promise<ReadSnapshot>

/**
 * Every snapshot this process may hold stayed open for as long as a full list waits for one: a 503 with
 * Retry-After, as the database being busy is.
 */
export class ReadSnapshotsBusy extends Error {
  constructor (limit: number, waitMs: number) { super(`all ${limit} read snapshots for full lists stayed in use for ${waitMs} ms`) }
}

/**
 * A semaphore of `limit` permits: past them an acquirer waits in line (holding nothing, so on PostgreSQL no pool
 * connection), at most `waitMs`, then gets ReadSnapshotsBusy.
 */
function semaphore (limit: number, waitMs: number) {
  let held = 0
  const line: Array<() => void> = []
  return {
    async acquire (): Promise<void> {
      if (held < limit) {
        held++
        return
      }
      await new Promise<void>((resolve, reject) => {
        const turn = () => {
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          line.splice(line.indexOf(turn), 1)
          reject(new ReadSnapshotsBusy(limit, waitMs))
        }, waitMs)
        line.push(turn)
      })
    },
    /** Hands the permit to the first in line, or frees it. */
    release (): void {
      const next = line.shift()
      if (next === undefined) held--
      else next()
    },
  }
}

/**
 * How long to wait for a connection to read on (PostgreSQL's pool may be busy) before the list is a 503;
 * Prisma's own default, stated because a transaction's options must name both bounds.
 */
const START_WAIT_MS = 2000

/**
 * Snapshots on `reader`: on PostgreSQL, REPEATABLE READ READ ONLY transactions (the snapshot is taken at
 * the first query, and a read-only one never blocks or is blocked by writers); on SQLite the client of
 * SqliteSnapshotAdapter, whose DEFERRED transactions on their own WAL connections do the same. Each ends at
 * the latest `timeoutMs` after it began (Prisma rolls it back), so a stalled reader cannot pin old row
 * versions (PostgreSQL's vacuum) or the WAL (SQLite's checkpoints) for long; a query after that fails. At most
 * `limit` are open at once; one opener per process, so they count every full list.
 */
export function readSnapshotsOn (reader: PrismaClient, provider: Provider, { timeoutMs, limit, waitMs }: ReadSnapshotBounds): OpenReadSnapshot {
  const permits = semaphore(limit, waitMs)
  return async () => {
    await permits.acquire()
    return await beginReadSnapshot(reader, provider, timeoutMs, permits.release)
  }
}

/** How long a snapshot is held at most, how many at once, how long a list waits for one. */
export interface ReadSnapshotBounds { timeoutMs: number, limit: number, waitMs: number }

/** A snapshot on `reader`; `ended` runs once it is over, however it ends (committed, expired, never started). */
function beginReadSnapshot (reader: PrismaClient, provider: Provider, timeoutMs: number, ended: () => void): Promise<ReadSnapshot> {
  return new Promise<ReadSnapshot>((resolve, reject) => {
    let release!: () => void
    const released = new Promise<void>((resolve) => { release = resolve })
    let opened = false
    const transaction = reader.$transaction(async (client) => {
      // The first statement of the transaction, as PostgreSQL requires; SQLite's isolation is the adapter's.
      if (provider === 'postgres') await client.$executeRaw`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`
      opened = true
      resolve({
        client,
        async end () {
          release()
          // Its COMMIT fails when the transaction already expired: nothing was written, nothing is lost.
          await transaction.catch(() => {})
        },
      })
      await released
    }, { timeout: timeoutMs, maxWait: START_WAIT_MS })
    transaction.finally(ended).catch(() => {})
    transaction.catch((error: unknown) => { if (!opened) reject(error) })
  })
}
