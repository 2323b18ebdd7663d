// Migrations as the server and `npm run db:migrate` apply them: each once, recorded as Prisma records them, one
// at a time across processes, on an empty database each.
import pg from 'pg'
import t from 'tap'
import { migrateDatabase } from '../../src/store/database.js'
import { migrationsDir, readMigrations } from '../../src/store/migrate/index.js'
import { migratePostgres, PRISMA_MIGRATE_LOCK } from '../../src/store/migrate/postgres.js'
import { runScript, runSql, store, testDatabaseUrl, until } from '../helper.js'

const quiet = { info: () => {}, warn: () => {} }
const migrations = readMigrations(migrationsDir(store))

async function history (databaseUrl: string): Promise<any[]> {
  return await runSql(databaseUrl, 'SELECT * FROM _prisma_migrations ORDER BY migration_name') as any[]
}

t.test('migrations apply once, are recorded as Prisma records them, and a second run is a no-op', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  t.ok(migrations.length > 0)
  t.same(await migrateDatabase(databaseUrl, quiet), migrations.map((m) => m.name))
  t.same(await migrateDatabase(databaseUrl, quiet), [])

  const rows = await history(databaseUrl)
  t.equal(rows.length, migrations.length)
  for (const [i, row] of rows.entries()) {
    t.equal(row.migration_name, migrations[i]!.name)
    t.match(row.checksum, /^[0-9a-f]{64}$/)
    t.equal(row.checksum, migrations[i]!.checksum)
    t.ok(row.finished_at)
    t.equal(row.applied_steps_count, 1)
    t.equal(row.rolled_back_at, null)
  }
  if (store === 'sqlite') t.same(await runSql(databaseUrl, 'PRAGMA journal_mode'), [{ journal_mode: 'wal' }])
  for (const table of ['User', 'Conversation', 'Message']) t.same(await runSql(databaseUrl, `SELECT COUNT(*) AS n FROM "${table}"`), [{ n: store === 'sqlite' ? 0 : '0' }])
})

t.test('a failed migration is recorded with its log and stops the start', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  // A table in the way makes the first migration fail.
  await runSql(databaseUrl, 'CREATE TABLE "User" (x INTEGER)')
  await t.rejects(migrateDatabase(databaseUrl, quiet), /failed/)
  const [row] = await history(databaseUrl)
  t.match(row.logs, /User/)
  t.equal(row.finished_at, null)
  await t.rejects(migrateDatabase(databaseUrl, quiet), /failed earlier|never finished/)
})

t.test('five processes migrating one empty database at once end with one history and no error', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const results = await Promise.all(Array.from({ length: 5 }, () => runScript('db-migrate', [], { DATABASE_URL: databaseUrl })))
  for (const { code, output } of results) t.equal(code, 0, output)
  // On SQLite each migration is claimed on its own, so two processes may share the work (in order);
  // on PostgreSQL one holds the lock for all. Either way each migration is applied by exactly one.
  const appliedBy = migrations.map((m) => results.filter(({ output }) => output.includes(`applied migration ${m.name}`)).length)
  t.same(appliedBy, migrations.map(() => 1), 'each migration applied by exactly one process')
  const rows = await history(databaseUrl)
  t.same(rows.map((row) => row.migration_name), migrations.map((m) => m.name))
  t.ok(rows.every((row) => row.finished_at !== null))
})

t.test('PostgreSQL: a process waiting for another\'s migration lock says so, then migrates', { skip: store !== 'postgres' && 'PostgreSQL only' }, async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const holder = new pg.Client({ connectionString: databaseUrl })
  await holder.connect()
  let released = false
  const release = async () => {
    if (!released) await holder.end()
    released = true
  }
  t.teardown(release)
  await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK])
  const warnings: string[] = []
  let ended: string | undefined
  const migrating = migratePostgres(databaseUrl, migrations, { info: () => {}, warn: (message) => warnings.push(message) }, 100)
  migrating.then(() => { ended = 'the migration ended' }, (error: unknown) => { ended = `the migration failed (${String(error)})` })
  const warning = await until('a warning that it waits for the lock', () => {
    if (ended !== undefined) throw new Error(`${ended} while another session held the lock, without a warning`)
    return warnings[0]
  }, { cause: () => 'no warning yet' })
  t.match(warning, /waiting for another process's migrations \(advisory lock \d+ held\)/, 'it says why it waits')
  t.equal(ended, undefined, 'and goes on waiting while the lock is held')
  t.same(await runSql(databaseUrl, 'SELECT to_regclass(\'_prisma_migrations\') AS history'), [{ history: null }], 'and touches nothing meanwhile')
  await release()
  t.same(await migrating, migrations.map((m) => m.name), 'the lock released, it migrates')
})
