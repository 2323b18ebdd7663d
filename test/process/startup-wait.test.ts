// A server started before its PostgreSQL is up waits for it, alive but not ready, and gives up only after
// DATABASE_CONNECT_TIMEOUT_S: an orchestrator starting both at once needs no start-up ordering.
import { once } from 'node:events'
import pg from 'pg'
import t from 'tap'
import { PRISMA_MIGRATE_LOCK } from '../../src/store/migrate/postgres.js'
import { API, createDatabase, httpRequest, store, TEST_DATABASE_URL } from '../helper.js'
import { freePort, startServer, stop, type Running } from '../server-process.js'
import { cuttableProxy } from '../tcp-proxy.js'

// PostgreSQL here trusts local connections, so a password in the URL is accepted and ignored: it must
// still never reach the log.
const PASSWORD = 'never-logged-9f3a'

async function until (what: string, check: () => Promise<boolean>, server: Running, withinMs = 30_000): Promise<void> {
  const deadline = Date.now() + withinMs
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`server exited with ${server.child.exitCode} before ${what}:\n${server.output()}`)
    try {
      if (await check()) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`no ${what} in ${withinMs} ms:\n${server.output()}`)
}

async function start (databaseUrl: string, env: Record<string, string> = {}): Promise<Running> {
  const url = new URL(databaseUrl)
  url.password = PASSWORD
  const server = startServer({ PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: url.toString(), DATABASE_POOL_SIZE: '2', LOG_LEVEL: 'warn', ...env })
  return server
}

if (store !== 'postgres') {
  t.pass('runs on the PostgreSQL pass: SQLite opens at once')
} else {
  t.test('started before PostgreSQL: alive, not ready, API 503; then ready once the database is up', async (t) => {
    const database = await createDatabase(t, 'postgres')
    t.teardown(database.drop)
    const proxy = await cuttableProxy(new URL(TEST_DATABASE_URL), { listening: false })
    t.teardown(proxy.cut)
    const url = new URL(database.url)
    url.host = `127.0.0.1:${proxy.port}`
    const started = Date.now()
    const server = await start(url.toString())
    t.teardown(() => server.child.exitCode === null ? stop(server.child) : undefined)

    await until('/healthz', async () => (await fetch(`${server.origin}/healthz`)).status === 200, server)
    const readyz = await httpRequest<any>(server.origin, 'GET', '/readyz')
    t.equal(readyz.status, 503, 'not ready')
    t.equal(readyz.headers['retry-after'], '1')
    const early = await httpRequest<any>(server.origin, 'POST', `${API}/users`, { body: { name: 'Ada' } })
    t.equal(early.status, 503, 'an operation is turned away, not held')
    t.equal(early.headers['retry-after'], '1')
    t.match(early.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503, instance: `${API}/users` })
    await until('a logged retry', async () => /PostgreSQL unreachable \(try 2\): .*ECONNREFUSED/.test(server.output()), server)

    await proxy.open()
    await until('/readyz 200', async () => (await fetch(`${server.origin}/readyz`)).status === 200, server)
    t.ok(Date.now() - started < 60_000, 'ready within DATABASE_CONNECT_TIMEOUT_S')
    const user = await httpRequest<any>(server.origin, 'POST', `${API}/users`, { body: { name: 'Ada' } })
    t.equal(user.status, 201, user.text)
    t.equal((await httpRequest<any>(server.origin, 'GET', `${API}/users/${user.body.id}`)).status, 200)
    t.notMatch(server.output(), PASSWORD, 'the password is never logged')
    t.equal(await stop(server.child), 0)
  })

  t.test('reachable but migrations not done (another instance holds the lock): the API is 503, not a 500 on missing tables', async (t) => {
    const database = await createDatabase(t, 'postgres')
    t.teardown(database.drop)
    // The migrations' lock, held as another instance migrating would.
    const other = new pg.Client({ connectionString: database.url })
    await other.connect()
    t.teardown(() => other.end().catch(() => {}))
    await other.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK])
    const server = await start(database.url)
    t.teardown(() => server.child.exitCode === null ? stop(server.child) : undefined)

    await until('/healthz', async () => (await fetch(`${server.origin}/healthz`)).status === 200, server)
    t.equal((await httpRequest(server.origin, 'GET', '/readyz')).status, 503)
    const early = await httpRequest<any>(server.origin, 'GET', `${API}/users/1`)
    t.equal(early.status, 503, early.text)
    t.equal(early.headers['retry-after'], '1')

    await other.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK])
    await until('/readyz 200', async () => (await fetch(`${server.origin}/readyz`)).status === 200, server)
    t.equal((await httpRequest(server.origin, 'GET', `${API}/users/1`)).status, 404)
  })

  t.test('no PostgreSQL within DATABASE_CONNECT_TIMEOUT_S: exit 1, saying so', async (t) => {
    const url = new URL(TEST_DATABASE_URL)
    url.host = `127.0.0.1:${await freePort()}`
    const server = await start(url.toString(), { DATABASE_CONNECT_TIMEOUT_S: '2' })
    const exited = once(server.child, 'exit')
    // Timed from the listener, which is up before the database is tried: the process's own start-up
    // (compiling TypeScript) is slow and uneven on a busy machine.
    await until('/healthz', async () => (await fetch(`${server.origin}/healthz`)).status === 200, server)
    const listening = Date.now()
    const [code] = await exited
    const elapsed = Date.now() - listening
    t.equal(code, 1)
    t.match(server.output(), /trackbot: failed to start: PostgreSQL still unreachable after 2 s and \d+ tries \(DATABASE_CONNECT_TIMEOUT_S\): .*ECONNREFUSED/)
    t.notMatch(server.output(), PASSWORD, 'the password is never logged')
    t.ok(elapsed >= 1500 && elapsed < 10_000, `gave up after the timeout (${elapsed} ms after listening)`)
  })
}
