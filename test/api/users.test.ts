// The users: create_user, get_user_by_id and delete_user, with what a user's email may be and what a delete takes with it.
import t from 'tap'
import { API, runSql, startApp } from '../helper.js'

t.test('create_user returns the user with a Location, and get_user_by_id finds it', async (t) => {
  const { request } = await startApp(t)
  const created = await request('POST', `${API}/users`, { body: { name: 'Ada Lovelace', email: 'ada@example.com' } })
  t.equal(created.status, 201)
  t.match(created.body, { id: Number, name: 'Ada Lovelace', email: 'ada@example.com', createdAt: String })
  t.equal(created.headers.location, `${API}/users/${created.body.id}`)

  const fetched = await request('GET', created.headers.location as string)
  t.equal(fetched.status, 200)
  t.same(fetched.body, created.body)
})

t.test('email is optional and null when absent', async (t) => {
  const { request } = await startApp(t)
  const created = await request('POST', `${API}/users`, { body: { name: 'Grace' } })
  t.equal(created.status, 201)
  t.equal(created.body.email, null)
})

t.test('a null email is stored as no email, so a user read back can be sent again', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const grace = await createUser({ name: 'Grace' })
  const fetched = (await request('GET', `${API}/users/${grace.id}`)).body
  // The fields a client reads are the fields it may send: email null included.
  const again = await request('POST', `${API}/users`, { body: { name: fetched.name, email: fetched.email } })
  t.equal(again.status, 201)
  t.equal(again.body.email, null)
  t.not(again.body.id, grace.id)
  t.same((await request('GET', `${API}/users/${again.body.id}`)).body, again.body)
  // No email is not an email: any number of users may have none.
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Third', email: null } })).status, 201)
  t.same(await runSql(databaseUrl, 'SELECT email FROM "User" ORDER BY id'), [{ email: null }, { email: null }, { email: null }])
})

t.test('a second user with the same email is a 409 and is not stored', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const first = await createUser({ name: 'A', email: 'same@example.com' })
  const clash = await request('POST', `${API}/users`, { body: { name: 'B', email: 'same@example.com' } })
  t.equal(clash.status, 409)
  t.equal(clash.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(clash.body, { status: 409, title: 'Conflict', instance: `${API}/users` })
  t.same(await runSql(databaseUrl, 'SELECT id, name, email FROM "User"'), [{ id: first.id, name: 'A', email: 'same@example.com' }])
})

t.test('get_user_by_id and delete_user on a missing user are 404 problems', async (t) => {
  const { request } = await startApp(t)
  for (const method of ['GET', 'DELETE']) {
    const missing = await request(method, `${API}/users/999`)
    t.equal(missing.status, 404)
    t.match(missing.body, { type: 'urn:trackbot:problem:not-found', status: 404, detail: 'User 999 does not exist.' })
  }
})

t.test('delete_user removes the user, its conversations and their messages', async (t) => {
  const { request, createUser, createConversation } = await startApp(t)
  const user = await createUser({ name: 'Doomed' })
  const other = await createUser({ name: 'Kept' })
  const conversation = await createConversation(user.id, { messages: [{ role: 'user', content: 'hi' }] })
  const kept = await createConversation(other.id, { messages: [{ role: 'user', content: 'stay' }] })

  t.equal((await request('DELETE', `${API}/users/${user.id}`)).status, 204)
  t.equal((await request('GET', `${API}/users/${user.id}`)).status, 404)
  t.equal((await request('GET', `${API}/conversations/${conversation.id}`)).status, 404)
  t.equal((await request('GET', `${API}/conversations/${conversation.id}/messages`)).status, 404)
  t.equal((await request('GET', `${API}/users/${user.id}/conversations`)).status, 404)
  // Exactly the user's rows went.
  t.equal((await request('GET', `${API}/conversations/${kept.id}`)).body.messageCount, 1)
  t.equal((await request('GET', `${API}/conversations/${kept.id}/messages`)).body.length, 1)
  t.equal((await request('DELETE', `${API}/users/${user.id}`)).status, 404)
})
