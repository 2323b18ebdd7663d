// Applies pending migrations to an SQLite file and records them in Prisma's _prisma_migrations table.
import { randomUUID } from 'node:crypto'
import Sqlite from 'better-sqlite3'
import { backfillSqlite, BACKFILL_BATCH_IDS } from './backfill.js'
import { pending, type AppliedRow, type Migration, type MigrationLog } from './index.js'

/** How long to wait for another process that is applying a migration to the same file. */
const WAIT_FOR_OTHER_MS = 30_000

// Prisma's own DDL for SQLite, so `prisma migrate status` reads our history.
const CREATE_HISTORY = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function appliedRows (db: Sqlite.Database): Map<string, AppliedRow> {
  const rows = db.prepare(
    'SELECT migration_name, checksum, finished_at, logs FROM _prisma_migrations WHERE rolled_back_at IS NULL ORDER BY started_at'
  ).all() as AppliedRow[]
  return new Map(rows.map((row) => [row.migration_name, row]))
}

/**
 * Claims a migration by inserting its history row inside a write lock, so two processes on one file
 * never apply it twice. Returns the row id, or null when another process got there first.
 */
function claim (db: Sqlite.Database, migration: Migration): string | null {
  return db.transaction(() => {
    if (appliedRows(db).has(migration.name)) return null
    const id = randomUUID()
    db.prepare('INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES (?, ?, ?, ?)')
      .run(id, migration.checksum, migration.name, new Date().toISOString())
    return id
  }).immediate()
}

async function waitForOther (db: Sqlite.Database, name: string): Promise<void> {
  const deadline = Date.now() + WAIT_FOR_OTHER_MS
  for (;;) {
    const row = appliedRows(db).get(name)
    if (row?.finished_at != null) return
    if (row?.logs != null) throw new Error(`migration ${name} failed earlier:\n${row.logs}\nFix it, then delete its row from _prisma_migrations.`)
    if (Date.now() > deadline) {
      throw new Error(`migration ${name} was started but never finished (a crash mid-migration?). Check the schema, then delete its row from _prisma_migrations.`)
    }
    await sleep(100)
  }
}

function apply (db: Sqlite.Database, migration: Migration, id: string): void {
  try {
    // Never inside BEGIN/COMMIT: Prisma's table rebuilds switch foreign_keys off themselves, which
    // SQLite ignores inside a transaction, and the DROP TABLE would then cascade into child rows.
    db.exec(migration.sql)
  } catch (error) {
    db.prepare('UPDATE _prisma_migrations SET logs = ? WHERE id = ?').run(String(error), id)
    throw new Error(`migration ${migration.name} failed: ${String(error)}`)
  }
  const violations = db.prepare('PRAGMA foreign_key_check').all()
  if (violations.length > 0) throw new Error(`migration ${migration.name} left ${violations.length} foreign key violations`)
  db.prepare('UPDATE _prisma_migrations SET finished_at = ?, applied_steps_count = 1 WHERE id = ?')
    .run(new Date().toISOString(), id)
}

/**
 * Applies what is not yet applied, then the batched work migrations leave (backfill.ts); returns the names applied
 * now. Safe to run any number of times.
 */
export async function migrateSqlite (file: string, migrations: Migration[], log: MigrationLog, backfillBatchIds = BACKFILL_BATCH_IDS): Promise<string[]> {
  const db = new Sqlite(file, { timeout: 5000 })
  try {
    db.pragma('journal_mode = WAL')
    db.exec(CREATE_HISTORY)
    const applied: string[] = []
    for (const migration of pending(migrations, appliedRows(db), log)) {
      const id = claim(db, migration)
      if (id === null) {
        await waitForOther(db, migration.name)
        continue
      }
      apply(db, migration, id)
      log.info(`applied migration ${migration.name}`)
      applied.push(migration.name)
    }
    backfillSqlite(db, log, backfillBatchIds)
    return applied
  } finally {
    db.close()
  }
}
