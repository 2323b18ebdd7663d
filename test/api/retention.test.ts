// Retention through the API on both stores: expiresAt set at create and by update_conversation (never in the past), a
// fork keeping its source's; an expired conversation gone for every operation at once, in v1 as in v2; RETENTION_DAYS
// expiring conversations without activity; the sweeper deleting expired rows for real, in steps, once each when
// several instances sweep one database.
import t from 'tap'
import { API, API_V2, runSql, startApp, store, storeContents, tableRows, until, v2Fixtures, type InProcessApp } from '../helper.js'

const DAY_MS = 24 * 60 * 60 * 1000
// A write refused by the database may draw an id from a PostgreSQL sequence, which no rollback returns.
const unchangedRows = store === 'sqlite' ? storeContents : tableRows
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString()

/** The rows of a table holding `ids`, as stored. */
async function rowsOf (databaseUrl: string, table: 'Conversation' | 'Message', column: 'id' | 'conversationId', ids: number[]): Promise<number> {
  const [row] = await runSql(databaseUrl, `SELECT COUNT(*) AS n FROM "${table}" WHERE "${column}" IN (${ids.join(', ')})`) as Array<{ n: unknown }>
  return Number(row!.n)
}

/** Moves conversations' last activity `days` back, as if nothing had happened in them since: at once, in one statement. */
async function age (databaseUrl: string, ids: number[], days: number): Promise<void> {
  const then = new Date(Date.now() - days * DAY_MS).toISOString()
  // How each store keeps a DateTime: SQLite as ISO text with an offset (src/store/sqlite-adapter.ts), PostgreSQL as timestamp(3).
  const value = store === 'sqlite' ? `'${then.replace('Z', '+00:00')}'` : `'${then.replace('T', ' ').replace('Z', '')}'`
  await runSql(databaseUrl, `UPDATE "Conversation" SET "updatedAt" = ${value} WHERE id IN (${ids.join(', ')})`)
}

t.test('expiresAt is set at create, replaced and cleared by update, never in the past; a fork keeps its source\'s', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const user = await app.createUser()
  const later = inFuture(30 * DAY_MS)
  const created = await request('POST', `${API_V2}/users/${user.id}/conversations`, { body: { title: 'temporary', expiresAt: later } })
  t.equal(created.status, 201)
  t.equal(created.body.expiresAt, later)
  t.equal((await request('GET', `${API_V2}/conversations/${created.body.id}`)).body.expiresAt, later)
  t.notOk('expiresAt' in (await request('GET', `${API}/conversations/${created.body.id}`)).body, 'v1 shows no expiresAt')
  t.equal((await request('POST', `${API_V2}/users/${user.id}/conversations`, { body: {} })).body.expiresAt, null, 'null when not given')

  const evenLater = inFuture(60 * DAY_MS)
  t.equal((await request('PATCH', `${API_V2}/conversations/${created.body.id}`, { body: { expiresAt: evenLater } })).body.expiresAt, evenLater)
  t.equal((await request('PATCH', `${API_V2}/conversations/${created.body.id}`, { body: { title: 'kept' } })).body.expiresAt, evenLater, 'left out: untouched')
  const fork = await request('POST', `${API_V2}/conversations/${created.body.id}/fork`, { body: {} })
  t.equal(fork.body.expiresAt, evenLater, 'a fork expires with its source')
  t.equal((await request('PATCH', `${API_V2}/conversations/${created.body.id}`, { body: { expiresAt: null } })).body.expiresAt, null, 'null: never')

  const before = await storeContents(app.databaseUrl)
  for (const past of ['2020-01-01T00:00:00.000Z', new Date(Date.now() - 1000).toISOString()]) {
    for (const [method, url] of [['POST', `${API_V2}/users/${user.id}/conversations`], ['PATCH', `${API_V2}/conversations/${created.body.id}`]] as const) {
      const refused = await request(method, url, { body: { title: 'x', expiresAt: past } })
      t.equal(refused.status, 400, `${method} ${past}`)
      t.same(refused.body.errors, [{ in: 'body', pointer: '/expiresAt', detail: 'must be in the future' }])
    }
  }
  t.equal(await storeContents(app.databaseUrl), before, 'a refused expiry stores nothing')
})

t.test('an expired conversation is gone for every operation at once, in v1 and v2', async (t) => {
  const app = await startApp(t, { retentionSweepIntervalMs: DAY_MS })
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const kept = await v2.createConversation(user.id, { title: 'kept', messages: [{ role: 'user', content: 'albatross kept' }] })
  // It expires a little after the create: the create must be in time, then the test waits it out.
  const expiresAt = inFuture(2000)
  const brief = await v2.createConversation(user.id, { title: 'albatross brief', expiresAt, messages: [{ role: 'user', content: 'albatross once' }, { role: 'assistant', content: 'noted' }] })
  const message = brief.messages[0]!.id
  const conversationOps = (id: number) => [
    ['GET', `${API}/conversations/${id}`], ['GET', `${API_V2}/conversations/${id}`],
    ['GET', `${API}/conversations/${id}/messages`], ['GET', `${API_V2}/conversations/${id}/messages`],
    ['GET', `${API_V2}/conversations/${id}/messages?limit=1`],
    ['GET', `${API_V2}/conversations/${id}/messages/${message}`],
  ] as const
  for (const [method, url] of conversationOps(brief.id)) t.equal((await request(method, url)).status, 200, `before: ${method} ${url}`)
  const search = async () => (await request('GET', `${API_V2}/users/${user.id}/search?q=albatross`)).body.map((hit: any) => hit.conversationId)
  t.same(new Set(await search()), new Set([kept.id, brief.id]), 'before: both found')

  await until('the expiry to pass', () => Date.now() > Date.parse(expiresAt) + 50)
  for (const [method, url] of conversationOps(brief.id)) t.equal((await request(method, url)).status, 404, `after: ${method} ${url}`)
  const writes = [
    ['PATCH', `${API_V2}/conversations/${brief.id}`, { title: 'x' }],
    ['POST', `${API_V2}/conversations/${brief.id}/messages`, { role: 'user', content: 'x' }],
    ['POST', `${API}/conversations/${brief.id}/messages`, { role: 'user', content: 'x' }],
    ['POST', `${API_V2}/conversations/${brief.id}/messages/batch`, { messages: [{ role: 'user', content: 'x' }] }],
    ['POST', `${API_V2}/conversations/${brief.id}/fork`, {}],
    ['DELETE', `${API_V2}/conversations/${brief.id}/messages/${message}`, undefined],
    ['DELETE', `${API}/conversations/${brief.id}`, undefined],
  ] as const
  const stored = await unchangedRows(app.databaseUrl)
  for (const [method, url, body] of writes) t.equal((await request(method, url, { body })).status, 404, `after: ${method} ${url}`)
  t.equal(await unchangedRows(app.databaseUrl), stored, 'no write reached it')
  for (const base of [API, API_V2]) {
    t.same((await request('GET', `${base}/users/${user.id}/conversations`)).body.map((c: any) => c.id), [kept.id], `${base}: not listed`)
    t.same((await request('GET', `${base}/users/${user.id}/conversations?limit=10`)).body.map((c: any) => c.id), [kept.id], `${base}: not on a page`)
  }
  t.same(await search(), [kept.id], 'not searched')
  const exported = (await request('GET', `${API_V2}/users/${user.id}/export`)).text.trim().split('\n').map((line) => JSON.parse(line).id)
  t.same(exported, [kept.id], 'not exported')
  t.equal(await rowsOf(app.databaseUrl, 'Message', 'conversationId', [brief.id]), 2, 'its rows wait for the sweeper')
})

t.test('RETENTION_DAYS expires conversations without activity for that long; the sweeper deletes them and says so', async (t) => {
  const app = await startApp(t, { retentionDays: 7, retentionSweepIntervalMs: 50, logLevel: 'info' })
  const { request, databaseUrl } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const idle = await v2.createConversation(user.id, { title: 'idle', messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] })
  const busy = await v2.createConversation(user.id, { title: 'busy', messages: [{ role: 'user', content: 'c' }] })
  const recent = await v2.createConversation(user.id, { title: 'recent' })
  await age(databaseUrl, [recent.id], 6)
  await age(databaseUrl, [idle.id, busy.id], 8)
  // A post is activity: it moves updatedAt, and so the conversation's expiry.
  t.equal((await request('POST', `${API_V2}/conversations/${busy.id}/messages`, { body: { role: 'user', content: 'still here' } })).status, 404, 'idle for 8 days: already gone')
  t.equal((await request('GET', `${API_V2}/conversations/${idle.id}`)).status, 404)
  t.equal((await request('GET', `${API_V2}/conversations/${recent.id}`)).status, 200, '6 days: still here')

  const line = await app.log.waitFor(/^retention: deleted 2 expired conversations/)
  t.match(line.msg, new RegExp(`\\((${idle.id}, ${busy.id}|${busy.id}, ${idle.id})\\) and 3 of their messages`))
  t.equal(await rowsOf(databaseUrl, 'Conversation', 'id', [idle.id, busy.id]), 0, 'deleted for real')
  t.equal(await rowsOf(databaseUrl, 'Message', 'conversationId', [idle.id, busy.id]), 0, 'with their messages')
  t.equal(await rowsOf(databaseUrl, 'Conversation', 'id', [recent.id]), 1, 'the recent one kept')
})

t.test('two instances sweeping one database delete every expired row once, in steps, and nothing else', async (t) => {
  // Seeded by an instance with no retention; then two with RETENTION_DAYS=1 start at once, each sweeping as it starts.
  const seeder = await startApp(t)
  const { databaseUrl } = seeder
  const v2 = v2Fixtures(seeder.request)
  const user = await seeder.createUser()
  // Three conversations of 1,200 messages (more than one step's) and 150 empty ones (more than one step's), all idle
  // for two days; and one live conversation.
  const expired: number[] = []
  for (let i = 0; i < 153; i++) expired.push((await seeder.createConversation(user.id, { title: `old ${i}` })).id)
  for (const id of expired.slice(0, 3)) {
    for (let batch = 0; batch < 12; batch++) await v2.postMessages(id, Array.from({ length: 100 }, (_, i) => ({ role: 'user' as const, content: `m${batch}.${i}` })))
  }
  await age(databaseUrl, expired, 2)
  const live = await seeder.createConversation(user.id, { title: 'live', messages: [{ role: 'user', content: 'here' }] })
  await seeder.app.close()

  const instances = await Promise.all([0, 1].map(() => startApp(t, { databaseUrl, retentionDays: 1, retentionSweepIntervalMs: DAY_MS, logLevel: 'info' })))
  const deleted = (app: InProcessApp) => app.log.lines.filter((line) => /^retention: deleted/.test(String(line.msg)))
  await until('every expired conversation deleted', async () => await rowsOf(databaseUrl, 'Conversation', 'id', expired) === 0)
  // Closing waits for a sweep under way, so every line is logged.
  await Promise.all(instances.map((app) => app.app.close()))
  const lines = instances.flatMap(deleted)
  const ids = lines.flatMap((line) => /\(([\d, ]*)\)/.exec(line.msg)![1]!.split(', ').filter((id) => id !== '').map(Number))
  t.same([...ids].sort((a, b) => a - b), [...expired].sort((a, b) => a - b), 'each expired conversation deleted once, by one instance')
  const messages = lines.map((line) => Number(/and (\d+) of their messages/.exec(line.msg)![1]))
  t.equal(messages.reduce((sum, n) => sum + n, 0), 3 * 1200, 'each message once')
  t.equal(await rowsOf(databaseUrl, 'Message', 'conversationId', expired), 0)
  t.equal(await rowsOf(databaseUrl, 'Message', 'conversationId', [live.id]), 1, 'the live conversation untouched')
})

t.test('npm start takes RETENTION_DAYS from the environment', async (t) => {
  const seeder = await startApp(t)
  const user = await seeder.createUser()
  const idle = await seeder.createConversation(user.id, { title: 'idle', messages: [{ role: 'user', content: 'a' }] })
  await age(seeder.databaseUrl, [idle.id], 3)
  await seeder.app.close()
  const server = await startApp(t, { transport: 'process', databaseUrl: seeder.databaseUrl, env: { RETENTION_DAYS: '2' } })
  await server.log.waitFor(new RegExp(`^retention: deleted 1 expired conversations \\(${idle.id}\\) and 1 of their messages`))
  t.equal((await server.request('GET', `${API}/conversations/${idle.id}`)).status, 404)
})
