// Conditional requests on conversations: the ETag follows every write of the conversation, If-None-Match
// saves a GET its body, If-Match makes a PATCH or DELETE refuse to overwrite a change it did not see.
import t from 'tap'
import { API, startApp, storeContents, type Fixtures, type Reply } from '../helper.js'

const PATCH = { 'content-type': 'application/merge-patch+json' }

async function newConversation (app: Fixtures): Promise<{ id: number, messageId: number, path: string }> {
  const user = await app.createUser({ name: 'Tagger' })
  const created = await app.createConversation(user.id, { title: 'Lisbon', messages: [{ role: 'user', content: 'hi' }] })
  return { id: created.id, messageId: created.messages[0]!.id, path: `${API}/conversations/${created.id}` }
}

const etagOf = (reply: Reply): string => String(reply.headers.etag)

t.test('the ETag of a GET and a PATCH is the one the next GET returns', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const { path } = await newConversation(app)

  const read = await request('GET', path)
  t.equal(read.status, 200)
  t.match(etagOf(read), /^"[^"]+"$/, 'a strong, quoted tag')
  t.equal(etagOf(await request('GET', path)), etagOf(read), 'stable while nothing changes')

  const patched = await request('PATCH', path, { body: { title: 'Porto' }, headers: PATCH })
  t.equal(patched.status, 200)
  t.not(etagOf(patched), etagOf(read), 'a PATCH changes it')
  t.equal(etagOf(await request('GET', path)), etagOf(patched), 'the PATCH answered the tag of the state it left')
})

t.test('the ETag changes with every write of the conversation, even within one millisecond', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const { path, messageId } = await newConversation(app)
  const tags = [etagOf(await request('GET', path))]

  t.equal((await request('POST', `${path}/messages`, { body: { role: 'assistant', content: 'hello' } })).status, 201)
  tags.push(etagOf(await request('GET', path)))
  t.equal((await request('DELETE', `${path}/messages/${messageId}`)).status, 204)
  tags.push(etagOf(await request('GET', path)))
  // Two patches at once: updatedAt may not even move between them, the ETag must.
  const burst = await Promise.all([
    request('PATCH', path, { body: { metadata: { a: '1' } }, headers: PATCH }),
    request('PATCH', path, { body: { metadata: { b: '2' } }, headers: PATCH }),
  ])
  t.same(burst.map((reply) => reply.status), [200, 200])
  tags.push(...burst.map(etagOf), etagOf(await request('GET', path)))

  t.equal(new Set(tags.slice(0, 5)).size, 5, `a new tag after each write: ${tags.join(' ')}`)
  t.ok(burst.map(etagOf).includes(tags[5]!), 'the GET after the burst sees the last patch\'s tag')
})

t.test('If-None-Match: 304 without a body while the tag is current, 200 once it is stale', async (t) => {
  // Over a real socket: a 304 as HTTP sends it, without a body.
  const app = await startApp(t, { transport: 'http' })
  const { request } = app
  const { path } = await newConversation(app)
  const etag = etagOf(await request('GET', path))

  for (const header of [etag, `W/${etag}`, `"0.0", ${etag}`, '*']) {
    const notModified = await request('GET', path, { headers: { 'if-none-match': header } })
    t.equal(notModified.status, 304, `If-None-Match: ${header}`)
    t.equal(notModified.text, '', 'no body')
    t.equal(etagOf(notModified), etag, 'the current tag, as RFC 9110 wants on a 304')
  }

  await request('PATCH', path, { body: { title: 'Porto' }, headers: PATCH })
  const fresh = await request('GET', path, { headers: { 'if-none-match': etag } })
  t.equal(fresh.status, 200, 'a stale tag gets the new state')
  t.equal(fresh.body.title, 'Porto')
  t.not(etagOf(fresh), etag)
})

t.test('If-Match: a stale tag is a 412 and changes nothing; the current one writes', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const { id, path } = await newConversation(app)
  const stale = etagOf(await request('GET', path))
  await app.postMessage(id, { role: 'user', content: 'moves the tag' })
  const current = etagOf(await request('GET', path))

  const before = await storeContents(databaseUrl)
  for (const [method, options] of [['PATCH', { body: { title: 'Lost' }, headers: { ...PATCH, 'if-match': stale } }], ['DELETE', { headers: { 'if-match': stale } }]] as const) {
    const refused = await request(method, path, options)
    t.equal(refused.status, 412, `${method} with a stale If-Match`)
    t.equal(refused.body.type, 'urn:trackbot:problem:precondition-failed')
    t.equal(await storeContents(databaseUrl), before, `a refused ${method} changed nothing`)
  }
  // Weak tags never match a strong comparison; a tag of another conversation names none of this one's states.
  for (const header of [`W/${current}`, current.replace(`"${id}.`, `"${id + 1}.`)]) {
    t.equal((await request('DELETE', path, { headers: { 'if-match': header } })).status, 412, `If-Match: ${header}`)
  }

  const patched = await request('PATCH', path, { body: { title: 'Porto' }, headers: { ...PATCH, 'if-match': `"0.0", ${current}` } })
  t.equal(patched.status, 200, 'PATCH on the current tag, listed among others')
  t.equal(patched.body.title, 'Porto')
  t.equal((await request('DELETE', path, { headers: { 'if-match': stale } })).status, 412)
  t.equal((await request('DELETE', path, { headers: { 'if-match': etagOf(patched) } })).status, 204, 'DELETE on the current tag')
  t.equal((await request('DELETE', path, { headers: { 'if-match': '*' } })).status, 404, 'gone: a 404, whatever If-Match says')
  t.equal((await request('PATCH', path, { body: {}, headers: { ...PATCH, 'if-match': etagOf(patched) } })).status, 404)
})

t.test('If-Match prevents a lost update: of two clients writing over the same read, one wins', async (t) => {
  // Over real sockets, so the two writes are in flight together.
  const app = await startApp(t, { transport: 'http' })
  const { request } = app
  const { path } = await newConversation(app)

  for (let round = 0; round < 5; round++) {
    const seen = etagOf(await request('GET', path))
    const writes = await Promise.all(['Alice', 'Bob'].map((title) =>
      request('PATCH', path, { body: { title }, headers: { ...PATCH, 'if-match': seen } })))
    t.same(writes.map((reply) => reply.status).sort(), [200, 412], `round ${round}: one 200, one 412`)
    const winner = writes.find((reply) => reply.status === 200)!
    const now = await request('GET', path)
    t.equal(now.body.title, winner.body.title, 'the stored title is the winner\'s')
    t.equal(etagOf(now), etagOf(winner))
  }
})

t.test('a malformed If-Match or If-None-Match is a 400 naming the header', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const { path } = await newConversation(app)
  for (const [method, name] of [['GET', 'if-none-match'], ['DELETE', 'if-match']] as const) {
    const reply = await request(method, path, { headers: { [name]: 'unquoted' } })
    t.equal(reply.status, 400, `${method} ${name}: unquoted`)
    t.ok(reply.body.errors.some((error: any) => error.in === 'header'), 'names the header')
  }
})
