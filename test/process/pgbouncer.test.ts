// Two server processes through PgBouncer in transaction pooling, the pooler's few server connections
// shared between them: with `?pgbouncer=true` the multi-instance scenario has no 5xx and loses no write;
// without it, named prepared statements meet on connections they were not prepared on, and requests fail.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import t, { type Test } from 'tap'
import { createDatabase, store, tempDir, TEST_DATABASE_URL } from '../helper.js'
import { checkLoad, runLoad, startInstance } from '../multi-instance.js'
import { freePort, stop } from '../server-process.js'

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
  t.teardown(() => stopPgbouncer(child))
  await waitListening(child, port, user, () => output)
  return { port, output: () => output }
}

async function waitListening (child: ChildProcess, port: number, user: string, output: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}:\n${output()}`)
    const client = new pg.Client({ host: '127.0.0.1', port, user, database: 'postgres' })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return
    } catch {
    } finally {
      await client.end().catch(() => {})
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`pgbouncer not accepting connections in 10 s:\n${output()}`)
}

async function stopPgbouncer (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

/** The database's URL with PgBouncer's port instead of PostgreSQL's. */
function throughPgbouncer (databaseUrl: string, port: number, query = ''): string {
  const url = new URL(databaseUrl)
  url.host = `127.0.0.1:${port}`
  return url.toString() + query
}

if (store !== 'postgres') {
  t.pass('runs on the PostgreSQL pass: PgBouncer pools PostgreSQL connections')
} else if (!existsSync(PGBOUNCER)) {
  t.fail(`${PGBOUNCER} is missing: install Debian's pgbouncer package (npm test's pretest does, when it can)`)
} else {
  t.test('through PgBouncer in transaction pooling', async (t) => {
    const pgbouncer = await startPgbouncer(t)

    t.test('with ?pgbouncer=true: no 5xx, every acknowledged write present', async (t) => {
      const database = await createDatabase(t, 'postgres')
      t.teardown(database.drop)
      const env = { DATABASE_DIRECT_URL: database.url }
      const pooled = throughPgbouncer(database.url, pgbouncer.port, '?pgbouncer=true')
      const instances = await Promise.all([startInstance(pooled, env), startInstance(pooled, env)])
      t.teardown(() => Promise.all(instances.map((instance) => stop(instance.child))))
      const origins = instances.map((instance) => instance.origin)
      const load = await runLoad(origins)
      t.ok([...load.statuses.values()].reduce((sum, n) => sum + n, 0) >= 250, 'a few hundred requests')
      await checkLoad(t, load, origins, database.url)
      t.notOk(PREPARED_STATEMENT_ERROR.test(instances.map((instance) => instance.output()).join('')), 'no prepared-statement errors logged')
    })

    t.test('control: without ?pgbouncer=true, named prepared statements fail', async (t) => {
      const database = await createDatabase(t, 'postgres')
      t.teardown(database.drop)
      const env = { DATABASE_DIRECT_URL: database.url }
      const pooled = throughPgbouncer(database.url, pgbouncer.port)
      const instances = await Promise.all([startInstance(pooled, env), startInstance(pooled, env)])
      t.teardown(() => Promise.all(instances.map((instance) => stop(instance.child))))
      const { statuses } = await runLoad(instances.map((instance) => instance.origin), { race: false })
      const failed = [...statuses].filter(([key]) => / 5\d\d$/.test(key)).reduce((sum, [, n]) => sum + n, 0)
      t.ok(failed > 0, `${failed} 5xx: the setup the test runs on does break named statements`)
      t.ok(PREPARED_STATEMENT_ERROR.test(instances.map((instance) => instance.output()).join('')), 'for the reason the issue names')
    })
  })
}
