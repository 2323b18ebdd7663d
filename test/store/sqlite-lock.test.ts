// Another connection holding SQLite's write lock (the sqlite3 shell, a backup, a second server on the file)
// must not freeze the server: better-sqlite3 is synchronous, so a write waiting for the lock inside SQLite would
// block the event loop, /healthz included. The server here runs in its own process and the lock is held from
// this one. Nothing is timed against a bound: reads must be answered while the writes are still waiting (a
// frozen server answers nothing until they end), and the writes must end only when the lock goes, or give up
// with a 503 while it is still held.
// stores: sqlite
import Sqlite from 'better-sqlite3'
import t, { type Test } from 'tap'
import { BUSY_TIMEOUT_MS } from '../../src/store/database.js'
import { sqliteFile } from '../../src/store/database-url.js'
import { API, runSql, startApp, storeContents, until, type ProcessApp, type Reply } from '../helper.js'

/** Rounds of reads, one after another, to be answered while every write waits. */
const READ_ROUNDS = 3

/** The write lock on `file`, held from another connection as `sqlite3 file 'BEGIN IMMEDIATE'` would, until released. */
function holdWriteLock (file: string): { release: () => void } {
  const other = new Sqlite(file)
  other.exec('BEGIN IMMEDIATE')
  return {
    release: () => {
      other.exec('ROLLBACK')
      other.close()
    },
  }
}

interface Write { request: string, reply?: Reply<any>, ms?: number, settledWhile?: string }

/** Sends a write without awaiting it; `state()` says, when it settles, what the test was doing then. */
function send (server: ProcessApp, state: () => string, method: string, path: string, body?: unknown): { write: Write, done: Promise<void> } {
  const write: Write = { request: `${method} ${path}` }
  const start = performance.now()
  const done = server.request<any>(method, path, { body, expectServerError: true }).then((reply) => {
    write.reply = reply
    write.ms = performance.now() - start
    write.settledWhile = state()
  })
  return { write, done }
}

/** Rounds of GETs of every path, one after another; fails if any is not 200 or answers once a write has settled. */
async function readWhileWaiting (t: Test, server: ProcessApp, paths: string[], writes: Write[]): Promise<void> {
  for (let round = 1; round <= READ_ROUNDS; round++) {
    for (const path of paths) {
      const reply = await server.request('GET', path)
      const settled = writes.filter((write) => write.reply !== undefined).map((write) => `${write.request} → ${write.reply!.status}`)
      t.same({ status: reply.status, settled }, { status: 200, settled: [] }, `round ${round}: GET ${path} answered while every write still waited`)
    }
  }
}

t.test('a write lock held by another process', async (t) => {
  const server = await startApp(t, { transport: 'process', env: { LOG_LEVEL: 'warn', MAX_EVENT_LOOP_DELAY_MS: '0' } })
  const { databaseUrl } = server
  const file = sqliteFile(databaseUrl)
  const user = await server.createUser({ name: 'Owner' })
  const conversation = await server.createConversation(user.id, { title: 'Kept' })
  const reads = ['/healthz', `${API}/users/${user.id}`, `${API}/conversations/${conversation.id}/messages`]

  // Plain inserts, batch transactions (a conversation with messages, a message and its conversation's touch) and a delete.
  const writes = (state: () => string) => [
    send(server, state, 'POST', `${API}/users`, { name: 'Waiting' }),
    send(server, state, 'POST', `${API}/users`, { name: 'Waiting' }),
    send(server, state, 'POST', `${API}/users/${user.id}/conversations`, { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }),
    send(server, state, 'POST', `${API}/conversations/${conversation.id}/messages`, { role: 'user', content: 'c' }),
    send(server, state, 'DELETE', `${API}/users/${user.id + 1000}`),
  ]

  await t.test('released within the budget: reads go on, waiting writes land once it goes, each once', async (t) => {
    let state = 'the lock is held'
    const lock = holdWriteLock(file)
    t.teardown(() => { if (state === 'the lock is held') lock.release() })
    const sent = writes(() => state)
    await readWhileWaiting(t, server, reads, sent.map(({ write }) => write))
    state = 'the lock was released'
    lock.release()
    await Promise.all(sent.map(({ done }) => done))
    const done = sent.map(({ write }) => write)
    t.same(done.map(({ reply }) => reply!.status), [201, 201, 201, 201, 404], 'every waiting write succeeded once the lock went')
    for (const { request, settledWhile } of done) t.equal(settledWhile, 'the lock was released', `${request} had waited for it`)

    const conversations = (await server.request('GET', `${API}/users/${user.id}/conversations`)).body
    t.same(conversations.map((c: any) => c.messageCount).sort(), [1, 2], 'the new conversation once, with its two messages')
    const messages = (await server.request('GET', `${API}/conversations/${conversation.id}/messages`)).body
    t.same(messages.map((m: any) => m.content), ['c'], 'the message once')
    t.same(await runSql(databaseUrl, 'SELECT COUNT(*) AS n FROM "User" WHERE name = \'Waiting\''), [{ n: 2 }], 'both users, once each')
  })

  await t.test('held past the budget: writes get 503 with Retry-After and change nothing; reads go on', async (t) => {
    const before = await storeContents(databaseUrl)
    let state = 'the lock is held'
    const lock = holdWriteLock(file)
    t.teardown(() => { if (state === 'the lock is held') lock.release() })
    const sent = writes(() => state)
    const done = sent.map(({ write }) => write)
    await readWhileWaiting(t, server, reads, done)
    // Held until every write has given up, however long the machine takes to get there.
    await until('every write to give up on the lock', () => done.every((write) => write.reply !== undefined), {
      cause: () => done.map((write) => `${write.request}: ${write.reply?.status ?? 'waiting'}`).join('\n'),
    })
    state = 'the lock was released'
    lock.release()
    for (const { request, reply, ms, settledWhile } of done) {
      t.equal(reply!.status, 503, `${request}: ${reply!.text}`)
      t.equal(reply!.headers['retry-after'], '1')
      t.match(reply!.body, { type: 'urn:trackbot:problem:service-unavailable' })
      t.equal(settledWhile, 'the lock is held', `${request} gave up while the lock was held`)
      // A lower bound only: the server's deadline starts after the request is sent, so no load can break it.
      t.ok(ms! >= BUSY_TIMEOUT_MS, `${request} waited the whole budget first (${Math.round(ms!)} ms)`)
    }
    t.equal(await storeContents(databaseUrl), before, 'nothing stored, no id used')
    t.equal((await server.request('POST', `${API}/users`, { body: { name: 'After' } })).status, 201, 'writes work once the lock is gone')
  })

  t.equal(await server.stop(), 0)
})
