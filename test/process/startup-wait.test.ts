// A server started before its PostgreSQL is up waits for it, alive but not ready, and gives up only after
// DATABASE_CONNECT_TIMEOUT_S: an orchestrator starting both at once needs no start-up ordering. A PostgreSQL
// that answers but is still starting up, or has no connection slot left, is waited for the same way.
// stores: postgres
import pg from 'pg'
import t, { type Test } from 'tap'
import { PRISMA_MIGRATE_LOCK } from '../../src/store/migrate/postgres.js'
import { API, exitedWhy, freePort, startApp, testDatabaseUrl, TEST_DATABASE_URL, until, waitReady, type ProcessApp, exited } from '../helper.js'
import { cuttableProxy } from '../tcp-proxy.js'
import { refusingPostgres } from './fake-postgres.js'

// PostgreSQL here trusts local connections, so a password in the URL is accepted and ignored: it must
// still never reach the log.
const PASSWORD = 'never-logged-9f3a'

/** The server on `databaseUrl` (with the password added), not waited for: it is not meant to be ready yet. */
async function start (t: Test, databaseUrl: string, env: Record<string, string> = {}): Promise<ProcessApp> {
  const url = new URL(databaseUrl)
  url.password = PASSWORD
  return await startApp(t, { transport: 'process', databaseUrl: url.toString(), env: { DATABASE_POOL_SIZE: '2', LOG_LEVEL: 'warn', ...env }, ready: false })
}

/** Waits, bounded, until `path` answers `status`; fails at once, with the output, if the server exits. */
async function answers (server: ProcessApp, path: string, status: number): Promise<void> {
  await until(`${path} to answer ${status}`, async () => {
    const why = exitedWhy(server.child)
    if (why !== undefined) throw new Error(`${why} before ${path} answered ${status}:\n${server.output()}`)
    try {
      return (await fetch(`${server.origin}${path}`)).status === status
    } catch {
      return false
    }
  }, { intervalMs: 50, cause: server.output })
}

/** The server's logged start-up retries, in order: the try number and the reason of each. */
function retries (server: ProcessApp): Array<{ attempt: number, reason: string }> {
  return server.log.lines.flatMap((line) => {
    const match = /^PostgreSQL unreachable \(try (\d+)\): (.*); retrying in \d+ ms$/.exec(String(line.msg))
    return match === null ? [] : [{ attempt: Number(match[1]), reason: match[2]! }]
  })
}

const exitedWhyOf = (server: ProcessApp) => () => exitedWhy(server.child)

t.test('started before PostgreSQL: alive, not ready, API 503; then ready once the database is up', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const proxy = await cuttableProxy(new URL(TEST_DATABASE_URL), { listening: false })
  t.teardown(proxy.cut)
  const url = new URL(databaseUrl)
  url.host = `127.0.0.1:${proxy.port}`
  const server = await start(t, url.toString())

  await answers(server, '/healthz', 200)
  const readyz = await server.request('GET', '/readyz', { expectServerError: true })
  t.equal(readyz.status, 503, 'not ready')
  t.equal(readyz.headers['retry-after'], '1')
  const early = await server.request('POST', `${API}/users`, { body: { name: 'Ada' }, expectServerError: true })
  t.equal(early.status, 503, 'an operation is turned away, not held')
  t.equal(early.headers['retry-after'], '1')
  t.match(early.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503, instance: `${API}/users` })
  await server.log.waitFor(/PostgreSQL unreachable \(try 2\): .*ECONNREFUSED/, 'a second logged try', exitedWhyOf(server))

  await proxy.open()
  // Ready while still running: it did not give up within DATABASE_CONNECT_TIMEOUT_S (waitReady fails on an exit).
  await waitReady(server)
  t.notMatch(server.output(), /still unreachable/, 'it never gave up')
  const user = await server.request('POST', `${API}/users`, { body: { name: 'Ada' } })
  t.equal(user.status, 201, user.text)
  t.equal((await server.request('GET', `${API}/users/${user.body.id}`)).status, 200)
  t.notMatch(server.output(), PASSWORD, 'the password is never logged')
  t.equal(await server.stop(), 0)
})

t.test('reachable but migrations not done (another instance holds the lock): the API is 503, not a 500 on missing tables', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  // The migrations' lock, held as another instance migrating would.
  const other = new pg.Client({ connectionString: databaseUrl })
  await other.connect()
  t.teardown(() => other.end().catch(() => {}))
  await other.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK])
  const server = await start(t, databaseUrl)

  await answers(server, '/healthz', 200)
  t.equal((await server.request('GET', '/readyz', { expectServerError: true })).status, 503)
  const early = await server.request('GET', `${API}/users/1`, { expectServerError: true })
  t.equal(early.status, 503, early.text)
  t.equal(early.headers['retry-after'], '1')

  await other.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK])
  await waitReady(server)
  t.equal((await server.request('GET', `${API}/users/1`)).status, 404)
})

t.test('no PostgreSQL within DATABASE_CONNECT_TIMEOUT_S: exit 1, saying so, after retrying', async (t) => {
  const url = new URL(TEST_DATABASE_URL)
  url.host = `127.0.0.1:${await freePort()}`
  const spawned = Date.now()
  const server = await start(t, url.toString(), { DATABASE_CONNECT_TIMEOUT_S: '2' })
  const { code } = await exited(server.child, 'the server to give up', server.output)
  const exitSeen = Date.now()
  t.equal(code, 1)
  const gaveUp = /trackbot: failed to start: PostgreSQL still unreachable after 2 s and (\d+) tries \(DATABASE_CONNECT_TIMEOUT_S\): .*ECONNREFUSED/
  t.match(server.output(), gaveUp)
  t.notMatch(server.output(), PASSWORD, 'the password is never logged')
  // The order of events: each failed try logged and retried, in order, the last one given up on.
  const tries = Number(gaveUp.exec(server.output())?.[1])
  const logged = retries(server)
  t.ok(tries >= 2, `gave up after ${tries} tries, not at the first failure`)
  t.same(logged.map((retry) => retry.attempt), Array.from({ length: tries - 1 }, (_, i) => i + 1), 'every try but the last logged and retried, in order')
  t.ok(logged.every((retry) => /ECONNREFUSED/.test(retry.reason)), 'each for the refused connection')
  t.ok(server.output().indexOf('still unreachable') > server.output().lastIndexOf('unreachable (try'), 'given up on after the last retry')
  // Not before the timeout: the process was spawned before its deadline was set, and the exit is seen after it
  // happened, so a busy machine only lengthens this span (nothing bounds it from above).
  t.ok(exitSeen - spawned >= 2000, `gave up no sooner than DATABASE_CONNECT_TIMEOUT_S after the start (${exitSeen - spawned} ms)`)
})

const STARTING_UP = { code: '57P03', message: 'the database system is starting up' }
const TOO_MANY = { code: '53300', message: 'sorry, too many clients already' }

t.test('a PostgreSQL still starting up, then out of connection slots, is retried until it takes the server', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const refusals = [STARTING_UP, TOO_MANY]
  const fake = await refusingPostgres(new URL(TEST_DATABASE_URL), refusals)
  t.teardown(fake.close)
  const url = new URL(databaseUrl)
  url.host = `127.0.0.1:${fake.port}`
  const server = await start(t, url.toString())

  await waitReady(server)
  t.equal(fake.refused(), refusals.length, 'every refusal was met')
  t.same(retries(server), refusals.map((refusal, i) => ({ attempt: i + 1, reason: refusal.message })),
    'each refusal logged as a try and retried, in order, before the server was ready')
  t.notMatch(server.output(), /still unreachable/, 'it never gave up')
  const user = await server.createUser({ name: 'Ada' })
  t.equal((await server.request('GET', `${API}/users/${user.id}`)).status, 200, 'and then serves the API through the database')
  t.notMatch(server.output(), PASSWORD, 'the password is never logged')
})
