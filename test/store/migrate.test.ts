// Migrations as the server and `npm run db:migrate` apply them: each once, recorded as Prisma records them, one
// at a time across processes, on an empty database each.
import pg from 'pg'
import t from 'tap'
import { migrateDatabase } from '../../src/store/database.js'
import { migrationsDir, readMigrations } from '../../src/store/migrate/index.js'
import { migratePostgres, PRISMA_MIGRATE_LOCK } from '../../src/store/migrate/postgres.js'
import { migrateSqlite } from '../../src/store/migrate/sqlite.js'
import { sqliteFile } from '../../src/store/database-url.js'
import { API, API_V2, runScript, runSql, startApp, store, testDatabaseUrl, until, v2Fixtures } from '../helper.js'

const quiet = { info: () => {}, warn: () => {} }
const migrations = readMigrations(migrationsDir(store))

async function history (databaseUrl: string): Promise<any[]> {
  return await runSql(databaseUrl, 'SELECT * FROM _prisma_migrations ORDER BY migration_name') as any[]
}

t.test('migrations apply once, are recorded as Prisma records them, and a second run is a no-op', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  t.ok(migrations.length > 0)
  t.same(await migrateDatabase(databaseUrl, quiet), migrations.map((m) => m.name))
  t.same(await migrateDatabase(databaseUrl, quiet), [])

  const rows = await history(databaseUrl)
  t.equal(rows.length, migrations.length)
  for (const [i, row] of rows.entries()) {
    t.equal(row.migration_name, migrations[i]!.name)
    t.match(row.checksum, /^[0-9a-f]{64}$/)
    t.equal(row.checksum, migrations[i]!.checksum)
    t.ok(row.finished_at)
    t.equal(row.applied_steps_count, 1)
    t.equal(row.rolled_back_at, null)
  }
  if (store === 'sqlite') t.same(await runSql(databaseUrl, 'PRAGMA journal_mode'), [{ journal_mode: 'wal' }])
  for (const table of ['User', 'Conversation', 'Message']) t.same(await runSql(databaseUrl, `SELECT COUNT(*) AS n FROM "${table}"`), [{ n: store === 'sqlite' ? 0 : '0' }])
})

t.test('a failed migration is recorded with its log and stops the start', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  // A table in the way makes the first migration fail.
  await runSql(databaseUrl, 'CREATE TABLE "User" (x INTEGER)')
  await t.rejects(migrateDatabase(databaseUrl, quiet), /failed/)
  const [row] = await history(databaseUrl)
  t.match(row.logs, /User/)
  t.equal(row.finished_at, null)
  await t.rejects(migrateDatabase(databaseUrl, quiet), /failed earlier|never finished/)
})

t.test('five processes migrating one empty database at once end with one history and no error', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const results = await Promise.all(Array.from({ length: 5 }, () => runScript('db-migrate', [], { DATABASE_URL: databaseUrl })))
  for (const { code, output } of results) t.equal(code, 0, output)
  // On SQLite each migration is claimed on its own, so two processes may share the work (in order);
  // on PostgreSQL one holds the lock for all. Either way each migration is applied by exactly one.
  const appliedBy = migrations.map((m) => results.filter(({ output }) => output.includes(`applied migration ${m.name}`)).length)
  t.same(appliedBy, migrations.map(() => 1), 'each migration applied by exactly one process')
  const rows = await history(databaseUrl)
  t.same(rows.map((row) => row.migration_name), migrations.map((m) => m.name))
  t.ok(rows.every((row) => row.finished_at !== null))
})

t.test('PostgreSQL: a process waiting for another\'s migration lock says so, then migrates', { skip: store !== 'postgres' && 'PostgreSQL only' }, async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const holder = new pg.Client({ connectionString: databaseUrl })
  await holder.connect()
  let released = false
  const release = async () => {
    if (!released) await holder.end()
    released = true
  }
  t.teardown(release)
  await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK])
  const warnings: string[] = []
  let ended: string | undefined
  const migrating = migratePostgres(databaseUrl, migrations, { info: () => {}, warn: (message) => warnings.push(message) }, 100)
  migrating.then(() => { ended = 'the migration ended' }, (error: unknown) => { ended = `the migration failed (${String(error)})` })
  const warning = await until('a warning that it waits for the lock', () => {
    if (ended !== undefined) throw new Error(`${ended} while another session held the lock, without a warning`)
    return warnings[0]
  }, { cause: () => 'no warning yet' })
  t.match(warning, /waiting for another process's migrations \(advisory lock \d+ held\)/, 'it says why it waits')
  t.equal(ended, undefined, 'and goes on waiting while the lock is held')
  t.same(await runSql(databaseUrl, 'SELECT to_regclass(\'_prisma_migrations\') AS history'), [{ history: null }], 'and touches nothing meanwhile')
  await release()
  t.same(await migrating, migrations.map((m) => m.name), 'the lock released, it migrates')
})

t.test('rich_messages: rows written before it read through v2 as one text part each, with their conversation\'s lastMessageAt', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const rich = migrations.findIndex((m) => m.name.endsWith('_rich_messages'))
  t.ok(rich > 0, 'a rich_messages migration, after others')
  const before = migrations.slice(0, rich)
  t.same(store === 'postgres' ? await migratePostgres(databaseUrl, before, quiet) : await migrateSqlite(sqliteFile(databaseUrl), before, quiet), before.map((m) => m.name))

  // Rows as the server wrote them then: SQLite's timestamps as Prisma writes them, ISO text with +00:00.
  const time = (iso: string) => `'${store === 'sqlite' ? iso.replace('Z', '+00:00') : iso}'`
  const text = (value: string) => `'${value.replaceAll("'", "''")}'`
  const rows: Array<{ conversation: string, role: string, content: string, createdAt: string }> = [
    { conversation: 'Old', role: 'system', content: 'You are a guide.', createdAt: '2026-11-24T10:00:00.000Z' },
    // Newest by time, though not by id: lastMessageAt is the newest createdAt.
    { conversation: 'Old', role: 'user', content: 'line one\nline two "quoted" \\ back \u2028 é 🙂 \'single\'', createdAt: '2026-11-24T10:02:00.456Z' },
    { conversation: 'Old', role: 'assistant', content: 'x'.repeat(32768), createdAt: '2026-11-24T10:01:00.123Z' },
    { conversation: 'Other', role: 'user', content: '{"looks":"like json"}', createdAt: '2026-11-25T09:00:00.001Z' },
  ]
  await runSql(databaseUrl, `INSERT INTO "User" (name, email, "createdAt") VALUES ('Ada', 'ada@example.com', ${time('2026-11-24T09:00:00.000Z')})`)
  await runSql(databaseUrl, `INSERT INTO "User" (name, "createdAt") VALUES ('Grace', ${time('2026-11-24T09:00:00.000Z')})`)
  const conversations = [
    { title: 'Old', userId: 1, metadata: '{"model":"gpt-4","b":"2"}', count: 3, createdAt: '2026-11-24T09:30:00.000Z', updatedAt: '2026-11-24T10:05:00.000Z', version: 5 },
    { title: 'Empty', userId: 1, metadata: '{}', count: 0, createdAt: '2026-11-24T09:40:00.000Z', updatedAt: '2026-11-24T09:40:00.000Z', version: 1 },
    { title: 'Other', userId: 2, metadata: '{}', count: 1, createdAt: '2026-11-25T08:00:00.000Z', updatedAt: '2026-11-25T09:00:00.001Z', version: 2 },
  ]
  for (const c of conversations) {
    await runSql(databaseUrl, `INSERT INTO "Conversation" ("userId", title, metadata, "messageCount", "createdAt", "updatedAt", version)
      VALUES (${c.userId}, ${text(c.title)}, '${c.metadata}', ${c.count}, ${time(c.createdAt)}, ${time(c.updatedAt)}, ${c.version})`)
  }
  const conversationId = (title: string) => conversations.findIndex((c) => c.title === title) + 1
  for (const row of rows) {
    await runSql(databaseUrl, `INSERT INTO "Message" ("conversationId", role, content, "createdAt")
      VALUES (${conversationId(row.conversation)}, ${text(row.role)}, ${text(row.content)}, ${time(row.createdAt)})`)
  }

  t.same(await migrateDatabase(databaseUrl, quiet), migrations.slice(rich).map((m) => m.name), 'the rest applied over the rows')
  const app = await startApp(t, { databaseUrl })

  const v2Messages = [
    ...(await app.request('GET', `${API_V2}/conversations/1/messages`)).body,
    ...(await app.request('GET', `${API_V2}/conversations/3/messages`)).body,
  ]
  t.strictSame(v2Messages, rows.map((row, i) => ({
    id: i + 1,
    conversationId: conversationId(row.conversation),
    role: row.role,
    content: row.content,
    parts: [{ type: 'text', text: row.content }],
    model: null,
    usage: null,
    metadata: {},
    createdAt: row.createdAt,
  })), 'each message one text part of its content exactly, model and usage null, metadata {}')
  for (const message of v2Messages) t.strictSame((await app.request('GET', `${API_V2}/conversations/${message.conversationId}/messages/${message.id}`)).body, message)
  t.strictSame((await app.request('GET', `${API}/conversations/1/messages`)).body,
    v2Messages.slice(0, 3).map(({ id, conversationId, role, content, createdAt }) => ({ id, conversationId, role, content, createdAt })), 'v1 reads them as before')

  const lastMessageAt = ['2026-11-24T10:02:00.456Z', null, '2026-11-25T09:00:00.001Z']
  for (const [i, c] of conversations.entries()) {
    const read = (await app.request('GET', `${API_V2}/conversations/${i + 1}`)).body
    t.strictSame(read, {
      id: i + 1,
      userId: c.userId,
      title: c.title,
      metadata: JSON.parse(c.metadata),
      messageCount: c.count,
      usage: { inputTokens: 0, outputTokens: 0 },
      lastMessageAt: lastMessageAt[i],
      forkedFrom: null,
      expiresAt: null,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
    }, `${c.title}: usage zeros, lastMessageAt its newest message's createdAt`)
  }

  // The migrated rows take part in v2's writes as any other: a result may answer no migrated call (they hold
  // none), usage adds up from zero, and deleting the newest migrated message moves lastMessageAt back.
  const v2 = v2Fixtures(app.request)
  const orphan = await app.request('POST', `${API_V2}/conversations/1/messages`, { body: { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'x', output: 'o' }] } })
  t.equal(orphan.status, 400)
  t.equal((await app.request('DELETE', `${API_V2}/conversations/1/messages/2`)).status, 204)
  t.match((await app.request('GET', `${API_V2}/conversations/1`)).body, { messageCount: 2, usage: { inputTokens: 0, outputTokens: 0 }, lastMessageAt: '2026-11-24T10:01:00.123Z' })
  const [, answer] = await v2.postMessages(1, [
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: {} }], usage: { inputTokens: 3, outputTokens: 4 } },
    { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'c1', output: 'o' }] },
  ])
  t.match((await app.request('GET', `${API_V2}/conversations/1`)).body, { messageCount: 4, usage: { inputTokens: 3, outputTokens: 4 }, lastMessageAt: answer!.createdAt })
})

t.test('search: rows stored before it are indexed after it, in batches, and found like rows written since', async (t) => {
  const databaseUrl = await testDatabaseUrl(t, { migrated: false })
  const search = migrations.findIndex((m) => m.name.endsWith('_search'))
  t.ok(search > 0, 'a search migration, after others')
  const before = migrations.slice(0, search)
  await (store === 'postgres' ? migratePostgres(databaseUrl, before, quiet) : migrateSqlite(sqliteFile(databaseUrl), before, quiet))

  const json = (value: unknown) => `'${JSON.stringify(value).replaceAll("'", "''")}'`
  // Timestamps as the server writes them (SQLite: ISO text with +00:00), not the columns' SQL defaults.
  const now = `'${store === 'sqlite' ? '2026-11-24T10:00:00.000+00:00' : '2026-11-24T10:00:00.000Z'}'`
  await runSql(databaseUrl, 'INSERT INTO "User" (name) VALUES (\'Ada\')')
  await runSql(databaseUrl, 'INSERT INTO "User" (name) VALUES (\'Grace\')')
  for (const [userId, title] of [[1, 'Lisbon trip'], [1, null], [2, 'Porto trip']] as const) {
    await runSql(databaseUrl, `INSERT INTO "Conversation" ("userId", title, metadata, "createdAt", "updatedAt") VALUES (${userId}, ${title === null ? 'NULL' : `'${title}'`}, '{}', ${now}, ${now})`)
  }
  const parts = [
    [{ type: 'text', text: 'tram 28 to the castle' }],
    [{ type: 'reasoning', text: 'the weather decides' }, { type: 'tool_call', id: 'c', name: 'weather', arguments: { city: 'zanzibar' } }],
    [{ type: 'tool_result', toolCallId: 'c', output: 'sunny' }],
    [{ type: 'image', url: 'https://example.com/tram.png' }],
    [{ type: 'text', text: 'deleted tram' }],
    [{ type: 'text', text: 'tram in Porto' }],
  ]
  for (const [i, message] of parts.entries()) {
    await runSql(databaseUrl, `INSERT INTO "Message" ("conversationId", role, content, parts, "createdAt") VALUES (${i === 5 ? 3 : 1 + (i % 2)}, 'user', '', ${json(message)}, ${now})`)
  }
  // A gap in the ids, as deletes leave.
  await runSql(databaseUrl, 'DELETE FROM "Message" WHERE id = 5')

  const infos: string[] = []
  const log = { info: (line: string) => infos.push(line), warn: () => {} }
  const rest = migrations.slice(search)
  // Batches of two ids: several for the six messages and three titles.
  t.same(store === 'postgres' ? await migratePostgres(databaseUrl, rest, log, undefined, 2) : await migrateSqlite(sqliteFile(databaseUrl), rest, log, 2), rest.map((m) => m.name))
  t.same(infos.filter((line) => line.startsWith('backfill')), ['backfill search index: conversation titles done', 'backfill search index: messages done'])
  t.strictSame(await runSql(databaseUrl, 'SELECT * FROM "Backfill"'), [], 'no work left')
  t.same(await migrateDatabase(databaseUrl, quiet), [], 'a second start has nothing to do')

  const app = await startApp(t, { databaseUrl })
  const hits = async (userId: number, q: string) => ((await app.request('GET', `${API_V2}/users/${userId}/search?q=${encodeURIComponent(q)}`)).body as Array<{ conversationId: number, messageId: number | null }>)
    .map((hit) => `${hit.conversationId}/${hit.messageId}`).sort()
  t.strictSame(await hits(1, 'tram'), ['1/1'], "a text part; not an image's URL, nor a deleted message, nor another user's")
  t.strictSame(await hits(1, 'weather'), ['2/2'], 'reasoning')
  t.strictSame(await hits(1, 'zanzibar'), [], "not a tool call's arguments")
  t.strictSame(await hits(1, 'sunny'), ['1/3'], "a tool's output")
  t.strictSame(await hits(1, 'trip'), ['1/null'], 'a title')
  t.strictSame(await hits(2, 'trip'), ['3/null'], "the other user's title")
  t.strictSame(await hits(2, 'porto'), ['3/6', '3/null'])
  // Written since: found alike, by the triggers.
  const posted = await v2Fixtures(app.request).postMessage(1, { role: 'user', content: 'another tram' })
  t.strictSame(await hits(1, 'tram'), ['1/1', `1/${posted.id}`])
})
