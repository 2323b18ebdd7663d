// Opens the store a DATABASE_URL names: migrations first, then a Prisma client on the migrated schema.
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaClient } from '../generated/prisma/sqlite/client.js'
import { migrateSqlite, migrationsDir, readMigrations, type MigrationLog } from './migrate.js'
import { SerializedSqliteAdapterFactory } from './sqlite-adapter.js'

export type { PrismaClient }

export interface Database {
  prisma: PrismaClient
  /** Reachable, and every committed migration applied. */
  isReady (): Promise<boolean>
  close (): Promise<void>
}

/** Milliseconds a write waits for another connection's lock before failing with a 503. */
const BUSY_TIMEOUT_MS = 5000

/** `file:./data/trackbot.db` → an absolute path, relative paths from the working directory. */
export function sqliteFile (databaseUrl: string): string {
  return resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''))
}

export async function migrateDatabase (databaseUrl: string, log: MigrationLog): Promise<string[]> {
  const file = sqliteFile(databaseUrl)
  mkdirSync(dirname(file), { recursive: true })
  return await migrateSqlite(file, readMigrations(migrationsDir('sqlite')), log)
}

export async function openDatabase (databaseUrl: string, log: MigrationLog): Promise<Database> {
  await migrateDatabase(databaseUrl, log)
  const expected = readMigrations(migrationsDir('sqlite')).length
  const adapter = new SerializedSqliteAdapterFactory(
    new PrismaBetterSqlite3({ url: sqliteFile(databaseUrl), timeout: BUSY_TIMEOUT_MS }),
  )
  const prisma = new PrismaClient({ adapter, errorFormat: 'minimal' })
  await prisma.$connect()

  return {
    prisma,
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
