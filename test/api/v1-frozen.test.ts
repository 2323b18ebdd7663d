// v1 is frozen: after v2 stored an agent loop in a conversation (every part type, roles tool and developer, a text
// longer than v1's bound over two text parts, usage, model, metadata), every v1 answer about it is valid against
// openapi/v1.yaml read strictly (no property beyond the schema's, enums as written) and holds exactly v1's fields in
// v1's order; v1 shows v2's messages as documented (developer → system, tool → user, a message with no text as
// `[<its parts' types>]`, text cut to 32768 characters); and the seed client's four operations answer byte for byte
// as they did before v2.
import { Ajv, type ValidateFunction } from 'ajv'
import t, { type Test } from 'tap'
import { customizeAjv } from '../../src/contract/spec.js'
import { contracts } from '../contract.js'
import { API, API_V2, startApp, v2Fixtures, type Reply, type Request, type V2Message, type V2NewMessage } from '../helper.js'

const V1_CONTENT_LENGTH = 32768

// ---------------------------------------------------------------------------------------------------------
// v1's schemas, read strictly

const schemas = contracts.v1.dereferencedSpec.components!.schemas! as Record<string, any>

/** A schema with every object that lists its properties closed to others, whatever the document says. */
function closed (schema: any): any {
  if (Array.isArray(schema)) return schema.map(closed)
  if (typeof schema !== 'object' || schema === null) return schema
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, key === 'example' ? value : closed(value)]))
  if (copy.properties !== undefined) copy.additionalProperties = false
  return copy
}

const ajv = customizeAjv(new Ajv({ allErrors: true, strict: false }))
const validators = new Map<string, ValidateFunction>()

/** Errors of `value` against v1's schema `name` (or an array of it), read strictly. */
function v1Errors (name: string, value: unknown, array = false): string[] {
  const id = `${name}${array ? '[]' : ''}`
  let validate = validators.get(id)
  if (validate === undefined) {
    const schema = closed(schemas[name])
    validate = ajv.compile(array ? { type: 'array', items: schema } : schema)
    validators.set(id, validate)
  }
  return validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? error.keyword}`)
}

/** The property names v1's schema `name` lists, in its order: what every answer holds, in that order. */
const fieldsOf = (name: string) => Object.keys(schemas[name].properties)

const V1_ROLES = schemas.Role.enum as string[]

// ---------------------------------------------------------------------------------------------------------
// What v1 shows of a v2 message (docs/api.md)

const V1_ROLE_OF: Record<string, string> = { user: 'user', assistant: 'assistant', system: 'system', developer: 'system', tool: 'user' }

/** `text` cut to `length` characters (code points, as JSON Schema's maxLength counts them). */
const cut = (text: string, length: number) => Array.from(text).slice(0, length).join('')

function asV1 (message: V2Message) {
  return {
    id: message.id,
    conversationId: message.conversationId,
    role: V1_ROLE_OF[message.role],
    content: message.content === '' ? `[${message.parts.map(({ type }) => type).join(', ')}]` : cut(message.content, V1_CONTENT_LENGTH),
    createdAt: message.createdAt,
  }
}

/** A v2 conversation as v1 reads it: the same values, v1's fields only, in v1's order. */
function conversationAsV1 (conversation: Record<string, unknown>) {
  return Object.fromEntries(fieldsOf('Conversation').map((field) => [field, conversation[field]]))
}

// ---------------------------------------------------------------------------------------------------------
// An agent loop with everything v2 adds

const LONG_A = 'a'.repeat(20000)
const LONG_B = 'b'.repeat(20000)
const EMOJI = '🙂'.repeat(20000)

const LOOP: V2NewMessage[] = [
  { role: 'developer', content: 'Answer briefly; use tools for facts.' },
  { role: 'user', parts: [{ type: 'text', text: 'What is on this ticket?' }, { type: 'image', url: 'https://example.com/ticket.png', mediaType: 'image/png' }] },
  { role: 'user', parts: [{ type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' }] },
  { role: 'user', parts: [{ type: 'file', url: 'https://example.com/itinerary.pdf', name: 'itinerary.pdf', mediaType: 'application/pdf' }, { type: 'text', text: 'and this file' }] },
  { role: 'user', parts: [{ type: 'file', url: 'data:text/plain,hello', name: 'hello.txt' }] },
  {
    role: 'assistant',
    parts: [{ type: 'reasoning', text: 'I need the timetable.' }, { type: 'tool_call', id: 'call_1', name: 'timetable', arguments: { line: 28, at: null, stops: ['Graça', 'Estrela'] } }],
    model: 'gpt-4o',
    usage: { inputTokens: 300, outputTokens: 40 },
    metadata: { trace: 't-1' },
  },
  { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_2', name: 'weather', arguments: {} }], model: 'gpt-4o', usage: { inputTokens: 5, outputTokens: 6 } },
  { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: '{"every":"12 min"}' }] },
  { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_2', output: 'timeout', isError: true }], metadata: { retry: 'yes' } },
  { role: 'tool', content: 'a tool result sent as text' },
  { role: 'assistant', parts: [{ type: 'refusal', text: 'I cannot book tickets.' }] },
  { role: 'assistant', parts: [{ type: 'reasoning', text: 'Now answer.' }, { type: 'text', text: 'Tram 28 runs every 12 minutes.' }], model: 'gpt-4o', usage: { inputTokens: 700, outputTokens: 90 } },
  { role: 'assistant', parts: [{ type: 'text', text: 'one' }, { type: 'image', url: 'https://example.com/map.png' }, { type: 'text', text: 'two' }] },
  // Longer than v1's bound only once joined.
  { role: 'assistant', parts: [{ type: 'text', text: LONG_A }, { type: 'text', text: LONG_B }], model: 'gpt-4o', usage: { inputTokens: 1, outputTokens: 10000 } },
  // One character past the bound, the newline.
  { role: 'assistant', parts: [{ type: 'text', text: 'x'.repeat(V1_CONTENT_LENGTH) }, { type: 'text', text: 'y' }] },
  // Characters outside the BMP before the cut: two UTF-16 units each, one character each.
  { role: 'assistant', parts: [{ type: 'text', text: EMOJI }, { type: 'text', text: LONG_B }] },
  { role: 'system', content: 'a plain system message' },
]

/** Every v1 answer of `request` about a user, a conversation and its messages, checked strictly; the bodies read. */
async function readAllThroughV1 (t: Test, request: Request, userId: number, conversationId: number) {
  const check = (reply: Reply, name: string, array = false) => {
    t.equal(reply.status, 200, `${name}${array ? '[]' : ''} read`)
    t.strictSame(v1Errors(name, reply.body, array), [], `${name}${array ? '[]' : ''} valid against v1, strictly`)
    for (const item of array ? reply.body : [reply.body]) t.strictSame(Object.keys(item), fieldsOf(name), `${name}: v1's fields, in v1's order`)
  }
  const conversation = await request('GET', `${API}/conversations/${conversationId}`)
  check(conversation, 'Conversation')
  const conversations = await request('GET', `${API}/users/${userId}/conversations`)
  check(conversations, 'Conversation', true)
  const page = await request('GET', `${API}/users/${userId}/conversations?limit=1`)
  check(page, 'Conversation', true)
  const messages = await request('GET', `${API}/conversations/${conversationId}/messages`)
  check(messages, 'Message', true)
  const pages: any[] = []
  let next: string | undefined = `${API}/conversations/${conversationId}/messages?limit=5`
  while (next !== undefined) {
    const reply: Reply = await request('GET', next)
    check(reply, 'Message', true)
    pages.push(...reply.body)
    next = /^<([^>]+)>; rel="next"$/.exec(String(reply.headers.link ?? ''))?.[1]
  }
  t.strictSame(pages, messages.body, 'v1\'s pages join up to its full list')
  for (const message of messages.body) {
    const one = await request('GET', `${API}/conversations/${conversationId}/messages/${message.id}`)
    check(one, 'Message')
    t.strictSame(one.body, message)
  }
  return { conversation: conversation.body, conversations: conversations.body, messages: messages.body }
}

t.test('the strict reading of v1 refuses what v1 cannot express', async (t) => {
  const message = { id: 1, conversationId: 1, role: 'user', content: 'x', createdAt: '2026-11-24T18:11:37.123Z' }
  t.strictSame(v1Errors('Message', message), [])
  t.not(v1Errors('Message', { ...message, parts: [{ type: 'text', text: 'x' }] }).length, 0, 'a field v1 lacks')
  t.not(v1Errors('Message', { ...message, role: 'tool' }).length, 0, 'a role v1 lacks')
  t.not(v1Errors('Message', { ...message, content: '' }).length, 0, 'an empty content')
  t.not(v1Errors('Message', { ...message, content: 'x'.repeat(V1_CONTENT_LENGTH + 1) }).length, 0, 'a content past its bound')
  const conversation = { id: 1, userId: 1, title: null, metadata: {}, messageCount: 0, createdAt: message.createdAt, updatedAt: message.createdAt }
  t.strictSame(v1Errors('Conversation', [conversation], true), [])
  t.not(v1Errors('Conversation', [{ ...conversation, lastMessageAt: null }], true).length, 0, 'a conversation field v1 lacks')
  t.not(v1Errors('Conversation', { ...conversation, usage: { inputTokens: 0, outputTokens: 0 } }).length, 0)
})

t.test('after v2 stored an agent loop, every v1 answer about it is v1\'s, strictly, and shows v2\'s messages as documented', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const userId = (await app.createUser()).id
  const created = await v2.createConversation(userId, { title: 'Lisbon', metadata: { app: 'agent' }, messages: LOOP.slice(0, 2) })
  const stored = [...created.messages, ...await v2.postMessages(created.id, LOOP.slice(2, 10))]
  for (const message of LOOP.slice(10)) stored.push(await v2.postMessage(created.id, message))
  t.equal(stored.length, LOOP.length)
  // v2 holds what it was sent, the long texts whole.
  t.equal(stored[13]!.content, `${LONG_A}\n${LONG_B}`)
  t.equal(stored[15]!.content, `${EMOJI}\n${LONG_B}`)
  const v2Conversation = (await request('GET', `${API_V2}/conversations/${created.id}`)).body
  t.strictSame(v2Conversation.usage, { inputTokens: 1006, outputTokens: 10136 })

  const read = await readAllThroughV1(t, request, userId, created.id)
  t.strictSame(read.messages, stored.map(asV1), 'v1 lists every v2 message in v1 terms')
  t.strictSame(read.conversation, conversationAsV1(v2Conversation), 'v1\'s conversation is v2\'s without what v2 added')
  t.strictSame(read.conversations, [conversationAsV1(v2Conversation)])
  t.ok(read.messages.every((m: any) => V1_ROLES.includes(m.role) && m.content.length > 0))

  // The documented projection, spelled out.
  const v1 = read.messages
  t.strictSame(v1.map((m: any) => m.role), [
    'system', 'user', 'user', 'user', 'user', 'assistant', 'assistant', 'user', 'user', 'user', 'assistant', 'assistant', 'assistant', 'assistant', 'assistant', 'assistant', 'system',
  ], 'developer reads as system, tool as user')
  t.strictSame(v1.slice(1, 13).map((m: any) => m.content), [
    'What is on this ticket?', '[image]', 'and this file', '[file]', '[reasoning, tool_call]', '[tool_call]', '[tool_result]', '[tool_result]',
    'a tool result sent as text', '[refusal]', 'Tram 28 runs every 12 minutes.', 'one\ntwo',
  ], 'a message with no text reads as its parts\' types; one with text as its text')
  t.equal(v1[13].content, `${LONG_A}\n${LONG_B}`.slice(0, V1_CONTENT_LENGTH), 'a long text cut to 32768 characters')
  t.equal(v1[13].content.length, V1_CONTENT_LENGTH)
  t.equal(v1[14].content, 'x'.repeat(V1_CONTENT_LENGTH), 'cut at the bound exactly, the joining newline past it')
  t.equal(v1[15].content, `${EMOJI}\n${'b'.repeat(V1_CONTENT_LENGTH - 20001)}`, 'cut in characters, never inside one')
  t.equal(Array.from(v1[15].content).length, V1_CONTENT_LENGTH)

  // v1's writes in the same conversation answer in v1's shapes, and v2 sees them.
  const posted = await request('POST', `${API}/conversations/${created.id}/messages`, { body: { role: 'user', content: 'Thanks!' } })
  t.equal(posted.status, 201)
  t.strictSame(v1Errors('Message', posted.body), [])
  t.strictSame(Object.keys(posted.body), fieldsOf('Message'))
  t.match(posted.body, { conversationId: created.id, role: 'user', content: 'Thanks!' })
  const afterPost = (await request('GET', `${API_V2}/conversations/${created.id}`)).body
  t.strictSame({ messageCount: afterPost.messageCount, usage: afterPost.usage, lastMessageAt: afterPost.lastMessageAt },
    { messageCount: LOOP.length + 1, usage: v2Conversation.usage, lastMessageAt: posted.body.createdAt }, 'a v1 post moves v2\'s counters too')
  t.match((await request('GET', `${API_V2}/conversations/${created.id}/messages/${posted.body.id}`)).body,
    { content: 'Thanks!', parts: [{ type: 'text', text: 'Thanks!' }], model: null, usage: null, metadata: {} })

  const patched = await request('PATCH', `${API}/conversations/${created.id}`, { body: { title: 'Lisbon trip' } })
  t.equal(patched.status, 200)
  t.strictSame(v1Errors('Conversation', patched.body), [])
  t.strictSame(Object.keys(patched.body), fieldsOf('Conversation'))

  // v1 deletes a v2 message: v2's usage loses its tokens.
  t.equal((await request('DELETE', `${API}/conversations/${created.id}/messages/${stored[5]!.id}`)).status, 204)
  t.strictSame((await request('GET', `${API_V2}/conversations/${created.id}`)).body.usage, { inputTokens: 706, outputTokens: 10096 })

  const conversation = await request('POST', `${API}/users/${userId}/conversations`, { body: { title: 'v1 again', metadata: { k: 'v' }, messages: [{ role: 'system', content: 'hi' }] } })
  t.equal(conversation.status, 201)
  t.strictSame(v1Errors('CreateConversationResponse', conversation.body), [])
  t.strictSame(Object.keys(conversation.body), fieldsOf('CreateConversationResponse'))
  t.strictSame(Object.keys(conversation.body.messages[0]), fieldsOf('Message'))

  const again = await readAllThroughV1(t, request, userId, created.id)
  t.equal(again.conversation.messageCount, LOOP.length)
  t.equal(again.conversations.length, 2)
})

t.test('the seed client\'s four operations answer byte for byte as before, beside conversations v2 wrote', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const userId = (await app.createUser()).id
  // The user already has a conversation full of v2's messages.
  const rich = await v2.createConversation(userId, { title: 'rich', metadata: { m: '1' }, messages: LOOP.slice(5, 9) })

  // create_conversation as the seed client sends it: an empty CreateConversationRequest.
  const created = await request('POST', `${API}/users/${userId}/conversations`, { body: {} })
  t.equal(created.status, 201)
  const { id, createdAt } = created.body
  t.equal(created.text, JSON.stringify({ id, userId, title: null, metadata: {}, messageCount: 0, createdAt, updatedAt: createdAt, messages: [] }), 'create_conversation: v1\'s bytes')
  t.equal(created.headers.location, `${API}/conversations/${id}`)
  t.equal(created.headers['content-type'], 'application/json; charset=utf-8')

  const got = await request('GET', `${API}/conversations/${id}`)
  t.equal(got.status, 200)
  const plain = { id, userId, title: null, metadata: {}, messageCount: 0, createdAt, updatedAt: createdAt }
  t.equal(got.text, JSON.stringify(plain), 'get_conversation_by_id: v1\'s bytes')

  const richV1 = await request('GET', `${API}/conversations/${rich.id}`)
  const richV2 = (await request('GET', `${API_V2}/conversations/${rich.id}`)).body
  const richPlain = { id: rich.id, userId, title: 'rich', metadata: { m: '1' }, messageCount: 4, createdAt: richV2.createdAt, updatedAt: richV2.updatedAt }
  t.equal(richV1.text, JSON.stringify(richPlain), 'a conversation v2 wrote: v1\'s bytes, nothing of v2\'s')

  const listed = await request('GET', `${API}/users/${userId}/conversations`)
  t.equal(listed.status, 200)
  const order = createdAt >= richV2.updatedAt ? [plain, richPlain] : [richPlain, plain]
  t.equal(listed.text, JSON.stringify(order), 'list_conversations: v1\'s bytes')

  const deleted = await request('DELETE', `${API}/conversations/${id}`)
  t.equal(deleted.status, 204)
  t.equal(deleted.text, '')
  const gone = await request('GET', `${API}/conversations/${id}`)
  t.equal(gone.status, 404)
  t.equal(gone.text, JSON.stringify({ type: 'urn:trackbot:problem:not-found', title: 'Not Found', status: 404, detail: `Conversation ${id} does not exist.`, instance: `${API}/conversations/${id}` }))
  t.equal((await request('GET', `${API}/users/${userId}/conversations`)).text, JSON.stringify([richPlain]))

  // Deleting the rich one through v1 too: the seed's delete takes v2's messages with it.
  t.equal((await request('DELETE', `${API}/conversations/${rich.id}`)).status, 204)
  t.equal((await request('GET', `${API_V2}/conversations/${rich.id}/messages`)).status, 404)
  t.equal((await request('GET', `${API}/users/${userId}/conversations`)).text, '[]')
})
