// Idempotency-Key on the creates: a retry with the key gets the first answer again, byte for byte, and
// stores nothing; the key with another request is a 422; each caller's keys are its own; one write however
// many copies race, across a restart, and never a write without its key or a key without its write.
import t from 'tap'
import { API, runSql, specVariant, startApp, store, storeContents, tableRows, testDatabaseUrl, until, type Reply } from '../helper.js'
import { adminToken, bearer, mint, secretAuth, userToken } from '../tokens.js'

// A replay runs its write and rolls it back with the key's INSERT (src/store/keyed-writes.ts): on PostgreSQL
// that may draw ids from a sequence, which no rollback returns (sequences are not data); SQLite's counters roll
// back with the rest.
const unchanged = store === 'sqlite' ? storeContents : tableRows

const count = async (databaseUrl: string, table: string) =>
  Number((await runSql(databaseUrl, `SELECT COUNT(*) AS n FROM "${table}"`) as Array<{ n: unknown }>)[0]!.n)

const keyed = (key: string, body?: unknown) => ({ ...(body === undefined ? {} : { body }), headers: { 'idempotency-key': key } })

/** What must be the same between a first answer and its replay. */
const answerOf = (reply: Reply) => ({ status: reply.status, text: reply.text, location: reply.headers.location, type: reply.headers['content-type'] })

t.test('each create: a replay is the first answer byte for byte, marked, and stores nothing', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const userId = (await createUser()).id
  const conversationId = (await createConversation(userId)).id
  const creates = [
    { name: 'create_user', url: `${API}/users`, body: { name: 'Grace', email: 'grace@example.com' }, table: 'User' },
    { name: 'create_conversation', url: `${API}/users/${userId}/conversations`, body: { title: 'Lisbon', metadata: { a: 'b' }, messages: [{ role: 'user', content: 'hi' }] }, table: 'Conversation' },
    { name: 'create_message', url: `${API}/conversations/${conversationId}/messages`, body: { role: 'user', content: 'olá 🌍' }, table: 'Message' },
  ]
  for (const { name, url, body, table } of creates) {
    const first = await request('POST', url, keyed(`key-${name}`, body))
    t.equal(first.status, 201, `${name}: created`)
    t.equal(first.headers['idempotent-replayed'], undefined, `${name}: the first answer is no replay`)
    const rows = await count(databaseUrl, table)
    const before = await unchanged(databaseUrl)
    for (let i = 0; i < 3; i++) {
      const replay = await request('POST', url, keyed(`key-${name}`, body))
      t.same(answerOf(replay), answerOf(first), `${name}: replay ${i + 1} has the first answer's status, bytes, Location and type`)
      t.equal(replay.headers['idempotent-replayed'], 'true', `${name}: marked as a replay`)
    }
    t.equal(await unchanged(databaseUrl), before, `${name}: the replays stored nothing`)
    t.equal(await count(databaseUrl, table), rows)
    // The same body in other JSON spelling is the same request.
    const spaced = await request('POST', url, { payload: JSON.stringify(body, null, 2), headers: { 'content-type': 'application/json', 'idempotency-key': `key-${name}` } })
    t.equal(spaced.text, first.text, `${name}: JSON whitespace is not part of the request`)
    // No key, no replay: the same body again is a new write.
    if (name !== 'create_user') t.not((await request('POST', url, { body })).body.id, first.body.id, `${name}: without a key it is a new write`)
  }
  t.equal(await count(databaseUrl, 'IdempotencyKey'), 3, 'one key row per keyed create')
})

t.test('a replay is the first answer even after the resource changed, or was deleted', async (t) => {
  const { request, createUser, postMessage } = await startApp(t)
  const userId = (await createUser()).id
  const url = `${API}/users/${userId}/conversations`
  const body = { title: 'Before', metadata: { b: '2', a: '1' }, messages: [{ role: 'user', content: 'hi' }] }
  const first = await request('POST', url, keyed('changes', body))
  t.equal(first.status, 201)
  const id = first.body.id
  t.equal((await request('PATCH', `${API}/conversations/${id}`, { payload: JSON.stringify({ title: 'After' }), headers: { 'content-type': 'application/merge-patch+json' } })).status, 200)
  await postMessage(id, { role: 'assistant', content: 'later' })
  const replay = await request('POST', url, keyed('changes', body))
  t.same(answerOf(replay), answerOf(first), 'the answer as first given: title, messageCount, updatedAt and ETag of then')
  t.equal(replay.headers.etag, first.headers.etag)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal((await request('DELETE', `${API}/conversations/${id}`)).status, 204)
  t.same(answerOf(await request('POST', url, keyed('changes', body))), answerOf(first), 'and after it was deleted')
  // The user gone too: the write's own 404 does not replace the key's answer.
  t.equal((await request('DELETE', `${API}/users/${userId}`)).status, 204)
  t.same(answerOf(await request('POST', url, keyed('changes', body))), answerOf(first), 'and after its user was deleted')
})

t.test('the key with another body or path is a 422 and stores nothing; keys are per operation', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const userId = (await createUser()).id
  const other = (await createUser({ name: 'Other' })).id
  const first = await request('POST', `${API}/users/${userId}/conversations`, keyed('k1', { title: 'one' }))
  t.equal(first.status, 201)
  const before = await unchanged(databaseUrl)
  const changed = await request('POST', `${API}/users/${userId}/conversations`, keyed('k1', { title: 'two' }))
  t.equal(changed.status, 422)
  t.equal(changed.body.type, 'urn:trackbot:problem:idempotency-key-reused')
  t.equal((await request('POST', `${API}/users/${other}/conversations`, keyed('k1', { title: 'one' }))).status, 422, 'another path is another request')
  t.equal((await request('POST', `${API}/users/${userId}/conversations`, keyed('k1'))).status, 422, 'no body is another request than a body')
  t.equal(await unchanged(databaseUrl), before, 'nothing stored')
  // Rows of another shape (a conversation stored without messages, asked for with them) never reach the handler.
  const say = { messages: [{ role: 'user', content: 'hi' }] }
  t.equal((await request('POST', `${API}/users/${userId}/conversations`, keyed('shape-a', {}))).status, 201)
  t.equal((await request('POST', `${API}/users/${userId}/conversations`, keyed('shape-a', say))).status, 422, 'with messages after without')
  t.equal((await request('POST', `${API}/users/${userId}/conversations`, keyed('shape-b', say))).status, 201)
  t.equal((await request('POST', `${API}/users/${userId}/conversations`, keyed('shape-b', {}))).status, 422, 'without messages after with')
  // The same key on another operation is another key.
  t.equal((await request('POST', `${API}/users`, keyed('k1', { name: 'Key sharer' }))).status, 201)
  t.equal((await request('POST', `${API}/conversations/${first.body.id}/messages`, keyed('k1', { role: 'user', content: 'x' }))).status, 201)
})

t.test('a handler\'s own 404 and 409 are kept for the key; a 400 does not use the key up', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const taken = (await createUser({ name: 'Taken', email: 'taken@example.com' })).id
  const conflict = await request('POST', `${API}/users`, keyed('dup', { name: 'Second', email: 'taken@example.com' }))
  t.equal(conflict.status, 409)
  t.equal((await request('DELETE', `${API}/users/${taken}`)).status, 204, 'the email is free now')
  const replay = await request('POST', `${API}/users`, keyed('dup', { name: 'Second', email: 'taken@example.com' }))
  t.same(answerOf(replay), answerOf(conflict), 'the retry gets the 409 the key was answered with, byte for byte')
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.equal(await count(databaseUrl, 'User'), 0, 'and creates no user')

  const missing = await request('POST', `${API}/conversations/999/messages`, keyed('gone', { role: 'user', content: 'x' }))
  t.equal(missing.status, 404)
  t.same(answerOf(await request('POST', `${API}/conversations/999/messages`, keyed('gone', { role: 'user', content: 'x' }))), answerOf(missing))

  const invalid = await request('POST', `${API}/users`, keyed('fresh', { name: '' }))
  t.equal(invalid.status, 400)
  const valid = await request('POST', `${API}/users`, keyed('fresh', { name: 'Valid' }))
  t.equal(valid.status, 201, 'the key was not used up by a request that broke the contract')
  t.equal(valid.headers['idempotent-replayed'], undefined)
})

t.test('a malformed key is a 400 naming the header, and nothing is stored', async (t) => {
  const { request, databaseUrl } = await startApp(t)
  const before = await storeContents(databaseUrl)
  for (const bad of ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9']) {
    const reply = await request('POST', `${API}/users`, keyed(bad, { name: 'Bad key' }))
    t.equal(reply.status, 400, `Idempotency-Key ${JSON.stringify(bad.slice(0, 20))}`)
    t.ok(reply.body.errors.some((error: any) => error.in === 'header' && error.pointer === '/idempotency-key'), 'names the header')
  }
  t.equal((await request('POST', `${API}/users`, keyed('x'.repeat(255), { name: 'Longest key' }))).status, 201, '255 characters are a key')
  t.equal((await request('POST', `${API}/users`, keyed('a b', { name: 'Inner space' }))).status, 201, 'an inner space is printable ASCII')
  t.equal(await count(databaseUrl, 'User'), 2)
  t.not(await storeContents(databaseUrl), before)
})

t.test('keys are kept apart per caller: the same key from two callers gives each its own answer, never the other\'s', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t, { auth: secretAuth })
  const admin = bearer(await adminToken())
  const ada = await createUser({ name: 'Ada' }, admin)
  const bob = await createUser({ name: 'Bob' }, admin)
  const callers = { Ada: bearer(await userToken(ada.id)), Bob: bearer(await userToken(bob.id)) }
  const as = (caller: Record<string, string>, key: string, body: unknown) => ({ body, headers: { ...caller, 'idempotency-key': key } })
  const keysBefore = await count(databaseUrl, 'IdempotencyKey')

  // Each caller's own request under one key: shared keys would make the second a 422.
  const conversations = `${API}/users/${ada.id}/conversations`
  const own = {
    Ada: { url: conversations, body: { title: 'Ada\'s' } },
    Bob: { url: `${API}/users/${bob.id}/conversations`, body: { title: 'Bob\'s', metadata: { by: 'Bob' } } },
  }
  const firsts = new Map<string, Reply>()
  for (const [name, { url, body }] of Object.entries(own)) {
    const reply = await request('POST', url, as(callers[name as keyof typeof callers], 'shared', body))
    t.equal(reply.status, 201, `${name}: created under the key the other used, no 422`)
    t.equal(reply.headers['idempotent-replayed'], undefined, `${name}: a write of its own, not a replay`)
    t.equal(reply.body.title, body.title, `${name}: its own conversation`)
    firsts.set(name, reply)
  }
  for (const [name, { url, body }] of Object.entries(own)) {
    const replay = await request('POST', url, as(callers[name as keyof typeof callers], 'shared', body))
    t.same(answerOf(replay), answerOf(firsts.get(name)!), `${name}: its retry replays its own first answer`)
    t.equal(replay.headers['idempotent-replayed'], 'true')
  }

  // The very same request (method, path, body) under one key from two callers: the second is no replay of the first.
  const adminsFirst = await request('POST', conversations, as(admin, 'same-request', { title: 'Same' }))
  const adasFirst = await request('POST', conversations, as(callers.Ada, 'same-request', { title: 'Same' }))
  t.same([adminsFirst.status, adasFirst.status], [201, 201], 'both created')
  t.equal(adasFirst.headers['idempotent-replayed'], undefined, 'the second caller\'s request is applied, not answered with the first\'s')
  t.not(adasFirst.body.id, adminsFirst.body.id, 'two conversations')
  t.same(answerOf(await request('POST', conversations, as(admin, 'same-request', { title: 'Same' }))), answerOf(adminsFirst), 'the admin\'s retry: the admin\'s answer')
  t.same(answerOf(await request('POST', conversations, as(callers.Ada, 'same-request', { title: 'Same' }))), answerOf(adasFirst), 'Ada\'s retry: hers')

  // create_user, by two admin callers (two subjects), and create_message, in each caller's own conversation.
  const admins = [bearer(await mint({ sub: 'backend-a', scope: 'trackbot:admin' })), bearer(await mint({ sub: 'backend-b', scope: 'trackbot:admin' }))]
  const users: Reply[] = []
  for (const caller of admins) users.push(await request('POST', `${API}/users`, as(caller, 'new-user', { name: 'Twin' })))
  t.same(users.map((reply) => [reply.status, reply.headers['idempotent-replayed']]), [[201, undefined], [201, undefined]], 'create_user: each admin caller made a user')
  t.not(users[0]!.body.id, users[1]!.body.id)
  const adasConversation = await createConversation(ada.id, {}, admin)
  const bobsConversation = await createConversation(bob.id, {}, admin)
  const posts = [
    await request('POST', `${API}/conversations/${adasConversation.id}/messages`, as(callers.Ada, 'post', { role: 'user', content: 'from Ada' })),
    await request('POST', `${API}/conversations/${bobsConversation.id}/messages`, as(callers.Bob, 'post', { role: 'user', content: 'from Bob' })),
  ]
  t.same(posts.map((reply) => [reply.status, reply.body.content, reply.headers['idempotent-replayed']]), [[201, 'from Ada', undefined], [201, 'from Bob', undefined]], 'create_message: each its own message')

  t.equal(await count(databaseUrl, 'IdempotencyKey') - keysBefore, 8, 'a key row per caller, operation and key')
})

t.test('a burst of one keyed create: exactly one write, every answer the same', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const userId = (await createUser()).id
  const body = { title: 'Burst', messages: [{ role: 'user', content: 'one' }, { role: 'assistant', content: 'two' }] }
  const replies = await Promise.all(Array.from({ length: 24 }, () => request('POST', `${API}/users/${userId}/conversations`, keyed('burst', body))))
  t.same(new Set(replies.map((reply) => reply.status)), new Set([201]), 'all 201')
  t.equal(new Set(replies.map((reply) => reply.text)).size, 1, 'one body, byte for byte')
  t.equal(replies.filter((reply) => reply.headers['idempotent-replayed'] === undefined).length, 1, 'one made it, the rest replayed it')
  t.equal(await count(databaseUrl, 'Conversation'), 1, 'one conversation stored')
  t.equal(await count(databaseUrl, 'Message'), 2, 'with its two messages, once')

  const conversationId = replies[0]!.body.id
  const posts = await Promise.all(Array.from({ length: 24 }, () => request('POST', `${API}/conversations/${conversationId}/messages`, keyed('post', { role: 'user', content: 'once' }))))
  t.equal(new Set(posts.map((reply) => reply.text)).size, 1)
  t.equal(await count(databaseUrl, 'Message'), 3, 'one message posted')
  t.equal((await request('GET', `${API}/conversations/${conversationId}`)).body.messageCount, 3, 'and counted once')
})

t.test('keys outlive a restart', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const before = await startApp(t, { databaseUrl })
  const userId = (await before.createUser()).id
  const first = await before.request('POST', `${API}/users/${userId}/conversations`, keyed('restart', { title: 'kept' }))
  await before.app.close()
  const after = await startApp(t, { databaseUrl })
  const replay = await after.request('POST', `${API}/users/${userId}/conversations`, keyed('restart', { title: 'kept' }))
  t.same(answerOf(replay), answerOf(first))
  t.equal(await count(databaseUrl, 'Conversation'), 1)
})

t.test('keys past their TTL are swept, and the key is free again', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  // The key stored by a server that keeps keys a day, so it is surely there before the sweeping one starts.
  const keeping = await startApp(t, { databaseUrl })
  t.equal((await keeping.request('POST', `${API}/users`, keyed('short', { name: 'First' }))).status, 201)
  t.equal(await count(databaseUrl, 'IdempotencyKey'), 1, 'the key is stored')
  await keeping.app.close()
  const { request } = await startApp(t, { databaseUrl, idempotencyKeyTtlMs: 200, idempotencySweepIntervalMs: 100 })
  let left = 1
  await until('the key to be swept', async () => (left = await count(databaseUrl, 'IdempotencyKey')) === 0, { intervalMs: 50, cause: () => `${left} key rows left` })
  t.equal(await count(databaseUrl, 'IdempotencyKey'), 0, 'swept')
  const again = await request('POST', `${API}/users`, keyed('short', { name: 'Second' }))
  t.equal(again.status, 201, 'the key is a new key')
  t.equal(again.body.name, 'Second')
})

t.test('a write and its key commit together or not at all', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const userId = (await createUser()).id
  const url = `${API}/users/${userId}/conversations`
  const failOn = async (table: string) => {
    if (store === 'sqlite') {
      // A plain error, not RAISE(ABORT), which SQLite reports as a constraint (SQLITE_CONSTRAINT_TRIGGER).
      await runSql(databaseUrl, `CREATE TRIGGER fail BEFORE INSERT ON "${table}" BEGIN SELECT abs(-9223372036854775807 - 1); END`)
    } else {
      await runSql(databaseUrl, 'CREATE OR REPLACE FUNCTION fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION \'refused by the test\'; END $$ LANGUAGE plpgsql')
      await runSql(databaseUrl, `CREATE TRIGGER fail BEFORE INSERT ON "${table}" FOR EACH ROW EXECUTE FUNCTION fail()`)
    }
  }
  const stopFailing = (table: string) => runSql(databaseUrl, store === 'sqlite' ? 'DROP TRIGGER fail' : `DROP TRIGGER fail ON "${table}"`)

  // The key's INSERT fails after the create's: the create goes with it.
  await failOn('IdempotencyKey')
  const before = await unchanged(databaseUrl)
  t.equal((await request('POST', url, { ...keyed('atomic', { title: 'x' }), expectServerError: true })).status, 500)
  t.equal(await unchanged(databaseUrl), before, 'no conversation without its key')
  t.equal(await count(databaseUrl, 'IdempotencyKey'), 0)
  await stopFailing('IdempotencyKey')

  // The create fails: no key is kept, so the retry is applied.
  await failOn('Conversation')
  t.equal((await request('POST', url, { ...keyed('atomic', { title: 'x' }), expectServerError: true })).status, 500)
  t.equal(await count(databaseUrl, 'IdempotencyKey'), 0, 'no key without its write')
  await stopFailing('Conversation')
  const retry = await request('POST', url, keyed('atomic', { title: 'x' }))
  t.equal(retry.status, 201, 'the retry after a 5xx is applied')
  t.equal(retry.headers['idempotent-replayed'], undefined)
  t.equal(await count(databaseUrl, 'Conversation'), 1)
})

t.test('an operation the spec gives the header but whose write stores no key fails loudly, never silently unkeyed', async (t) => {
  const spec = specVariant((document) => {
    document.paths['/conversations/{conversationId}'].patch.parameters.push({ $ref: '#/components/parameters/IdempotencyKey' })
  })
  const { request, createUser, createConversation } = await startApp(t, { spec })
  const id = (await createConversation((await createUser()).id)).id
  const patch = { payload: JSON.stringify({ title: 'x' }), headers: { 'content-type': 'application/merge-patch+json', 'idempotency-key': 'p1' } }
  const reply = await request('PATCH', `${API}/conversations/${id}`, { ...patch, expectServerError: true })
  t.equal(reply.status, 500, 'a 500 (logged: update_conversation declares Idempotency-Key but its handler is not keyed)')
  t.equal((await request('PATCH', `${API}/conversations/${id}`, { payload: patch.payload, headers: { 'content-type': 'application/merge-patch+json' } })).status, 200, 'without the header it works as before')
})
