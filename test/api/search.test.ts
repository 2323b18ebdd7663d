import t from 'tap'
import { API_V2, startApp, v2Fixtures } from '../helper.js'

t.test('smoke', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const c = await v2.createConversation(user.id, { title: 'Trip to Lisbon', messages: [{ role: 'user', content: 'Take Tram 28 up to the Castelo, café first' }] })
  for (const q of ['tram', '"tram 28"', 'cas*', 'cafe', 'lisbon', 'NEAR OR ) "', 'nothing']) {
    const reply = await request('GET', `${API_V2}/users/${user.id}/search?q=${encodeURIComponent(q)}&limit=1`)
    console.log(q, reply.status, JSON.stringify(reply.body), reply.headers.link)
  }
  t.ok(c)
})
