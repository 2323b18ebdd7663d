// test/helper.ts itself: a 5xx a test did not ask for fails with the error the app logged behind it,
// so a failing test shows the cause instead of a bare `-201 +500`; the tables its "changed nothing" checks
// read are every table the migrations make.
import t from 'tap'
import { API, modelTables, runSql, searchIndexTables, startApp, store, testDatabaseUrl } from './helper.js'

t.test('an unexpected 5xx fails the request with the logged error, message and stack', async (t) => {
  const { request, databaseUrl } = await startApp(t)
  // A column the queries name is gone: a failure no repository expects, so a 500 on both stores.
  await runSql(databaseUrl, 'ALTER TABLE "User" RENAME COLUMN "name" TO "renamed"')
  const failure = await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: { 'x-request-id': 'helper-500' } }).then(
    () => undefined,
    (error: Error) => error.message
  )
  t.match(failure, /^POST \/api\/v1\/users → 500 is a server error the test did not expect/, 'names the request and status')
  t.match(failure, /logged: unhandled error: PrismaClient\w*Error[^]*Raw query failed[^]*\bname\b/, 'carries the logged error message')
  t.match(failure, /\n +at .*src\/store\/users\.ts:\d+/, 'and its stack')
  t.notMatch(failure, /nothing at warn/, 'found by the request id')

  const provoked = await request('POST', `${API}/users`, { body: { name: 'Ada' }, expectServerError: true })
  t.equal(provoked.status, 500, 'a test that provokes a 5xx on purpose still gets the reply')
  t.match(provoked.body, { type: 'urn:trackbot:problem:internal-error' }, 'the problem the client sees')
})

t.test('the helper\'s model and search index tables are exactly the tables a migrated database has', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const index = Object.keys(searchIndexTables[store])
  // Besides the migrations' own bookkeeping (Backfill is empty once they are done), SQLite's AUTOINCREMENT counters
  // (storeContents reads those) and the tables FTS5 keeps for an index table.
  const bookkeeping = ['_prisma_migrations', 'sqlite_sequence', 'Backfill', ...index.flatMap((table) => ['config', 'data', 'docsize', 'idx'].map((part) => `${table}_${part}`))]
  const rows = await runSql(databaseUrl, store === 'sqlite'
    ? 'SELECT name FROM sqlite_master WHERE type = \'table\''
    : 'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()') as Array<{ name: string }>
  const tables = rows.map((row) => row.name).filter((name) => !bookkeeping.includes(name)).sort()
  t.ok(tables.length > 0, 'the migrated database has tables')
  t.same([...modelTables, ...index].sort(), tables, 'a table outside prisma/models.prisma and the search index would escape every "changed nothing" check')
  t.strictSame(await runSql(databaseUrl, 'SELECT * FROM "Backfill"'), [], 'no work left by the migrations')
})
