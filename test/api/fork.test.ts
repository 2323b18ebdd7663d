// fork_conversation through the API on both stores: the copy (every message up to the fork point, with all it
// carries, in order), the fork's own counters and forkedFrom, the source untouched, a fork point of another
// conversation refused with nothing stored, Idempotency-Key, the copies searchable and independent of the source,
// edit-and-regenerate as docs/api.md shows it, and scoping.
import t from 'tap'
import { API_V2, startApp, store, storeContents, tableRows, v2Fixtures, type Reply, type V2Conversation, type V2Message, type V2NewMessage } from '../helper.js'
import { adminToken, bearer, secretAuth, userToken } from '../tokens.js'

// A write refused by the database may draw an id from a PostgreSQL sequence, which no rollback returns.
const unchangedRows = store === 'sqlite' ? storeContents : tableRows

const forkUrl = (id: number) => `${API_V2}/conversations/${id}/fork`

/** A message of every kind in turn: text, tool call and its result, reasoning, model, usage, metadata. */
function varied (i: number): V2NewMessage {
  switch (i % 4) {
    case 0: return { role: 'user', content: `question ${i}`, metadata: { n: String(i) } }
    case 1: return { role: 'assistant', parts: [{ type: 'reasoning', text: `thinking ${i}` }, { type: 'tool_call', id: `call_${i}`, name: 'lookup', arguments: { i } }], model: 'gpt-4o', usage: { inputTokens: i, outputTokens: 2 } }
    case 2: return { role: 'tool', parts: [{ type: 'tool_result', toolCallId: `call_${i - 1}`, output: `result ${i}` }] }
    default: return { role: 'assistant', content: `answer ${i}`, usage: { inputTokens: 1, outputTokens: i } }
  }
}

/** What a copy keeps of a message: all but its id and conversation. */
const carried = ({ id: _id, conversationId: _conversation, ...rest }: V2Message) => rest

const usageOf = (messages: V2Message[]) => ({
  inputTokens: messages.reduce((total, m) => total + (m.usage?.inputTokens ?? 0), 0),
  outputTokens: messages.reduce((total, m) => total + (m.usage?.outputTokens ?? 0), 0),
})

t.test('a fork copies the messages up to the fork point, with everything they carry, into a new conversation', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const source = await v2.createConversation(user.id, { title: 'Lisbon', metadata: { topic: 'travel' }, messages: [varied(0)] })
  const later = await v2.postMessages(source.id, Array.from({ length: 7 }, (_, i) => varied(i + 1)))
  const messages = [...source.messages, ...later]
  const before = (await request('GET', `${API_V2}/conversations/${source.id}`))

  const at = messages[4]!
  const reply = await request<V2Conversation>('POST', forkUrl(source.id), { body: { atMessageId: at.id } })
  t.equal(reply.status, 201)
  const fork = reply.body
  t.equal(reply.headers.location, `${API_V2}/conversations/${fork.id}`)
  t.not(fork.id, source.id)
  const copied = messages.slice(0, 5)
  t.match(fork, {
    userId: user.id,
    title: 'Lisbon',
    metadata: { topic: 'travel' },
    messageCount: 5,
    usage: usageOf(copied),
    lastMessageAt: at.createdAt,
    forkedFrom: { conversationId: source.id, messageId: at.id },
  })
  t.equal(fork.createdAt, fork.updatedAt)
  t.ok(fork.createdAt >= source.createdAt)
  t.strictSame((await request('GET', `${API_V2}/conversations/${fork.id}`)).body, fork, 'as get_conversation_by_id reads it')

  const copies: V2Message[] = (await request('GET', `${API_V2}/conversations/${fork.id}/messages`)).body
  t.strictSame(copies.map(carried), copied.map(carried), 'parts, model, usage, metadata and createdAt, in order')
  t.ok(copies.every((m) => m.conversationId === fork.id))
  t.ok(copies.every((m, i) => i === 0 || m.id > copies[i - 1]!.id), 'ids grow in the source\'s order')
  t.ok(copies[0]!.id > messages.at(-1)!.id, 'new ids')

  const after = await request('GET', `${API_V2}/conversations/${source.id}`)
  t.strictSame(after.body, before.body, 'the source is unchanged')
  t.equal(after.headers.etag, before.headers.etag, 'and so is its ETag')
  t.strictSame((await request('GET', `${API_V2}/conversations/${source.id}/messages`)).body, messages)

  // A tool_result in the fork answers a call the fork holds: appending after it works as in the source.
  const next = await v2.postMessage(fork.id, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: 'again' }] })
  t.equal(next.conversationId, fork.id)
})

t.test('by default a fork copies every message; a title replaces the source\'s; an empty conversation forks empty', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const source = await v2.createConversation(user.id, { title: 'Plans', messages: [varied(0), varied(1), varied(2)] })

  const whole = await v2.fork(source.id)
  t.match(whole, { title: 'Plans', messageCount: 3, forkedFrom: { conversationId: source.id, messageId: source.messages[2]!.id } })
  const bare = await request<V2Conversation>('POST', forkUrl(source.id))
  t.equal(bare.status, 201, 'no body at all forks too')
  t.equal(bare.body.messageCount, 3)

  t.equal((await v2.fork(source.id, { title: 'Plans B' })).title, 'Plans B')
  t.equal((await v2.fork(source.id, { title: null })).title, null, 'null: untitled')

  const empty = await v2.createConversation(user.id, { title: 'Nothing yet' })
  const emptyFork = await v2.fork(empty.id)
  t.match(emptyFork, { title: 'Nothing yet', messageCount: 0, lastMessageAt: null, usage: { inputTokens: 0, outputTokens: 0 }, forkedFrom: { conversationId: empty.id, messageId: null } })
  t.strictSame((await request('GET', `${API_V2}/conversations/${emptyFork.id}/messages`)).body, [])

  const forkOfFork = await v2.fork(whole.id, { atMessageId: (await request('GET', `${API_V2}/conversations/${whole.id}/messages`)).body[0].id })
  t.match(forkOfFork, { messageCount: 1, forkedFrom: { conversationId: whole.id } })

  const listed: V2Conversation[] = (await request('GET', `${API_V2}/users/${user.id}/conversations`)).body
  t.equal(listed.find((c) => c.id === source.id)!.forkedFrom, null, 'a conversation not forked says so')
  t.strictSame(listed.find((c) => c.id === whole.id), whole, 'lists carry forkedFrom')
  const v1 = await request('GET', `/api/v1/conversations/${whole.id}`)
  t.equal(v1.status, 200)
  t.notOk('forkedFrom' in v1.body, 'v1 shows a fork as a conversation, in its own shape')
})

t.test('a fork point that is not a message of the conversation is a 400 naming it; an unknown conversation a 404; nothing stored', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const source = await v2.createConversation(user.id, { messages: [varied(0)] })
  const other = await v2.createConversation(user.id, { messages: [varied(0)] })
  const before = await unchangedRows(databaseUrl)

  for (const atMessageId of [other.messages[0]!.id, 2147483647]) {
    const reply: Reply = await request('POST', forkUrl(source.id), { body: { atMessageId } })
    t.equal(reply.status, 400, `message ${atMessageId}`)
    t.strictSame(reply.body.errors, [{ in: 'body', pointer: '/atMessageId', detail: `is not a message of conversation ${source.id}` }])
  }
  const missing = await request('POST', forkUrl(2147483647), { body: { atMessageId: source.messages[0]!.id } })
  t.equal(missing.status, 404)
  t.match(missing.body, { type: 'urn:trackbot:problem:not-found', detail: 'Conversation 2147483647 does not exist.' })
  for (const body of [{ atMessageId: 0 }, { atMessageId: 'one' }, { title: '' }, { extra: true }, []]) {
    t.equal((await request('POST', forkUrl(source.id), { body })).status, 400, JSON.stringify(body))
  }
  t.equal(await unchangedRows(databaseUrl), before, 'nothing stored')
})

t.test('a fork retried with its Idempotency-Key is stored once; the key holds the fork\'s answer', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const source = await v2.createConversation(user.id, { messages: [varied(0), varied(1)] })
  const headers = { 'idempotency-key': 'fork-1' }
  const first = await request('POST', forkUrl(source.id), { body: { title: 'Again' }, headers })
  t.equal(first.status, 201)
  const rows = await tableRows(databaseUrl)
  const again = await request('POST', forkUrl(source.id), { body: { title: 'Again' }, headers })
  t.equal(again.status, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.text, first.text, 'the same answer, byte for byte')
  t.equal(again.headers.location, first.headers.location)
  t.equal(await tableRows(databaseUrl), rows, 'nothing stored twice')
  t.equal((await request('POST', forkUrl(source.id), { body: { title: 'Other' }, headers })).status, 422, 'another body with the key')

  // A refused fork leaves its key free: once the fork point exists, the same request forks.
  const refused = await request('POST', forkUrl(source.id), { body: { atMessageId: 2147483647 }, headers: { 'idempotency-key': 'fork-2' } })
  t.equal(refused.status, 400)
  const replayed = await request('POST', forkUrl(source.id), { body: { atMessageId: 2147483647 }, headers: { 'idempotency-key': 'fork-2' } })
  t.equal(replayed.status, 400)
})

t.test('copies are the fork\'s own: searched as its messages, kept when the source goes, gone with the fork', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const source = await v2.createConversation(user.id, { title: 'Porto', messages: [{ role: 'user', content: 'francesinha recipe' }, { role: 'assistant', content: 'bread, ham, sauce' }] })
  const fork = await v2.fork(source.id, { atMessageId: source.messages[0]!.id })
  const hits = async (q: string) => ((await request('GET', `${API_V2}/users/${user.id}/search?q=${q}`)).body as Array<{ conversationId: number, messageId: number | null }>)
    .map((hit) => `${hit.conversationId}:${hit.messageId}`).sort()
  const copy = (await request('GET', `${API_V2}/conversations/${fork.id}/messages`)).body[0]
  t.strictSame(await hits('francesinha'), [`${source.id}:${source.messages[0]!.id}`, `${fork.id}:${copy.id}`].sort())
  t.strictSame(await hits('porto'), [`${source.id}:null`, `${fork.id}:null`].sort(), 'the title too')
  t.strictSame(await hits('sauce'), [`${source.id}:${source.messages[1]!.id}`], 'only what was copied')

  t.equal((await request('DELETE', `${API_V2}/conversations/${source.id}`)).status, 204)
  const kept = await request('GET', `${API_V2}/conversations/${fork.id}`)
  t.equal(kept.status, 200, 'the fork outlives its source')
  t.strictSame(kept.body.forkedFrom, { conversationId: source.id, messageId: source.messages[0]!.id }, 'and still says where it came from')
  t.strictSame(await hits('francesinha'), [`${fork.id}:${copy.id}`])
  t.equal((await request('POST', forkUrl(source.id))).status, 404, 'a deleted conversation cannot be forked')

  t.equal((await request('DELETE', `${API_V2}/conversations/${fork.id}`)).status, 204)
  t.strictSame(await hits('francesinha'), [])
})

t.test('edit and regenerate, as docs/api.md shows it: fork at the message before, then append', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const source = await v2.createConversation(user.id, {
    messages: [
      { role: 'user', content: 'Two days in Lisbon?' },
      { role: 'assistant', content: 'Alfama, then Belém.' },
      { role: 'user', content: 'And with kids?' },
      { role: 'assistant', content: 'The aquarium.' },
    ]
  })
  const [, answer] = source.messages
  const edited = await v2.fork(source.id, { atMessageId: answer!.id })
  await v2.postMessages(edited.id, [{ role: 'user', content: 'And on a budget?' }, { role: 'assistant', content: 'Tram 28 and the miradouros.' }])
  const branch: V2Message[] = (await request('GET', `${API_V2}/conversations/${edited.id}/messages`)).body
  t.strictSame(branch.map((m) => m.content), ['Two days in Lisbon?', 'Alfama, then Belém.', 'And on a budget?', 'Tram 28 and the miradouros.'])
  t.strictSame((await request('GET', `${API_V2}/conversations/${source.id}/messages`)).body.map((m: V2Message) => m.content),
    ['Two days in Lisbon?', 'Alfama, then Belém.', 'And with kids?', 'The aquarium.'], 'the original branch is kept')
})

t.test('a fork of 2,000 messages is one write with every copy in order', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const source = await v2.createConversation(user.id)
  for (let batch = 0; batch < 20; batch++) {
    await v2.postMessages(source.id, Array.from({ length: 100 }, (_, i) => ({ role: 'user' as const, content: `m${batch * 100 + i}`, usage: { inputTokens: 1, outputTokens: 2 } })))
  }
  const fork = await v2.fork(source.id)
  t.match(fork, { messageCount: 2000, usage: { inputTokens: 2000, outputTokens: 4000 } })
  const copies: V2Message[] = (await request('GET', `${API_V2}/conversations/${fork.id}/messages`)).body
  t.strictSame(copies.map((m) => m.content), Array.from({ length: 2000 }, (_, i) => `m${i}`))
})

t.test('a user forks only their own conversations; another user\'s is a 404', async (t) => {
  const app = await startApp(t, { auth: secretAuth })
  const { request } = app
  const admin = bearer(await adminToken())
  const ada = await app.createUser({ name: 'Ada' }, admin)
  const bob = await app.createUser({ name: 'Bob' }, admin)
  const v2 = v2Fixtures(request)
  const adas = await v2.createConversation(ada.id, { messages: [{ role: 'user', content: 'mine' }] }, admin)
  const asBob = bearer(await userToken(bob.id))
  const asAda = bearer(await userToken(ada.id))
  t.equal((await request('POST', forkUrl(adas.id), { headers: asBob })).status, 404, "Bob cannot fork Ada's conversation")
  t.equal((await request('POST', forkUrl(adas.id))).status, 401, 'no token: a 401')
  const fork = await v2.fork(adas.id, {}, asAda)
  t.equal(fork.userId, ada.id, "Ada's fork is Ada's")
})
