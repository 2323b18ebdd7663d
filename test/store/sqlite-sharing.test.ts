// A second process on the server's SQLite file (`npm run db:migrate` during a deploy, say) waits for the
// server's writes instead of failing, and neither side loses anything.
// stores: sqlite
import t from 'tap'
import { API, runScript, startApp, type Reply } from '../helper.js'

t.test('db:migrate runs beside a server that is writing, and both succeed', async (t) => {
  const server = await startApp(t, { transport: 'process', env: { LOG_LEVEL: 'warn', MAX_EVENT_LOOP_DELAY_MS: '0' } })
  const { databaseUrl } = server
  const userId = (await server.createUser({ name: 'Sharing' })).id

  let writing = true
  const replies: Reply[] = []
  const writer = async () => {
    while (writing) {
      replies.push(await server.request('POST', `${API}/users/${userId}/conversations`, {
        body: { messages: Array.from({ length: 20 }, (_, i) => ({ role: 'user', content: `m${i}` })) },
      }))
    }
  }
  // A 5xx fails its writer with what the server logged about it.
  const writers = Promise.all(Array.from({ length: 4 }, writer))
  const migrations = await Promise.all(Array.from({ length: 3 }, () => runScript('db-migrate', [], { DATABASE_URL: databaseUrl })))
  writing = false
  await writers

  for (const migration of migrations) {
    t.equal(migration.code, 0, migration.output)
    t.match(migration.output, /Database is up to date\./)
  }
  t.ok(replies.length > 0)
  t.same([...new Set(replies.map((reply) => reply.status))], [201], `all ${replies.length} writes during the migrations succeeded`)
  const listed = (await server.request('GET', `${API}/users/${userId}/conversations`)).body
  t.equal(listed.length, replies.length, 'and all are stored')
  t.equal(await server.stop(), 0)
})
