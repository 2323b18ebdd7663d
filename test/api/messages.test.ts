// Messages: create_message, list_messages, get_message and delete_message, with what content keeps exactly.
import t from 'tap'
import { API, storeContents, startApp, until, type Fixtures, type Message } from '../helper.js'

t.test('create_message appends; list_messages returns them oldest first', async (t) => {
  const { request, createUser, createConversation } = await startApp(t)
  const conversation = await createConversation((await createUser()).id, { messages: [{ role: 'user', content: 'first' }] })

  const second = await request('POST', `${API}/conversations/${conversation.id}/messages`, { body: { role: 'assistant', content: 'second' } })
  t.equal(second.status, 201)
  t.match(second.body, { id: Number, conversationId: conversation.id, role: 'assistant', content: 'second', createdAt: String })
  await request('POST', `${API}/conversations/${conversation.id}/messages`, { body: { role: 'user', content: 'third' } })

  const listed = await request('GET', `${API}/conversations/${conversation.id}/messages`)
  t.equal(listed.status, 200)
  t.same(listed.body.map((m: any) => m.content), ['first', 'second', 'third'])
  const after = await request('GET', `${API}/conversations/${conversation.id}`)
  t.equal(after.body.messageCount, 3)
})

t.test('create_message and list_messages on a missing conversation are 404', async (t) => {
  const { request } = await startApp(t)
  const posted = await request('POST', `${API}/conversations/5/messages`, { body: { role: 'user', content: 'x' } })
  t.equal(posted.status, 404)
  t.match(posted.body, { detail: 'Conversation 5 does not exist.' })
  t.equal((await request('GET', `${API}/conversations/5/messages`)).status, 404)
})

t.test('message content keeps its characters exactly, up to 32768 of them', async (t) => {
  const { request, createUser, createConversation } = await startApp(t)
  const conversationId = (await createConversation((await createUser()).id)).id
  const content = 'é🙂\u0001"\\\n\t<\u2028>'.padEnd(32768, 'x')
  const posted = await request('POST', `${API}/conversations/${conversationId}/messages`, { body: { role: 'system', content } })
  t.equal(posted.status, 201)
  const listed = await request('GET', `${API}/conversations/${conversationId}/messages`)
  t.equal(listed.body[0].content, content)
})

t.test('emoji and U+FFFD round-trip in every text field, sent as they are or as JSON \\u escapes', async (t) => {
  const { request } = await startApp(t)
  // Astral characters (surrogate pairs in UTF-16), a ZWJ sequence, a flag, a skin tone, and U+FFFD itself.
  const text = 'Lisbon 🇵🇹 👩‍👩‍👧 👍🏽 😀 \ufffd'
  const user = await request('POST', `${API}/users`, { body: { name: text } })
  t.equal(user.status, 201)
  t.equal(user.body.name, text)
  const conversation = await request('POST', `${API}/users/${user.body.id}/conversations`, {
    body: { title: text, metadata: { [text]: text }, messages: [{ role: 'user', content: text }] },
  })
  t.equal(conversation.status, 201)
  t.match(conversation.body, { title: text, metadata: { [text]: text }, messages: [{ content: text }] })
  // Every UTF-16 unit escaped, as a JSON encoder that writes ASCII only sends it: each pair as two \u escapes.
  const escaped = JSON.stringify({ role: 'assistant', content: text })
    .replace(/[^ -~]/g, (unit) => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
  t.match(escaped, /\\ud83d\\ude00/)
  const posted = await request('POST', `${API}/conversations/${conversation.body.id}/messages`, {
    payload: escaped, headers: { 'content-type': 'application/json' },
  })
  t.equal(posted.status, 201)
  t.equal(posted.body.content, text)

  t.equal((await request('GET', `${API}/users/${user.body.id}`)).body.name, text)
  t.match((await request('GET', `${API}/conversations/${conversation.body.id}`)).body, { title: text, metadata: { [text]: text } })
  const listed = await request('GET', `${API}/conversations/${conversation.body.id}/messages`)
  t.same(listed.body.map((m: any) => m.content), [text, text])
})

/** Waits until the clock that stamps writes (this process's: the app runs in it) is past `time`. */
const clockPast = (time: string) => until(`the clock to pass ${time}`, () => Date.now() > Date.parse(time))

/** A user with one conversation holding `contents` as user messages; the conversation as created. */
async function conversationWith (app: Fixtures, contents: string[]) {
  const user = await app.createUser()
  return await app.createConversation(user.id, { messages: contents.map((content) => ({ role: 'user' as const, content })) })
}

t.test('get_message returns one message of its conversation, and 404 for one of another conversation', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const mine = await conversationWith(app, ['first', 'second'])
  const other = await conversationWith(app, ['elsewhere'])
  const second = mine.messages[1]!
  const elsewhere = other.messages[0]!.id

  const got = await request('GET', `${API}/conversations/${mine.id}/messages/${second.id}`)
  t.equal(got.status, 200)
  t.same(got.body, second)

  const foreign = await request('GET', `${API}/conversations/${mine.id}/messages/${elsewhere}`)
  t.equal(foreign.status, 404, 'a message of another conversation is not found here')
  t.match(foreign.body, { type: 'urn:trackbot:problem:not-found', detail: `Conversation ${mine.id} has no message ${elsewhere}.` })
  t.equal((await request('GET', `${API}/conversations/${mine.id}/messages/999999`)).status, 404)
  t.equal((await request('GET', `${API}/conversations/999999/messages/${second.id}`)).status, 404)
  t.equal((await request('GET', `${API}/conversations/${mine.id}/messages/0`)).status, 400)
})

t.test('delete_message removes exactly that message; messageCount follows and updatedAt moves', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const conversation = await conversationWith(app, ['first', 'second', 'third'])
  const [first, second, third] = conversation.messages as [Message, Message, Message]
  await clockPast(conversation.updatedAt)

  const deleted = await request('DELETE', `${API}/conversations/${conversation.id}/messages/${second.id}`)
  t.equal(deleted.status, 204)
  t.equal(deleted.text, '')
  t.equal((await request('GET', `${API}/conversations/${conversation.id}/messages/${second.id}`)).status, 404)
  t.same((await request('GET', `${API}/conversations/${conversation.id}/messages`)).body, [first, third])
  const after = (await request('GET', `${API}/conversations/${conversation.id}`)).body
  t.equal(after.messageCount, 2)
  t.ok(after.updatedAt > conversation.updatedAt, 'a delete is activity: updatedAt moves')

  const again = await request('DELETE', `${API}/conversations/${conversation.id}/messages/${second.id}`)
  t.equal(again.status, 404)
  t.equal((await request('GET', `${API}/conversations/${conversation.id}`)).body.messageCount, 2, 'a 404 changes no count')
})

t.test('delete_message of a message in another conversation is a 404 and changes nothing', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const mine = await conversationWith(app, ['mine'])
  const other = await conversationWith(app, ['theirs'])
  const elsewhere = other.messages[0]!.id
  const before = await storeContents(databaseUrl)
  const foreign = await request('DELETE', `${API}/conversations/${mine.id}/messages/${elsewhere}`)
  t.equal(foreign.status, 404)
  t.equal((await request('DELETE', `${API}/conversations/999999/messages/${elsewhere}`)).status, 404)
  t.equal(await storeContents(databaseUrl), before)
})

t.test('concurrent deletes of every message leave messageCount at 0, and one 204 per message', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const conversation = await conversationWith(app, Array.from({ length: 20 }, (_, i) => `m${i}`))
  // Each message deleted twice at once: exactly one of the two finds it.
  const statuses = await Promise.all(conversation.messages.flatMap((message: { id: number }) => [1, 2].map(() =>
    request('DELETE', `${API}/conversations/${conversation.id}/messages/${message.id}`).then((reply) => reply.status))))
  t.equal(statuses.filter((status) => status === 204).length, 20)
  t.equal(statuses.filter((status) => status === 404).length, 20)
  t.equal((await request('GET', `${API}/conversations/${conversation.id}`)).body.messageCount, 0)
})
