// The server as `npm start` runs it: a separate process on a real port, its config, SIGTERM, restarts.
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { API, freshDatabaseUrl, httpRequest, runSql, store, tempDir } from './helper.js'
import { freePort, startServer, stop, waitReady } from './server-process.js'

t.test('serves the API on PORT, reports health, exits 0 on SIGTERM, and a restart keeps the data', async (t) => {
  // SQLite: the data directory is created on first start.
  const databaseUrl = store === 'sqlite' ? `file:${join(tempDir(t), 'data', 'trackbot.db')}` : await freshDatabaseUrl(t)
  const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: databaseUrl }
  const first = startServer(env)
  t.teardown(() => { first.child.kill('SIGKILL') })
  await waitReady(first.origin, first.child)

  t.same(await (await fetch(`${first.origin}/healthz`)).json(), { status: 'ok' })
  const user = await httpRequest<any>(first.origin, 'POST', `${API}/users`, { body: { name: 'Ada' } })
  t.equal(user.status, 201)
  const created = await httpRequest<any>(first.origin, 'POST', `${API}/users/${user.body.id}/conversations`, {
    body: { title: 'over HTTP', messages: [{ role: 'user', content: 'hello' }] },
    headers: { 'x-request-id': 'client-trace-1' },
  })
  t.equal(created.status, 201)
  t.equal(created.headers['x-request-id'], 'client-trace-1')
  t.equal(await stop(first.child), 0, 'SIGTERM exits 0')
  t.match(first.output(), /SIGTERM/)

  const second = startServer(env)
  t.teardown(() => { second.child.kill('SIGKILL') })
  await waitReady(second.origin, second.child)
  const listed = await httpRequest<any>(second.origin, 'GET', `${API}/users/${user.body.id}/conversations`)
  const { messages, ...conversation } = created.body
  t.same(listed.body, [conversation])
  t.equal(await stop(second.child), 0)
})

t.test('an unexpected error is a masked 500 logged with the request id', async (t) => {
  const databaseUrl = await freshDatabaseUrl(t)
  const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: databaseUrl }
  const server = startServer(env)
  t.teardown(() => { server.child.kill('SIGKILL') })
  await waitReady(server.origin, server.child)
  // Break the store under the running server: the next read fails in a way no handler expects.
  await runSql(databaseUrl, 'DROP TABLE "Message"')
  await runSql(databaseUrl, 'DROP TABLE "Conversation"')
  const reply = await httpRequest<any>(server.origin, 'GET', `${API}/conversations/1`, { headers: { 'x-request-id': 'trace-500' } })
  t.equal(reply.status, 500)
  t.match(reply.body, { type: 'urn:trackbot:problem:internal-error', status: 500, detail: /trace-500/ })
  t.notMatch(reply.text, /table|SQLITE|prisma|invocation/i, 'no driver text leaks')
  await stop(server.child)
  const logged = server.output().split('\n').find((line) => line.includes('unhandled error'))
  t.match(JSON.parse(logged ?? '{}'), { level: 50, reqId: 'trace-500', err: { message: /Conversation. does not exist/ } })
})

t.test('bad configuration exits 1 with a clear message', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: '70000' }, /PORT must be an integer from 0 to 65535, got "70000"/],
    [{ PORT: 'http' }, /PORT must be an integer/],
    [{ DATABASE_URL: 'mysql://localhost/x' }, /DATABASE_URL must be/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
  ]
  for (const [env, message] of cases) {
    const server = startServer({ PORT: '0', ...env })
    const [code] = await once(server.child, 'exit')
    t.equal(code, 1, JSON.stringify(env))
    t.match(server.output(), message)
  }
})
