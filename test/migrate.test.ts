import Sqlite from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { migrateDatabase } from '../src/database.js'
import { migrationsDir, readMigrations } from '../src/migrate.js'
import { tempDir } from './helper.js'

const quiet = { info: () => {}, warn: () => {} }

t.test('migrations apply once, are recorded as Prisma records them, and a second run is a no-op', async (t) => {
  const file = join(tempDir(t), 'nested', 'dir', 'trackbot.db')
  const migrations = readMigrations(migrationsDir('sqlite'))
  t.ok(migrations.length > 0)

  t.same(await migrateDatabase(`file:${file}`, quiet), migrations.map((m) => m.name))
  t.same(await migrateDatabase(`file:${file}`, quiet), [])

  const db = new Sqlite(file, { readonly: true })
  t.teardown(() => db.close())
  const rows = db.prepare('SELECT * FROM _prisma_migrations ORDER BY migration_name').all() as any[]
  t.equal(rows.length, migrations.length)
  for (const [i, row] of rows.entries()) {
    const migration = migrations[i]!
    const bytes = readFileSync(join(migrationsDir('sqlite'), migration.name, 'migration.sql'))
    t.equal(row.migration_name, migration.name)
    t.equal(row.checksum, createHash('sha256').update(bytes).digest('hex'))
    t.ok(row.finished_at)
    t.equal(row.applied_steps_count, 1)
    t.equal(row.rolled_back_at, null)
  }
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r: any) => r.name)
  t.match(tables, ['Conversation', 'Message', 'User', '_prisma_migrations'])
})

t.test('a failed migration is recorded with its log and stops the start', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'trackbot.db')
  const db = new Sqlite(file)
  // A table in the way makes the first migration fail.
  db.exec('CREATE TABLE "User" (x INTEGER)')
  db.close()
  await t.rejects(migrateDatabase(`file:${file}`, quiet), /failed/)
  const after = new Sqlite(file, { readonly: true })
  t.teardown(() => after.close())
  const row = after.prepare('SELECT logs, finished_at FROM _prisma_migrations').get() as any
  t.match(row.logs, /User/)
  t.equal(row.finished_at, null)
  await t.rejects(migrateDatabase(`file:${file}`, quiet), /failed earlier/)
})
