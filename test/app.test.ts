// Assembling the app: a spec the handlers do not match stops the start before the database is touched.
import { existsSync } from 'node:fs'
import t from 'tap'
import { buildApp } from '../src/app.js'
import { sqliteFile } from '../src/store/database-url.js'
import { runSql, specVariant, startApp, store, testDatabaseUrl } from './helper.js'

async function migrated (databaseUrl: string): Promise<boolean> {
  // Opening an SQLite file would create it, so its absence is the answer.
  if (store === 'sqlite') return existsSync(sqliteFile(databaseUrl))
  const [row] = await runSql(databaseUrl, 'SELECT to_regclass(\'"_prisma_migrations"\') AS migrations') as Array<{ migrations: string | null }>
  return row?.migrations !== null
}

t.test('a spec operation without a handler fails the start before any migration runs', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const spec = specVariant((document) => {
    document.paths['/conversations/{conversationId}'].put = {
      operationId: 'replace_conversation',
      responses: { 204: { description: 'Renamed' } },
    }
  })
  await t.rejects(buildApp({ databaseUrl, spec }), /handlers and spec disagree: missing replace_conversation, unknown none/)
  t.equal(await migrated(databaseUrl), false, 'the database was not migrated')
})

t.test('the committed spec starts and migrates', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  await startApp(t, { databaseUrl })
  t.equal(await migrated(databaseUrl), true)
})
