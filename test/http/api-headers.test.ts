// Every API answer, success or problem, is not to be sniffed or cached; the spec files and /docs keep their own caching.
import t from 'tap'
import { API, startApp } from '../helper.js'

t.test('API answers carry nosniff and no-store; the docs and spec files keep their caching', async (t) => {
  const { app, request } = await startApp(t)
  const created = await request('POST', `${API}/users`, { body: { name: 'Ada' } })
  const answers = {
    '201 create': created,
    '200 read': await request('GET', `${API}/users/${created.body.id}`),
    '200 list': await request('GET', `${API}/users/${created.body.id}/conversations`),
    '404 problem': await request('GET', `${API}/users/999`),
    '400 problem': await request('GET', `${API}/users/abc`),
    '404 unknown path': await request('GET', `${API}/nope`),
    '415 problem': await request('POST', `${API}/users`, { payload: 'x', headers: { 'content-type': 'text/plain' } }),
  }
  for (const [what, reply] of Object.entries(answers)) {
    t.equal(reply.headers['x-content-type-options'], 'nosniff', what)
    t.equal(reply.headers['cache-control'], 'no-store', what)
  }
  const deleted = await request('DELETE', `${API}/users/${created.body.id}`)
  t.equal(deleted.status, 204)
  t.equal(deleted.headers['cache-control'], 'no-store', '204 delete')

  for (const url of [`${API}/openapi.json`, `${API}/openapi.yaml`, '/docs/static/swagger-initializer.js']) {
    const reply = await app.inject({ url })
    t.equal(reply.statusCode, 200, url)
    t.not(reply.headers['cache-control'], 'no-store', `${url} keeps its own caching`)
  }
})
