// A list without `limit` is the whole list, read in chunks from one snapshot and written chunk by chunk
// (src/store/chunks.ts, src/contract/chunked-body.ts): the same bytes as one serialization, consistent while
// writes go on, other requests served meanwhile, and a failure mid-way a cut-off response, never a short array.
// Each scenario is stepped from listChunks.betweenChunks, the hook between two chunk reads, and waits for the
// states it needs (a place taken, a snapshot gone, a socket closed), never for a duration.
import { get } from 'node:http'
import type { Socket } from 'node:net'
import Sqlite from 'better-sqlite3'
import t, { type Test } from 'tap'
import type { AppOptions } from '../../src/app.js'
import { sqliteFile } from '../../src/store/database-url.js'
import { API, LogCapture, runSql, startApp, store, until, type Fixtures, type TestApp } from '../helper.js'

/** Follows rel="next" links from `url`, returning every item of every page. */
async function pages (request: TestApp['request'], url: string): Promise<any[]> {
  const items: any[] = []
  for (let next: string | undefined = url; next !== undefined;) {
    const reply: { body: any[], headers: Record<string, unknown> } = await request('GET', next)
    items.push(...reply.body)
    next = /^<([^>]+)>; rel="next"$/.exec(String(reply.headers.link ?? ''))?.[1]
  }
  return items
}

/** A user with `count` conversations, titles and metadata that exercise the serializer's escaping. */
async function userWithConversations (app: Fixtures, count: number): Promise<number> {
  const userId = (await app.createUser()).id
  for (let i = 0; i < count; i++) {
    await app.createConversation(userId, i % 3 === 0 ? {} : { title: `c${i} "quoted" \\ é 💬 \u2028`, metadata: { model: `m${i}`, note: '<b>&</b>' } })
  }
  return userId
}

/** A gate a list's betweenChunks waits at until the test opens it. */
function gate (): { passed: Promise<void>, open: () => void } {
  let open!: () => void
  const passed = new Promise<void>((resolve) => { open = resolve })
  return { passed, open }
}

/**
 * Longer than any test here runs: a list waiting for a snapshot place never gives up (a 503) while the test
 * holds the places, however slowly the machine gets to opening them. Also the mark of a list going in line.
 */
const WAITS_FOR_EVER_MS = 3_600_000

t.test('a full list of several chunks is byte for byte one serialization, and the pages joined', async (t) => {
  const app = await startApp(t, { listChunks: { size: 7 } })
  const { request } = app
  const userId = await userWithConversations(app, 40)

  const full = await request('GET', `${API}/users/${userId}/conversations`)
  t.equal(full.status, 200)
  t.equal(full.body.length, 40, 'every conversation, across 6 chunks')
  t.same(full.body, await pages(request, `${API}/users/${userId}/conversations?limit=6`), 'equals the pages joined')
  // A page of up to 1000 is one serialization of the whole array by the route's serializer.
  const whole = await request('GET', `${API}/users/${userId}/conversations?limit=1000`)
  t.equal(full.text, whole.text, 'byte-identical to a single serialization')
  t.equal(full.headers['content-type'], whole.headers['content-type'])
  t.equal(full.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(full.headers.link, undefined, 'no Link: nothing follows a full list')
  t.equal(full.headers['cache-control'], 'no-store')
  t.equal(full.headers['x-content-type-options'], 'nosniff')

  // Without limit, a cursor gives everything after it: the rest of the list, in chunks too.
  const first = await request('GET', `${API}/users/${userId}/conversations?limit=10`)
  const cursor = /cursor=([^>&]+)/.exec(String(first.headers.link))![1]
  const rest = await request('GET', `${API}/users/${userId}/conversations?cursor=${cursor}`)
  t.same(rest.body, full.body.slice(10), 'a cursor without limit: the rest of the list')

  const empty = await request('GET', `${API}/users/${(await app.createUser({ name: 'Bo' })).id}/conversations`)
  t.equal(empty.text, '[]', 'an empty list')
  t.equal((await request('GET', `${API}/users/999999/conversations`)).status, 404, 'no such user: a 404, decided before anything is sent')
})

t.test('a full message list is byte for byte one serialization, also when it ends on a chunk boundary', async (t) => {
  const { request, createUser, createConversation } = await startApp(t, { listChunks: { size: 7 } })
  const userId = (await createUser()).id
  for (const count of [21, 23]) {
    const messages = Array.from({ length: count }, (_, i) => ({ role: i % 2 === 0 ? 'user' as const : 'assistant' as const, content: `m${i}\n"${'x'.repeat(i)}"` }))
    const conversationId = (await createConversation(userId, { messages })).id
    const full = await request('GET', `${API}/conversations/${conversationId}/messages`)
    t.same(full.body.map((m: any) => m.content), messages.map((m) => m.content), `${count} messages, oldest first`)
    t.equal(full.text, (await request('GET', `${API}/conversations/${conversationId}/messages?limit=1000`)).text, `${count}: byte-identical`)
    t.same(full.body, await pages(request, `${API}/conversations/${conversationId}/messages?limit=4`), `${count}: the pages joined`)
  }
  t.equal((await request('GET', `${API}/conversations/999999/messages`)).status, 404)
})

t.test('writes between two chunks do not show: a bumped conversation appears once, where it was', async (t) => {
  let between: () => Promise<void> = async () => {}
  const app = await startApp(t, { listChunks: { size: 5, betweenChunks: () => between() } })
  const { request } = app
  const userId = await userWithConversations(app, 17)
  const before = (await request('GET', `${API}/users/${userId}/conversations`)).body
  const [top, oldest, doomed] = [before[0], before[16], before[12]]

  let calls = 0
  between = async () => {
    if (calls++ > 0) return
    // After the first chunk: the oldest (not read yet) moves to the top, one not read yet goes, one is new.
    await app.postMessage(oldest.id, { role: 'user', content: 'bump' })
    t.equal((await request('DELETE', `${API}/conversations/${doomed.id}`)).status, 204)
    await app.createConversation(userId, { title: 'new' })
  }
  const during = (await request('GET', `${API}/users/${userId}/conversations`)).body
  t.equal(calls, 3, 'the list was read in 4 chunks, with the writes after the first')
  t.same(during, before, 'the list as it was when it began: the bumped one once, in its old place, with its old count')

  const after = (await request('GET', `${API}/users/${userId}/conversations`)).body
  t.same(after.slice(0, 2).map((c: any) => [c.title, c.id, c.messageCount]), [['new', after[0].id, 0], [oldest.title, oldest.id, 1]], 'the next list sees the new one, then the bumped one')
  t.equal(after.length, 17, 'one gone, one new')
  t.notOk(after.some((c: any) => c.id === doomed.id))
  t.ok(after.some((c: any) => c.id === top.id))
})

/**
 * An app whose full lists of 12 conversations (chunks of 5) stop at their first chunk boundary until `held`
 * is opened; `paused` counts the lists that reached it, each holding its snapshot. poolSize 4: two snapshots
 * at once (Database.snapshotLimit).
 */
async function heldLists (t: Test, snapshotWaitMs: number) {
  let held = Promise.resolve()
  let paused = 0
  const app = await startApp(t, {
    poolSize: 4, listChunks: { size: 5, snapshotWaitMs, betweenChunks: async () => { paused++; await held } },
  })
  const userId = await userWithConversations(app, 12)
  const url = `${API}/users/${userId}/conversations`
  // Read while nothing holds the lists: what each list below should be.
  const whole = (await app.request('GET', url)).body
  const { passed, open } = gate()
  held = passed
  paused = 0
  const lists = [app.request('GET', url), app.request('GET', url)]
  // Both past their first chunk: each holds its snapshot.
  await until('two full lists to hold their snapshots', () => paused === 2, { cause: () => `${paused} reached their first chunk boundary` })
  return { app, userId, url, whole, lists, open, paused: () => paused }
}

t.test('at most half the pool\'s worth of full lists read at once: the next waits for a place, then is a 503; the rest of the API goes on', async (t) => {
  // A short wait: no place is freed while the test holds both, so the third list is refused however long it takes.
  const { app, userId, url, whole, lists, open, paused } = await heldLists(t, 200)
  t.equal(paused(), 2, 'two full lists hold their snapshots')

  const refused = await app.request('GET', url, { expectServerError: true })
  t.equal(refused.status, 503)
  t.equal(refused.body.type, 'urn:trackbot:problem:service-unavailable')
  t.ok(Number(refused.headers['retry-after']) >= 1, 'with Retry-After')
  t.equal(paused(), 2, 'the refused list read no chunk')
  t.equal((await app.request('GET', `${API}/users/${userId}`)).status, 200, 'other requests are served')
  t.equal((await app.request('GET', `${url}?limit=5`)).status, 200, 'and pages, which need no snapshot')

  open()
  for (const list of await Promise.all(lists)) t.same(list.body, whole, 'the held lists complete, whole')
  t.same((await app.request('GET', url)).body, whole, 'their places are free again')
})

/**
 * Calls `seen` each time this process sets a timer of `ms`: a full list that finds every snapshot place taken
 * sets one of snapshotWaitMs as it goes in line (src/store/snapshot.ts), the one sign from outside that it waits.
 */
function watchTimers (t: Test, ms: number, seen: () => void): void {
  const original = globalThis.setTimeout
  globalThis.setTimeout = ((handler: (...args: any[]) => void, timeout?: number, ...args: any[]) => {
    if (timeout === ms) seen()
    return original(handler, timeout, ...args)
  }) as typeof setTimeout
  t.teardown(() => { globalThis.setTimeout = original })
}

t.test('a full list that waits for a snapshot place gets the first one freed', async (t) => {
  const { app, url, whole, lists, open, paused } = await heldLists(t, WAITS_FOR_EVER_MS)
  let inLine = 0
  watchTimers(t, WAITS_FOR_EVER_MS, () => { inLine++ })
  const third = app.request('GET', url)
  await until('the third full list to wait in line for a snapshot place', () => inLine === 1, { cause: () => `${inLine} lists in line, ${paused()} holding places` })
  t.equal(paused(), 2, 'it waits: no third list read past its first chunk')
  open()
  for (const list of await Promise.all([...lists, third])) t.same(list.body, whole, 'the held lists complete, whole, and the one in line after them')
})

/** Inserts `count` conversations for `userId` straight into the database, for a list too big to make through the API quickly. */
async function seedConversations (databaseUrl: string, userId: number, count: number): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - start) }, (_, i) => {
      const at = new Date(Date.UTC(2026, 0, 1) + (start + i) * 1000).toISOString().replace('Z', '+00:00')
      return `(${userId}, 'conversation ${start + i}', '{"model":"m","topic":"t${i}"}', '${at}', '${at}')`
    })
    await runSql(databaseUrl, `INSERT INTO "Conversation" ("userId", title, metadata, "createdAt", "updatedAt") VALUES ${rows.join(', ')}`)
  }
}

t.test('other requests are served while big full lists are read', async (t) => {
  // Every list stops at its first chunk boundary until the probes are answered: what is answered then was
  // answered while all eight were being read (two holding snapshots, the others on their way to a place or
  // waiting in line for one, never refused).
  const held = gate()
  let paused = 0
  const { origin, databaseUrl, createUser } = await startApp(t, {
    transport: 'http', listChunks: { snapshotWaitMs: WAITS_FOR_EVER_MS, betweenChunks: async () => { paused++; await held.passed } },
  })
  const userId = (await createUser()).id
  await seedConversations(databaseUrl, userId, 5000)

  let finished = 0
  const lists = Array.from({ length: 8 }, async () => {
    const reply = await fetch(`${origin}${API}/users/${userId}/conversations`)
    const list = { status: reply.status, count: (JSON.parse(await reply.text()) as unknown[]).length }
    finished++
    return list
  })
  await until('two big full lists to be past their first chunk', () => paused >= 2, { cause: () => `${paused} at a chunk boundary` })
  const health: number[] = []
  for (let i = 0; i < 3; i++) {
    const reply = await fetch(`${origin}/healthz`)
    await reply.text()
    health.push(reply.status)
  }
  const api = await fetch(`${origin}${API}/users/${userId}`)
  await api.text()
  t.equal(finished, 0, 'every list still being read')
  t.same(health, [200, 200, 200], `/healthz answered during the lists (${health.length} times)`)
  t.equal(api.status, 200, 'and the API')
  held.open()
  t.same(await Promise.all(lists), Array(8).fill({ status: 200, count: 5000 }), 'every list whole')
  t.ok(paused >= 8 * 9, `each list read in chunks (${paused} chunk boundaries)`)
})

/** A server on a socket whose log, from info up, the test reads, and a full list of 12 conversations on it. */
async function listedServer (t: Test, listChunks: AppOptions['listChunks']) {
  const app = await startApp(t, { transport: 'http', listChunks, logLevel: 'info' })
  const userId = await userWithConversations(app, 12)
  return { ...app, userId }
}

/** The first log line about request `requestId` that `matches`, waited for: a streamed answer's last line may follow what the client saw. */
async function loggedAbout (log: LogCapture, requestId: string, what: string, matches: (line: any) => boolean): Promise<any> {
  return await until(`${what} logged for request ${requestId}`, () => log.lines.find((line) => line.reqId === requestId && matches(line)), { cause: () => log.output() })
}

/**
 * Whether a read snapshot is open on the database: on PostgreSQL a transaction idle between two chunks; on
 * SQLite a reader that keeps the WAL from being reset (a checkpoint that must not wait for it is busy), once
 * something was written after the snapshot began.
 */
async function snapshotHeld (databaseUrl: string): Promise<boolean> {
  if (store === 'postgres') {
    const rows = await runSql(databaseUrl, 'SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = \'idle in transaction\'')
    return rows.length > 0
  }
  const db = new Sqlite(sqliteFile(databaseUrl), { timeout: 0 })
  try {
    return (db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>)[0]!.busy === 1
  } finally {
    db.close()
  }
}

t.test('a database failure mid-list cuts the response off, logged with its request id', async (t) => {
  // The snapshot's time bound runs out between the first chunk and the second, where the list waits for it to
  // be gone: that read fails. The bound must outlast the first chunk, which a busy machine can make slow: then
  // the list fails before its status (a 5xx, no scenario), and the test tries again with a longer bound.
  for (const snapshotMs of [250, 1000, 4000, 16_000]) {
    let between = async () => {}
    const { origin, userId, request, log, databaseUrl, createConversation } = await listedServer(t, { size: 5, snapshotMs, betweenChunks: () => between() })
    let expired = false
    between = async () => {
      if (expired) return
      // Written after the snapshot began, so that an SQLite snapshot shows (snapshotHeld).
      await createConversation(userId)
      await until(`the list's snapshot to expire (${snapshotMs} ms)`, async () => !await snapshotHeld(databaseUrl), { intervalMs: 50 })
      expired = true
    }
    const requestId = `cut-off-list-${snapshotMs}`
    const reply = await fetch(`${origin}${API}/users/${userId}/conversations`, { headers: { 'x-request-id': requestId } })
    if (reply.status !== 200 && log.lines.some((line) => line.reqId === requestId && /expired transaction/.test(String(line.err?.message)))) {
      await reply.text()
      t.comment(`the snapshot expired before the first chunk was read, with a bound of ${snapshotMs} ms: again with a longer one`)
      continue
    }
    t.equal(reply.status, 200, 'the status was sent with the first chunk')
    await t.rejects(reply.text(), 'the body never completes: the connection is destroyed, no valid-looking array')
    t.ok(expired, 'the snapshot expired between two chunks')
    const logged = await loggedAbout(log, requestId, 'the cut-off error', (line) => line.level === 50 && /cut off/.test(line.msg))
    t.match(logged.err?.message, /expired transaction/, 'logged as an error with the request id, with the cause')
    t.equal((await request('GET', `${API}/users/${userId}/conversations?limit=5`)).status, 200, 'the server goes on')
    return
  }
  t.fail('the snapshot expired before the first chunk was read, however long it was allowed to last')
})

t.test('a read connection killed mid-list cuts the response off', { skip: store === 'postgres' ? false : 'PostgreSQL: a backend to terminate' }, async (t) => {
  let kill = async () => {}
  const { origin, userId, log, databaseUrl } = await listedServer(t, { size: 5, betweenChunks: () => kill() })
  let killed = 0
  kill = async () => {
    // This test's database only: other files' lists run side by side on the same server.
    const rows = await runSql(databaseUrl, `
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND state = 'idle in transaction' AND query LIKE '%FROM "Conversation"%'`)
    killed += rows.length
  }
  const reply = await fetch(`${origin}${API}/users/${userId}/conversations`, { headers: { 'x-request-id': 'killed-list' } })
  t.equal(reply.status, 200)
  await t.rejects(reply.text(), 'cut off')
  t.equal(killed, 1, 'the list\'s backend was the one terminated')
  t.ok(await loggedAbout(log, 'killed-list', 'an error', (line) => line.level === 50), 'logged as an error with the request id')
})

t.test('a client that goes away mid-list ends the snapshot at once', async (t) => {
  let between = async () => {}
  // Far longer than the waits below: the snapshot can end only because the client went.
  const { app, origin, userId, log, request, databaseUrl, createConversation } = await listedServer(t, { size: 5, snapshotMs: WAITS_FOR_EVER_MS, betweenChunks: () => between() })
  const { passed: abandoned, open: gone } = gate()
  let heldBetween: boolean | undefined
  // The server's side of the list's connection, which it closes once it has seen the client go.
  let listSocket: Socket | undefined
  let listPort: number | undefined
  between = async () => {
    if (heldBetween !== undefined) return
    // A write after the snapshot began, which the snapshot keeps in the WAL (SQLite).
    await createConversation(userId)
    heldBetween = await snapshotHeld(databaseUrl)
    gone()
    // The next chunk is read only once the server knows the client is gone, so it is never the list's last.
    await until('the server to see the client close the connection', () => listSocket?.destroyed === true,
      { cause: () => listSocket === undefined ? 'no connection from the client\'s port' : 'still open' })
  }
  app.server.on('connection', (socket: Socket) => {
    socket.once('data', () => { if (socket.remotePort === listPort) listSocket = socket })
  })
  // node:http rather than fetch, whose pool opens a fresh connection after an abort that would hold up closing the app.
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const client = get(`${origin}${API}/users/${userId}/conversations`, { headers: { 'x-request-id': 'abandoned-list' }, agent: false }, (response) => {
      void abandoned.then(() => {
        client.destroy()
        resolve(response.statusCode)
      })
    }).on('error', (error) => { if (!client.destroyed) reject(error) })
    client.on('socket', (socket) => socket.on('connect', () => { listPort = socket.localPort }))
  })
  t.equal(status, 200)
  t.equal(heldBetween, true, 'the snapshot is seen while the list is read')
  await until('the snapshot to end once the client is gone', async () => !await snapshotHeld(databaseUrl), { intervalMs: 50 })
  t.pass('and is gone once the client is')
  t.ok(await loggedAbout(log, 'abandoned-list', 'the client leaving', (line) => line.level === 30 && /abandoned/.test(line.msg)), 'logged as the client leaving, not as an error')
  t.notOk(log.lines.some((line) => line.reqId === 'abandoned-list' && line.level >= 50), 'no error')
  t.equal((await request('GET', `${API}/users/${userId}/conversations`)).body.length, 13, 'the next list is served whole')
})
