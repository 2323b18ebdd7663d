import t from 'tap'
import { API, startApp, type TestApp } from '../helper.js'

async function newUser (request: TestApp['request'], name = 'Ada'): Promise<number> {
  return (await request('POST', `${API}/users`, { body: { name } })).body.id
}

t.test('create_conversation accepts {} and an empty body, as the seed client sends', async (t) => {
  const { request } = await startApp(t)
  const userId = await newUser(request)
  const empty = await request('POST', `${API}/users/${userId}/conversations`, { body: {} })
  t.equal(empty.status, 201)
  t.match(empty.body, { userId, title: null, metadata: {}, messageCount: 0, messages: [] })
  t.equal(empty.body.createdAt, empty.body.updatedAt)
  t.equal(empty.headers.location, `${API}/conversations/${empty.body.id}`)

  const noBody = await request('POST', `${API}/users/${userId}/conversations`)
  t.equal(noBody.status, 201)
  const emptyJson = await request('POST', `${API}/users/${userId}/conversations`, {
    payload: '', headers: { 'content-type': 'application/json' },
  })
  t.equal(emptyJson.status, 201)
  t.not(noBody.body.id, emptyJson.body.id)
})

t.test('create_conversation stores title, metadata and initial messages in order', async (t) => {
  const { request } = await startApp(t)
  const userId = await newUser(request)
  const messages = [
    { role: 'system', content: 'You are a travel guide.' },
    { role: 'user', content: 'What should I see in Lisbon?' },
    { role: 'assistant', content: 'Alfama, then tram 28.' },
  ]
  const created = await request('POST', `${API}/users/${userId}/conversations`, {
    body: { title: 'Lisbon', metadata: { model: 'gpt-4o', 'key/with~odd': 'ü' }, messages },
  })
  t.equal(created.status, 201)
  t.match(created.body, { title: 'Lisbon', metadata: { model: 'gpt-4o', 'key/with~odd': 'ü' }, messageCount: 3 })
  t.same(created.body.messages.map((m: any) => ({ role: m.role, content: m.content })), messages)
  const ids = created.body.messages.map((m: any) => m.id)
  t.same(ids, [...ids].sort((a: number, b: number) => a - b), 'ids follow the given order')
  for (const message of created.body.messages) {
    t.equal(message.conversationId, created.body.id)
    t.equal(message.createdAt, created.body.createdAt)
  }

  const fetched = await request('GET', `${API}/conversations/${created.body.id}`)
  t.equal(fetched.status, 200)
  const { messages: _, ...conversation } = created.body
  t.same(fetched.body, conversation)
  const listed = await request('GET', `${API}/conversations/${created.body.id}/messages`)
  t.same(listed.body, created.body.messages)
})

t.test('create_conversation keeps the request order of a dozen initial messages, past the tenth', async (t) => {
  const { request } = await startApp(t)
  const userId = await newUser(request)
  const messages = Array.from({ length: 12 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i}` }))
  const created = await request('POST', `${API}/users/${userId}/conversations`, { body: { messages } })
  t.equal(created.status, 201)
  t.equal(created.body.messageCount, 12)
  t.same(created.body.messages.map((m: any) => m.content), messages.map((m) => m.content))
  const ids = created.body.messages.map((m: any) => m.id)
  t.same(ids, [...ids].sort((a: number, b: number) => a - b), 'ids follow the given order')
  const listed = await request('GET', `${API}/conversations/${created.body.id}/messages`)
  t.same(listed.body, created.body.messages)
})

t.test('create_conversation and list_conversations for a missing user are 404', async (t) => {
  const { request } = await startApp(t)
  const created = await request('POST', `${API}/users/4242/conversations`, { body: { title: 'x' } })
  t.equal(created.status, 404)
  t.match(created.body, { status: 404, detail: 'User 4242 does not exist.' })
  const listed = await request('GET', `${API}/users/4242/conversations`)
  t.equal(listed.status, 404)
})

t.test('list_conversations returns all of them, most recent activity first', async (t) => {
  const { request } = await startApp(t)
  const userId = await newUser(request)
  const otherId = await newUser(request, 'Other')
  const ids: number[] = []
  for (let i = 0; i < 4; i++) {
    ids.push((await request('POST', `${API}/users/${userId}/conversations`, { body: { title: `c${i}` } })).body.id)
  }
  await request('POST', `${API}/users/${otherId}/conversations`, { body: {} })
  t.same((await request('GET', `${API}/users/${otherId}/conversations`)).body.length, 1)

  await new Promise((resolve) => setTimeout(resolve, 5))
  const posted = await request('POST', `${API}/conversations/${ids[1]}/messages`, { body: { role: 'user', content: 'bump' } })
  t.equal(posted.status, 201)

  const listed = await request('GET', `${API}/users/${userId}/conversations`)
  t.equal(listed.status, 200)
  t.equal(listed.headers.link, undefined, 'no Link when unpaginated')
  const expected = [ids[1], ids[3], ids[2], ids[0]]
  t.same(listed.body.map((c: any) => c.id), expected)
  const bumped = listed.body[0]
  t.equal(bumped.messageCount, 1)
  t.equal(bumped.updatedAt, posted.body.createdAt, 'updatedAt moves with the message')
  t.ok(bumped.updatedAt > bumped.createdAt)
})

t.test('a user with no conversations lists []', async (t) => {
  const { request } = await startApp(t)
  const userId = await newUser(request)
  const listed = await request('GET', `${API}/users/${userId}/conversations`)
  t.equal(listed.status, 200)
  t.same(listed.body, [])
})

t.test('get_conversation_by_id on a missing conversation is a 404 problem', async (t) => {
  const { request } = await startApp(t)
  const missing = await request('GET', `${API}/conversations/77`)
  t.equal(missing.status, 404)
  t.match(missing.body, { type: 'urn:trackbot:problem:not-found', detail: 'Conversation 77 does not exist.', instance: `${API}/conversations/77` })
})

t.test('delete_conversation removes it and exactly its messages', async (t) => {
  const { request } = await startApp(t)
  const userId = await newUser(request)
  const doomed = (await request('POST', `${API}/users/${userId}/conversations`, {
    body: { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] },
  })).body
  const kept = (await request('POST', `${API}/users/${userId}/conversations`, {
    body: { messages: [{ role: 'user', content: 'c' }] },
  })).body

  const deleted = await request('DELETE', `${API}/conversations/${doomed.id}`)
  t.equal(deleted.status, 204)
  t.equal(deleted.text, '')
  t.equal((await request('GET', `${API}/conversations/${doomed.id}`)).status, 404)
  t.equal((await request('GET', `${API}/conversations/${doomed.id}/messages`)).status, 404)
  t.equal((await request('POST', `${API}/conversations/${doomed.id}/messages`, { body: { role: 'user', content: 'late' } })).status, 404)
  t.equal((await request('DELETE', `${API}/conversations/${doomed.id}`)).status, 404)
  t.same((await request('GET', `${API}/conversations/${kept.id}/messages`)).body.map((m: any) => m.content), ['c'])
  t.same((await request('GET', `${API}/users/${userId}/conversations`)).body.map((c: any) => c.id), [kept.id])
})

t.test('50 concurrent creates give 50 distinct conversations', async (t) => {
  const { request } = await startApp(t)
  const userId = await newUser(request)
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    request('POST', `${API}/users/${userId}/conversations`, { body: { title: `t${i}`, messages: [{ role: 'user', content: `m${i}` }] } })))
  t.ok(replies.every((reply) => reply.status === 201))
  t.equal(new Set(replies.map((reply) => reply.body.id)).size, 50)
  const listed = await request('GET', `${API}/users/${userId}/conversations`)
  t.equal(listed.body.length, 50)
  t.ok(listed.body.every((c: any) => c.messageCount === 1))
})
