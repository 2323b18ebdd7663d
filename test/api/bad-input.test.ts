// Hostile and malformed requests: each gets its 4xx Problem, never a 5xx, and nothing stored changes.
import t from 'tap'
import { BODY_LIMIT_BYTES } from '../../src/http/limits.js'
import { API, snapshot, startApp } from '../helper.js'

const badIds = ['0', '-1', 'abc', '1.5', '1e3', '0x1', '%20%31', '2147483648', '9'.repeat(20), '9'.repeat(5000)]

const idPaths = (id: string) => [
  ['GET', `${API}/users/${id}`],
  ['DELETE', `${API}/users/${id}`],
  ['GET', `${API}/users/${id}/conversations`],
  ['POST', `${API}/users/${id}/conversations`],
  ['GET', `${API}/conversations/${id}`],
  ['DELETE', `${API}/conversations/${id}`],
  ['GET', `${API}/conversations/${id}/messages`],
  ['POST', `${API}/conversations/${id}/messages`],
] as const

t.test('bad input', async (t) => {
  const { request, databaseUrl } = await startApp(t)
  const user = (await request('POST', `${API}/users`, { body: { name: 'Ada', email: 'ada@example.com' } })).body
  const conversation = (await request('POST', `${API}/users/${user.id}/conversations`, {
    body: { title: 'kept', messages: [{ role: 'user', content: 'hello' }] },
  })).body
  const before = await snapshot(databaseUrl)

  async function expectProblem (status: number, method: string, url: string, options: Parameters<typeof request>[2] = {}) {
    const reply = await request(method, url, options)
    t.equal(reply.status, status, `${method} ${url.slice(0, 80)} ${String(options.payload ?? JSON.stringify(options.body) ?? '').slice(0, 40)}`)
    t.equal(String(reply.headers['content-type']).split(';')[0], 'application/problem+json')
    t.equal(reply.body.status, status)
    return reply
  }

  t.test('malformed ids are a 400 naming the parameter', async (t) => {
    for (const id of badIds) {
      for (const [method, url] of idPaths(id)) {
        const body = method === 'POST' && url.endsWith('messages') ? { role: 'user', content: 'x' } : undefined
        const reply = await expectProblem(400, method, url, { body })
        t.match(reply.body.errors, [{ in: 'path', pointer: /^\/(userId|conversationId)$/ }])
      }
    }
  })

  t.test('a malformed percent-encoding is a 400', async () => {
    for (const [method, url] of idPaths('%zz')) await expectProblem(400, method, url)
  })

  const post = (path: string, payload: string, contentType = 'application/json') =>
    ({ path, options: { payload, headers: { 'content-type': contentType } } })

  t.test('malformed and mistyped bodies are 400', async (t) => {
    const targets = [`${API}/users`, `${API}/users/${user.id}/conversations`, `${API}/conversations/${conversation.id}/messages`]
    for (const path of targets) {
      for (const payload of ['{', '[]', 'null', '"x"', '42', 'true', '{"a":1}{', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}']) {
        const { options } = post(path, payload)
        await expectProblem(400, 'POST', path, options)
      }
    }
  })

  t.test('a key that would reach the object prototype is a 400 validation problem naming its pointer', async (t) => {
    const cases: Array<[string, string, string[]]> = [
      [`${API}/users`, '{"name":"Ada","__proto__":{"admin":true}}', ['/__proto__']],
      [`${API}/users`, '{"__proto__":1}', ['/__proto__']],
      [`${API}/users/${user.id}/conversations`, '{"metadata":{"constructor":{"prototype":{"x":"1"}}}}', ['/metadata/constructor']],
      [`${API}/users/${user.id}/conversations`, '{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b","__proto__":{}}]}', ['/messages/1/__proto__']],
      [`${API}/users/${user.id}/conversations`, '{"metadata":{"a~b/c":{"__proto__":{}}},"title":{"__proto__":null}}', ['/metadata/a~0b~1c/__proto__', '/title/__proto__']],
    ]
    for (const [path, payload, pointers] of cases) {
      const reply = await expectProblem(400, 'POST', path, post(path, payload).options)
      t.equal(reply.body.type, 'urn:trackbot:problem:validation-error', payload)
      t.same(reply.body.errors.map((error: any) => error.pointer), pointers)
      t.match(reply.body.errors, pointers.map(() => ({ in: 'body', detail: /prototype/ })))
    }
    // test/http/content-types.test.ts shows "constructor" and "prototype" keys are kept when harmless.
  })

  t.test('schema violations are 400 with a pointer to the field', async (t) => {
    const long = (n: number) => 'x'.repeat(n)
    const cases: Array<[string, unknown, string]> = [
      [`${API}/users`, {}, '/name'],
      [`${API}/users`, { name: '' }, '/name'],
      [`${API}/users`, { name: long(201) }, '/name'],
      [`${API}/users`, { name: 5 }, '/name'],
      [`${API}/users`, { name: 'a', email: 'not-an-email' }, '/email'],
      [`${API}/users`, { name: 'a', admin: true }, '/admin'],
      [`${API}/users/${user.id}/conversations`, { title: 5 }, '/title'],
      [`${API}/users/${user.id}/conversations`, { title: long(201) }, '/title'],
      [`${API}/users/${user.id}/conversations`, { unknown: 1 }, '/unknown'],
      [`${API}/users/${user.id}/conversations`, { metadata: 'x' }, '/metadata'],
      [`${API}/users/${user.id}/conversations`, { metadata: { k: 1 } }, '/metadata/k'],
      [`${API}/users/${user.id}/conversations`, { metadata: { k: long(513) } }, '/metadata/k'],
      [`${API}/users/${user.id}/conversations`, { metadata: { [long(65)]: 'v' } }, `/metadata/${long(65)}`],
      [`${API}/users/${user.id}/conversations`, { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, '/metadata'],
      [`${API}/users/${user.id}/conversations`, { messages: {} }, '/messages'],
      [`${API}/users/${user.id}/conversations`, { messages: Array.from({ length: 101 }, () => ({ role: 'user', content: 'x' })) }, '/messages'],
      [`${API}/users/${user.id}/conversations`, { messages: [{ role: 'user', content: 'ok' }, { role: 'robot', content: 'x' }] }, '/messages/1/role'],
      [`${API}/users/${user.id}/conversations`, { messages: [{ role: 'user' }] }, '/messages/0/content'],
      [`${API}/users/${user.id}/conversations`, { messages: [{ role: 'user', content: '' }] }, '/messages/0/content'],
      [`${API}/users/${user.id}/conversations`, { messages: [{ role: 'user', content: 'x', id: 9 }] }, '/messages/0/id'],
      [`${API}/conversations/${conversation.id}/messages`, {}, '/role'],
      [`${API}/conversations/${conversation.id}/messages`, { role: 'user', content: long(32769) }, '/content'],
      [`${API}/conversations/${conversation.id}/messages`, { role: 'user', content: ['x'] }, '/content'],
      // PostgreSQL cannot store a NUL, so the contract's text pattern refuses it.
      [`${API}/conversations/${conversation.id}/messages`, { role: 'user', content: 'a\u0000b' }, '/content'],
      [`${API}/users`, { name: '\u0000' }, '/name'],
      [`${API}/users/${user.id}/conversations`, { metadata: { k: '\u0000' } }, '/metadata/k'],
      [`${API}/users/${user.id}/conversations`, { metadata: { 'k\u0000': 'v' } }, '/metadata/k\u0000'],
    ]
    for (const [path, body, pointer] of cases) {
      const reply = await expectProblem(400, 'POST', path, { body })
      t.ok(reply.body.errors.some((error: any) => error.in === 'body' && error.pointer === pointer),
        `${JSON.stringify(body).slice(0, 60)} names ${pointer}: ${JSON.stringify(reply.body.errors).slice(0, 200)}`)
    }
  })

  t.test('a metadata key out of bounds is one error, at the key, in the words of the other errors', async (t) => {
    // OpenAPI 3.0 has no propertyNames: the spec's x-propertyNames extension must not leak into the answer.
    const cases: Array<[string, string]> = [
      ['x'.repeat(65), 'key must NOT have more than 64 characters'],
      ['', 'key must NOT have fewer than 1 characters'],
      ['k\u0000', 'key must match pattern "^[^\\u0000]*$"'],
    ]
    for (const [key, detail] of cases) {
      const reply = await expectProblem(400, 'POST', `${API}/users/${user.id}/conversations`, { body: { metadata: { [key]: 'v' } } })
      t.same(reply.body.errors, [{ in: 'body', pointer: `/metadata/${key}`, detail }], JSON.stringify(key).slice(0, 20))
    }
  })

  t.test('unpaired surrogates are a 400 naming the field, refused as the JSON is decoded', async (t) => {
    const messages = `${API}/conversations/${conversation.id}/messages`
    const deep = 200_000
    const cases: Array<[string, string, string]> = [
      [messages, '{"role":"user","content":"a\\ud800b"}', '/content'],
      [messages, '{"role":"user","content":"\\udfff\\ud800"}', '/content'],
      [`${API}/users`, '{"name":"Ada \\uDC00"}', '/name'],
      [`${API}/users/${user.id}/conversations`, '{"title":"x\\udfff"}', '/title'],
      [`${API}/users/${user.id}/conversations`, '{"metadata":{"k\\ud800":"v"}}', '/metadata/k\ud800'],
      [`${API}/users/${user.id}/conversations`, '{"messages":[{"role":"user","content":"ok"},{"role":"user","content":"\\ud83d"}]}', '/messages/1/content'],
      // Where a schema would never look: past an unknown property, and nested deeper than the call stack goes.
      [`${API}/users`, '{"name":"Ada","extra":{"a/b~":["\\ud800"]}}', '/extra/a~1b~0/0'],
      [messages, `${'['.repeat(deep)}"\\ud800"${']'.repeat(deep)}`, `${'/0'.repeat(249)}/…`], // clipped, as every echoed pointer is
    ]
    for (const [path, payload, pointer] of cases) {
      const reply = await expectProblem(400, 'POST', path, { payload, headers: { 'content-type': 'application/json' } })
      t.equal(reply.body.type, 'urn:trackbot:problem:validation-error')
      t.equal(reply.body.detail, 'The request does not match the API contract.')
      t.same(reply.body.errors, [{ in: 'body', pointer, detail: 'must not contain unpaired UTF-16 surrogates' }], payload.slice(0, 80))
    }
  })

  t.test('a required body that is missing is a 400', async () => {
    await expectProblem(400, 'POST', `${API}/users`)
    await expectProblem(400, 'POST', `${API}/conversations/${conversation.id}/messages`, { payload: '', headers: { 'content-type': 'application/json' } })
  })

  t.test('bad query parameters are 400, unknown ones included', async (t) => {
    for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'limit=1e2', 'limit=', 'limit=1&limit=2', 'cursor=', 'cursor=***', `cursor=${'a'.repeat(201)}`, 'foo=bar', 'Limit=5']) {
      await expectProblem(400, 'GET', `${API}/users/${user.id}/conversations?${query}`)
      await expectProblem(400, 'GET', `${API}/conversations/${conversation.id}/messages?${query}`)
    }
    const unknown = await expectProblem(400, 'GET', `${API}/conversations/${conversation.id}?verbose=1`)
    t.match(unknown.body.errors, [{ in: 'query', pointer: '/verbose' }])
  })

  t.test('a body over 1 MiB is a 413', async () => {
    const big = JSON.stringify({ title: 'x', metadata: { k: 'x'.repeat(2 * BODY_LIMIT_BYTES) } })
    for (const path of [`${API}/users`, `${API}/users/${user.id}/conversations`, `${API}/conversations/${conversation.id}/messages`]) {
      await expectProblem(413, 'POST', path, { payload: big, headers: { 'content-type': 'application/json' } })
    }
  })

  t.test('a body that is not JSON is a 415', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      const { path, options } = post(`${API}/users/${user.id}/conversations`, 'title=x', contentType)
      await expectProblem(415, 'POST', path, options)
    }
  })

  t.test('other methods on known paths are a 405 with Allow', async (t) => {
    const known: Array<[string, string]> = [
      [`${API}/users`, 'POST'],
      [`${API}/users/${user.id}`, 'GET, HEAD, DELETE'],
      [`${API}/users/${user.id}/conversations`, 'GET, HEAD, POST'],
      [`${API}/conversations/${conversation.id}`, 'GET, HEAD, PATCH, DELETE'],
      [`${API}/conversations/${conversation.id}/messages`, 'GET, HEAD, POST'],
      [`${API}/conversations/${conversation.id}/messages/1`, 'GET, HEAD, DELETE'],
    ]
    for (const [path, allow] of known) {
      for (const method of ['PUT', 'PATCH', 'OPTIONS', 'DELETE'].filter((method) => !allow.split(', ').includes(method))) {
        const reply = await expectProblem(405, method, path, { body: method === 'OPTIONS' ? undefined : { title: 'x' } })
        t.same(String(reply.headers.allow).split(', ').sort(), allow.split(', ').sort())
      }
    }
  })

  t.test('unknown paths are a 404 problem', async () => {
    for (const path of ['/', '/api', `${API}`, `${API}/nope`, `${API}/users/1/nope`, '/api/v2/users', `${API}/conversations`, '/index.html']) {
      await expectProblem(404, 'GET', path)
    }
    await expectProblem(404, 'POST', `${API}/messages`, { body: {} })
  })

  t.test('nothing stored changed', async (t) => {
    t.equal(await snapshot(databaseUrl), before)
  })
})
