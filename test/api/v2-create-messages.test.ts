// API v2's create_messages: 1 to 100 messages appended in order, all or none, with Idempotency-Key; and the rule
// every write of messages shares: a tool_result answers a tool_call of an earlier message of the conversation or
// earlier in the same request, else a 400 naming its toolCallId and nothing stored.
import t from 'tap'
import { API_V2, runSql, startApp, store, storeContents, tableRows, v2Fixtures, type Reply, type V2Message, type V2NewMessage } from '../helper.js'

// A write that reaches the database and fails there (a foreign key) may draw an id from a PostgreSQL sequence,
// which no rollback returns; SQLite's counters roll back with the rest. Requests refused before any write keep
// the counters too: storeContents.
const unchangedRows = store === 'sqlite' ? storeContents : tableRows

const batchUrl = (conversationId: number) => `${API_V2}/conversations/${conversationId}/messages/batch`

const keyed = (key: string, body: unknown) => ({ body, headers: { 'idempotency-key': key } })

/** The pointers of a 400's errors. */
const pointers = (reply: Reply) => (reply.body?.errors ?? []).map((error: { pointer: string }) => error.pointer)

const UNKNOWN_CALL = 'must name a tool_call of an earlier message of the conversation, or earlier in this request'

/** A valid message of every shape in turn: text, parts of each kind, every role, model, usage, metadata. */
function varied (i: number): V2NewMessage {
  switch (i % 6) {
    case 0: return { role: 'user', content: `question ${i}` }
    case 1: return { role: 'assistant', parts: [{ type: 'reasoning', text: `thinking ${i}` }, { type: 'tool_call', id: `call_${i}`, name: 'search', arguments: { q: i } }], model: 'gpt-4o', usage: { inputTokens: i, outputTokens: 1 } }
    case 2: return { role: 'tool', parts: [{ type: 'tool_result', toolCallId: `call_${i - 1}`, output: `result ${i}`, isError: i % 4 === 0 }] }
    case 3: return { role: 'developer', parts: [{ type: 'text', text: `rule ${i}` }], metadata: { n: String(i) } }
    case 4: return { role: 'system', parts: [{ type: 'image', url: 'https://example.com/a.png', mediaType: 'image/png' }, { type: 'file', url: 'data:text/plain,hi', name: 'a.txt' }] }
    default: return { role: 'assistant', parts: [{ type: 'refusal', text: `no ${i}` }, { type: 'text', text: `answer ${i}` }], usage: { inputTokens: 0, outputTokens: i } }
  }
}

t.test('create_messages appends 1 or 100 messages in the request\'s order, at one time, the conversation in step', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const { id } = await v2.createConversation((await app.createUser()).id)

  const one = await request('POST', batchUrl(id), { body: { messages: [{ role: 'user', content: 'alone' }] } })
  t.equal(one.status, 201)
  t.equal(one.headers.location, undefined)
  t.equal(one.body.messages.length, 1)
  t.match(one.body.messages[0], { conversationId: id, role: 'user', content: 'alone', parts: [{ type: 'text', text: 'alone' }] })

  const inputs = Array.from({ length: 100 }, (_, i) => varied(i))
  const hundred = await request('POST', batchUrl(id), { body: { messages: inputs } })
  t.equal(hundred.status, 201)
  const created: V2Message[] = hundred.body.messages
  t.equal(created.length, 100)
  t.strictSame(created.map((m) => ({ role: m.role, parts: m.parts, usage: m.usage })),
    inputs.map((m) => ({ role: m.role, parts: m.parts ?? [{ type: 'text', text: m.content }], usage: m.usage ?? null })), 'in the request\'s order, each as sent')
  const ids = created.map((m) => m.id)
  t.strictSame(ids, [...ids].sort((a, b) => a - b), 'ids grow in the request\'s order')
  t.ok(ids[0]! > one.body.messages[0].id)
  t.equal(new Set(created.map((m) => m.createdAt)).size, 1, 'one time for the whole request')
  t.strictSame((await request('GET', `${API_V2}/conversations/${id}/messages`)).body, [...one.body.messages, ...created])

  const conversation = (await request('GET', `${API_V2}/conversations/${id}`)).body
  t.equal(conversation.messageCount, 101)
  t.equal(conversation.lastMessageAt, created[0]!.createdAt)
  t.strictSame(conversation.usage, {
    inputTokens: inputs.reduce((total, m) => total + (m.usage?.inputTokens ?? 0), 0),
    outputTokens: inputs.reduce((total, m) => total + (m.usage?.outputTokens ?? 0), 0),
  })
})

t.test('create_messages takes 1 to 100 messages: none, 101, or no list is a 400 naming /messages and stores nothing', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const { id } = await v2Fixtures(request).createConversation((await app.createUser()).id, { messages: [{ role: 'user', content: 'kept' }] })
  const before = await storeContents(databaseUrl)
  const bodies: Array<[unknown, string]> = [
    [{ messages: [] }, '/messages'],
    [{ messages: Array.from({ length: 101 }, () => ({ role: 'user', content: 'x' })) }, '/messages'],
    [{}, '/messages'],
    [{ messages: { role: 'user', content: 'x' } }, '/messages'],
    [{ messages: [{ role: 'user', content: 'x' }], extra: 1 }, '/extra'],
    [[{ role: 'user', content: 'x' }], ''],
  ]
  for (const [body, pointer] of bodies) {
    const reply = await request('POST', batchUrl(id), { body })
    t.equal(reply.status, 400, JSON.stringify(body).slice(0, 80))
    t.ok(pointers(reply).includes(pointer), `names ${pointer || 'the body'}: ${JSON.stringify(pointers(reply))}`)
  }
  t.equal(await storeContents(databaseUrl), before, 'nothing stored')
})

t.test('one bad message at index i is a 400 naming /messages/<i>/…, and none of the others is stored', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const { id } = await v2Fixtures(request).createConversation((await app.createUser()).id, { messages: [{ role: 'user', content: 'kept' }] })
  const good = Array.from({ length: 100 }, (_, i) => ({ role: 'user' as const, content: `m${i}` }))
  const faults: Array<[number, unknown, string]> = [
    [0, { role: 'robot', content: 'x' }, '/messages/0/role'],
    [1, { role: 'user', content: '' }, '/messages/1/content'],
    [57, { role: 'user', content: 'x', parts: [{ type: 'text', text: 'x' }] }, '/messages/57/parts'],
    [63, { role: 'user' }, '/messages/63/content'],
    [63, { role: 'user' }, '/messages/63/parts'],
    [70, { role: 'user', parts: [] }, '/messages/70/parts'],
    [71, { role: 'user', parts: [{ type: 'text', text: 'ok' }, { type: 'video', url: 'https://example.com/v.mp4' }] }, '/messages/71/parts/1'],
    [72, { role: 'assistant', content: 'x', usage: { inputTokens: -1, outputTokens: 0 } }, '/messages/72/usage/inputTokens'],
    [73, { role: 'user', parts: [{ type: 'image', url: 'http://example.com/a.png' }] }, '/messages/73/parts/0/url'],
    [98, { role: 'user', content: 'x', metadata: { k: 5 } }, '/messages/98/metadata/k'],
    [99, { role: 'user', content: 'x', id: 3 }, '/messages/99/id'],
  ]
  const before = await storeContents(databaseUrl)
  for (const [index, bad, pointer] of faults) {
    const messages: unknown[] = [...good]
    messages[index] = bad
    const reply = await request('POST', batchUrl(id), { body: { messages } })
    t.equal(reply.status, 400, `message ${index} bad`)
    t.ok(pointers(reply).includes(pointer), `names ${pointer}: ${JSON.stringify(pointers(reply))}`)
    t.ok(pointers(reply).every((p: string) => p.startsWith(`/messages/${index}/`)), 'and only the bad message')
    t.equal(await storeContents(databaseUrl), before, `message ${index} bad: nothing stored, no id drawn`)
  }
  // Two bad messages: both named.
  const two = await request('POST', batchUrl(id), { body: { messages: [{ role: 'robot', content: 'x' }, ...good.slice(1, 50), { role: 'user', content: '' }] } })
  t.equal(two.status, 400)
  t.ok(pointers(two).includes('/messages/0/role') && pointers(two).includes('/messages/50/content'), JSON.stringify(pointers(two)))
  t.equal(await storeContents(databaseUrl), before)
  t.equal((await request('GET', `${API_V2}/conversations/${id}`)).body.messageCount, 1)
})

t.test('create_messages on a missing or deleted conversation is a 404 and stores nothing', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const v2 = v2Fixtures(request)
  const userId = (await app.createUser()).id
  const gone = (await v2.createConversation(userId)).id
  t.equal((await request('DELETE', `${API_V2}/conversations/${gone}`)).status, 204)
  const messages = [{ role: 'user', content: 'hello' }, { role: 'assistant', parts: [{ type: 'tool_call', id: 'c', name: 'n', arguments: {} }], usage: { inputTokens: 1, outputTokens: 2 } }]
  // A keyed 404 is kept for its key; conversations and messages are what must not change.
  const written = async () => JSON.stringify(await Promise.all(['Conversation', 'Message'].map((table) => runSql(databaseUrl, `SELECT * FROM "${table}" ORDER BY id`))))
  const before = await written()
  for (const id of [gone, 424242]) {
    const reply = await request('POST', batchUrl(id), { body: { messages } })
    t.equal(reply.status, 404)
    t.match(reply.body, { type: 'urn:trackbot:problem:not-found', detail: `Conversation ${id} does not exist.` })
    const keyedReply = await request('POST', batchUrl(id), keyed(`missing-${id}`, { messages }))
    t.equal(keyedReply.status, 404)
  }
  // A tool_result naming nothing, in a conversation that does not exist: the conversation is what is missing.
  const unknown = await request('POST', batchUrl(424242), { body: { messages: [{ role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'nope', output: '' }] }] } })
  t.equal(unknown.status, 404)
  t.equal(await written(), before, 'no message stored, no conversation changed')
})

t.test('Idempotency-Key: the same key and body replay the first answer, stored once; another body is a 422', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const v2 = v2Fixtures(request)
  const { id } = await v2.createConversation((await app.createUser()).id)
  const other = (await v2.createConversation((await app.createUser({ name: 'Grace' })).id)).id
  const body = { messages: [varied(0), varied(1), varied(2), varied(3)] }

  const first = await request('POST', batchUrl(id), keyed('turn-1', body))
  t.equal(first.status, 201)
  t.equal(first.headers['idempotent-replayed'], undefined)
  const after = (await request('GET', `${API_V2}/conversations/${id}`)).body
  const before = await unchangedRows(databaseUrl)
  for (let i = 0; i < 3; i++) {
    const replay = await request('POST', batchUrl(id), keyed('turn-1', body))
    t.strictSame({ status: replay.status, text: replay.text, type: replay.headers['content-type'] }, { status: first.status, text: first.text, type: first.headers['content-type'] }, `replay ${i + 1}: the first answer, byte for byte`)
    t.equal(replay.headers['idempotent-replayed'], 'true')
  }
  // The same body in other JSON spelling is the same request.
  const spaced = await request('POST', batchUrl(id), { payload: JSON.stringify(body, null, 2), headers: { 'content-type': 'application/json', 'idempotency-key': 'turn-1' } })
  t.equal(spaced.text, first.text)
  t.equal(await unchangedRows(databaseUrl), before, 'the replays stored nothing')
  t.strictSame((await request('GET', `${API_V2}/conversations/${id}`)).body, after, 'stored once')

  const changed = await request('POST', batchUrl(id), keyed('turn-1', { messages: [varied(0), varied(1), varied(2)] }))
  t.equal(changed.status, 422)
  t.match(changed.body, { type: 'urn:trackbot:problem:idempotency-key-reused' })
  const elsewhere = await request('POST', batchUrl(other), keyed('turn-1', body))
  t.equal(elsewhere.status, 422, 'the key with another conversation\'s path is another request')
  t.equal(await unchangedRows(databaseUrl), before, 'the 422s stored nothing')

  // Keys are per operation: the same key on create_message is a new key.
  const single = await request('POST', `${API_V2}/conversations/${id}/messages`, keyed('turn-1', { role: 'user', content: 'single' }))
  t.equal(single.status, 201)

  // Copies of one keyed request racing: one write, every answer the same.
  const racing = { messages: [varied(6), varied(7), varied(8)] }
  const replies = await Promise.all(Array.from({ length: 8 }, () => request('POST', batchUrl(other), keyed('race', racing))))
  t.strictSame(replies.map((reply) => reply.status), replies.map(() => 201))
  t.equal(new Set(replies.map((reply) => reply.text)).size, 1, 'every copy has the one answer')
  t.equal(replies.filter((reply) => reply.headers['idempotent-replayed'] === undefined).length, 1, 'exactly one was applied')
  const raced = (await request('GET', `${API_V2}/conversations/${other}`)).body
  t.strictSame({ messageCount: raced.messageCount, usage: raced.usage }, { messageCount: 3, usage: { inputTokens: 7, outputTokens: 1 } })
})

t.test('a tool_result may answer a tool_call earlier in the same request: an earlier message or an earlier part', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const { id } = await v2.createConversation((await app.createUser()).id)
  const turn = await request('POST', batchUrl(id), {
    body: {
      messages: [
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_a', name: 'a', arguments: {} }, { type: 'tool_call', id: 'call_b', name: 'b', arguments: { x: [1] } }] },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_b', output: 'B' }, { type: 'tool_result', toolCallId: 'call_a', output: 'A', isError: true }] },
        // A call and its result in one message, in that order.
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_c', name: 'c', arguments: {} }, { type: 'tool_result', toolCallId: 'call_c', output: 'C' }] },
      ],
    },
  })
  t.equal(turn.status, 201)
  t.equal(turn.body.messages.length, 3)
  // And a later request answers a call stored before it, again and again.
  const later = await v2.postMessage(id, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_a', output: 'A again' }] })
  t.strictSame(later.parts, [{ type: 'tool_result', toolCallId: 'call_a', output: 'A again' }])
  const [again] = await v2.postMessages(id, [{ role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_c', output: 'C again' }] }])
  t.equal(again!.role, 'tool')
  t.equal((await request('GET', `${API_V2}/conversations/${id}`)).body.messageCount, 5)
})

t.test('a tool_result naming no tool_call before it: 400 naming /messages/<i>/parts/<j>/toolCallId, nothing stored', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const v2 = v2Fixtures(request)
  const userId = (await app.createUser()).id
  const { id } = await v2.createConversation(userId, {
    messages: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'stored_call', name: 'n', arguments: {} }] }],
  })
  const elsewhere = await v2.createConversation(userId, {
    messages: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'other_call', name: 'n', arguments: {} }] }],
  })
  const call = (callId: string) => ({ role: 'assistant', parts: [{ type: 'text', text: 'calling' }, { type: 'tool_call', id: callId, name: 'n', arguments: {} }] })
  const result = (callId: string) => ({ role: 'tool', parts: [{ type: 'text', text: 'result' }, { type: 'tool_result', toolCallId: callId, output: 'o' }] })
  const cases: Array<[string, unknown[], string]> = [
    ['naming nothing', [{ role: 'user', content: 'hi' }, call('c1'), result('nothing')], '/messages/2/parts/1/toolCallId'],
    ['answering a call later in the request', [result('c2'), call('c2')], '/messages/0/parts/1/toolCallId'],
    ['answering a call later in the same message', [{ role: 'assistant', parts: [{ type: 'tool_result', toolCallId: 'c3', output: 'o' }, { type: 'tool_call', id: 'c3', name: 'n', arguments: {} }] }], '/messages/0/parts/0/toolCallId'],
    ['answering another conversation\'s call', [result('other_call')], '/messages/0/parts/1/toolCallId'],
    ['with another case', [result('STORED_CALL')], '/messages/0/parts/1/toolCallId'],
    ['the first of two named', [result('stored_call'), result('x'), call('c4'), result('y')], '/messages/1/parts/1/toolCallId'],
  ]
  const before = await storeContents(databaseUrl)
  for (const [what, messages, pointer] of cases) {
    const reply = await request('POST', batchUrl(id), { body: { messages } })
    t.equal(reply.status, 400, what)
    t.match(reply.body, { type: 'urn:trackbot:problem:validation-error', errors: [{ in: 'body', pointer, detail: UNKNOWN_CALL }] }, `${what}: names ${pointer}`)
    t.equal(reply.body.errors.length, 1)
    t.equal(await storeContents(databaseUrl), before, `${what}: nothing stored`)
  }

  // create_message: the same rule, pointing into the one message.
  const single = await request('POST', `${API_V2}/conversations/${id}/messages`, { body: result('nothing') })
  t.equal(single.status, 400)
  t.match(single.body.errors, [{ in: 'body', pointer: '/parts/1/toolCallId', detail: UNKNOWN_CALL }])
  const later = await request('POST', `${API_V2}/conversations/${id}/messages`, { body: { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'c5', output: 'o' }, { type: 'tool_call', id: 'c5', name: 'n', arguments: {} }] } })
  t.equal(later.status, 400)
  t.match(later.body.errors, [{ pointer: '/parts/0/toolCallId' }])
  t.equal(await storeContents(databaseUrl), before, 'create_message stored nothing')

  // create_conversation: a new conversation has no calls stored, so only its own earlier ones count.
  const conversations = `${API_V2}/users/${userId}/conversations`
  const fresh = await request('POST', conversations, { body: { title: 'x', messages: [{ role: 'user', content: 'hi' }, result('stored_call')] } })
  t.equal(fresh.status, 400)
  t.match(fresh.body.errors, [{ in: 'body', pointer: '/messages/1/parts/1/toolCallId', detail: UNKNOWN_CALL }])
  t.equal(await storeContents(databaseUrl), before, 'create_conversation stored nothing')
  const whole = await request('POST', conversations, { body: { messages: [call('c6'), result('c6')] } })
  t.equal(whole.status, 201, 'create_conversation takes a result of a call earlier in it')

  // A stored call answers later results; once its message is deleted it answers none.
  const stored = (await request('GET', `${API_V2}/conversations/${elsewhere.id}/messages`)).body[0]
  t.equal((await request('POST', batchUrl(elsewhere.id), { body: { messages: [result('other_call')] } })).status, 201)
  t.equal((await request('DELETE', `${API_V2}/conversations/${elsewhere.id}/messages/${stored.id}`)).status, 204)
  const orphan = await request('POST', batchUrl(elsewhere.id), { body: { messages: [result('other_call')] } })
  t.equal(orphan.status, 400, 'a deleted call answers nothing')
  t.match(orphan.body.errors, [{ pointer: '/messages/0/parts/1/toolCallId' }])
})
