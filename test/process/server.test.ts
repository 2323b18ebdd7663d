// The server as `npm start` runs it: a separate process on a real port, SIGTERM, restarts, and a masked 500.
// Its configuration errors: test/process/config.test.ts.
import { join } from 'node:path'
import t from 'tap'
import { API, API_V2, runSql, startApp, store, tempDir, testDatabaseUrl } from '../helper.js'

t.test('serves the API on PORT, reports health, exits 0 on SIGTERM, and a restart keeps the data', async (t) => {
  // Empty, as on a first `npm start`: on SQLite the data directory is created too.
  const databaseUrl = store === 'sqlite' ? `file:${join(tempDir(t), 'data', 'trackbot.db')}` : await testDatabaseUrl(t, { migrated: false })
  const first = await startApp(t, { transport: 'process', databaseUrl })

  t.same((await first.request('GET', '/healthz')).body, { status: 'ok' })
  const user = await first.createUser({ name: 'Ada' })
  const created = await first.request('POST', `${API}/users/${user.id}/conversations`, {
    body: { title: 'over HTTP', messages: [{ role: 'user', content: 'hello' }] },
    headers: { 'x-request-id': 'client-trace-1' },
  })
  t.equal(created.status, 201)
  t.equal(created.headers['x-request-id'], 'client-trace-1')
  t.equal(await first.stop(), 0, 'SIGTERM exits 0')
  t.match(first.output(), /SIGTERM/)

  const second = await startApp(t, { transport: 'process', databaseUrl })
  const listed = await second.request('GET', `${API}/users/${user.id}/conversations`)
  const { messages, ...conversation } = created.body
  t.same(listed.body, [conversation])
  const throughV2 = await second.request('GET', `${API_V2}/conversations/${conversation.id}/messages`)
  t.same(throughV2.body.map((message: any) => message.parts), [[{ type: 'text', text: 'hello' }]], 'v2 serves the same store, in its own shapes')
  t.equal(await second.stop(), 0)
})

t.test('an unexpected error is a masked 500 logged with the request id', async (t) => {
  const server = await startApp(t, { transport: 'process' })
  // Break the store under the running server: the next read fails in a way no handler expects. (PostgreSQL drops
  // the search index's views with the tables; SQLite leaves them.)
  const cascade = store === 'postgres' ? ' CASCADE' : ''
  await runSql(server.databaseUrl, `DROP TABLE "Message"${cascade}`)
  await runSql(server.databaseUrl, `DROP TABLE "Conversation"${cascade}`)
  const reply = await server.request('GET', `${API}/conversations/1`, { headers: { 'x-request-id': 'trace-500' }, expectServerError: true })
  t.equal(reply.status, 500)
  t.match(reply.body, { type: 'urn:trackbot:problem:internal-error', status: 500, detail: /trace-500/ })
  t.notMatch(reply.text, /table|SQLITE|prisma|invocation/i, 'no driver text leaks')
  const logged = await server.log.waitFor(/unhandled error/, 'the 500 logged')
  t.match(logged, { level: 50, reqId: 'trace-500', err: { message: /Conversation/ } })
})
