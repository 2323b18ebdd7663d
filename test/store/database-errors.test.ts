// When the store cannot answer, clients get a 503 with Retry-After, never a raw 500 with driver text,
// and the server recovers by itself once the store is back.
import net from 'node:net'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { sqliteFile } from '../../src/store/database-url.js'
import { API, createDatabase, startApp, store, TEST_DATABASE_URL } from '../helper.js'

/** A TCP proxy to PostgreSQL that the test can cut and restore, standing in for a network failure. */
async function cuttableProxy (target: URL) {
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })
  const open = () => new Promise<void>((resolve) => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('error', () => {})
        socket.on('close', () => sockets.delete(socket))
      }
      client.pipe(upstream).pipe(client)
    }).listen(port, '127.0.0.1', resolve)
  })
  const cut = () => new Promise<void>((resolve) => {
    server?.close(() => resolve())
    for (const socket of sockets) socket.destroy()
  })
  await open()
  return { port, open, cut }
}

t.test('PostgreSQL unreachable: 503 with Retry-After, then recovery', { skip: store === 'postgres' ? false : 'PostgreSQL only' }, async (t) => {
  const database = await createDatabase(t, 'postgres')
  t.teardown(database.drop)
  const url = new URL(database.url)
  const proxy = await cuttableProxy(new URL(TEST_DATABASE_URL))
  t.teardown(proxy.cut)
  url.host = `127.0.0.1:${proxy.port}`
  const { request } = await startApp(t, url.toString())
  const user = (await request('POST', `${API}/users`, { body: { name: 'Ada' } })).body

  await proxy.cut()
  for (const [method, path, body] of [['GET', `${API}/users/${user.id}`], ['POST', `${API}/users`, { name: 'Bo' }]] as const) {
    const reply = await request(method, path, { body, expectServerError: true })
    t.equal(reply.status, 503, reply.text)
    t.equal(reply.headers['retry-after'], '1')
    t.match(reply.body, { type: 'urn:trackbot:problem:service-unavailable', status: 503 })
    t.notMatch(reply.text, /can't reach|127\.0\.0\.1|prisma/i, 'no driver text')
  }
  t.equal((await request('GET', '/readyz', { expectServerError: true })).status, 503)

  await proxy.open()
  t.equal((await request('GET', `${API}/users/${user.id}`)).status, 200)
  t.equal((await request('GET', '/readyz')).status, 200)
})

t.test('SQLite locked by another process past the busy timeout: 503 with Retry-After', { skip: store === 'sqlite' ? false : 'SQLite only' }, async (t) => {
  const { request, databaseUrl } = await startApp(t)
  const other = new Sqlite(sqliteFile(databaseUrl))
  t.teardown(() => other.close())
  other.exec('BEGIN EXCLUSIVE')
  const reply = await request('POST', `${API}/users`, { body: { name: 'Ada' }, expectServerError: true })
  other.exec('ROLLBACK')
  t.equal(reply.status, 503)
  t.equal(reply.headers['retry-after'], '1')
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Ada' } })).status, 201, 'fine once the lock is gone')
})
