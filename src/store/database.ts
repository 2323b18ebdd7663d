// Opens the store a DATABASE_URL names, embedded SQLite or PostgreSQL: migrations first, then a Prisma
// client on the migrated schema. Nothing above this file knows which store it is.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { PrismaClient } from '../../generated/prisma/sqlite/client.js'
import { migrateSqlite } from './migrate/sqlite.js'
import { migrationsDir, readMigrations, type MigrationLog, type Provider } from './migrate/index.js'
import { SqliteAdapterFactory } from './sqlite-adapter.js'
import { postgresTarget, providerOf, redact, sqliteFile } from './database-url.js'
import { databaseErrorKind } from './prisma-errors.js'

/**
 * The client type repositories program against. Both generated clients come from the same models
 * (prisma/models.prisma), so their model delegates behave alike; TypeScript cannot unify the two
 * generated type trees, so the PostgreSQL client is typed as this one, and the whole HTTP suite runs
 * on both stores to hold that promise.
 */
export type { PrismaClient }

export interface Database {
  provider: Provider
  prisma: PrismaClient
  /**
   * The client whose transactions are read snapshots (src/store/read-snapshots.ts): on PostgreSQL the same client,
   * on SQLite a second one on read-only connections of its own (SqliteSnapshotAdapter).
   */
  reader: PrismaClient
  /**
   * How many read snapshots (full lists) may be open at once: half the pool, so that on PostgreSQL, where each
   * holds a connection for its whole list, the rest of the API always has the other half.
   */
  snapshotLimit: number
  /** Migrated and connected by this process: until then the API answers 503 (src/http/health.ts). */
  isOpen (): boolean
  /** Open, reachable, and every committed migration applied. */
  isReady (): Promise<boolean>
  close (): Promise<void>
}

export interface DatabaseOptions {
  /** PostgreSQL connections per server process. */
  poolSize?: number
  /**
   * A direct PostgreSQL URL for migrations, whose advisory lock and DDL need one session throughout, which
   * a PgBouncer in transaction pooling does not give; the database URL by default.
   */
  directUrl?: string
  /** How long `open` retries a PostgreSQL server that is unreachable, starting up or full; 0 tries once. */
  connectTimeoutMs?: number
}

/** Milliseconds an SQLite write waits for another connection's lock before failing with a 503. */
export const BUSY_TIMEOUT_MS = 5000

/** PostgreSQL connections per server process unless DATABASE_POOL_SIZE says otherwise. */
export const DEFAULT_POOL_SIZE = 10

/** How long opening the store retries an unreachable PostgreSQL unless DATABASE_CONNECT_TIMEOUT_S says otherwise. */
export const DEFAULT_CONNECT_TIMEOUT_S = 60

/**
 * Prisma's own limit on starting a transaction (2 s by default) must outlast that wait, or a transaction
 * waiting for the lock would fail first, as an error we would answer with a 500.
 */
const TRANSACTION_START_MS = BUSY_TIMEOUT_MS + 2000

export async function migrateDatabase (databaseUrl: string, log: MigrationLog): Promise<string[]> {
  const provider = providerOf(databaseUrl)
  const migrations = readMigrations(migrationsDir(provider))
  if (provider === 'postgres') {
    const { migratePostgres } = await import('./migrate/postgres.js')
    return await migratePostgres(postgresTarget(databaseUrl).connectionString, migrations, log)
  }
  const file = sqliteFile(databaseUrl)
  mkdirSync(dirname(file), { recursive: true })
  return await migrateSqlite(file, migrations, log)
}

/** Distinct SQL texts given a prepared-statement name; the repositories issue a bounded set well below it. */
const NAMED_STATEMENTS = 1000
const statementNames = new Map<string, string>()

/**
 * Names a query's SQL text so pg prepares it once per connection and PostgreSQL reuses its plan, instead of
 * parsing and planning every query anew. Past NAMED_STATEMENTS distinct texts, queries go unnamed, so a
 * source of ever-new SQL cannot grow each connection's prepared statements without bound.
 */
function statementName ({ sql }: { sql: string }): string {
  let name = statementNames.get(sql)
  if (name === undefined && statementNames.size < NAMED_STATEMENTS) {
    name = `trackbot_${statementNames.size}`
    statementNames.set(sql, name)
  }
  return name ?? ''
}

// The PostgreSQL driver and client are loaded only for a PostgreSQL store: memory a SQLite server does not need.
async function createClients (databaseUrl: string, options: DatabaseOptions): Promise<{ prisma: PrismaClient, reader: PrismaClient }> {
  if (providerOf(databaseUrl) === 'postgres') {
    const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
      import('@prisma/adapter-pg'), import('../../generated/prisma/postgres/client.js'),
    ])
    const { connectionString, pgbouncer } = postgresTarget(databaseUrl)
    // PgBouncer in transaction pooling hands each transaction any server connection, where a statement
    // prepared on another is missing, or one of the same name already exists: only unnamed statements work.
    const adapter = new PrismaPg({ connectionString, max: options.poolSize ?? DEFAULT_POOL_SIZE }, pgbouncer ? {} : { statementNameGenerator: statementName })
    const prisma = new PostgresClient({ adapter, errorFormat: 'minimal' }) as unknown as PrismaClient
    return { prisma, reader: prisma }
  }
  const file = sqliteFile(databaseUrl)
  const adapter = new SqliteAdapterFactory({ file, busyTimeoutMs: BUSY_TIMEOUT_MS })
  const snapshots = new SqliteAdapterFactory({ file, busyTimeoutMs: BUSY_TIMEOUT_MS, snapshots: true })
  return {
    prisma: new PrismaClient({ adapter, errorFormat: 'minimal', transactionOptions: { maxWait: TRANSACTION_START_MS } }),
    reader: new PrismaClient({ adapter: snapshots, errorFormat: 'minimal' }),
  }
}

/** A store whose client exists but has not touched the database yet. */
export interface UnopenedDatabase extends Database {
  /**
   * Applies pending migrations, then connects. A PostgreSQL server that is not reachable yet (starting
   * alongside this process, or out of connections) is retried with backoff, each try logged, for up to
   * connectTimeoutMs; SQLite, and any other failure, fail at once.
   */
  open (log: MigrationLog): Promise<void>
}

/** PostgreSQL stayed unreachable for the whole of connectTimeoutMs. */
export class DatabaseUnreachable extends Error {}

const FIRST_RETRY_MS = 250
const MAX_RETRY_MS = 5000

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The error's message, for a log line; redacted, since a driver may quote the URL it was given. */
const messageOf = (error: unknown) => redact(error instanceof Error ? error.message || String(error) : String(error))

/**
 * The store's client, made without any I/O on the database, so the app can check its routes against the
 * spec before a migration runs; `open` migrates and connects.
 */
export async function prepareDatabase (databaseUrl: string, options: DatabaseOptions = {}): Promise<UnopenedDatabase> {
  const provider = providerOf(databaseUrl)
  const expected = readMigrations(migrationsDir(provider)).length
  const { prisma, reader } = await createClients(databaseUrl, options)
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_S * 1000
  let opened = false
  let closed = false

  const openOnce = async (log: MigrationLog) => {
    await migrateDatabase(options.directUrl ?? databaseUrl, log)
    await prisma.$connect()
  }

  return {
    provider,
    prisma,
    reader,
    snapshotLimit: Math.max(1, Math.floor((options.poolSize ?? DEFAULT_POOL_SIZE) / 2)),
    async open (log) {
      const deadline = Date.now() + connectTimeoutMs
      for (let attempt = 1, delay = FIRST_RETRY_MS; ; attempt++, delay = Math.min(2 * delay, MAX_RETRY_MS)) {
        try {
          await openOnce(log)
          opened = true
          return
        } catch (error) {
          const retry = provider === 'postgres' && !closed && databaseErrorKind(error) === 'unavailable'
          if (!retry) throw error
          const wait = Math.min(delay, deadline - Date.now())
          if (wait <= 0) {
            throw new DatabaseUnreachable(`PostgreSQL still unreachable after ${connectTimeoutMs / 1000} s and ${attempt} tries (DATABASE_CONNECT_TIMEOUT_S): ${messageOf(error)}`)
          }
          log.warn(`PostgreSQL unreachable (try ${attempt}): ${messageOf(error)}; retrying in ${wait} ms`)
          await sleep(wait)
          if (closed) throw new Error('closed while waiting for PostgreSQL')
        }
      }
    },
    isOpen: () => opened,
    async isReady () {
      if (!opened) return false
      try {
        const [row] = await prisma.$queryRaw<Array<{ n: number | bigint }>>`
          SELECT COUNT(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`
        return Number(row?.n) >= expected
      } catch {
        return false
      }
    },
    async close () {
      closed = true
      await prisma.$disconnect()
      if (reader !== prisma) await reader.$disconnect()
    },
  }
}

export async function openDatabase (databaseUrl: string, log: MigrationLog, options: DatabaseOptions = {}): Promise<Database> {
  const database = await prepareDatabase(databaseUrl, options)
  await database.open(log)
  return database
}
