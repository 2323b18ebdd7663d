import t from 'tap'
import { API, startApp } from '../helper.js'

t.test('create_message appends; list_messages returns them oldest first', async (t) => {
  const { request } = await startApp(t)
  const userId = (await request('POST', `${API}/users`, { body: { name: 'Ada' } })).body.id
  const conversation = (await request('POST', `${API}/users/${userId}/conversations`, {
    body: { messages: [{ role: 'user', content: 'first' }] },
  })).body

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
  const { request } = await startApp(t)
  const userId = (await request('POST', `${API}/users`, { body: { name: 'Ada' } })).body.id
  const conversationId = (await request('POST', `${API}/users/${userId}/conversations`, { body: {} })).body.id
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
