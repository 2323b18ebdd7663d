// Conversations: create_conversation, list_conversations, get_conversation_by_id, delete_conversation and
// update_conversation's merge patch.
import t from 'tap'
import { API, storeContents, startApp, until, type CreatedConversation, type Fixtures } from '../helper.js'

/** Waits until the clock that stamps writes (this process's: the app runs in it) is past `time`. */
const clockPast = (time: string) => until(`the clock to pass ${time}`, () => Date.now() > Date.parse(time))

t.test('create_conversation accepts {} and an empty body, as the seed client sends', async (t) => {
  const { request, createUser } = await startApp(t)
  const userId = (await createUser()).id
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
  const { request, createUser } = await startApp(t)
  const userId = (await createUser()).id
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
  const { request, createUser } = await startApp(t)
  const userId = (await createUser()).id
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
  const { request, createUser, createConversation } = await startApp(t)
  const userId = (await createUser()).id
  const otherId = (await createUser({ name: 'Other' })).id
  const created: CreatedConversation[] = []
  for (let i = 0; i < 4; i++) created.push(await createConversation(userId, { title: `c${i}` }))
  const ids = created.map((conversation) => conversation.id)
  await createConversation(otherId)
  t.same((await request('GET', `${API}/users/${otherId}/conversations`)).body.length, 1)

  // The bump must land later than every create, or the order would fall back to ids.
  await clockPast(created.at(-1)!.updatedAt)
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
  const { request, createUser } = await startApp(t)
  const userId = (await createUser()).id
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
  const { request, createUser, createConversation } = await startApp(t)
  const userId = (await createUser()).id
  const doomed = await createConversation(userId, { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] })
  const kept = await createConversation(userId, { messages: [{ role: 'user', content: 'c' }] })

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
  const { request, createUser } = await startApp(t)
  const userId = (await createUser()).id
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    request('POST', `${API}/users/${userId}/conversations`, { body: { title: `t${i}`, messages: [{ role: 'user', content: `m${i}` }] } })))
  t.ok(replies.every((reply) => reply.status === 201))
  t.equal(new Set(replies.map((reply) => reply.body.id)).size, 50)
  const listed = await request('GET', `${API}/users/${userId}/conversations`)
  t.equal(listed.body.length, 50)
  t.ok(listed.body.every((c: any) => c.messageCount === 1))
})

const MERGE_PATCH = { 'content-type': 'application/merge-patch+json' }

async function newConversation (app: Fixtures, body: Parameters<Fixtures['createConversation']>[1]) {
  return await app.createConversation((await app.createUser()).id, body)
}

t.test('update_conversation merges: title replaced or cleared, metadata keys set, replaced and removed, the rest kept', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const conversation = await newConversation(app, { title: 'Lisbon', metadata: { model: 'a', source: 'web', keep: 'me' } })
  await clockPast(conversation.updatedAt)
  const url = `${API}/conversations/${conversation.id}`

  const patched = await request('PATCH', url, { body: { title: 'Porto', metadata: { model: 'b', source: null, added: 'new' } }, headers: MERGE_PATCH })
  t.equal(patched.status, 200)
  t.match(patched.body, { id: conversation.id, title: 'Porto', metadata: { model: 'b', keep: 'me', added: 'new' }, messageCount: 0, createdAt: conversation.createdAt })
  t.same(Object.keys(patched.body.metadata).sort(), ['added', 'keep', 'model'], 'a null removes the key')
  t.ok(patched.body.updatedAt > conversation.updatedAt, 'updatedAt moves')
  t.same((await request('GET', url)).body, patched.body, 'stored as answered')

  // application/json means the same; absent fields are untouched.
  const cleared = await request('PATCH', url, { body: { title: null } })
  t.equal(cleared.status, 200)
  t.same([cleared.body.title, cleared.body.metadata], [null, patched.body.metadata])
  const metadataOnly = await request('PATCH', url, { body: { metadata: { keep: null } } })
  t.same([metadataOnly.body.title, metadataOnly.body.metadata], [null, { model: 'b', added: 'new' }])
  const nothing = await request('PATCH', url, { body: {}, headers: MERGE_PATCH })
  t.equal(nothing.status, 200)
  t.same([nothing.body.title, nothing.body.metadata], [null, { model: 'b', added: 'new' }])
})

t.test('update_conversation refuses a merge past the metadata key bound with a 400 naming /metadata, storing nothing', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const full = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v']))
  const conversation = await newConversation(app, { title: 'Full', metadata: full })
  const url = `${API}/conversations/${conversation.id}`
  const before = await storeContents(databaseUrl)

  for (const headers of [MERGE_PATCH, {}]) {
    const refused = await request('PATCH', url, { body: { title: 'changed', metadata: { extra: 'one too many' } }, headers })
    t.equal(refused.status, 400)
    t.match(refused.body, { type: 'urn:trackbot:problem:validation-error', errors: [{ in: 'body', pointer: '/metadata', detail: /more than 16 properties/ }] })
    t.equal(refused.body.errors.length, 1)
  }
  t.equal(await storeContents(databaseUrl), before, 'neither title nor metadata changed')

  // A key replaced for another stays within the bound.
  const swapped = await request('PATCH', url, { body: { metadata: { k0: null, extra: 'fits' } }, headers: MERGE_PATCH })
  t.equal(swapped.status, 200)
  t.equal(Object.keys(swapped.body.metadata).length, 16)
})

t.test('update_conversation: unknown fields and bad values are 400, a missing conversation 404, PUT 405', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const conversation = await newConversation(app, { title: 'Lisbon' })
  const url = `${API}/conversations/${conversation.id}`
  const before = await storeContents(databaseUrl)

  const unknown = await request('PATCH', url, { body: { title: 'x', messageCount: 9 }, headers: MERGE_PATCH })
  t.equal(unknown.status, 400)
  t.match(unknown.body.errors, [{ in: 'body', pointer: '/messageCount', detail: 'is not allowed here' }])
  const longKey = await request('PATCH', url, { body: { metadata: { ['k'.repeat(65)]: 'v' } }, headers: MERGE_PATCH })
  t.equal(longKey.status, 400)
  t.match(longKey.body.errors, [{ pointer: `/metadata/${'k'.repeat(65)}` }])
  const badValue = await request('PATCH', url, { body: { metadata: { model: 7 } } })
  t.equal(badValue.status, 400)
  t.equal((await request('PATCH', url, { body: { title: '' }, headers: MERGE_PATCH })).status, 400)
  t.equal((await request('PATCH', url, { headers: MERGE_PATCH })).status, 400, 'a patch needs a body')
  t.equal((await request('PATCH', url, { payload: 'title=x', headers: { 'content-type': 'text/plain' } })).status, 415)
  t.equal(await storeContents(databaseUrl), before)

  const missing = await request('PATCH', `${API}/conversations/999999`, { body: { title: 'x' }, headers: MERGE_PATCH })
  t.equal(missing.status, 404)
  t.match(missing.body, { detail: 'Conversation 999999 does not exist.' })
  const put = await request('PUT', url, { body: { title: 'x' } })
  t.equal(put.status, 405)
  t.match(put.headers.allow, /PATCH/)
})

t.test('concurrent patches of different metadata keys all land', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const conversation = await newConversation(app, { metadata: { base: 'kept' } })
  const url = `${API}/conversations/${conversation.id}`
  // With the base key, one short of the bound of 16.
  const keys = Array.from({ length: 14 }, (_, i) => `key${i}`)
  const replies = await Promise.all(keys.map((key, i) =>
    request('PATCH', url, { body: { metadata: { [key]: key } }, headers: i % 2 === 0 ? MERGE_PATCH : {} })))
  t.same(replies.map((reply) => reply.status), keys.map(() => 200))
  const stored = (await request('GET', url)).body.metadata
  t.same(stored, { base: 'kept', ...Object.fromEntries(keys.map((key) => [key, key])) }, 'no key lost')

  // One key short of the bound, of two concurrent patches adding a key each, exactly one fits.
  const [a, b] = await Promise.all(['late1', 'late2'].map((key) => request('PATCH', url, { body: { metadata: { [key]: 'v' } } })))
  t.same([a!.status, b!.status].sort(), [200, 400])
  t.equal(Object.keys((await request('GET', url)).body.metadata).length, 16)
})
