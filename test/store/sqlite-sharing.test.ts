// A second process on the server's SQLite file (`npm run db:migrate` during a deploy, say) waits for the
// server's writes instead of failing, and neither side loses anything.
import { join } from 'node:path'
import t from 'tap'
import { API, httpRequest, store, tempDir, type Reply } from '../helper.js'
import { freePort, runScript, startServer, stop, waitReady } from '../server-process.js'

if (store !== 'sqlite') {
  t.pass('file sharing is an SQLite matter: runs on the SQLite pass')
} else {
  t.test('db:migrate runs beside a server that is writing, and both succeed', async (t) => {
    const databaseUrl = `file:${join(tempDir(t), 'shared.db')}`
    const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }
    const server = startServer(env)
    t.teardown(() => { server.child.kill('SIGKILL') })
    await waitReady(server.origin, server.child)
    const userId = (await httpRequest<any>(server.origin, 'POST', `${API}/users`, { body: { name: 'Sharing' } })).body.id

    let writing = true
    const replies: Reply[] = []
    const writer = async () => {
      while (writing) {
        replies.push(await httpRequest(server.origin, 'POST', `${API}/users/${userId}/conversations`, {
          body: { messages: Array.from({ length: 20 }, (_, i) => ({ role: 'user', content: `m${i}` })) },
        }))
      }
    }
    const writers = Array.from({ length: 4 }, writer)
    const migrations = await Promise.all(Array.from({ length: 3 }, () => runScript('scripts/db-migrate.ts', [], { DATABASE_URL: databaseUrl })))
    writing = false
    await Promise.all(writers)

    for (const migration of migrations) {
      t.equal(migration.code, 0, migration.output)
      t.match(migration.output, /Database is up to date\./)
    }
    t.ok(replies.length > 0)
    t.same([...new Set(replies.map((reply) => reply.status))], [201], `all ${replies.length} writes during the migrations succeeded`)
    const listed = (await httpRequest<any>(server.origin, 'GET', `${API}/users/${userId}/conversations`)).body
    t.equal(listed.length, replies.length, 'and all are stored')
    t.equal(await stop(server.child), 0)
  })
}
