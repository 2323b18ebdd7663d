// `npm run db:copy`: an SQLite deployment moved to PostgreSQL (and back) answers every read the same, and every
// retry with an Idempotency-Key kept gets its first answer; a copy that fails part-way leaves its target as it was.
// It needs both stores, so it runs on the PostgreSQL pass.
// stores: postgres
import { join } from 'node:path'
import t from 'tap'
import type { Provider } from '../../src/store/migrate/index.js'
import { API, API_V2, runScript, runSql, startApp, storeContents, tempDir, testDatabaseUrl, v2Fixtures, type Fixtures, type Reply, type TestApp, type V2NewMessage } from '../helper.js'

t.test('copies users, conversations and messages with their ids, timestamps and order', async (t) => {
  const sqliteUrl = await testDatabaseUrl(t, { provider: 'sqlite' })
  const source = await startApp(t, { databaseUrl: sqliteUrl })
  const ids = await fill(source)
  // Two keyed creates, one applied and one refused (its 409 kept for the key): a retry after the move must
  // get each first answer again. Metadata keys out of order: PostgreSQL's jsonb would sort them.
  const keyed = [
    { url: `${API}/users/${ids.users[0]}/conversations`, body: { title: 'Keyed', metadata: { zeta: '1', a: '2' }, messages: [{ role: 'user', content: 'once' }] }, key: 'move-1' },
    { url: `${API}/users`, body: { name: 'Twin', email: 'ada@example.com' }, key: 'move-2' },
  ]
  const send = (request: TestApp['request'], { url, body, key }: typeof keyed[number]) => request('POST', url, { body, headers: { 'idempotency-key': key } })
  const firsts: Reply[] = []
  for (const create of keyed) firsts.push(await send(source.request, create))
  t.same(firsts.map((reply) => reply.status), [201, 409])
  const before = await readEverything(source.request, ids.users)
  await source.app.close()
  const replaysOn = async (request: TestApp['request'], where: string) => {
    for (const [i, create] of keyed.entries()) {
      const replay = await send(request, create)
      t.same({ status: replay.status, text: replay.text }, { status: firsts[i]!.status, text: firsts[i]!.text }, `${where}: ${create.key} replays its first answer`)
      t.equal(replay.headers['idempotent-replayed'], 'true')
    }
  }

  const postgresUrl = await testDatabaseUrl(t, { provider: 'postgres' })
  const copy = await dbCopy('--from', sqliteUrl, '--to', postgresUrl)
  t.equal(copy.code, 0, copy.output)
  t.match(copy.output, /done: 3 users, 6 conversations, 12 messages, 2 idempotency keys copied and verified/)

  const target = await startApp(t, { databaseUrl: postgresUrl })
  t.same(await readEverything(target.request, ids.users), before, 'every read answers the same on the copy')
  await replaysOn(target.request, 'on PostgreSQL')
  t.same(await readEverything(target.request, ids.users), before, 'and the replays stored nothing')
  for (const id of ids.deletedConversations) {
    t.equal((await target.request('GET', `${API}/conversations/${id}`)).status, 404)
  }
  // Ids carry on past the source's counters, so a deleted id is never handed out again.
  const user = await target.request('POST', `${API}/users`, { body: { name: 'After the move' } })
  t.ok(user.body.id > ids.highestUser, `new user id ${user.body.id} > ${ids.highestUser}`)
  const conversation = await target.request('POST', `${API}/users/${user.body.id}/conversations`, {
    body: { messages: [{ role: 'user', content: 'hello' }] },
  })
  t.ok(conversation.body.id > ids.highestConversation, `new conversation id ${conversation.body.id} > ${ids.highestConversation}`)
  t.ok(conversation.body.messages[0].id > ids.highestMessage)
  t.equal((await target.request('POST', `${API}/users`, { body: { name: 'x', email: 'ada@example.com' } })).status, 409,
    'unique emails are enforced on the copy')

  // And back: PostgreSQL to a new SQLite file gives the same answers again.
  await target.app.close()
  const backUrl = await testDatabaseUrl(t, { provider: 'sqlite', migrated: false })
  const back = await dbCopy('--from', postgresUrl, '--to', backUrl)
  t.equal(back.code, 0, back.output)
  const returned = await startApp(t, { databaseUrl: backUrl })
  t.same(await readEverything(returned.request, ids.users), before)
  await replaysOn(returned.request, 'back on SQLite')
})

t.test('refuses a non-empty target unless forced, and leaves it untouched', async (t) => {
  const sqliteUrl = await testDatabaseUrl(t, { provider: 'sqlite' })
  const source = await startApp(t, { databaseUrl: sqliteUrl })
  await fill(source)
  await source.app.close()

  const postgresUrl = await testDatabaseUrl(t, { provider: 'postgres' })
  const target = await startApp(t, { databaseUrl: postgresUrl })
  await target.createUser({ name: 'Already here' })
  await target.app.close()
  const untouched = await storeContents(postgresUrl)

  const refused = await dbCopy('--from', sqliteUrl, '--to', postgresUrl)
  t.equal(refused.code, 1)
  t.match(refused.output, /the target already holds 1 users, 0 conversations, 0 messages, 0 idempotency keys; pass --force to replace it/)
  t.equal(await storeContents(postgresUrl), untouched, 'a refused copy changes nothing')

  const forced = await dbCopy('--from', sqliteUrl, '--to', postgresUrl, '--force')
  t.equal(forced.code, 0, forced.output)
  t.match(forced.output, /done: 3 users, 5 conversations, 11 messages, 0 idempotency keys copied and verified/)
})

/** Makes `databaseUrl` refuse every insert into `table`, with an error no copy expects. */
async function refuseInserts (databaseUrl: string, provider: Provider, table: string): Promise<void> {
  if (provider === 'sqlite') {
    // A runtime error (integer overflow): SQLite's RAISE reads as a constraint failure, which a copy might expect.
    await runSql(databaseUrl, `CREATE TRIGGER refuse_inserts BEFORE INSERT ON "${table}" BEGIN SELECT abs(-9223372036854775808); END`)
    return
  }
  await runSql(databaseUrl, `
    CREATE FUNCTION refuse_inserts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
    CREATE TRIGGER refuse_inserts BEFORE INSERT ON "${table}" FOR EACH ROW EXECUTE FUNCTION refuse_inserts()`)
}

// The target is written in one transaction: the forced copy empties it, copies users, conversations and messages
// and moves their id counters before the last table's insert fails, and all of that must be undone.
for (const [from, to] of [['sqlite', 'postgres'], ['postgres', 'sqlite']] as const) {
  t.test(`a copy from ${from} that fails part-way leaves the ${to} target as it was`, async (t) => {
    const sourceUrl = await testDatabaseUrl(t, { provider: from })
    const source = await startApp(t, { databaseUrl: sourceUrl })
    const ids = await fill(source)
    // A key, so the copy has a last table to fail on after every other is written.
    const keyed = await source.request('POST', `${API}/users/${ids.users[0]}/conversations`, { body: { title: 'Keyed' }, headers: { 'idempotency-key': 'part-way' } })
    t.equal(keyed.status, 201)
    await source.app.close()

    const targetUrl = await testDatabaseUrl(t, { provider: to })
    const target = await startApp(t, { databaseUrl: targetUrl })
    const owner = await target.createUser({ name: 'Already here' })
    await target.createConversation(owner.id, { title: 'kept', messages: [{ role: 'user', content: 'kept too' }] })
    await target.app.close()
    await refuseInserts(targetUrl, to, 'IdempotencyKey')
    const untouched = await storeContents(targetUrl)

    const failed = await dbCopy('--from', sourceUrl, '--to', targetUrl, '--force')
    t.equal(failed.code, 1, failed.output)
    t.match(failed.output, to === 'sqlite' ? /integer overflow/ : /refused by the test/, 'it fails on the refused insert')
    t.match(failed.output, /replacing the target's 1 users, 1 conversations, 1 messages, 0 idempotency keys/, 'after emptying the target')
    t.match(failed.output, /Message: 11 rows/, 'and copying every table before the last')
    t.notMatch(failed.output, /done:/)
    const after = JSON.parse(await storeContents(targetUrl))
    const before = JSON.parse(untouched)
    t.same(after.rows, before.rows, 'every row of the target as it was')
    t.same(after.counters, before.counters, 'and every id counter')
  })
}

t.test('says what is wrong with its arguments', async (t) => {
  const missing = await dbCopy('--from', `file:${join(tempDir(t), 'nothing-here.db')}`, '--to', 'file:/tmp/unused.db')
  t.equal(missing.code, 1)
  t.match(missing.output, /no SQLite database at/)
  const usage = await dbCopy('--from', 'file:./a.db')
  t.equal(usage.code, 1)
  t.match(usage.output, /usage: npm run db:copy -- --from <database url> --to <database url> \[--force\]/)
})

interface Filled {
  users: number[]
  deletedConversations: number[]
  highestUser: number
  highestConversation: number
  highestMessage: number
}

/** Three users, five conversations, eleven messages, with gaps in every id sequence and at their ends. */
async function fill (app: Fixtures & Pick<TestApp, 'request'>): Promise<Filled> {
  const users = []
  for (const [name, email] of [['Ada', 'ada@example.com'], ['Gone', undefined], ['Grace', undefined], ['Linus', 'l@example.org'], ['Last', undefined]] as const) {
    users.push(await app.createUser({ name, email }))
  }
  const conversations = []
  const say = (content: string, role: 'user' | 'assistant' | 'system' = 'user') => ({ role, content })
  conversations.push(await app.createConversation(users[0]!.id, { title: 'Lisbon', metadata: { model: 'm1', 'ü/~': 'ö' }, messages: [say('hi'), say('hello', 'assistant')] }))
  conversations.push(await app.createConversation(users[0]!.id, { messages: [say('deleted soon')] }))
  conversations.push(await app.createConversation(users[1]!.id, { title: 'goes with its user', messages: [say('x')] }))
  conversations.push(await app.createConversation(users[0]!.id, {}))
  conversations.push(await app.createConversation(users[2]!.id, { title: null, messages: [say('system prompt', 'system'), say('q'), say('a', 'assistant')] }))
  conversations.push(await app.createConversation(users[3]!.id, { title: 'Rust', metadata: { lang: 'en' } }))
  conversations.push(await app.createConversation(users[3]!.id, { title: 'kernel' }))
  conversations.push(await app.createConversation(users[0]!.id, { title: 'deleted last' }))
  // Later messages move updatedAt, so the list order differs from the creation order.
  await app.postMessage(conversations[0]!.id, say('one more'))
  await app.postMessage(conversations[5]!.id, say('first'))
  await app.postMessage(conversations[5]!.id, say('second', 'assistant'))
  await app.postMessage(conversations[3]!.id, say('late'))
  await app.postMessage(conversations[6]!.id, say('k1'))
  await app.postMessage(conversations[6]!.id, say('k2'))
  const lastMessage = await app.postMessage(conversations[7]!.id, say('gone with its conversation'))

  for (const url of [`/conversations/${conversations[1]!.id}`, `/conversations/${conversations[7]!.id}`, `/users/${users[1]!.id}`, `/users/${users[4]!.id}`]) {
    const deleted = await app.request('DELETE', `${API}${url}`)
    if (deleted.status !== 204) throw new Error(`DELETE ${url} → ${deleted.status}`)
  }
  return {
    users: [users[0]!.id, users[2]!.id, users[3]!.id],
    deletedConversations: [conversations[1]!.id, conversations[2]!.id, conversations[7]!.id],
    highestUser: users[4]!.id,
    highestConversation: conversations[7]!.id,
    highestMessage: lastMessage.id,
  }
}

/** Everything a client can read: each user, their conversations and each conversation's messages. */
async function readEverything (request: TestApp['request'], users: number[]): Promise<unknown[]> {
  const seen: unknown[] = []
  for (const userId of users) {
    seen.push((await request('GET', `${API}/users/${userId}`)).body)
    const conversations = (await request('GET', `${API}/users/${userId}/conversations`)).body
    seen.push(conversations)
    for (const conversation of conversations) {
      seen.push((await request('GET', `${API}/conversations/${conversation.id}`)).body)
      seen.push((await request('GET', `${API}/conversations/${conversation.id}/messages`)).body)
    }
  }
  return seen
}

function dbCopy (...args: string[]) {
  return runScript('db-copy', args)
}

t.test('copies v2\'s data exactly: parts, model, usage, metadata, lastMessageAt, conversation usage and forkedFrom, there and back', async (t) => {
  const sqliteUrl = await testDatabaseUrl(t, { provider: 'sqlite' })
  const source = await startApp(t, { databaseUrl: sqliteUrl })
  const v2 = v2Fixtures(source.request)
  const ada = await source.createUser({ name: 'Ada' })
  const grace = await source.createUser({ name: 'Grace' })
  const loop: V2NewMessage[] = [
    { role: 'developer', content: 'Be brief.', metadata: { zeta: 'last', a: 'first' } },
    { role: 'user', parts: [{ type: 'text', text: 'Where is this?' }, { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=', mediaType: 'image/png' }, { type: 'file', url: 'https://example.com/a.pdf', name: 'a.pdf' }] },
    {
      role: 'assistant',
      parts: [{ type: 'reasoning', text: 'Look it up.' }, { type: 'tool_call', id: 'call_1', name: 'geo', arguments: { zz: 1, a: [1.5, -2, null, true, { 'ü/~': 'é🙂' }], nested: { deep: { deeper: [] } }, big: 2147483648 } }],
      model: 'gpt-4o',
      usage: { inputTokens: 2147483647, outputTokens: 12 },
      metadata: { trace: 't1' },
    },
    { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: '{"place":"Lisbon"}', isError: false }] },
    { role: 'assistant', parts: [{ type: 'refusal', text: 'No bookings.' }, { type: 'text', text: 'It is Lisbon.' }, { type: 'text', text: 'Enjoy!' }], model: 'gpt-4o-mini', usage: { inputTokens: 30, outputTokens: 0 } },
  ]
  const full = await v2.createConversation(ada.id, { title: 'Loop', metadata: { z: '1', a: '2' }, messages: loop.slice(0, 2) })
  await v2.postMessages(full.id, loop.slice(2))
  // Deletes move lastMessageAt back and take usage off; an emptied conversation has none of either.
  const trimmed = await v2.createConversation(ada.id, { title: 'Trimmed' })
  const [kept] = await v2.postMessages(trimmed.id, [loop[2]!, loop[3]!])
  const newest = await v2.postMessage(trimmed.id, { role: 'assistant', content: 'newest', usage: { inputTokens: 9, outputTokens: 9 } })
  t.equal((await source.request('DELETE', `${API_V2}/conversations/${trimmed.id}/messages/${newest.id}`)).status, 204)
  const emptied = await v2.createConversation(grace.id, { messages: [{ role: 'user', content: 'gone', usage: { inputTokens: 1, outputTokens: 1 } }] })
  t.equal((await source.request('DELETE', `${API_V2}/conversations/${emptied.id}/messages/${emptied.messages[0]!.id}`)).status, 204)
  await v2.createConversation(grace.id, { title: 'Never used' })
  // A fork, whose forkedFrom names its source and the last message it copied.
  const fork = await source.request('POST', `${API_V2}/conversations/${full.id}/fork`, { body: { atMessageId: full.messages[1]!.id } })
  t.strictSame(fork.body.forkedFrom, { conversationId: full.id, messageId: full.messages[1]!.id })
  // A keyed create_messages, whose retry after the move must get its first answer.
  const keyed = { url: `${API_V2}/conversations/${full.id}/messages/batch`, body: { messages: [{ role: 'user', content: 'keyed' }, loop[4]] } }
  const first = await source.request('POST', keyed.url, { body: keyed.body, headers: { 'idempotency-key': 'v2-move' } })
  t.equal(first.status, 201)

  const users = [ada.id, grace.id]
  const before = await readEverythingV2(source.request, users)
  const trimmedBefore = before.conversations.find((c) => c.id === trimmed.id)!
  t.strictSame({ usage: trimmedBefore.usage, lastMessageAt: trimmedBefore.lastMessageAt }, { usage: { inputTokens: 2147483647, outputTokens: 12 }, lastMessageAt: kept!.createdAt })
  t.match(before.conversations.find((c) => c.id === emptied.id), { messageCount: 0, usage: { inputTokens: 0, outputTokens: 0 }, lastMessageAt: null })
  const rowsBefore = await v2Rows(sqliteUrl)
  await source.app.close()

  const postgresUrl = await testDatabaseUrl(t, { provider: 'postgres' })
  const copy = await dbCopy('--from', sqliteUrl, '--to', postgresUrl)
  t.equal(copy.code, 0, copy.output)
  t.match(copy.output, /done: 2 users, 5 conversations, 11 messages, 1 idempotency keys copied and verified/)
  t.strictSame(await v2Rows(postgresUrl), rowsBefore, 'every v2 column of every row, as stored')

  const target = await startApp(t, { databaseUrl: postgresUrl })
  t.strictSame(await readEverythingV2(target.request, users), before, 'v2 reads everything back the same on PostgreSQL')
  const replay = await target.request('POST', keyed.url, { body: keyed.body, headers: { 'idempotency-key': 'v2-move' } })
  t.strictSame({ status: replay.status, body: replay.body }, { status: first.status, body: first.body }, 'the keyed create_messages replays its first answer')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  // The copy carries on: a tool_result answers a call copied over, and usage adds to the copied sum.
  const answered = await target.request('POST', `${API_V2}/conversations/${trimmed.id}/messages`, {
    body: { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: 'again' }], usage: { inputTokens: 1, outputTokens: 0 } },
  })
  t.equal(answered.status, 201)
  t.strictSame((await target.request('GET', `${API_V2}/conversations/${trimmed.id}`)).body.usage, { inputTokens: 2147483648, outputTokens: 12 })
  t.equal((await target.request('DELETE', `${API_V2}/conversations/${trimmed.id}/messages/${answered.body.id}`)).status, 204)
  await target.app.close()

  const backUrl = await testDatabaseUrl(t, { provider: 'sqlite', migrated: false })
  const back = await dbCopy('--from', postgresUrl, '--to', backUrl)
  t.equal(back.code, 0, back.output)
  t.strictSame(await v2Rows(backUrl), await v2Rows(postgresUrl), 'every v2 column of every row, back as stored')
  t.strictSame(await v2Rows(backUrl), rowsBefore, 'as they were at the start')
  const returned = await startApp(t, { databaseUrl: backUrl })
  const after = await readEverythingV2(returned.request, users)
  // The round trip's write and delete moved that conversation's updatedAt, and so the list's order; all else is as it was.
  const byId = (a: { id: number }, b: { id: number }) => a.id - b.id
  const moved = (read: typeof before) => ({
    conversations: read.conversations.map(({ updatedAt: _, ...rest }) => rest).sort(byId),
    messages: [...read.messages].sort(byId),
  })
  t.strictSame(moved(after), moved(before), 'and back on SQLite')
})

/** Everything v2 reads of these users: conversations (listed and each), and each one's messages (listed and each). */
async function readEverythingV2 (request: TestApp['request'], users: number[]) {
  const conversations: any[] = []
  const messages: any[] = []
  for (const userId of users) {
    const listed = (await request('GET', `${API_V2}/users/${userId}/conversations`)).body
    for (const conversation of listed) {
      const one = (await request('GET', `${API_V2}/conversations/${conversation.id}`)).body
      if (JSON.stringify(one) !== JSON.stringify(conversation)) throw new Error(`conversation ${conversation.id} reads otherwise alone than listed`)
      conversations.push(one)
      const list = (await request('GET', `${API_V2}/conversations/${conversation.id}/messages`)).body
      for (const message of list) messages.push(message, (await request('GET', `${API_V2}/conversations/${conversation.id}/messages/${message.id}`)).body)
    }
  }
  return { conversations, messages }
}

/** The columns v2 added, per row, as the store holds them (JSON parsed, times as instants). */
async function v2Rows (databaseUrl: string) {
  const json = (value: unknown) => typeof value === 'string' ? JSON.parse(value) : value
  // PostgreSQL's timestamp(3) as its text (a Date would be read in the local time zone), SQLite's as stored.
  const lastMessageAt = databaseUrl.startsWith('file:') ? '"lastMessageAt"' : 'CAST("lastMessageAt" AS text)'
  const instant = (value: unknown) => value === null ? null : new Date(`${String(value).replace(' ', 'T').replace(/\+00:00$/, '')}Z`).toISOString()
  const conversations = await runSql(databaseUrl, `SELECT id, usage, ${lastMessageAt} AS "lastMessageAt", "forkedFrom" FROM "Conversation" ORDER BY id`) as any[]
  // SQL's NULL, not JSON's null, for a message without usage.
  const messages = await runSql(databaseUrl, 'SELECT id, content, parts, model, usage, CASE WHEN usage IS NULL THEN 1 ELSE 0 END AS "noUsage", metadata FROM "Message" ORDER BY id') as any[]
  return {
    conversations: conversations.map((row) => ({ id: row.id, usage: json(row.usage), lastMessageAt: instant(row.lastMessageAt), forkedFrom: json(row.forkedFrom) })),
    messages: messages.map((row) => ({ id: row.id, content: row.content, parts: json(row.parts), model: row.model, usage: json(row.usage), noUsage: row.noUsage, metadata: json(row.metadata) })),
  }
}
