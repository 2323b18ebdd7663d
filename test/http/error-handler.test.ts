// An error after the handler replaces its answer: the masked 500 carries none of the headers the result set.
import t from 'tap'
import { API, specVariant, startApp } from '../helper.js'

t.test('a result the serializer rejects is a 500 problem without the result\'s Location', async (t) => {
  // The 201's schema requires a property create_conversation does not return: its serializer throws after the handler set Location.
  const spec = specVariant((document) => {
    const response = document.components.schemas.CreateConversationResponse
    response.properties.archivedAt = { type: 'string' }
    response.required.push('archivedAt')
  })
  const { request, createUser } = await startApp(t, { spec })
  const user = await createUser()
  const reply = await request('POST', `${API}/users/${user.id}/conversations`, { body: { title: 'x' }, headers: { 'x-request-id': 'trace-1' }, expectServerError: true })
  t.equal(reply.status, 500)
  t.equal(reply.body.type, 'urn:trackbot:problem:internal-error')
  t.equal(reply.headers.location, undefined, 'no Location for a resource the answer does not describe')
  t.equal(reply.headers['x-request-id'], 'trace-1', 'the platform\'s headers stay')
  t.match(reply.body.detail, /trace-1/)
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Grace' } })).headers.location, `${API}/users/2`, 'other results keep theirs')
})
