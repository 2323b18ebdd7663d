// A restart on the same database keeps everything: a second app on the store the first one closed.
import t from 'tap'
import { API, startApp, testDatabaseUrl } from '../helper.js'

t.test('a restart on the same database keeps everything', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const first = await startApp(t, { databaseUrl })
  const user = await first.createUser({ name: 'Ada', email: 'ada@example.com' })
  const conversation = await first.createConversation(user.id, {
    title: 'kept', metadata: { a: 'b' }, messages: [{ role: 'user', content: 'one' }, { role: 'assistant', content: 'two' }],
  })
  const message = await first.postMessage(conversation.id, { role: 'user', content: 'three' })
  const listedBefore = (await first.request('GET', `${API}/users/${user.id}/conversations`)).body
  await first.app.close()

  const { request: again, createUser } = await startApp(t, { databaseUrl })
  t.same((await again('GET', `${API}/users/${user.id}`)).body, user)
  t.same((await again('GET', `${API}/users/${user.id}/conversations`)).body, listedBefore)
  const messages = (await again('GET', `${API}/conversations/${conversation.id}/messages`)).body
  t.same(messages, [...conversation.messages, message])
  // Ids keep growing after a restart, never reused.
  const next = await createUser({ name: 'Grace' })
  t.ok(next.id > user.id)
})
