// Hostile and malformed requests: each gets its 4xx Problem, never a 5xx, and nothing stored changes. Which
// operations each check reaches is read from the spec of every contract version: every id in a path gets the bad
// ids, every request body (in each media type its operation takes) the bad bodies and the oversized one. A body of
// newline-delimited JSON (an import) gets them in its lines: each error's pointer starts with its line's index and its
// detail names the line. An operation the derivation cannot handle fails the first guard, naming it; one a check
// should have reached but did not, the last.
import type { OpenAPIV3 } from 'openapi-types'
import t, { type Test } from 'tap'
import { CONTRACT_VERSIONS, type ContractVersion } from '../../src/contract/spec.js'
import { BODY_LIMIT_BYTES, NDJSON_BODY_LIMIT_BYTES } from '../../src/http/limits.js'
import { contracts, requiredQuery } from '../contract.js'
import { API, API_V2, startApp, storeContents, v2Fixtures, type Reply, type RequestOptions } from '../helper.js'

const badIds = ['0', '-1', 'abc', '1.5', '1e3', '0x1', '%20%31', '2147483648', '9'.repeat(20), '9'.repeat(5000)]

const long = (n: number) => 'x'.repeat(n)

type BadValues = Record<string, Array<[unknown, string]>>

/**
 * Values each property of a request body must not take, by contract version and property name, wherever a request
 * body of that version's spec has it: the value and where the 400 points, below the property. A property of a body
 * with no entry here fails the derivation guard, so a new field cannot go unchecked.
 */
const v1BadValues: BadValues = {
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

/** `depth` objects, each inside the one before. */
const nested = (depth: number): Record<string, unknown> => depth <= 1 ? {} : { a: nested(depth - 1) }
const textParts = (count: number) => Array.from({ length: count }, () => ({ type: 'text', text: 'x' }))
const toolCall = (id: string, args: unknown = {}) => ({ type: 'tool_call' as const, id, name: 'lookup', arguments: args as Record<string, unknown> })
const toolResult = (toolCallId: string) => ({ type: 'tool_result', toolCallId, output: 'found' })
/** The id of a tool call stored in another conversation than the one the checks write to. */
const ELSEWHERE = 'call_in_another_conversation'

const v2BadValues: BadValues = {
  ...v1BadValues,
  // Set by a create or an update, an expiry is ahead (test/api/retention.test.ts).
  expiresAt: [['yesterday', ''], [5, ''], ['0000-01-01T00:00:00.000Z', ''], ['2026-11-24T18:11:37Z', ''], ['2020-01-01T00:00:00.000Z', ''], [new Date(Date.now() - 1000).toISOString(), '']],
  // fork_conversation's fork point: an id, not a message of another conversation (test/api/fork.test.ts).
  atMessageId: [[0, ''], ['1', ''], [1.5, ''], [2 ** 31, ''], [null, '']],
  messages: [
    ...v1BadValues.messages!,
    [[{ role: 'user', content: 'a', parts: textParts(1) }], '/0/parts'],
    [[{ role: 'user', parts: [{ type: 'video', url: 'https://example.com/v.mp4' }] }], '/0/parts/0'],
    [[{ role: 'user', content: 'ok' }, { role: 'tool', parts: [toolResult('nope')] }], '/1/parts/0/toolCallId'],
    // A result before its call, in one request; and a call another conversation made.
    [[{ role: 'tool', parts: [toolResult('later')] }, { role: 'assistant', parts: [toolCall('later')] }], '/0/parts/0/toolCallId'],
    [[{ role: 'tool', parts: [toolResult(ELSEWHERE)] }], '/0/parts/0/toolCallId'],
  ],
  parts: [
    ['x', ''],
    [[], ''],
    [textParts(101), ''],
    [['x'], '/0'],
    [[null], '/0'],
    [[{ type: 'text' }], '/0/text'],
    [[{ type: 'text', text: '' }], '/0/text'],
    [[{ type: 'text', text: 'a\u0000b' }], '/0/text'],
    [[{ type: 'text', text: 'x', extra: 1 }], '/0/extra'],
    [[{ text: 'x' }], '/0'],
    [[{ type: 'video', url: 'https://example.com/v.mp4' }], '/0'],
    [[{ type: 'image', url: 'http://example.com/a.png' }], '/0/url'],
    [[{ type: 'image', url: `data:image/png;base64,${long(262144)}` }], '/0/url'],
    [[{ type: 'image', url: 'https://example.com/a.png', mediaType: 'png' }], '/0/mediaType'],
    [[{ type: 'file', url: 'https://example.com/a.pdf', name: '' }], '/0/name'],
    [[{ type: 'tool_call', id: 'c', name: 'lookup' }], '/0/arguments'],
    [[toolCall('c', 'x')], '/0/arguments'],
    [[toolCall('')], '/0/id'],
    // Tool-call arguments are any JSON object, within the spec's bounds on their size, depth and text.
    [[toolCall('c', { s: 'a\u0000b' })], '/0/arguments'],
    [[toolCall('c', { s: long(65536) })], '/0/arguments'],
    [[toolCall('c', nested(33))], '/0/arguments'],
    [[toolResult('nope')], '/0/toolCallId'],
    [[toolCall('c'), toolResult('C')], '/1/toolCallId'],
    [[toolResult(ELSEWHERE)], '/0/toolCallId'],
    [[{ ...toolResult('c'), isError: 'yes' }], '/0/isError'],
    [[{ ...toolResult('c'), output: long(65537) }], '/0/output'],
    [[{ type: 'reasoning', text: long(32769) }], '/0/text'],
    [[{ type: 'refusal' }], '/0/text'],
  ],
  model: [['', ''], [5, ''], [long(257), ''], ['a\u0000', '']],
  usage: [
    ['x', ''],
    [{ inputTokens: 1 }, '/outputTokens'],
    [{ inputTokens: -1, outputTokens: 0 }, '/inputTokens'],
    [{ inputTokens: 2 ** 31, outputTokens: 0 }, '/inputTokens'],
    [{ inputTokens: 1.5, outputTokens: 0 }, '/inputTokens'],
    [{ inputTokens: 1, outputTokens: 1, total: 2 }, '/total'],
  ],
}

/** An import's line (an exported conversation) where its properties differ from a create's, or are its own. */
const v2LineBadValues: BadValues = {
  ...v2BadValues,
  id: [[0, ''], ['1', ''], [1.5, ''], [2 ** 31, ''], [null, '']],
  userId: [[0, ''], [null, '']],
  messageCount: [[-1, ''], [1.5, ''], ['1', ''], [2 ** 31, '']],
  // A conversation's usage sums its messages': 64-bit, and never null.
  usage: [['x', ''], [null, ''], [{ inputTokens: 1 }, '/outputTokens'], [{ inputTokens: -1, outputTokens: 0 }, '/inputTokens'], [{ inputTokens: 2 ** 53, outputTokens: 0 }, '/inputTokens'], [{ inputTokens: 1, outputTokens: 1, total: 2 }, '/total']],
  lastMessageAt: [['yesterday', ''], [5, ''], ['2026-11-24T18:11:37Z', '']],
  forkedFrom: [['x', ''], [{}, '/conversationId'], [{ conversationId: 0, messageId: null }, '/conversationId'], [{ conversationId: 1, messageId: 1.5 }, '/messageId'], [{ conversationId: 1, messageId: null, at: 1 }, '/at']],
  createdAt: [['yesterday', ''], [null, ''], [0, ''], ['0000-01-01T00:00:00.000Z', ''], ['2026-02-30T00:00:00.000Z', ''], ['2026-11-24 18:11:37.123Z', ''], ['2026-11-24T18:11:37.123+01:00', '']],
  updatedAt: [['yesterday', ''], [null, ''], ['2026-11-24T25:00:00.000Z', '']],
  // An import keeps an expiry that has passed (the conversation is gone at once), as any other time.
  expiresAt: [['yesterday', ''], [5, ''], ['0000-01-01T00:00:00.000Z', '']],
  // Its messages are exported ones: parts, not content, and what an export adds.
  messages: [
    [{}, ''],
    [[{ role: 'user', content: 'x' }], '/0/parts'],
    [[{ role: 'robot', parts: textParts(1) }], '/0/role'],
    [[{ role: 'user', parts: textParts(1) }, { role: 'user', parts: [] }], '/1/parts'],
    [[{ role: 'user', parts: textParts(1), id: 0 }], '/0/id'],
    [[{ role: 'user', parts: textParts(1), conversationId: 'x' }], '/0/conversationId'],
    [[{ role: 'user', parts: textParts(1), content: 'a\u0000b' }], '/0/content'],
    [[{ role: 'user', parts: textParts(1), createdAt: 'now' }], '/0/createdAt'],
    [[{ role: 'user', parts: textParts(1), usage: { inputTokens: 2 ** 31, outputTokens: 0 } }], '/0/usage/inputTokens'],
    [[{ role: 'user', parts: textParts(1), extra: 1 }], '/0/extra'],
    [[{ role: 'tool', parts: [toolResult('later')] }, { role: 'assistant', parts: [toolCall('later')] }], '/0/parts/0/toolCallId'],
    // A call stored in the user's history is not one of the import's.
    [[{ role: 'tool', parts: [toolResult(ELSEWHERE)] }], '/0/parts/0/toolCallId'],
  ],
}

const badValues: Record<ContractVersion, BadValues> = { v1: v1BadValues, v2: v2BadValues }
const lineBadValues: Record<ContractVersion, BadValues> = { v1: v1BadValues, v2: v2LineBadValues }

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/
const NDJSON_MEDIA_TYPE = 'application/x-ndjson'

interface Body {
  mediaType: string
  /** Newline-delimited JSON: the schema and example are a line's, and the body one line or more. */
  lines: boolean
  /** The values each property must not take. */
  badValues: BadValues
  /** The spec's example: a body the operation takes, so that only what a check breaks is wrong. */
  example: Record<string, unknown>
  schema: OpenAPIV3.SchemaObject
}

/** One operation as the checks use it, read from the spec. */
interface Derived {
  version: ContractVersion
  /** Its description in the spec, which names a body bound other than the default. */
  description: string
  /** Its version and operationId, `v2 create_messages`: what the checks record reaching. */
  name: string
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
  /** Its required query parameters, each its example (requiredQuery). */
  required: Record<string, string>
}

/** Every operation of every version's spec, and why the derivation cannot handle the ones it cannot. */
function derive (): { operations: Derived[], unhandled: string[] } {
  const unhandled: string[] = []
  const operations = CONTRACT_VERSIONS.flatMap((version) => contracts[version].specOperations.map((operation): Derived => {
    const name = `${version} ${operation.operationId!}`
    const parameters = (operation.parameters ?? []) as OpenAPIV3.ParameterObject[]
    const ids = parameters.filter((parameter) => parameter.in === 'path').map((parameter) => {
      const schema = parameter.schema as OpenAPIV3.SchemaObject | undefined
      if (schema?.type !== 'integer') unhandled.push(`${name}: path parameter ${parameter.name} is not an integer id`)
      if (!(parameter.name in ID_KINDS)) unhandled.push(`${name}: no stored row to name for path parameter ${parameter.name}`)
      return parameter.name
    })
    const requestBody = operation.requestBody as OpenAPIV3.RequestBodyObject | undefined
    const bodies = Object.entries(requestBody?.content ?? {}).flatMap(([mediaType, media]): Body[] => {
      const schema = media.schema as OpenAPIV3.SchemaObject | undefined
      const example = media.example ?? schema?.example
      const lines = mediaType === NDJSON_MEDIA_TYPE
      const values = (lines ? lineBadValues : badValues)[version]
      const why = [
        ...JSON_MEDIA_TYPE.test(mediaType) || lines ? [] : ['is neither JSON nor NDJSON'],
        ...schema?.type === 'object' ? [] : ['has no object schema'],
        ...typeof example === 'object' && example !== null ? [] : ['has no example to send'],
        ...Object.keys(schema?.properties ?? {}).filter((property) => values[property] === undefined).map((property) => `has a property ${property} with no bad values to send`),
      ]
      for (const reason of why) unhandled.push(`${name}: request body ${mediaType} ${reason}`)
      return why.length === 0 ? [{ mediaType, lines, badValues: values, example, schema: schema! }] : []
    })
    if (requestBody !== undefined && operation.responses?.['413'] === undefined) unhandled.push(`${name}: takes a body but documents no 413`)
    const queries = parameters.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name)
    return { version, description: operation.description ?? '', name, operationId: operation.operationId!, method: operation.method.toUpperCase(), path: operation.path, ids, bodies, bodyRequired: requestBody?.required === true, queries, required: requiredQuery(operation) }
  }))
  return { operations, unhandled }
}

/** The stored row each kind of path id names in the checks (each a row of the fixture below). */
const ID_KINDS = { userId: 'user', conversationId: 'conversation', messageId: 'message' } as const

const { operations, unhandled } = derive()
const withIds = operations.filter((operation) => operation.ids.length > 0)
const withBodies = operations.filter((operation) => operation.bodies.length > 0)
const withLists = operations.filter((operation) => operation.queries.includes('limit'))

/** Every operation of every version, as `<version> <operationId>`, that `which` says a check is for. */
const named = (which: (operation: (typeof contracts)['v1']['specOperations'][number]) => boolean): string[] =>
  CONTRACT_VERSIONS.flatMap((version) => contracts[version].specOperations.filter(which).map((operation) => `${version} ${operation.operationId!}`))

/** What each check should reach, read from the specs straight, not through derive(). */
const expected: Record<string, string[]> = {
  'malformed ids': named((operation) => ((operation.parameters ?? []) as OpenAPIV3.ParameterObject[]).some((parameter) => parameter.in === 'path')),
  bodies: named((operation) => operation.requestBody !== undefined),
  'required bodies': named((operation) => (operation.requestBody as OpenAPIV3.RequestBodyObject | undefined)?.required === true),
  'oversized bodies': named((operation) => operation.requestBody !== undefined),
  'unknown query parameters': named(() => true),
}
const reached = new Map<string, Set<string>>(Object.keys(expected).map((check) => [check, new Set()]))

/**
 * The example's fields a body cannot do without, so that a case breaks one thing: its required ones, and those of
 * one of its `oneOf` alternatives (a v2 message's `content` or `parts`): the one holding `name` when a case is about
 * `name`, which is left out, else the first the example takes.
 */
function baseOf (body: Body, name?: string): Record<string, unknown> {
  const alternatives = (body.schema.oneOf ?? []).map((alternative) => (alternative as OpenAPIV3.SchemaObject).required ?? [])
  const alternative = alternatives.find((required) => name !== undefined && required.includes(name)) ??
    alternatives.find((required) => required.every((field) => field in body.example)) ?? []
  return Object.fromEntries([...body.schema.required ?? [], ...alternative].filter((field) => field !== name).map((field) => [field, body.example[field]]))
}

/** A body's text: the value, or in an NDJSON body the value as its last line, after the lines `before`. */
const textOf = (body: Body, value: unknown, before: unknown[] = []): string =>
  body.lines ? `${[...before, value].map((line) => JSON.stringify(line)).join('\n')}\n` : JSON.stringify(value)
/** Where an error in a body's value is: in an NDJSON body, below the index of its line. */
const at = (body: Body, pointer: string, line = 0): string => body.lines ? `/${line}${pointer}` : pointer
/** An error's detail: in an NDJSON body, after the number of its line. */
const said = (body: Body, detail: string, line = 0): string => body.lines ? `line ${line + 1}: ${detail}` : detail
/** The largest body its operation takes (src/http/limits.ts). */
const limitOf = (body: Body): number => body.lines ? NDJSON_BODY_LIMIT_BYTES : BODY_LIMIT_BYTES

t.test('bad input', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const user = await createUser({ name: 'Ada', email: 'ada@example.com' })
  const conversation = await createConversation(user.id, { title: 'kept', messages: [{ role: 'user', content: 'hello' }] })
  const rows: Record<string, number> = { userId: user.id, conversationId: conversation.id, messageId: conversation.messages[0]!.id }
  // A tool call in another conversation, which no tool result of this one may answer.
  const elsewhere = await v2Fixtures(request).createConversation(user.id, { messages: [{ role: 'assistant', parts: [toolCall(ELSEWHERE)] }] })
  t.equal(elsewhere.messages[0]!.parts[0]!.type, 'tool_call')
  const before = await storeContents(databaseUrl)

  /** The operation's URL, each id the stored row's unless `ids` says otherwise (raw, as sent). */
  /** With `query`, after the operation's required query parameters (requiredQuery), as sent. */
  const urlOf = (operation: Derived, ids: Record<string, string> = {}, query = '') => {
    const path = contracts[operation.version].basePath + operation.path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? String(rows[name]))
    const search = [new URLSearchParams(operation.required).toString(), query].filter((part) => part !== '').join('&')
    return search === '' ? path : `${path}?${search}`
  }

  /** A body the operation takes, so that a request is wrong only where a check makes it so. */
  const validBody = (operation: Derived, body = operation.bodies[0]): RequestOptions =>
    body === undefined ? {} : { payload: textOf(body, body.example), headers: { 'content-type': body.mediaType } }

  async function expectProblem (t: Test, status: number, method: string, url: string, options: RequestOptions = {}): Promise<Reply> {
    const reply = await request(method, url, options)
    t.equal(reply.status, status, `${method} ${url.slice(0, 80)} ${String(options.payload ?? JSON.stringify(options.body) ?? '').slice(0, 40)}`)
    t.equal(String(reply.headers['content-type']).split(';')[0], 'application/problem+json')
    t.equal(reply.body.status, status)
    return reply
  }

  /** Records that `check` sent a request to `operation`, after making sure its URL reaches that operation. */
  function reach (t: Test, check: string, operation: Derived): void {
    const routed = contracts[operation.version].operationIdOf(operation.method, urlOf(operation))
    if (routed !== operation.operationId) t.fail(`${operation.method} ${urlOf(operation)} reaches ${routed}, not ${operation.name}`)
    reached.get(check)?.add(operation.name)
  }

  t.test('the derivation handles every operation of every version\'s spec', async (t) => {
    t.same([...new Set(operations.map((operation) => operation.version))], CONTRACT_VERSIONS, 'every version\'s operations')
    t.same(unhandled, [], unhandled.length === 0 ? 'every path id and request body has its checks' : `cannot derive checks: ${unhandled.join('; ')}`)
  })

  t.test('malformed ids are a 400 naming the parameter, in every operation with an id in its path', async (t) => {
    for (const operation of withIds) {
      reach(t, 'malformed ids', operation)
      for (const name of operation.ids) {
        for (const id of badIds) {
          const reply = await expectProblem(t, 400, operation.method, urlOf(operation, { [name]: id }), validBody(operation))
          t.match(reply.body.errors, [{ in: 'path', pointer: `/${name}` }], `${operation.name}: names ${name}`)
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
      if (!body.lines) continue
      // A bad line after a good one, and a body of empty lines.
      const good = JSON.stringify(body.example)
      for (const [payload, pointer, detail] of [[`${good}\n{`, '/1', 'line 2: is not JSON'], [`${good}\n\n${good}\n`, '/1', 'line 2: is empty'], ['\n', '/0', 'line 1: is empty'], [`${good}\n[]\n`, '/1', 'line 2: must be object']]) {
        const reply = await expectProblem(t, 400, operation.method, url, sent(payload!, body.mediaType))
        t.same(reply.body.errors, [{ in: 'body', pointer, detail }], `${operation.name}: ${JSON.stringify(payload).slice(0, 60)}`)
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
      // A tool call's arguments are any object, but not one that reaches the prototype.
      ['POST', `${API_V2}/conversations/${conversation.id}/messages`, 'application/json', '{"role":"assistant","parts":[{"type":"tool_call","id":"c","name":"n","arguments":{"q":{"__proto__":{}}}}]}', ['/parts/0/arguments/q/__proto__']],
      ['POST', `${API_V2}/conversations/${conversation.id}/messages/batch`, 'application/json', '{"messages":[{"role":"assistant","parts":[{"type":"tool_call","id":"c","name":"n","arguments":{"constructor":{"prototype":{}}}}]}]}', ['/messages/0/parts/0/arguments/constructor']],
      // And at the top of every body.
      ...bodies.map(({ operation, body, url }): [string, string, string, string, string[]] => [operation.method, url, body.mediaType, '{"__proto__":1}', [at(body, '/__proto__')]]),
      // And in any line of a body of lines.
      ...bodies.filter(({ body }) => body.lines).map(({ operation, body, url }): [string, string, string, string, string[]] =>
        [operation.method, url, body.mediaType, `${JSON.stringify(body.example)}\n{"messages":[{"__proto__":{}}]}`, [at(body, '/messages/0/__proto__', 1)]]),
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
      const base = baseOf(body)
      const cases: Array<[unknown, string[]]> = [
        ...required.length > 0 ? [[{}, required.map((name) => `/${name}`)] as [unknown, string[]]] : [],
        [{ ...base, admin: true }, ['/admin']],
        [{ ...base, unknown: 1 }, ['/unknown']],
        ...properties.flatMap((name) => body.badValues[name]!.map(([value, below]): [unknown, string[]] => [{ ...baseOf(body, name), [name]: value }, [`/${name}${below}`]])),
      ]
      // A body of lines has each case as its first line, and as its second after a good one.
      const places = body.lines ? [0, 1] : [0]
      for (const [value, pointers] of cases) {
        for (const line of places) {
          const reply = await expectProblem(t, 400, operation.method, url, sent(textOf(body, value, line === 0 ? [] : [body.example]), body.mediaType))
          for (const pointer of pointers.map((pointer) => at(body, pointer, line))) {
            t.ok((reply.body.errors ?? []).some((error: any) => error.in === 'body' && error.pointer === pointer && error.detail.startsWith(said(body, '', line))),
              `${operation.name} ${body.mediaType}: ${JSON.stringify(value).slice(0, 60)} names ${pointer}: ${reply.text.slice(0, 200)}`)
          }
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
        const reply = await expectProblem(t, 400, operation.method, url, sent(textOf(body, { ...baseOf(body, 'metadata'), metadata: { [key]: 'v' } }), body.mediaType))
        t.same(reply.body.errors, [{ in: 'body', pointer: at(body, `/metadata/${key}`), detail: said(body, detail) }], `${operation.name}: ${JSON.stringify(key).slice(0, 20)}`)
      }
    }
  })

  t.test('unpaired surrogates are a 400 naming the field, refused as the JSON is decoded', async (t) => {
    const messages = `${API}/conversations/${conversation.id}/messages`
    const conversations = `${API}/users/${user.id}/conversations`
    const deep = 200_000
    const notText = 'must not contain unpaired UTF-16 surrogates'
    const cases: Array<[string, string, string, string, string, string?]> = [
      ['POST', messages, 'application/json', '{"role":"user","content":"a\\ud800b"}', '/content'],
      ['POST', messages, 'application/json', '{"role":"user","content":"\\udfff\\ud800"}', '/content'],
      ['POST', `${API}/users`, 'application/json', '{"name":"Ada \\uDC00"}', '/name'],
      ['POST', conversations, 'application/json', '{"title":"x\\udfff"}', '/title'],
      ['POST', conversations, 'application/json', '{"metadata":{"k\\ud800":"v"}}', '/metadata/k\ud800'],
      ['POST', conversations, 'application/json', '{"messages":[{"role":"user","content":"ok"},{"role":"user","content":"\\ud83d"}]}', '/messages/1/content'],
      ['POST', `${API_V2}/conversations/${conversation.id}/messages`, 'application/json', '{"role":"user","parts":[{"type":"text","text":"a\\ud800"}]}', '/parts/0/text'],
      ['POST', `${API_V2}/conversations/${conversation.id}/messages/batch`, 'application/json', '{"messages":[{"role":"assistant","parts":[{"type":"tool_call","id":"c","name":"n","arguments":{"k\\udc00":1}}]}]}', '/messages/0/parts/0/arguments/k\udc00'],
      // Where a schema would never look: past an unknown property, and nested deeper than the call stack goes.
      ['POST', `${API}/users`, 'application/json', '{"name":"Ada","extra":{"a/b~":["\\ud800"]}}', '/extra/a~1b~0/0'],
      ['POST', messages, 'application/json', `${'['.repeat(deep)}"\\ud800"${']'.repeat(deep)}`, `${'/0'.repeat(249)}/…`], // clipped, as every echoed pointer is
      // And in every body.
      ...bodies.map(({ operation, body, url }): [string, string, string, string, string, string] => [operation.method, url, body.mediaType, '{"x":"\\ud800"}', at(body, '/x'), said(body, notText)]),
      // And in any line of a body of lines.
      ...bodies.filter(({ body }) => body.lines).map(({ operation, body, url }): [string, string, string, string, string, string] =>
        [operation.method, url, body.mediaType, `${JSON.stringify(body.example)}\n{"title":"\\udc00"}\n`, at(body, '/title', 1), said(body, notText, 1)]),
    ]
    for (const [method, url, mediaType, payload, pointer, detail = notText] of cases) {
      const reply = await expectProblem(t, 400, method, url, sent(payload, mediaType))
      t.equal(reply.body.type, 'urn:trackbot:problem:validation-error')
      t.equal(reply.body.detail, 'The request does not match the API contract.')
      t.same(reply.body.errors, [{ in: 'body', pointer, detail }], payload.slice(0, 80))
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
      for (const operation of withLists) await expectProblem(t, 400, operation.method, urlOf(operation, {}, query))
    }
    for (const operation of operations) {
      reach(t, 'unknown query parameters', operation)
      const unknown = await expectProblem(t, 400, operation.method, urlOf(operation, {}, 'verbose=1'), validBody(operation))
      t.match(unknown.body.errors, [{ in: 'query', pointer: '/verbose' }], operation.name)
    }
  })

  t.test('a body over its bound is a 413, in every media type of every operation that takes one', async (t) => {
    const over = (limit: number) => JSON.stringify({ title: 'x', metadata: { k: long(limit) } })
    for (const { operation, body, url } of bodies) {
      reach(t, 'oversized bodies', operation)
      const reply = await expectProblem(t, 413, operation.method, url, sent(over(limitOf(body)), body.mediaType))
      t.equal(reply.body.type, 'urn:trackbot:problem:payload-too-large', `${operation.name} ${body.mediaType}`)
      if (limitOf(body) === BODY_LIMIT_BYTES) continue
      // A larger bound is the operation's own: the spec tells clients, and a body past the default one is read.
      t.match(operation.description, `${limitOf(body) / 2 ** 20} MiB`, `${operation.name}: its description names its bound`)
      const read = await expectProblem(t, 400, operation.method, url, sent(textOf(body, { messages: [], metadata: { k: long(2 * BODY_LIMIT_BYTES) } }), body.mediaType))
      t.match(read.body.errors, [{ pointer: at(body, '/metadata/k') }], `${operation.name}: a body of ${2 * BODY_LIMIT_BYTES} bytes is read and validated`)
    }
  })

  t.test('a body not in a media type its operation takes is a 415', async (t) => {
    const mediaTypes = [...new Set(bodies.map(({ body }) => body.mediaType))]
    for (const operation of withBodies) {
      const taken = operation.bodies.map((body) => body.mediaType)
      const others = mediaTypes.filter((mediaType) => !taken.includes(mediaType))
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        await expectProblem(t, 415, operation.method, urlOf(operation), sent('title=x', contentType))
      }
      // A media type another operation takes, with a body this one would take in its own (JSON is one NDJSON line).
      for (const mediaType of others) await expectProblem(t, 415, operation.method, urlOf(operation), sent(JSON.stringify(operation.bodies[0]!.example), mediaType))
    }
  })

  t.test('other methods on known paths are a 405 with Allow', async (t) => {
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
    for (const version of CONTRACT_VERSIONS) {
      const { basePath, dereferencedSpec } = contracts[version]
      const items = Object.entries(dereferencedSpec.paths)
      for (const [path] of items) {
        const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => String(rows[name]))
        // The methods of every path template the URL fits: /messages/batch fits /messages/{messageId} too.
        const declared = methods.filter((method) => items.some(([template, item]) =>
          new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`).test(filled) && item?.[method.toLowerCase() as OpenAPIV3.HttpMethods] !== undefined))
        // HEAD comes with every GET.
        const allow = declared.includes('GET') ? [...declared, 'HEAD'] : declared
        for (const method of methods.filter((method) => !allow.includes(method))) {
          const reply = await expectProblem(t, 405, method, basePath + filled, { body: method === 'OPTIONS' || method === 'GET' ? undefined : { title: 'x' } })
          t.same(String(reply.headers.allow).split(', ').sort(), [...allow].sort(), `${version} ${method} ${path}`)
        }
      }
    }
    // v1 is frozen: it has no create_messages, so its path is a message's, which takes no POST.
    const batch = await expectProblem(t, 405, 'POST', `${API}/conversations/${conversation.id}/messages/batch`, { body: { messages: [{ role: 'user', content: 'x' }] } })
    t.same(String(batch.headers.allow).split(', ').sort(), ['DELETE', 'GET', 'HEAD'])
  })

  t.test('unknown paths are a 404 problem', async (t) => {
    for (const path of ['/', '/api', `${API}`, `${API}/nope`, `${API}/users/1/nope`, '/api/v3/users', '/api/v0/users', `${API}/conversations`, '/index.html', API_V2, `${API_V2}/nope`, `${API_V2}/conversations`, `${API_V2}/conversations/1/messages/batch/1`]) {
      await expectProblem(t, 404, 'GET', path)
    }
    await expectProblem(t, 404, 'POST', `${API}/messages`, { body: {} })
    await expectProblem(t, 404, 'POST', `${API_V2}/messages/batch`, { body: {} })
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
