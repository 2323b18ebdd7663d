// Two server processes through PgBouncer in transaction pooling, the pooler's few server connections
// shared between them: with `?pgbouncer=true` the multi-instance scenario has no 5xx and loses no write;
// without it, named prepared statements meet on connections they were not prepared on, and requests fail.
// stores: postgres
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { exitedWhy, freePort, tempDir, testDatabaseUrl, TEST_DATABASE_URL, until, exited } from '../helper.js'
import { checkLoad, runLoad, startInstance } from '../multi-instance.js'

const PGBOUNCER = '/usr/sbin/pgbouncer'
/** Fewer server connections than the two instances' eight client ones, so transactions really share them. */
const POOL_SIZE = 3

/** As the servers' JSON log lines quote it. */
const PREPARED_STATEMENT_ERROR = /prepared statement \\"trackbot_\d+\\" (already exists|does not exist)/

/** A PgBouncer in transaction pooling in front of the test server, for every database on it; stopped when the test ends. */
async function startPgbouncer (t: Test): Promise<{ port: number, output: () => string }> {
  const dir = tempDir(t)
  const port = await freePort()
  const upstream = new URL(TEST_DATABASE_URL)
  const user = decodeURIComponent(upstream.username) || 'postgres'
  writeFileSync(join(dir, 'userlist.txt'), `"${user}" ""\n`)
  writeFileSync(join(dir, 'pgbouncer.ini'), `[databases]
* = host=${upstream.hostname} port=${upstream.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(dir, 'userlist.txt')}
pool_mode = transaction
default_pool_size = ${POOL_SIZE}
max_client_conn = 40
ignore_startup_parameters = extra_float_digits
`)
  // PgBouncer refuses to run as root; as another user it must still read its files.
  const asRoot = process.getuid?.() === 0
  if (asRoot) for (const file of [dir, join(dir, 'userlist.txt'), join(dir, 'pgbouncer.ini')]) chmodSync(file, file === dir ? 0o755 : 0o644)
  const child = spawn(PGBOUNCER, [...asRoot ? ['-u', 'nobody'] : [], join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  t.teardown(() => stopPgbouncer(child, () => output))
  await waitListening(child, port, user, () => output)
  return { port, output: () => output }
}

async function waitListening (child: ChildProcess, port: number, user: string, output: () => string): Promise<void> {
  let lastError = ''
  await until('pgbouncer to accept connections', async () => {
    const why = exitedWhy(child)
    if (why !== undefined) throw new Error(`pgbouncer: ${why}:\n${output()}`)
    const client = new pg.Client({ host: '127.0.0.1', port, user, database: 'postgres' })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return true
    } catch (error) {
      lastError = String(error)
      return false
    } finally {
      await client.end().catch(() => {})
    }
  }, { intervalMs: 100, cause: () => `last: ${lastError}\n${output()}` })
}

async function stopPgbouncer (child: ChildProcess, output: () => string): Promise<void> {
  if (exitedWhy(child) !== undefined) return
  child.kill('SIGTERM')
  await exited(child, 'pgbouncer to exit on SIGTERM', output)
}

/** The database's URL with PgBouncer's port instead of PostgreSQL's. */
function throughPgbouncer (databaseUrl: string, port: number, query = ''): string {
  const url = new URL(databaseUrl)
  url.host = `127.0.0.1:${port}`
  return url.toString() + query
}

if (!existsSync(PGBOUNCER)) {
  t.fail(`${PGBOUNCER} is missing: install Debian's pgbouncer package (npm test's pretest does, when it can)`)
} else {
  t.test('through PgBouncer in transaction pooling', async (t) => {
    const pgbouncer = await startPgbouncer(t)

    t.test('with ?pgbouncer=true: no 5xx, every acknowledged write present', async (t) => {
      // Empty: the instances migrate it between them, through DATABASE_DIRECT_URL.
      const databaseUrl = await testDatabaseUrl(t, { migrated: false })
      const env = { DATABASE_DIRECT_URL: databaseUrl }
      const pooled = throughPgbouncer(databaseUrl, pgbouncer.port, '?pgbouncer=true')
      const instances = await Promise.all([startInstance(t, pooled, env), startInstance(t, pooled, env)])
      const load = await runLoad(instances)
      t.ok([...load.statuses.values()].reduce((sum, n) => sum + n, 0) >= 250, 'a few hundred requests')
      await checkLoad(t, load, instances, databaseUrl)
      t.notOk(PREPARED_STATEMENT_ERROR.test(instances.map((instance) => instance.output()).join('')), 'no prepared-statement errors logged')
    })

    t.test('control: without ?pgbouncer=true, named prepared statements fail', async (t) => {
      const databaseUrl = await testDatabaseUrl(t)
      const env = { DATABASE_DIRECT_URL: databaseUrl }
      const pooled = throughPgbouncer(databaseUrl, pgbouncer.port)
      const instances = await Promise.all([startInstance(t, pooled, env), startInstance(t, pooled, env)])
      // The 5xx are what this control expects: counted, not failed on.
      const { statuses } = await runLoad(instances, { race: false, expectServerError: true })
      const failed = [...statuses].filter(([key]) => / 5\d\d$/.test(key)).reduce((sum, [, n]) => sum + n, 0)
      t.ok(failed > 0, `${failed} 5xx: the setup the test runs on does break named statements`)
      t.ok(PREPARED_STATEMENT_ERROR.test(instances.map((instance) => instance.output()).join('')), 'for the reason the issue names')
    })
  })
}
