// Applies pending migrations to PostgreSQL under Prisma's advisory lock, so instances starting together
// apply each migration exactly once, and records them in Prisma's _prisma_migrations table.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { backfillPostgres, BACKFILL_BATCH_IDS } from './backfill.js'
import { pending, type AppliedRow, type Migration, type MigrationLog } from './index.js'

/** The advisory lock key Prisma Migrate itself takes, so our runner and Prisma's exclude each other. */
export const PRISMA_MIGRATE_LOCK = 72707369

// Prisma's own DDL for PostgreSQL.
const CREATE_HISTORY = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

async function appliedRows (client: pg.Client): Promise<Map<string, AppliedRow>> {
  const { rows } = await client.query<AppliedRow>(
    'SELECT migration_name, checksum, finished_at, logs FROM _prisma_migrations WHERE rolled_back_at IS NULL ORDER BY started_at'
  )
  return new Map(rows.map((row) => [row.migration_name, row]))
}

async function apply (client: pg.Client, migration: Migration, applied: Map<string, AppliedRow>): Promise<void> {
  const previous = applied.get(migration.name)
  if (previous !== undefined) {
    // We hold the lock, so nobody else is running it: an unfinished row is an earlier failure or crash.
    throw new Error(`migration ${migration.name} was started earlier and never finished${previous.logs ? `:\n${previous.logs}` : ''}\nFix the schema, then delete its row from _prisma_migrations.`)
  }
  const id = randomUUID()
  await client.query('INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
    [id, migration.checksum, migration.name])
  try {
    // One simple-protocol query: PostgreSQL runs the whole script as one implicit transaction.
    await client.query(migration.sql)
  } catch (error) {
    await client.query('UPDATE _prisma_migrations SET logs = $1 WHERE id = $2', [String(error), id])
    throw new Error(`migration ${migration.name} failed: ${String(error)}`)
  }
  await client.query('UPDATE _prisma_migrations SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id])
}

/** How often a process waiting for another's migrations says so. */
const WAITING_LOG_MS = 10_000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Takes Prisma's migration lock, waiting as long as another process holds it (its migrations may take long),
 * and saying so every `logEveryMs`, so an instance stuck behind a stalled one shows why in its log.
 */
async function takeLock (client: pg.Client, log: MigrationLog, logEveryMs: number): Promise<void> {
  const started = Date.now()
  let logged = started
  for (let delay = 50; ; delay = Math.min(2 * delay, 1000)) {
    const { rows: [row] } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [PRISMA_MIGRATE_LOCK])
    if (row!.locked) return
    if (Date.now() - logged >= logEveryMs) {
      logged = Date.now()
      log.warn(`waiting for another process's migrations (advisory lock ${PRISMA_MIGRATE_LOCK} held) for ${Math.round((logged - started) / 1000)} s`)
    }
    await sleep(delay)
  }
}

/** A server that takes a connection but never answers (a dead host behind a firewall) fails a start-up try instead of hanging it. */
const CONNECT_TIMEOUT_MS = 10_000

/**
 * Applies what is not yet applied, then the batched work migrations leave (backfill.ts); returns the names applied
 * now. Safe to run any number of times, from any number of processes.
 */
export async function migratePostgres (connectionString: string, migrations: Migration[], log: MigrationLog, logEveryMs = WAITING_LOG_MS, backfillBatchIds = BACKFILL_BATCH_IDS): Promise<string[]> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
  await client.connect()
  try {
    await takeLock(client, log, logEveryMs)
    await client.query(CREATE_HISTORY)
    const applied = await appliedRows(client)
    const names: string[] = []
    for (const migration of pending(migrations, applied, log)) {
      await apply(client, migration, applied)
      log.info(`applied migration ${migration.name}`)
      names.push(migration.name)
    }
    await backfillPostgres(client, log, backfillBatchIds)
    return names
  } finally {
    // Ending the session releases the advisory lock too.
    await client.end()
  }
}
