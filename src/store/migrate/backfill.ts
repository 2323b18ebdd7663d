// Work a migration leaves to be done after it, in batches: filling a new index for the rows stored before it (the
// search migrations). A migration that needs one inserts a row into its "Backfill" table: a name, a statement that
// fills the rows with ids in a range, and the range to cover. Each batch runs with its progress in one transaction, so
// a crash resumes where it stopped, and no batch holds locks for long: on PostgreSQL, instances already serving go on
// writing beside it. Run after the migrations, before the server serves.
import type Sqlite from 'better-sqlite3'
import type pg from 'pg'
import type { MigrationLog } from './index.js'

/** Ids per batch: a few thousand rows of work, each batch well under a second. */
export const BACKFILL_BATCH_IDS = 5000

/** How often a long backfill says how far it is. */
const PROGRESS_LOG_MS = 10_000

interface BackfillRow { name: string, statement: string, nextId: number, lastId: number }

/** The next batch's range, and what is left after it. */
function batchOf ({ nextId, lastId }: BackfillRow, batchIds: number) {
  const to = Math.min(lastId, nextId + batchIds - 1)
  return { from: nextId, to, done: to >= lastId }
}

function progress (log: MigrationLog) {
  let logged = Date.now()
  return (row: BackfillRow, to: number) => {
    if (Date.now() - logged < PROGRESS_LOG_MS) return
    logged = Date.now()
    log.info(`backfill ${row.name}: ids up to ${to} of ${row.lastId} done`)
  }
}

const hasBackfillTable = (tables: unknown[]) => tables.length > 0

/** SQLite: `statement` binds @from and @to. Returns the names of the backfills finished. */
export function backfillSqlite (db: Sqlite.Database, log: MigrationLog, batchIds = BACKFILL_BATCH_IDS): string[] {
  if (!hasBackfillTable(db.prepare('SELECT 1 FROM sqlite_master WHERE type = \'table\' AND name = \'Backfill\'').all())) return []
  const finished: string[] = []
  const report = progress(log)
  const next = db.prepare('SELECT "name", "statement", "nextId", "lastId" FROM "Backfill" ORDER BY "name" LIMIT 1')
  const advance = db.prepare('UPDATE "Backfill" SET "nextId" = ? WHERE "name" = ?')
  const remove = db.prepare('DELETE FROM "Backfill" WHERE "name" = ?')
  for (let row = next.get() as BackfillRow | undefined; row !== undefined; row = next.get() as BackfillRow | undefined) {
    const current = row
    const { from, to, done } = batchOf(current, batchIds)
    db.transaction(() => {
      db.prepare(current.statement).run({ from, to })
      if (done) remove.run(current.name)
      else advance.run(to + 1, current.name)
    }).immediate()
    report(current, to)
    if (done) {
      log.info(`backfill ${current.name} done`)
      finished.push(current.name)
    }
  }
  return finished
}

/**
 * PostgreSQL, on the migrations' session (under their advisory lock: one instance backfills): `statement` binds $1 and
 * $2. Returns the names of the backfills finished.
 */
export async function backfillPostgres (client: pg.Client, log: MigrationLog, batchIds = BACKFILL_BATCH_IDS): Promise<string[]> {
  const { rows: tables } = await client.query('SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = \'Backfill\'')
  if (!hasBackfillTable(tables)) return []
  const finished: string[] = []
  const report = progress(log)
  for (;;) {
    const { rows: [row] } = await client.query<BackfillRow>('SELECT "name", "statement", "nextId", "lastId" FROM "Backfill" ORDER BY "name" LIMIT 1')
    if (row === undefined) return finished
    const { from, to, done } = batchOf(row, batchIds)
    await client.query('BEGIN')
    try {
      await client.query(row.statement, [from, to])
      if (done) await client.query('DELETE FROM "Backfill" WHERE "name" = $1', [row.name])
      else await client.query('UPDATE "Backfill" SET "nextId" = $1 WHERE "name" = $2', [to + 1, row.name])
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK')
      throw new Error(`backfill ${row.name} failed at ids ${from}–${to}: ${String(error)}`)
    }
    report(row, to)
    if (done) {
      log.info(`backfill ${row.name} done`)
      finished.push(row.name)
    }
  }
}
