// Opens the store a DATABASE_URL names, embedded SQLite or PostgreSQL: migrations first, then a Prisma
// client on the migrated schema. Nothing above this file knows which store it is.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { PrismaClient } from '../../generated/prisma/sqlite/client.js'
import { migrateSqlite } from './migrate/sqlite.js'
import { migrationsDir, readMigrations, type MigrationLog, type Provider } from './migrate/index.js'
import { SqliteAdapterFactory } from './sqlite-adapter.js'
import { providerOf, sqliteFile } from './database-url.js'

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
  /** Reachable, and every committed migration applied. */
  isReady (): Promise<boolean>
  close (): Promise<void>
}

export interface DatabaseOptions {
  /** PostgreSQL connections per server process. */
  poolSize?: number
}

/** Milliseconds an SQLite write waits for another connection's lock before failing with a 503. */
export const BUSY_TIMEOUT_MS = 5000

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
    return await migratePostgres(databaseUrl, migrations, log)
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

// The PostgreSQL driver and client are loaded only for a PostgreSQL store: about 10 MB a SQLite server does not need.
async function createClient (databaseUrl: string, options: DatabaseOptions): Promise<PrismaClient> {
  if (providerOf(databaseUrl) === 'postgres') {
    const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
      import('@prisma/adapter-pg'), import('../../generated/prisma/postgres/client.js'),
    ])
    const adapter = new PrismaPg({ connectionString: databaseUrl, max: options.poolSize ?? 10 }, { statementNameGenerator: statementName })
    return new PostgresClient({ adapter, errorFormat: 'minimal' }) as unknown as PrismaClient
  }
  const adapter = new SqliteAdapterFactory({ file: sqliteFile(databaseUrl), busyTimeoutMs: BUSY_TIMEOUT_MS })
  return new PrismaClient({ adapter, errorFormat: 'minimal', transactionOptions: { maxWait: TRANSACTION_START_MS } })
}

/** A store whose client exists but has not touched the database yet. */
export interface UnopenedDatabase extends Database {
  /** Applies pending migrations, then connects. */
  open (log: MigrationLog): Promise<void>
}

/**
 * The store's client, made without any I/O on the database, so the app can check its routes against the
 * spec before a migration runs; `open` migrates and connects.
 */
export async function createDatabase (databaseUrl: string, options: DatabaseOptions = {}): Promise<UnopenedDatabase> {
  const provider = providerOf(databaseUrl)
  const expected = readMigrations(migrationsDir(provider)).length
  const prisma = await createClient(databaseUrl, options)

  return {
    provider,
    prisma,
    async open (log) {
      await migrateDatabase(databaseUrl, log)
      await prisma.$connect()
    },
    async isReady () {
      try {
        const [row] = await prisma.$queryRaw<Array<{ n: number | bigint }>>`
          SELECT COUNT(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`
        return Number(row?.n) >= expected
      } catch {
        return false
      }
    },
    close: () => prisma.$disconnect(),
  }
}

export async function openDatabase (databaseUrl: string, log: MigrationLog, options: DatabaseOptions = {}): Promise<Database> {
  const database = await createDatabase(databaseUrl, options)
  await database.open(log)
  return database
}
