// A list without `limit` is the whole list, read in chunks from one snapshot and written chunk by chunk
// (src/store/chunks.ts, src/contract/chunked-body.ts): the same bytes as one serialization, consistent while
// writes go on, other requests served meanwhile, and a failure mid-way a cut-off response, never a short array.
import { get } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import Sqlite from 'better-sqlite3'
import t, { type Test } from 'tap'
import type { AppOptions } from '../../src/app.js'
import { sqliteFile } from '../../src/store/database-url.js'
import { API, runSql, startApp, store, TEST_DATABASE_URL, type TestApp } from '../helper.js'

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

// Load shedding off: these tests are about lists, and a busy machine's lag would turn some of them into 503s.
const NO_SHEDDING = { maxEventLoopDelayMs: 0 }

const post = (request: TestApp['request'], url: string, body: unknown) => request('POST', `${API}${url}`, { body })

/** A user with `count` conversations, titles and metadata that exercise the serializer's escaping. */
async function userWithConversations (request: TestApp['request'], count: number): Promise<number> {
  const userId = (await post(request, '/users', { name: 'Ada' })).body.id
  for (let i = 0; i < count; i++) {
    await post(request, `/users/${userId}/conversations`, i % 3 === 0 ? {} : { title: `c${i} "quoted" \\ é 💬 \u2028`, metadata: { model: `m${i}`, note: '<b>&</b>' } })
  }
  return userId
}

t.test('a full list of several chunks is byte for byte one serialization, and the pages joined', async (t) => {
  const { request } = await startApp(t, undefined, { ...NO_SHEDDING, listChunks: { size: 7 } })
  const userId = await userWithConversations(request, 40)

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

  const empty = await request('GET', `${API}/users/${(await post(request, '/users', { name: 'Bo' })).body.id}/conversations`)
  t.equal(empty.text, '[]', 'an empty list')
  t.equal((await request('GET', `${API}/users/999999/conversations`)).status, 404, 'no such user: a 404, decided before anything is sent')
})

t.test('a full message list is byte for byte one serialization, also when it ends on a chunk boundary', async (t) => {
  const { request } = await startApp(t, undefined, { ...NO_SHEDDING, listChunks: { size: 7 } })
  const userId = (await post(request, '/users', { name: 'Ada' })).body.id
  for (const count of [21, 23]) {
    const messages = Array.from({ length: count }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `m${i}\n"${'x'.repeat(i)}"` }))
    const conversationId = (await post(request, `/users/${userId}/conversations`, { messages })).body.id
    const full = await request('GET', `${API}/conversations/${conversationId}/messages`)
    t.same(full.body.map((m: any) => m.content), messages.map((m) => m.content), `${count} messages, oldest first`)
    t.equal(full.text, (await request('GET', `${API}/conversations/${conversationId}/messages?limit=1000`)).text, `${count}: byte-identical`)
    t.same(full.body, await pages(request, `${API}/conversations/${conversationId}/messages?limit=4`), `${count}: the pages joined`)
  }
  t.equal((await request('GET', `${API}/conversations/999999/messages`)).status, 404)
})

t.test('writes between two chunks do not show: a bumped conversation appears once, where it was', async (t) => {
  let between: () => Promise<void> = async () => {}
  const { request } = await startApp(t, undefined, { ...NO_SHEDDING, listChunks: { size: 5, betweenChunks: () => between() } })
  const userId = await userWithConversations(request, 17)
  const before = (await request('GET', `${API}/users/${userId}/conversations`)).body
  const [top, oldest, doomed] = [before[0], before[16], before[12]]

  let calls = 0
  between = async () => {
    if (calls++ > 0) return
    // After the first chunk: the oldest (not read yet) moves to the top, one not read yet goes, one is new.
    t.equal((await post(request, `/conversations/${oldest.id}/messages`, { role: 'user', content: 'bump' })).status, 201)
    t.equal((await request('DELETE', `${API}/conversations/${doomed.id}`)).status, 204)
    t.equal((await post(request, `/users/${userId}/conversations`, { title: 'new' })).status, 201)
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

t.test('at most half the pool\'s worth of full lists read at once: the next waits its turn, then is a 503; the rest of the API goes on', async (t) => {
  let gate = Promise.resolve()
  let waiting = 0
  // poolSize 4: two snapshots at once (Database.snapshotLimit); a third list waits 300 ms for one.
  const { request } = await startApp(t, undefined, {
    ...NO_SHEDDING, poolSize: 4, listChunks: { size: 5, snapshotWaitMs: 300, betweenChunks: async () => { waiting++; await gate } },
  })
  const userId = await userWithConversations(request, 12)
  const url = `${API}/users/${userId}/conversations`
  const whole = (await request('GET', url)).body
  let open!: () => void
  gate = new Promise((resolve) => { open = resolve })
  waiting = 0
  const held = [request('GET', url), request('GET', url)]
  // Both past their first chunk: each holds its snapshot.
  for (let i = 0; i < 500 && waiting < 2; i++) await sleep(10)
  t.equal(waiting, 2, 'two full lists hold their snapshots')

  const refused = await request('GET', url, { expectServerError: true })
  t.equal(refused.status, 503)
  t.equal(refused.body.type, 'urn:trackbot:problem:service-unavailable')
  t.ok(Number(refused.headers['retry-after']) >= 1, 'with Retry-After')
  t.equal((await request('GET', `${API}/users/${userId}`)).status, 200, 'other requests are served')
  t.equal((await request('GET', `${url}?limit=5`)).status, 200, 'and pages, which need no snapshot')

  // One waiting its turn gets the first place freed.
  const third = request('GET', url)
  await sleep(50)
  open()
  for (const list of await Promise.all([...held, third])) t.same(list.body, whole, 'the held lists complete, whole, and the one in line after them')
  gate = Promise.resolve()
  t.same((await request('GET', url)).body, whole, 'their places are free again')
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
  const { app, request, databaseUrl } = await startApp(t, undefined, NO_SHEDDING)
  const userId = (await post(request, '/users', { name: 'Ada' })).body.id
  await seedConversations(databaseUrl, userId, 5000)
  const origin = await app.listen({ port: 0, host: '127.0.0.1' })

  let listing = true
  const health: number[] = []
  const probe = (async () => {
    while (listing) {
      const started = performance.now()
      const reply = await fetch(`${origin}/healthz`)
      await reply.text()
      health.push(performance.now() - started)
      await sleep(10)
    }
  })()
  const lists = await Promise.all(Array.from({ length: 8 }, async () => {
    const reply = await fetch(`${origin}${API}/users/${userId}/conversations`)
    return { status: reply.status, count: (JSON.parse(await reply.text()) as unknown[]).length }
  }))
  listing = false
  await probe
  t.same(lists, Array(8).fill({ status: 200, count: 5000 }), 'every list whole')
  t.ok(health.length >= 2, `/healthz answered during the lists (${health.length} times)`)
  t.ok(Math.max(...health) < 5000, `no /healthz waited for the lists (slowest ${Math.round(Math.max(...health))} ms)`)
})

/** A server whose app log we read, and a full list of `count` conversations on it. */
async function listedServer (t: Test, listChunks: AppOptions['listChunks']) {
  const lines: any[] = []
  const stream = { write: (line: string) => { lines.push(JSON.parse(line)) } }
  const { app, request, databaseUrl } = await startApp(t, undefined, { ...NO_SHEDDING, listChunks, logger: { level: 'info', stream } })
  const userId = await userWithConversations(request, 12)
  const origin = await app.listen({ port: 0, host: '127.0.0.1' })
  return { origin, userId, request, lines, databaseUrl }
}

/**
 * Whether a read snapshot is open on the database: on PostgreSQL a transaction idle between two chunks; on
 * SQLite a reader that keeps the WAL from being reset (a checkpoint that must not wait for it is busy).
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
  // The snapshot's time bound runs out between the first chunk and the second: that read fails.
  const { origin, userId, request, lines } = await listedServer(t, { size: 5, snapshotMs: 300, betweenChunks: () => sleep(600) })
  const reply = await fetch(`${origin}${API}/users/${userId}/conversations`, { headers: { 'x-request-id': 'cut-off-list' } })
  t.equal(reply.status, 200, 'the status was sent with the first chunk')
  await t.rejects(reply.text(), 'the body never completes: the connection is destroyed, no valid-looking array')
  const logged = lines.find((line) => line.reqId === 'cut-off-list' && line.level === 50 && /cut off/.test(line.msg))
  t.ok(logged, 'logged as an error with the request id')
  t.match(logged?.err?.message, /expired transaction/, 'with the cause')
  t.equal((await request('GET', `${API}/users/${userId}/conversations?limit=5`)).status, 200, 'the server goes on')
})

t.test('a read connection killed mid-list cuts the response off', { skip: store === 'postgres' ? false : 'PostgreSQL: a backend to terminate' }, async (t) => {
  let kill = async () => {}
  const { origin, userId, lines } = await listedServer(t, { size: 5, betweenChunks: () => kill() })
  kill = async () => {
    await runSql(TEST_DATABASE_URL, `
      SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE '%FROM "Conversation"%'`)
  }
  const reply = await fetch(`${origin}${API}/users/${userId}/conversations`, { headers: { 'x-request-id': 'killed-list' } })
  t.equal(reply.status, 200)
  await t.rejects(reply.text(), 'cut off')
  t.ok(lines.some((line) => line.reqId === 'killed-list' && line.level === 50), 'logged as an error with the request id')
})

t.test('a client that goes away mid-list ends the snapshot at once', async (t) => {
  let gone: () => void = () => {}
  const abandoned = new Promise<void>((resolve) => { gone = resolve })
  let heldBetween: boolean | undefined
  const { origin, userId, lines, request, databaseUrl } = await listedServer(t, {
    size: 5,
    betweenChunks: async () => {
      if (heldBetween !== undefined) return
      // A write after the snapshot began, which the snapshot keeps in the WAL (SQLite).
      await post(request, `/users/${userId}/conversations`, {})
      heldBetween = await snapshotHeld(databaseUrl)
      gone()
      await sleep(200)
    },
  })
  // node:http rather than fetch, whose pool opens a fresh connection after an abort that would hold up closing the app.
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const client = get(`${origin}${API}/users/${userId}/conversations`, { headers: { 'x-request-id': 'abandoned-list' } }, (response) => {
      void abandoned.then(() => {
        client.destroy()
        resolve(response.statusCode)
      })
    }).on('error', (error) => { if (!client.destroyed) reject(error) })
  })
  t.equal(status, 200)
  t.equal(heldBetween, true, 'the snapshot is seen while the list is read')
  let held = true
  for (let waited = 0; waited < 5000 && held; waited += 20) {
    await sleep(20)
    held = await snapshotHeld(databaseUrl)
  }
  t.equal(held, false, 'and is gone once the client is')
  t.ok(lines.some((line) => line.reqId === 'abandoned-list' && line.level === 30 && /abandoned/.test(line.msg)), 'logged as the client leaving, not as an error')
  t.notOk(lines.some((line) => line.reqId === 'abandoned-list' && line.level >= 50), 'no error')
  t.equal((await request('GET', `${API}/users/${userId}/conversations`)).body.length, 13, 'the next list is served whole')
})
