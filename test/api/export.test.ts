// export_user_data through the API on both stores: every conversation, in list order, as get_conversation_by_id gives
// it, with its messages as list_messages gives them, as NDJSON; one snapshot whatever writes happen while it
// streams; streamed in chunks with the same bytes as a single serialization; and scoping.
import t from 'tap'
import { API_V2, startApp, v2Fixtures, type Request, type V2Conversation, type V2Message, type V2NewMessage } from '../helper.js'
import { adminToken, bearer, secretAuth, userToken } from '../tokens.js'

type Line = V2Conversation & { messages: V2Message[] }

const exportUrl = (userId: number) => `${API_V2}/users/${userId}/export`

/** What the export should hold: each conversation as the API reads it, with its messages. */
async function expected (request: Request, userId: number): Promise<Line[]> {
  const conversations: V2Conversation[] = (await request('GET', `${API_V2}/users/${userId}/conversations`)).body
  return await Promise.all(conversations.map(async (conversation) => ({
    ...(await request('GET', `${API_V2}/conversations/${conversation.id}`)).body,
    messages: (await request('GET', `${API_V2}/conversations/${conversation.id}/messages`)).body,
  })))
}

const rich = (i: number): V2NewMessage => i % 3 === 0
  ? { role: 'user', content: `question ${i} — ünïcode 🙂 "quotes" \\ \n newline`, metadata: { i: String(i) } }
  : i % 3 === 1
    ? { role: 'assistant', parts: [{ type: 'reasoning', text: `why ${i}` }, { type: 'tool_call', id: `call_${i}`, name: 'f', arguments: { nested: { i, list: [1, null, 'x'] } } }], model: 'gpt-4o', usage: { inputTokens: i, outputTokens: 1 } }
    : { role: 'tool', parts: [{ type: 'tool_result', toolCallId: `call_${i - 1}`, output: `out ${i}`, isError: true }] }

t.test('an export is one NDJSON line per conversation, in list order, each with its messages as the API reads them', async (t) => {
  const app = await startApp(t, { listChunks: { size: 4 } })
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const other = await app.createUser({ name: 'Bob' })
  await v2.createConversation(other.id, { title: 'not Ada\'s', messages: [{ role: 'user', content: 'hidden' }] })
  const first = await v2.createConversation(user.id, { title: 'Lisbon', metadata: { a: 'b' }, messages: Array.from({ length: 11 }, (_, i) => rich(i)) })
  await v2.createConversation(user.id)
  for (let i = 0; i < 6; i++) await v2.createConversation(user.id, { title: `c${i}`, messages: [rich(0)] })
  await v2.fork(first.id, { atMessageId: first.messages[4]!.id })
  await v2.postMessage(first.id, { role: 'user', content: 'latest' })

  const reply = await request<Line[]>('GET', exportUrl(user.id))
  t.equal(reply.status, 200)
  t.match(reply.headers['content-type'], /^application\/x-ndjson/)
  t.equal(reply.text.split('\n').length, 9 + 1, 'nine lines, each ended by a newline')
  t.strictSame(reply.body, await expected(request, user.id))
  t.equal(reply.body[0]!.id, first.id, 'most recent activity first')
  t.equal(reply.body[0]!.messages.length, 12)
  t.ok(reply.body.every((line) => line.userId === user.id), "only the user's own")

  // Chunks of 4 rows and one chunk of everything make the same bytes.
  const whole = await startApp(t, { databaseUrl: app.databaseUrl, listChunks: { size: 10_000 } })
  t.equal((await whole.request('GET', exportUrl(user.id))).text, reply.text, 'byte for byte, however it is chunked')
})

t.test('a user with no conversations exports an empty body; an unknown user is a 404', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const user = await app.createUser()
  const empty = await request('GET', exportUrl(user.id))
  t.equal(empty.status, 200)
  t.equal(empty.text, '')
  const missing = await request('GET', exportUrl(2147483647))
  t.equal(missing.status, 404)
  t.match(missing.body, { type: 'urn:trackbot:problem:not-found' })
  t.equal((await request('GET', `${API_V2}/users/0/export`)).status, 400)
})

t.test('an export is one snapshot: writes made while it streams are not in it', async (t) => {
  let between = async () => {}
  const app = await startApp(t, { listChunks: { size: 2, betweenChunks: () => between() } })
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const conversations: V2Conversation[] = []
  for (let i = 0; i < 5; i++) conversations.push(await v2.createConversation(user.id, { title: `c${i}`, messages: [rich(0), rich(3), rich(6)] }))
  const before = await expected(request, user.id)
  let writes = 0
  between = async () => {
    if (writes++ > 0) return
    // Between the first chunk of conversations and the next: a new message moves the oldest conversation to the top,
    // another is deleted, one renamed, one added.
    await v2.postMessage(conversations[0]!.id, { role: 'user', content: 'moved' })
    t.equal((await request('DELETE', `${API_V2}/conversations/${conversations[1]!.id}`)).status, 204)
    t.equal((await request('PATCH', `${API_V2}/conversations/${conversations[2]!.id}`, { body: { title: 'renamed' } })).status, 200)
    await v2.createConversation(user.id, { title: 'new' })
  }
  const during = await request<Line[]>('GET', exportUrl(user.id))
  t.ok(writes > 0, 'the writes happened while the export streamed')
  t.strictSame(during.body, before, 'the export is the store as it was when it began')
  between = async () => {}
  t.strictSame((await request<Line[]>('GET', exportUrl(user.id))).body, await expected(request, user.id), 'and the next one has them')
})

t.test('a user exports only their own history; another user\'s is a 404', async (t) => {
  const app = await startApp(t, { auth: secretAuth })
  const { request } = app
  const admin = bearer(await adminToken())
  const ada = await app.createUser({ name: 'Ada' }, admin)
  const bob = await app.createUser({ name: 'Bob' }, admin)
  await v2Fixtures(request).createConversation(ada.id, { messages: [{ role: 'user', content: 'mine' }] }, admin)
  t.equal((await request('GET', exportUrl(ada.id), { headers: bearer(await userToken(bob.id)) })).status, 404, "Bob cannot export Ada's")
  t.equal((await request('GET', exportUrl(ada.id))).status, 401, 'no token: a 401')
  const own = await request<Line[]>('GET', exportUrl(ada.id), { headers: bearer(await userToken(ada.id)) })
  t.equal(own.status, 200)
  t.equal(own.body.length, 1)
})
