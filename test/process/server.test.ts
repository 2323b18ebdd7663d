// The server as `npm start` runs it: a separate process on a real port, its config, SIGTERM, restarts.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { API, freshDatabaseUrl, httpRequest, runSql, store, tempDir } from '../helper.js'
import { freePort, startServer, stop, waitReady } from '../server-process.js'

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
  t.match(JSON.parse(logged ?? '{}'), { level: 50, reqId: 'trace-500', err: { message: /Conversation/ } })
})

t.test('bad configuration exits 1 with a clear message', async (t) => {
  const notADirectory = join(tempDir(t), 'not-a-directory')
  writeFileSync(notADirectory, '')
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: '70000' }, /PORT must be an integer from 0 to 65535, got "70000"/],
    [{ PORT: 'http' }, /PORT must be an integer/],
    [{ DATABASE_URL: 'mysql://localhost/x' }, /DATABASE_URL must be/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ LOG_FORMAT: 'xml' }, /LOG_FORMAT must be json or pretty, got "xml"/],
    [{ CORS_ORIGINS: 'https://ok.example, chat.example.com' }, /CORS_ORIGINS must be a comma-separated list of origins.*got "chat.example.com"/],
    [{ CORS_ORIGINS: 'https://chat.example.com/app' }, /CORS_ORIGINS must be .*got "https:\/\/chat.example.com\/app"/],
    [{ DATABASE_URL: `file:${notADirectory}/data/trackbot.db` }, /DATABASE_URL points at .*trackbot.db, but .*not-a-directory is not a directory/],
  ]
  for (const [env, message] of cases) {
    const server = startServer({ PORT: '0', ...env })
    const [code] = await once(server.child, 'exit')
    t.equal(code, 1, JSON.stringify(env))
    t.match(server.output(), message)
  }
})

t.test('a data directory the server cannot write is a configuration error, not a failure at the first write', async (t) => {
  // Root may write anywhere: drop the capabilities that let it, so root is bound by the mode bits like anyone.
  const dir = join(tempDir(t), 'read-only')
  mkdirSync(dir)
  chmodSync(dir, 0o555)
  const asRoot = process.getuid?.() === 0
  const command = [process.execPath, '--import', 'tsx', 'src/server.ts']
  const child = spawn(asRoot ? 'setpriv' : command[0]!, asRoot ? ['--bounding-set', '-dac_override,-dac_read_search', ...command] : command.slice(1), {
    env: { ...process.env, PORT: '0', DATABASE_URL: `file:${dir}/trackbot.db` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const [code] = await once(child, 'exit')
  t.equal(code, 1, output)
  t.match(output, /bad configuration: DATABASE_URL points at .*read-only\/trackbot.db, but the directory .*read-only is not writable by this process/)
})
