// Another connection holding SQLite's write lock (the sqlite3 shell, a backup, a second server on the file)
// must not freeze the server: better-sqlite3 is synchronous, so a write waiting for the lock inside SQLite would
// block the event loop, /healthz included. The server here runs in its own process and the lock is held from
// this one, so the times measured are the server's alone.
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { BUSY_TIMEOUT_MS } from '../../src/store/database.js'
import { API, httpRequest, runSql, snapshot, store, tempDir, type Reply } from '../helper.js'
import { freePort, startServer, stop, waitReady } from '../server-process.js'

/** Far below any lock held here, far above a request's few milliseconds on an idle server. */
const FAST_MS = 500

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Holds the write lock on `file` for `ms` from another connection, as `sqlite3 file 'BEGIN IMMEDIATE'` would. */
async function holdWriteLock (file: string, ms: number): Promise<void> {
  const other = new Sqlite(file)
  try {
    other.exec('BEGIN IMMEDIATE')
    await sleep(ms)
    other.exec('ROLLBACK')
  } finally {
    other.close()
  }
}

/** The slowest of the GETs made one after another on each path until `done` settles. */
async function slowestWhile (origin: string, paths: string[], done: Promise<unknown>): Promise<Record<string, number>> {
  let settled = false
  void done.finally(() => { settled = true })
  const slowest = Object.fromEntries(paths.map((path) => [path, 0]))
  while (!settled) {
    for (const path of paths) {
      const start = performance.now()
      const reply = await httpRequest(origin, 'GET', path)
      if (reply.status !== 200) throw new Error(`GET ${path} answered ${reply.status} during the lock`)
      slowest[path] = Math.max(slowest[path]!, performance.now() - start)
    }
    await sleep(20)
  }
  return slowest
}

interface Timed { request: string, reply: Reply<any>, ms: number }

async function timed (origin: string, method: string, path: string, body?: unknown): Promise<Timed> {
  const start = performance.now()
  const reply = await httpRequest<any>(origin, method, path, { body, expectServerError: true })
  return { request: `${method} ${path}`, reply, ms: performance.now() - start }
}

if (store !== 'sqlite') {
  t.pass('the write lock is an SQLite matter: runs on the SQLite pass')
} else {
  t.test('a write lock held by another process', async (t) => {
    const file = join(tempDir(t), 'locked.db')
    const databaseUrl = `file:${file}`
    const server = startServer({ PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' })
    t.teardown(() => { server.child.kill('SIGKILL') })
    await waitReady(server.origin, server.child)
    const origin = server.origin
    const user = (await httpRequest<any>(origin, 'POST', `${API}/users`, { body: { name: 'Owner' } })).body
    const conversation = (await httpRequest<any>(origin, 'POST', `${API}/users/${user.id}/conversations`, { body: { title: 'Kept' } })).body
    const reads = ['/healthz', `${API}/users/${user.id}`, `${API}/conversations/${conversation.id}/messages`]

    // Plain inserts, batch transactions (a conversation with messages, a message and its conversation's touch) and a delete.
    const writes = () => [
      timed(origin, 'POST', `${API}/users`, { name: 'Waiting' }),
      timed(origin, 'POST', `${API}/users`, { name: 'Waiting' }),
      timed(origin, 'POST', `${API}/users/${user.id}/conversations`, { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }),
      timed(origin, 'POST', `${API}/conversations/${conversation.id}/messages`, { role: 'user', content: 'c' }),
      timed(origin, 'DELETE', `${API}/users/${user.id + 1000}`),
    ]

    await t.test('shorter than the budget: reads stay fast, waiting writes land once it goes, each once', async (t) => {
      const lockMs = Math.round(BUSY_TIMEOUT_MS / 2)
      const lock = holdWriteLock(file, lockMs)
      await sleep(50)
      const pending = Promise.all(writes())
      const slowest = await slowestWhile(origin, reads, lock)
      const done = await pending
      t.comment(`lock ${lockMs} ms; slowest while locked: ${JSON.stringify(slowest, (_, v) => typeof v === 'number' ? Math.round(v) : v)}`)
      for (const path of reads) t.ok(slowest[path]! < FAST_MS, `GET ${path} stayed under ${FAST_MS} ms (slowest ${Math.round(slowest[path]!)} ms)`)
      t.same(done.map(({ reply }) => reply.status), [201, 201, 201, 201, 404], 'every waiting write succeeded once the lock went')
      for (const { ms } of done) t.ok(ms > lockMs * 0.8, `and had waited for it (${Math.round(ms)} ms)`)

      const conversations = (await httpRequest<any>(origin, 'GET', `${API}/users/${user.id}/conversations`)).body
      t.same(conversations.map((c: any) => c.messageCount).sort(), [1, 2], 'the new conversation once, with its two messages')
      const messages = (await httpRequest<any>(origin, 'GET', `${API}/conversations/${conversation.id}/messages`)).body
      t.same(messages.map((m: any) => m.content), ['c'], 'the message once')
      t.same(await runSql(databaseUrl, 'SELECT COUNT(*) AS n FROM "User" WHERE name = \'Waiting\''), [{ n: 2 }], 'both users, once each')
    })

    await t.test('longer than the budget: writes get 503 with Retry-After and change nothing; reads stay fast', async (t) => {
      const before = await snapshot(databaseUrl)
      const lockMs = BUSY_TIMEOUT_MS + 2000
      const lock = holdWriteLock(file, lockMs)
      await sleep(50)
      const pending = Promise.all(writes())
      const slowest = await slowestWhile(origin, reads, pending)
      const done = await pending
      t.comment(`lock ${lockMs} ms; slowest while writes waited: ${JSON.stringify(slowest, (_, v) => typeof v === 'number' ? Math.round(v) : v)}`)
      for (const path of reads) t.ok(slowest[path]! < FAST_MS, `GET ${path} stayed under ${FAST_MS} ms (slowest ${Math.round(slowest[path]!)} ms)`)
      for (const { request, reply, ms } of done) {
        t.equal(reply.status, 503, `${request}: ${reply.text}`)
        t.equal(reply.headers['retry-after'], '1')
        t.match(reply.body, { type: 'urn:trackbot:problem:service-unavailable' })
        t.ok(ms > BUSY_TIMEOUT_MS * 0.8 && ms < lockMs, `after waiting about the budget (${Math.round(ms)} ms)`)
      }
      await lock
      t.equal(await snapshot(databaseUrl), before, 'nothing stored, no id used')
      t.equal((await timed(origin, 'POST', `${API}/users`, { name: 'After' })).reply.status, 201, 'writes work once the lock is gone')
    })

    t.equal(await stop(server.child), 0)
  })
}
