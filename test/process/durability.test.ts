import t from 'tap'
import { API, freshDatabaseUrl, startApp } from '../helper.js'
import { buildApp } from '../../src/app.js'
import { request } from '../helper.js'

t.test('a restart on the same database keeps everything', async (t) => {
  const databaseUrl = await freshDatabaseUrl(t)
  const first = await buildApp({ databaseUrl })
  const user = (await request<any>(first, 'POST', `${API}/users`, { body: { name: 'Ada', email: 'ada@example.com' } })).body
  const conversation = (await request<any>(first, 'POST', `${API}/users/${user.id}/conversations`, {
    body: { title: 'kept', metadata: { a: 'b' }, messages: [{ role: 'user', content: 'one' }, { role: 'assistant', content: 'two' }] },
  })).body
  const message = (await request<any>(first, 'POST', `${API}/conversations/${conversation.id}/messages`, { body: { role: 'user', content: 'three' } })).body
  const listedBefore = (await request<any>(first, 'GET', `${API}/users/${user.id}/conversations`)).body
  await first.close()

  const { request: again } = await startApp(t, databaseUrl)
  t.same((await again('GET', `${API}/users/${user.id}`)).body, user)
  t.same((await again('GET', `${API}/users/${user.id}/conversations`)).body, listedBefore)
  const messages = (await again('GET', `${API}/conversations/${conversation.id}/messages`)).body
  t.same(messages, [...conversation.messages, message])
  // Ids keep growing after a restart, never reused.
  const next = (await again('POST', `${API}/users`, { body: { name: 'Grace' } })).body
  t.ok(next.id > user.id)
})
