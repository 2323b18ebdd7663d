// The batched work migrations leave (src/store/migrate/backfill.ts): every id of the range done exactly once, a batch
// and its progress together, so a failure part-way leaves the batches before it done and the next run resumes there.
import pg from 'pg'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { backfillPostgres, backfillSqlite } from '../../src/store/migrate/backfill.js'
import { sqliteFile } from '../../src/store/database-url.js'
import { store, testDatabaseUrl } from '../helper.js'

const quiet = { info: () => {}, warn: () => {} }

// A source of ids 1–20 with gaps, a target each batch fills, and a target column whose CHECK refuses id 13 until the
// test lifts it: the failure a run meets part-way.
const SETUP = [
  'CREATE TABLE "Source" ("id" INTEGER PRIMARY KEY)',
  'CREATE TABLE "Target" ("id" INTEGER PRIMARY KEY, "ok" INTEGER NOT NULL CHECK ("ok" = 1))',
  'CREATE TABLE "Backfill" ("name" TEXT NOT NULL PRIMARY KEY, "statement" TEXT NOT NULL, "nextId" INTEGER NOT NULL, "lastId" INTEGER NOT NULL)',
]
const IDS = Array.from({ length: 20 }, (_, i) => i + 1).filter((id) => id % 7 !== 0)

t.test('a backfill covers its range in batches, stops at a failing batch with the ones before it kept, and resumes there', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const fill = (from: string, to: string) => `INSERT INTO "Target" SELECT "id", CASE WHEN "id" = 13 THEN 0 ELSE 1 END FROM "Source" WHERE "id" BETWEEN ${from} AND ${to}`
  const lift = 'DELETE FROM "Source" WHERE "id" = 13'

  if (store === 'sqlite') {
    const db = new Sqlite(sqliteFile(databaseUrl))
    t.teardown(() => db.close())
    for (const statement of SETUP) db.exec(statement)
    for (const id of IDS) db.prepare('INSERT INTO "Source" VALUES (?)').run(id)
    db.prepare('INSERT INTO "Backfill" VALUES (?, ?, 1, 20)').run('numbers', fill('@from', '@to'))
    t.throws(() => backfillSqlite(db, quiet, 3), /CHECK constraint failed/)
    t.strictSame(db.prepare('SELECT "id" FROM "Target" ORDER BY "id"').all().map((row: any) => row.id), IDS.filter((id) => id <= 12), 'the batches before the failing one are done')
    t.strictSame(db.prepare('SELECT "nextId" FROM "Backfill"').all(), [{ nextId: 13 }], 'and recorded')
    db.exec(lift)
    t.strictSame(backfillSqlite(db, quiet, 3), ['numbers'])
    t.strictSame(db.prepare('SELECT "id" FROM "Target" ORDER BY "id"').all().map((row: any) => row.id), IDS.filter((id) => id !== 13), 'every id once')
    t.strictSame(db.prepare('SELECT * FROM "Backfill"').all(), [])
    t.strictSame(backfillSqlite(db, quiet, 3), [], 'nothing left to do')
    return
  }
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  t.teardown(() => client.end())
  for (const statement of SETUP) await client.query(statement)
  await client.query('INSERT INTO "Source" SELECT unnest($1::int[])', [IDS])
  await client.query('INSERT INTO "Backfill" VALUES ($1, $2, 1, 20)', ['numbers', fill('$1', '$2')])
  await t.rejects(backfillPostgres(client, quiet, 3), /numbers failed at ids 13–15: .*check constraint/)
  t.strictSame((await client.query('SELECT "id" FROM "Target" ORDER BY "id"')).rows.map((row) => row.id), IDS.filter((id) => id <= 12), 'the batches before the failing one are done')
  t.strictSame((await client.query('SELECT "nextId" FROM "Backfill"')).rows, [{ nextId: 13 }], 'and recorded')
  await client.query(lift)
  t.strictSame(await backfillPostgres(client, quiet, 3), ['numbers'])
  t.strictSame((await client.query('SELECT "id" FROM "Target" ORDER BY "id"')).rows.map((row) => row.id), IDS.filter((id) => id !== 13), 'every id once')
  t.strictSame((await client.query('SELECT * FROM "Backfill"')).rows, [])
  t.strictSame(await backfillPostgres(client, quiet, 3), [], 'nothing left to do')
})
