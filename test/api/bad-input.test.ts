// Hostile and malformed requests: each gets its 4xx Problem, never a 5xx, and nothing stored changes. Which
// operations each check reaches is read from the spec: every id in a path gets the bad ids, every request body
// (in each media type its operation takes) the bad bodies and the oversized one. An operation the derivation
// cannot handle fails the first guard, naming it; one a check should have reached but did not, the last.
import type { OpenAPIV3 } from 'openapi-types'
import t, { type Test } from 'tap'
import { BODY_LIMIT_BYTES } from '../../src/http/limits.js'
import { dereferencedSpec, operationIdOf, specOperations } from '../contract.js'
import { API, startApp, storeContents, type Reply, type RequestOptions } from '../helper.js'

const badIds = ['0', '-1', 'abc', '1.5', '1e3', '0x1', '%20%31', '2147483648', '9'.repeat(20), '9'.repeat(5000)]

const long = (n: number) => 'x'.repeat(n)

/**
 * Values each property of a request body must not take, by property name, wherever a request body of the spec
 * has it: the value and where the 400 points, below the property. A property of a body with no entry here
 * fails the derivation guard, so a new field cannot go unchecked.
 */
const badValues: Record<string, Array<[unknown, string]>> = {
  name: [['', ''], [long(201), ''], [5, ''], ['\u0000', '']],
  email: [['not-an-email', '']],
  title: [[5, ''], [long(201), '']],
  metadata: [
    ['x', ''],
    [{ k: 1 }, '/k'],
    [{ k: long(513) }, '/k'],
    [{ [long(65)]: 'v' }, `/${long(65)}`],
    [Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])), ''],
    [{ k: '\u0000' }, '/k'],
    [{ 'k\u0000': 'v' }, '/k\u0000'],
  ],
  messages: [
    [{}, ''],
    [Array.from({ length: 101 }, () => ({ role: 'user', content: 'x' })), ''],
    [[{ role: 'user', content: 'ok' }, { role: 'robot', content: 'x' }], '/1/role'],
    [[{ role: 'user' }], '/0/content'],
    [[{ role: 'user', content: '' }], '/0/content'],
    [[{ role: 'user', content: 'x', id: 9 }], '/0/id'],
  ],
  role: [['robot', ''], [5, '']],
  // PostgreSQL cannot store a NUL, so the contract's text pattern refuses it.
  content: [[long(32769), ''], [['x'], ''], ['a\u0000b', '']],
}

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/

interface Body {
  mediaType: string
  /** The spec's example: a body the operation takes, so that only what a check breaks is wrong. */
  example: Record<string, unknown>
  schema: OpenAPIV3.SchemaObject
}

/** One operation as the checks use it, read from the spec. */
interface Derived {
  operationId: string
  method: string
  /** The path template, `/users/{userId}`. */
  path: string
  /** The names of its path parameters, each an id. */
  ids: string[]
  /** One per media type its request body takes; empty without a body. */
  bodies: Body[]
  bodyRequired: boolean
  queries: string[]
}

/** Every operation of the spec, and why the derivation cannot handle the ones it cannot. */
function derive (): { operations: Derived[], unhandled: string[] } {
  const unhandled: string[] = []
  const operations = specOperations.map((operation): Derived => {
    const operationId = operation.operationId!
    const parameters = (operation.parameters ?? []) as OpenAPIV3.ParameterObject[]
    const ids = parameters.filter((parameter) => parameter.in === 'path').map((parameter) => {
      const schema = parameter.schema as OpenAPIV3.SchemaObject | undefined
      if (schema?.type !== 'integer') unhandled.push(`${operationId}: path parameter ${parameter.name} is not an integer id`)
      if (!(parameter.name in ID_KINDS)) unhandled.push(`${operationId}: no stored row to name for path parameter ${parameter.name}`)
      return parameter.name
    })
    const requestBody = operation.requestBody as OpenAPIV3.RequestBodyObject | undefined
    const bodies = Object.entries(requestBody?.content ?? {}).flatMap(([mediaType, media]): Body[] => {
      const schema = media.schema as OpenAPIV3.SchemaObject | undefined
      const example = media.example ?? schema?.example
      const why = [
        ...JSON_MEDIA_TYPE.test(mediaType) ? [] : ['is not JSON'],
        ...schema?.type === 'object' ? [] : ['has no object schema'],
        ...typeof example === 'object' && example !== null ? [] : ['has no example to send'],
        ...Object.keys(schema?.properties ?? {}).filter((name) => badValues[name] === undefined).map((name) => `has a property ${name} with no bad values to send`),
      ]
      for (const reason of why) unhandled.push(`${operationId}: request body ${mediaType} ${reason}`)
      return why.length === 0 ? [{ mediaType, example, schema: schema! }] : []
    })
    if (requestBody !== undefined && operation.responses?.['413'] === undefined) unhandled.push(`${operationId}: takes a body but documents no 413`)
    const queries = parameters.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name)
    return { operationId, method: operation.method.toUpperCase(), path: operation.path, ids, bodies, bodyRequired: requestBody?.required === true, queries }
  })
  return { operations, unhandled }
}

/** The stored row each kind of path id names in the checks (each a row of the fixture below). */
const ID_KINDS = { userId: 'user', conversationId: 'conversation', messageId: 'message' } as const

const { operations, unhandled } = derive()
const withIds = operations.filter((operation) => operation.ids.length > 0)
const withBodies = operations.filter((operation) => operation.bodies.length > 0)
const withLists = operations.filter((operation) => operation.queries.includes('limit'))

/** What each check should reach, read from the spec straight, not through derive(). */
const expected: Record<string, string[]> = {
  'malformed ids': specOperations.filter((operation) => ((operation.parameters ?? []) as OpenAPIV3.ParameterObject[]).some((parameter) => parameter.in === 'path')).map((operation) => operation.operationId!),
  bodies: specOperations.filter((operation) => operation.requestBody !== undefined).map((operation) => operation.operationId!),
  'required bodies': specOperations.filter((operation) => (operation.requestBody as OpenAPIV3.RequestBodyObject | undefined)?.required === true).map((operation) => operation.operationId!),
  'oversized bodies': specOperations.filter((operation) => operation.requestBody !== undefined).map((operation) => operation.operationId!),
  'unknown query parameters': specOperations.map((operation) => operation.operationId!),
}
const reached = new Map<string, Set<string>>(Object.keys(expected).map((check) => [check, new Set()]))

t.test('bad input', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const user = await createUser({ name: 'Ada', email: 'ada@example.com' })
  const conversation = await createConversation(user.id, { title: 'kept', messages: [{ role: 'user', content: 'hello' }] })
  const rows: Record<string, number> = { userId: user.id, conversationId: conversation.id, messageId: conversation.messages[0]!.id }
  const before = await storeContents(databaseUrl)

  /** The operation's URL, each id the stored row's unless `ids` says otherwise (raw, as sent). */
  const urlOf = (operation: Derived, ids: Record<string, string> = {}) =>
    API + operation.path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? String(rows[name]))

  /** A body the operation takes, so that a request is wrong only where a check makes it so. */
  const validBody = (operation: Derived, body = operation.bodies[0]): RequestOptions =>
    body === undefined ? {} : { payload: JSON.stringify(body.example), headers: { 'content-type': body.mediaType } }

  async function expectProblem (t: Test, status: number, method: string, url: string, options: RequestOptions = {}): Promise<Reply> {
    const reply = await request(method, url, options)
    t.equal(reply.status, status, `${method} ${url.slice(0, 80)} ${String(options.payload ?? JSON.stringify(options.body) ?? '').slice(0, 40)}`)
    t.equal(String(reply.headers['content-type']).split(';')[0], 'application/problem+json')
    t.equal(reply.body.status, status)
    return reply
  }

  /** Records that `check` sent a request to `operation`, after making sure its URL reaches that operation. */
  function reach (t: Test, check: string, operation: Derived): void {
    const routed = operationIdOf(operation.method, urlOf(operation))
    if (routed !== operation.operationId) t.fail(`${operation.method} ${urlOf(operation)} reaches ${routed}, not ${operation.operationId}`)
    reached.get(check)?.add(operation.operationId)
  }

  t.test('the derivation handles every operation of the spec', async (t) => {
    t.same(unhandled, [], unhandled.length === 0 ? 'every path id and request body has its checks' : `cannot derive checks: ${unhandled.join('; ')}`)
  })

  t.test('malformed ids are a 400 naming the parameter, in every operation with an id in its path', async (t) => {
    for (const operation of withIds) {
      reach(t, 'malformed ids', operation)
      for (const name of operation.ids) {
        for (const id of badIds) {
          const reply = await expectProblem(t, 400, operation.method, urlOf(operation, { [name]: id }), validBody(operation))
          t.match(reply.body.errors, [{ in: 'path', pointer: `/${name}` }], `${operation.operationId}: names ${name}`)
        }
      }
    }
  })

  t.test('a malformed percent-encoding is a 400', async (t) => {
    for (const operation of withIds) {
      for (const name of operation.ids) await expectProblem(t, 400, operation.method, urlOf(operation, { [name]: '%zz' }), validBody(operation))
    }
  })

  // Each body check in every media type its operation takes.
  const bodies = withBodies.flatMap((operation) => operation.bodies.map((body) => ({ operation, body, url: urlOf(operation) })))
  const sent = (payload: string, mediaType: string): RequestOptions => ({ payload, headers: { 'content-type': mediaType } })

  t.test('malformed and mistyped bodies are 400', async (t) => {
    for (const { operation, body, url } of bodies) {
      reach(t, 'bodies', operation)
      for (const payload of ['{', '[]', 'null', '"x"', '42', 'true', '{"a":1}{', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}']) {
        await expectProblem(t, 400, operation.method, url, sent(payload, body.mediaType))
      }
    }
  })

  t.test('a key that would reach the object prototype is a 400 validation problem naming its pointer', async (t) => {
    const users = `${API}/users`
    const conversations = `${API}/users/${user.id}/conversations`
    const cases: Array<[string, string, string, string, string[]]> = [
      ['POST', users, 'application/json', '{"name":"Ada","__proto__":{"admin":true}}', ['/__proto__']],
      ['POST', conversations, 'application/json', '{"metadata":{"constructor":{"prototype":{"x":"1"}}}}', ['/metadata/constructor']],
      ['POST', conversations, 'application/json', '{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b","__proto__":{}}]}', ['/messages/1/__proto__']],
      ['POST', conversations, 'application/json', '{"metadata":{"a~b/c":{"__proto__":{}}},"title":{"__proto__":null}}', ['/metadata/a~0b~1c/__proto__', '/title/__proto__']],
      // And at the top of every body.
      ...bodies.map(({ operation, body, url }): [string, string, string, string, string[]] => [operation.method, url, body.mediaType, '{"__proto__":1}', ['/__proto__']]),
    ]
    for (const [method, url, mediaType, payload, pointers] of cases) {
      const reply = await expectProblem(t, 400, method, url, sent(payload, mediaType))
      t.equal(reply.body.type, 'urn:trackbot:problem:validation-error', payload)
      t.same(reply.body.errors.map((error: any) => error.pointer), pointers)
      t.match(reply.body.errors, pointers.map(() => ({ in: 'body', detail: /prototype/ })))
    }
    // test/http/content-types.test.ts shows "constructor" and "prototype" keys are kept when harmless.
  })

  t.test('schema violations are 400 with a pointer to the field', async (t) => {
    for (const { operation, body, url } of bodies) {
      const properties = Object.keys(body.schema.properties ?? {})
      const required = body.schema.required ?? []
      // The example's required fields only, so that each case breaks one thing.
      const base = Object.fromEntries(required.map((name) => [name, body.example[name]]))
      const cases: Array<[unknown, string[]]> = [
        ...required.length > 0 ? [[{}, required.map((name) => `/${name}`)] as [unknown, string[]]] : [],
        [{ ...base, admin: true }, ['/admin']],
        [{ ...base, unknown: 1 }, ['/unknown']],
        ...properties.flatMap((name) => badValues[name]!.map(([value, below]): [unknown, string[]] => [{ ...base, [name]: value }, [`/${name}${below}`]])),
      ]
      for (const [value, pointers] of cases) {
        const reply = await expectProblem(t, 400, operation.method, url, sent(JSON.stringify(value), body.mediaType))
        for (const pointer of pointers) {
          t.ok(reply.body.errors.some((error: any) => error.in === 'body' && error.pointer === pointer),
            `${operation.operationId} ${body.mediaType}: ${JSON.stringify(value).slice(0, 60)} names ${pointer}: ${JSON.stringify(reply.body.errors).slice(0, 200)}`)
        }
      }
    }
  })

  t.test('a metadata key out of bounds is one error, at the key, in the words of the other errors', async (t) => {
    // OpenAPI 3.0 has no propertyNames: the spec's x-propertyNames extension must not leak into the answer.
    const cases: Array<[string, string]> = [
      [long(65), 'key must NOT have more than 64 characters'],
      ['', 'key must NOT have fewer than 1 characters'],
      ['k\u0000', 'key must match pattern "^[^\\u0000]*$"'],
    ]
    const withMetadata = bodies.filter(({ body }) => body.schema.properties?.metadata !== undefined)
    t.ok(withMetadata.length > 0, 'some request body has metadata')
    for (const { operation, body, url } of withMetadata) {
      for (const [key, detail] of cases) {
        const reply = await expectProblem(t, 400, operation.method, url, sent(JSON.stringify({ metadata: { [key]: 'v' } }), body.mediaType))
        t.same(reply.body.errors, [{ in: 'body', pointer: `/metadata/${key}`, detail }], `${operation.operationId}: ${JSON.stringify(key).slice(0, 20)}`)
      }
    }
  })

  t.test('unpaired surrogates are a 400 naming the field, refused as the JSON is decoded', async (t) => {
    const messages = `${API}/conversations/${conversation.id}/messages`
    const conversations = `${API}/users/${user.id}/conversations`
    const deep = 200_000
    const cases: Array<[string, string, string, string, string]> = [
      ['POST', messages, 'application/json', '{"role":"user","content":"a\\ud800b"}', '/content'],
      ['POST', messages, 'application/json', '{"role":"user","content":"\\udfff\\ud800"}', '/content'],
      ['POST', `${API}/users`, 'application/json', '{"name":"Ada \\uDC00"}', '/name'],
      ['POST', conversations, 'application/json', '{"title":"x\\udfff"}', '/title'],
      ['POST', conversations, 'application/json', '{"metadata":{"k\\ud800":"v"}}', '/metadata/k\ud800'],
      ['POST', conversations, 'application/json', '{"messages":[{"role":"user","content":"ok"},{"role":"user","content":"\\ud83d"}]}', '/messages/1/content'],
      // Where a schema would never look: past an unknown property, and nested deeper than the call stack goes.
      ['POST', `${API}/users`, 'application/json', '{"name":"Ada","extra":{"a/b~":["\\ud800"]}}', '/extra/a~1b~0/0'],
      ['POST', messages, 'application/json', `${'['.repeat(deep)}"\\ud800"${']'.repeat(deep)}`, `${'/0'.repeat(249)}/…`], // clipped, as every echoed pointer is
      // And in every body.
      ...bodies.map(({ operation, body, url }): [string, string, string, string, string] => [operation.method, url, body.mediaType, '{"x":"\\ud800"}', '/x']),
    ]
    for (const [method, url, mediaType, payload, pointer] of cases) {
      const reply = await expectProblem(t, 400, method, url, sent(payload, mediaType))
      t.equal(reply.body.type, 'urn:trackbot:problem:validation-error')
      t.equal(reply.body.detail, 'The request does not match the API contract.')
      t.same(reply.body.errors, [{ in: 'body', pointer, detail: 'must not contain unpaired UTF-16 surrogates' }], payload.slice(0, 80))
    }
  })

  t.test('a required body that is missing is a 400', async (t) => {
    for (const operation of withBodies.filter((operation) => operation.bodyRequired)) {
      reach(t, 'required bodies', operation)
      await expectProblem(t, 400, operation.method, urlOf(operation))
      for (const body of operation.bodies) await expectProblem(t, 400, operation.method, urlOf(operation), sent('', body.mediaType))
    }
  })

  t.test('bad query parameters are 400, unknown ones included', async (t) => {
    t.ok(withLists.length > 0, 'some operation takes a limit')
    for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=1.5', 'limit=1e2', 'limit=', 'limit=1&limit=2', 'cursor=', 'cursor=***', `cursor=${long(201)}`, 'foo=bar', 'Limit=5']) {
      for (const operation of withLists) await expectProblem(t, 400, operation.method, `${urlOf(operation)}?${query}`)
    }
    for (const operation of operations) {
      reach(t, 'unknown query parameters', operation)
      const unknown = await expectProblem(t, 400, operation.method, `${urlOf(operation)}?verbose=1`, validBody(operation))
      t.match(unknown.body.errors, [{ in: 'query', pointer: '/verbose' }], operation.operationId)
    }
  })

  t.test(`a body over ${BODY_LIMIT_BYTES} bytes is a 413, in every media type of every operation that takes one`, async (t) => {
    const big = JSON.stringify({ title: 'x', metadata: { k: long(2 * BODY_LIMIT_BYTES) } })
    for (const { operation, body, url } of bodies) {
      reach(t, 'oversized bodies', operation)
      const reply = await expectProblem(t, 413, operation.method, url, sent(big, body.mediaType))
      t.equal(reply.body.type, 'urn:trackbot:problem:payload-too-large', `${operation.operationId} ${body.mediaType}`)
    }
  })

  t.test('a body that is not JSON, or not in a media type its operation takes, is a 415', async (t) => {
    const jsonTypes = [...new Set(bodies.map(({ body }) => body.mediaType))]
    for (const operation of withBodies) {
      const taken = operation.bodies.map((body) => body.mediaType)
      const others = jsonTypes.filter((mediaType) => !taken.includes(mediaType))
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        await expectProblem(t, 415, operation.method, urlOf(operation), sent('title=x', contentType))
      }
      // A JSON media type another operation takes, with a body this one would take in its own.
      for (const mediaType of others) await expectProblem(t, 415, operation.method, urlOf(operation), sent(JSON.stringify(operation.bodies[0]!.example), mediaType))
    }
  })

  t.test('other methods on known paths are a 405 with Allow', async (t) => {
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
    for (const [path, item] of Object.entries(dereferencedSpec.paths)) {
      const declared = methods.filter((method) => item?.[method.toLowerCase() as OpenAPIV3.HttpMethods] !== undefined)
      // HEAD comes with every GET.
      const allow = declared.includes('GET') ? [...declared, 'HEAD'] : declared
      const url = API + path.replace(/\{(\w+)\}/g, (_, name: string) => String(rows[name]))
      for (const method of methods.filter((method) => !allow.includes(method))) {
        const reply = await expectProblem(t, 405, method, url, { body: method === 'OPTIONS' || method === 'GET' ? undefined : { title: 'x' } })
        t.same(String(reply.headers.allow).split(', ').sort(), [...allow].sort())
      }
    }
  })

  t.test('unknown paths are a 404 problem', async (t) => {
    for (const path of ['/', '/api', `${API}`, `${API}/nope`, `${API}/users/1/nope`, '/api/v2/users', `${API}/conversations`, '/index.html']) {
      await expectProblem(t, 404, 'GET', path)
    }
    await expectProblem(t, 404, 'POST', `${API}/messages`, { body: {} })
  })

  t.test('nothing stored changed', async (t) => {
    t.equal(await storeContents(databaseUrl), before)
  })

  t.test('every check reached every operation it is for', async (t) => {
    for (const [check, operationIds] of Object.entries(expected)) {
      const found = [...reached.get(check)!].sort()
      const missing = operationIds.filter((operationId) => !found.includes(operationId))
      t.same(found, [...operationIds].sort(), missing.length === 0 ? `${check}: every operation` : `${check}: not sent to ${missing.join(', ')}`)
    }
  })
})
