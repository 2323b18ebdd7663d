// The committed migrations (prisma/<provider>/migrations/*/migration.sql), read in name order, with
// the checksum Prisma records for each (lowercase hex SHA-256 of the file's bytes).
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../../project-root.js'

export type Provider = 'sqlite' | 'postgres'

export interface Migration { name: string, sql: string, checksum: string }

export interface MigrationLog { info (message: string): void, warn (message: string): void }

/** A history row as both stores' _prisma_migrations tables give it. */
export interface AppliedRow {
  migration_name: string
  checksum: string
  finished_at: unknown
  logs: string | null
}

export function migrationsDir (provider: Provider): string {
  return join(projectRoot, 'prisma', provider, 'migrations')
}

export function readMigrations (dir: string): Migration[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const bytes = readFileSync(join(dir, name, 'migration.sql'))
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') }
    })
}

/** Warns about applied migrations whose file changed since; returns the ones still to apply. */
export function pending (migrations: Migration[], applied: Map<string, AppliedRow>, log: MigrationLog): Migration[] {
  return migrations.filter((migration) => {
    const row = applied.get(migration.name)
    if (row?.finished_at == null) return true
    if (row.checksum !== migration.checksum) log.warn(`migration ${migration.name} was edited after it was applied`)
    return false
  })
}
