// Request bodies are parsed in the media types the spec declares, and a request without a body has none,
// whatever Content-Type it carries.
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { API, httpRequest, specVariant, startApp, storeContents, testDatabaseUrl, type Reply } from '../helper.js'

const MERGE_PATCH = 'application/merge-patch+json'
const FORM = 'application/x-www-form-urlencoded'

function problemOf (t: Test, reply: Reply, status: number, type: string): void {
  t.equal(reply.status, status, reply.text.slice(0, 300))
  t.equal(String(reply.headers['content-type']).split(';')[0], 'application/problem+json')
  t.equal(reply.body.type, `urn:trackbot:problem:${type}`)
}

t.test('a media type the spec declares is parsed and validated against its own schema', async (t) => {
  // create_conversation also takes merge-patch, with a stricter schema than its JSON one; create_user a vendor +json type.
  const spec = specVariant((document) => {
    document.paths['/users/{userId}/conversations'].post.requestBody.content[MERGE_PATCH] = {
      schema: { type: 'object', additionalProperties: false, required: ['title'], properties: { title: { type: 'string', maxLength: 5 } } },
    }
    document.paths['/users'].post.requestBody.content['application/vnd.trackbot.v1+json'] = document.paths['/users'].post.requestBody.content['application/json']
  })
  const { request, createUser } = await startApp(t, { spec })
  const userId = (await createUser()).id
  const conversations = `${API}/users/${userId}/conversations`
  const send = (path: string, payload: string, contentType: string) => request('POST', path, { payload, headers: { 'content-type': contentType } })

  const created = await send(conversations, '{"title":"Rome"}', `${MERGE_PATCH}; charset=utf-8`)
  t.equal(created.status, 201)
  t.equal(created.body.title, 'Rome', 'the parsed body reached the handler')

  const tooLong = await send(conversations, '{"title":"Lisbon"}', MERGE_PATCH)
  problemOf(t, tooLong, 400, 'validation-error')
  t.match(tooLong.body.errors, [{ in: 'body', pointer: '/title', detail: /5 characters/ }], 'validated against the merge-patch schema')
  t.equal((await send(conversations, '{"title":"Lisbon"}', 'application/json')).status, 201, 'JSON keeps its own schema')

  problemOf(t, await send(conversations, '{"title":', MERGE_PATCH), 400, 'malformed-json')
  problemOf(t, await send(conversations, '{"__proto__":{"title":"x"}}', MERGE_PATCH), 400, 'validation-error')
  problemOf(t, await send(conversations, '{}', MERGE_PATCH), 400, 'validation-error')

  t.equal((await send(`${API}/users`, '{"name":"Grace"}', 'application/vnd.trackbot.v1+json')).status, 201, 'a +json type is JSON')
  problemOf(t, await send(`${API}/users`, '{"name":"Grace"}', MERGE_PATCH), 415, 'unsupported-media-type')
  problemOf(t, await send(conversations, '{"title":"x"}', 'application/vnd.other+json'), 415, 'unsupported-media-type')
})

t.test('the committed spec takes application/json only', async (t) => {
  const { request, createUser } = await startApp(t)
  const userId = (await createUser()).id
  for (const contentType of [MERGE_PATCH, 'application/problem+json', 'text/json']) {
    const reply = await request('POST', `${API}/users/${userId}/conversations`, { payload: '{"title":"x"}', headers: { 'content-type': contentType } })
    problemOf(t, reply, 415, 'unsupported-media-type')
  }
  const paired = await request('POST', `${API}/users`, { payload: '{"name":"Ada \\ud83d\\ude00"}', headers: { 'content-type': 'application/json' } })
  t.equal(paired.status, 201, 'an escaped surrogate pair is text')
  t.equal(paired.body.name, 'Ada \u{1F600}')
})

t.test('a spec declaring a media type the server cannot parse does not start', async (t) => {
  const spec = specVariant((document) => {
    document.paths['/users'].post.requestBody.content['application/xml'] = { schema: { type: 'object' } }
  })
  await t.rejects(buildApp({ databaseUrl: await testDatabaseUrl(t), spec }), /application\/xml \(create_user\), which the server cannot parse/)
})

t.test('a request without a body has none, whatever its Content-Type', async (t) => {
  const { app, request, createUser } = await startApp(t)
  const userId = (await createUser()).id
  const origin = await app.listen({ port: 0, host: '127.0.0.1' })
  const conversations = `${API}/users/${userId}/conversations`

  // As axios sends a bodiless POST: Content-Length: 0 and a form Content-Type.
  const overSocket = await httpRequest<any>(origin, 'POST', conversations, { payload: '', headers: { 'content-type': FORM, 'content-length': '0' } })
  t.equal(overSocket.status, 201, overSocket.text)
  t.same([overSocket.body.title, overSocket.body.messages], [null, []])
  const noLength = await request('POST', conversations, { headers: { 'content-type': 'text/plain' } })
  t.equal(noLength.status, 201, 'no Content-Length and no Transfer-Encoding is no body either')

  problemOf(t, await httpRequest<any>(origin, 'POST', conversations, { payload: 'title=x', headers: { 'content-type': FORM } }), 415, 'unsupported-media-type')
  problemOf(t, await httpRequest<any>(origin, 'POST', conversations, { payload: 'title=x' }), 415, 'unsupported-media-type')

  // A required body that is missing is the contract's 400, not a 415.
  const conversationId = overSocket.body.id
  for (const [path, contentType] of [[`${API}/users`, FORM], [`${API}/conversations/${conversationId}/messages`, 'text/plain']] as const) {
    const missing = await httpRequest<any>(origin, 'POST', path, { payload: '', headers: { 'content-type': contentType } })
    problemOf(t, missing, 400, 'validation-error')
    t.match(missing.body.errors, [{ in: 'body', pointer: '', detail: 'is required' }])
  }
})

t.test('a body is UTF-8: another declared charset is a 415, bytes that are not UTF-8 a 400, and nothing is stored', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const userId = (await createUser()).id
  const before = await storeContents(databaseUrl)
  const send = (payload: string | Buffer, contentType = 'application/json') =>
    request('POST', `${API}/users/${userId}/conversations`, { payload, headers: { 'content-type': contentType } })
  const withTitle = (bytes: number[]) => Buffer.concat([Buffer.from('{"title":"a'), Buffer.from(bytes), Buffer.from('"}')])

  for (const contentType of ['application/json; charset=latin1', 'application/json; charset=ISO-8859-1', 'application/json;charset="utf-16"', 'application/json; charset=us-ascii']) {
    const reply = await send('{"title":"caf\u00e9"}', contentType)
    problemOf(t, reply, 415, 'unsupported-media-type')
    t.match(reply.body.detail, /UTF-8/, contentType)
  }
  const invalid = {
    'a 0xff byte': [0xff],
    'an overlong "/" (0xc0 0xaf)': [0xc0, 0xaf],
    'a lone continuation byte': [0x80],
    'a truncated sequence': [0xe2, 0x82],
    'an encoded surrogate (0xed 0xa0 0x80)': [0xed, 0xa0, 0x80],
  }
  for (const [what, bytes] of Object.entries(invalid)) {
    const reply = await send(withTitle(bytes))
    problemOf(t, reply, 400, 'malformed-json')
    t.match(reply.body.detail, /UTF-8/, what)
  }
  // Latin-1 é (0xe9), as a client that mislabels or omits its charset would send it.
  problemOf(t, await send(withTitle([0xe9])), 400, 'malformed-json')
  t.equal(await storeContents(databaseUrl), before, 'nothing stored')

  // Valid multi-byte UTF-8 (2-, 3- and 4-byte sequences) with each way of saying UTF-8, or none.
  for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json; charset=utf8', 'application/json; charset=UTF8']) {
    const reply = await send(Buffer.from('{"title":"café € \u{1F600}"}'), contentType)
    t.equal(reply.status, 201, contentType)
    t.equal(reply.body.title, 'café € \u{1F600}')
  }
})

t.test('"constructor" and "prototype" keys are kept where they cannot reach a prototype', async (t) => {
  const { request, createUser } = await startApp(t)
  const userId = (await createUser()).id
  const metadata = { constructor: 'x', prototype: 'y' }
  const reply = await request('POST', `${API}/users/${userId}/conversations`, { body: { metadata } })
  t.equal(reply.status, 201)
  t.same(reply.body.metadata, metadata)
})
