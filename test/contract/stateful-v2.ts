// v2's model for the stateful fuzzer: messages as v2 stores them (content parts, model, usage, metadata), written one
// at a time, several at once or with a new conversation, with bodies made from the spec; the conversation's counters
// (messageCount, usage, lastMessageAt) kept by the model; and what v1 reads of it all. The commands every version
// shares are in stateful.ts.
import fc from 'fast-check'
import type { OpenAPIV3 } from 'openapi-types'
import { contracts } from '../contract.js'
import type { Reply, Request } from '../helper.js'
import { bodyValueFor, inTheFuture, valueFor, withAnsweredToolResults } from './spec-arbitraries.js'
import {
  canonical, CheckAll, CreateUser, DeleteConversation, DeleteMessage, DeleteUser, expectConversation, expectEqual, expectStatus, GetMessage, pick,
  statefulSuite, UpdateConversation, type Command, type Model as SharedModel, type ModelConversation as SharedConversation, type Version,
} from './stateful.js'

const V1_API = contracts.v1.basePath
const schemas = contracts.v2.dereferencedSpec.components!.schemas as Record<string, OpenAPIV3.SchemaObject>

interface Usage { inputTokens: number, outputTokens: number }
interface Part { type: string, [field: string]: unknown }
interface NewMessage { role: string, content?: string, parts?: Part[], model?: string | null, usage?: Usage | null, metadata?: Record<string, string> }

/** A message as v2 reads it back, less its ids and time. */
interface Stored { role: string, content: string, parts: Part[], model: string | null, usage: Usage | null, metadata: Record<string, string> }

interface ModelMessage { id: number, createdAt: string, stored: Stored }

type ModelConversation = SharedConversation<ModelMessage>

type Model = SharedModel<ModelMessage>

/** What v2 stores of a message sent: `content` as one text part, and `content` as the text of the text parts. */
function stored (sent: NewMessage): Stored {
  const parts = sent.parts ?? [{ type: 'text', text: sent.content! }]
  // As the JSON the server parsed (a -0 is 0), keys in any order.
  return canonical(JSON.parse(JSON.stringify({
    role: sent.role,
    content: sent.content ?? parts.flatMap((part) => part.type === 'text' ? [part.text] : []).join('\n'),
    parts,
    model: sent.model ?? null,
    usage: sent.usage ?? null,
    metadata: sent.metadata ?? {},
  }))) as Stored
}

/** A message as read back, in the model's terms. */
const readBack = ({ role, content, parts, model, usage, metadata }: any): Stored => canonical({ role, content, parts, model, usage, metadata }) as Stored

/** The ids of the tool calls a conversation's messages hold: what a new tool_result may answer. */
const storedCalls = (conversation: ModelConversation | undefined): string[] =>
  conversation?.messages.flatMap(({ stored }) => stored.parts.flatMap((part) => part.type === 'tool_call' ? [String(part.id)] : [])) ?? []

/**
 * Where the first tool_result of `messages` that answers no tool_call (of the conversation's, `calls`, or one earlier
 * in them) is, as the 400 names it; undefined when every one answers a call.
 */
function firstUnanswered (messages: NewMessage[], calls: string[], pointerOf: (message: number, part: number) => string): string | undefined {
  const known = new Set(calls)
  for (const [i, message] of messages.entries()) {
    for (const [j, part] of (message.parts ?? []).entries()) {
      if (part.type === 'tool_call') known.add(String(part.id))
      if (part.type === 'tool_result' && !known.has(String(part.toolCallId))) return pointerOf(i, j)
    }
  }
  return undefined
}

/** Expects a 400 naming `pointer` in the body. */
function expectRefused (reply: { status: number, text: string, body: any }, pointer: string, what: string): void {
  expectStatus(reply, 400, what)
  const named = (reply.body.errors ?? []).some((error: any) => error.in === 'body' && error.pointer === pointer)
  if (!named) throw new Error(`${what}: the 400 does not name ${pointer}: ${reply.text}`)
}

/** A message's tool_results, made to answer calls before them (or left as made, answering none, to be refused). */
const sendable = <T>(body: T, answered: boolean, calls: string[]): T => answered ? withAnsweredToolResults(body, calls) : body

const sum = (messages: ModelMessage[]): Usage => ({
  inputTokens: messages.reduce((total, { stored }) => total + (stored.usage?.inputTokens ?? 0), 0),
  outputTokens: messages.reduce((total, { stored }) => total + (stored.usage?.outputTokens ?? 0), 0),
})

/** The newest message's createdAt, or null. */
const lastMessageAt = (messages: ModelMessage[]): string | null => messages.reduce<string | null>((last, { createdAt }) => (last === null || createdAt > last ? createdAt : last), null)

/** A conversation's counters as the model has them, to compare with a Conversation read. */
const counters = (messages: ModelMessage[]) => ({ messageCount: messages.length, usage: sum(messages), lastMessageAt: lastMessageAt(messages) })

/** Messages just written, as read back: added to the model's conversation. */
function added (conversation: ModelConversation, sent: NewMessage[], written: any[], what: string): void {
  expectEqual(written.map(readBack), sent.map(stored), what)
  conversation.messages.push(...written.map((message) => ({ id: message.id, createdAt: message.createdAt, stored: readBack(message) })))
}

/** v1's MessageContent maxLength: v1 reads a longer text cut to it. */
const V1_CONTENT_LENGTH = (contracts.v1.dereferencedSpec.components!.schemas!.MessageContent as OpenAPIV3.SchemaObject).maxLength!

/** The roles v2 has and v1 lacks, as v1 reads them. */
const V1_ROLES: Record<string, string> = { developer: 'system', tool: 'user' }

/** A message as v1 reads it (docs/api.md, "What v1 shows of v2's messages"): [role, content]. */
function inV1 ({ role, content, parts }: Stored): [string, string] {
  return [V1_ROLES[role] ?? role, content === '' ? `[${parts.map((part) => part.type).join(', ')}]` : [...content].slice(0, V1_CONTENT_LENGTH).join('')]
}

/**
 * What v2's model compares: a message's id, time and all it stores; a conversation's counters; and, as CheckAll reads
 * each conversation, its messages read through v1 in v1's terms (every v1 answer is checked against v1's document).
 */
const v2: Version<ModelMessage> = {
  api: contracts.v2.basePath,
  readMessage: (message: any) => [message.id, message.createdAt, readBack(message)],
  modelMessage: ({ id, createdAt, stored }) => [id, createdAt, stored],
  counters,
  async checkConversation (request, id, conversation) {
    const inV1Terms = await request('GET', `${V1_API}/conversations/${id}/messages`)
    expectStatus(inV1Terms, 200, 'list_messages through v1')
    expectEqual(inV1Terms.body.map((m: any) => [m.id, m.role, m.content]), conversation.messages.map((m) => [m.id, ...inV1(m.stored)]), `conversation ${id}'s messages read through v1`)
  },
}

interface NewConversation { title?: string | null, metadata?: Record<string, string>, expiresAt?: string | null, messages?: NewMessage[] }

class CreateConversation implements Command<Model> {
  constructor (readonly user: number, readonly body: NewConversation, readonly answered: boolean) {}
  check = (model: Readonly<Model>) => model.users.size > 0
  async run (model: Model, request: Request) {
    const userId = pick(model.users.keys(), this.user)!
    const body = sendable(this.body, this.answered, [])
    const reply = await request('POST', `${v2.api}/users/${userId}/conversations`, { body })
    const unanswered = firstUnanswered(body.messages ?? [], [], (i, j) => `/messages/${i}/parts/${j}/toolCallId`)
    if (unanswered !== undefined) return expectRefused(reply, unanswered, 'create_conversation with a tool_result answering no call')
    expectStatus(reply, 201, 'create_conversation')
    const conversation: ModelConversation = { userId, title: body.title ?? null, metadata: body.metadata ?? {}, messages: [] }
    added(conversation, body.messages ?? [], reply.body.messages, 'initial messages')
    expectConversation(v2, reply.body, conversation, 'the new conversation')
    model.users.get(userId)!.conversations.add(reply.body.id)
    model.conversations.set(reply.body.id, conversation)
  }

  toString = () => `CreateConversation(${this.user}, ${JSON.stringify(this.body).slice(0, 300)}, answered: ${this.answered})`
}

class PostMessage implements Command<Model> {
  constructor (readonly conversation: number, readonly message: NewMessage, readonly answered: boolean) {}
  check = (model: Readonly<Model>) => model.conversations.size > 0
  async run (model: Model, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    const conversation = model.conversations.get(id)!
    const message = sendable(this.message, this.answered, storedCalls(conversation))
    const reply = await request('POST', `${v2.api}/conversations/${id}/messages`, { body: message })
    const unanswered = firstUnanswered([message], storedCalls(conversation), (_, j) => `/parts/${j}/toolCallId`)
    if (unanswered !== undefined) return expectRefused(reply, unanswered, 'create_message with a tool_result answering no call')
    expectStatus(reply, 201, 'create_message')
    added(conversation, [message], [reply.body], `message posted to ${id}`)
  }

  toString = () => `PostMessage(${this.conversation}, ${JSON.stringify(this.message).slice(0, 300)}, answered: ${this.answered})`
}

class PostMessages implements Command<Model> {
  constructor (readonly conversation: number, readonly messages: NewMessage[], readonly answered: boolean) {}
  check = (model: Readonly<Model>) => model.conversations.size > 0
  async run (model: Model, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    const conversation = model.conversations.get(id)!
    const messages = sendable(this.messages, this.answered, storedCalls(conversation))
    const reply = await request('POST', `${v2.api}/conversations/${id}/messages/batch`, { body: { messages } })
    const unanswered = firstUnanswered(messages, storedCalls(conversation), (i, j) => `/messages/${i}/parts/${j}/toolCallId`)
    if (unanswered !== undefined) return expectRefused(reply, unanswered, 'create_messages with a tool_result answering no call')
    expectStatus(reply, 201, 'create_messages')
    added(conversation, messages, reply.body.messages, `messages appended to ${id}`)
    expectEqual(new Set(reply.body.messages.map((message: any) => message.createdAt)).size, 1, 'messages appended at once are written at one time')
  }

  toString = () => `PostMessages(${this.conversation}, ${JSON.stringify(this.messages).slice(0, 300)}, answered: ${this.answered})`
}

/** What search reads of a message, by the spec: its text, reasoning and refusal parts and its tool results' output. */
const searchedText = ({ parts }: Stored): string =>
  parts.flatMap((part) => ['text', 'reasoning', 'refusal'].includes(part.type) ? [String(part.text)] : part.type === 'tool_result' ? [String(part.output)] : []).join('\n')

/**
 * Words of a message a search must find it by, with the model's message: whole ASCII words, not too long to be indexed,
 * early in its text (only the first 100,000 characters are indexed). Whole as the store that joins the most characters
 * into words splits them: SQLite's unicode61 also counts other numbers (①), private-use characters and every character
 * past the Basic Multilingual Plane (emoji) as parts of a word, so `80🏽` is not the word `80` there (docs/api.md).
 */
const searchableWords = (conversation: number, message: ModelMessage): Array<[number, ModelMessage, string]> =>
  ([...searchedText(message.stored)].slice(0, 1000).join('').match(/[\p{L}\p{N}\p{M}\p{Co}\u{10000}-\u{10FFFF}]+/gu) ?? [])
    .filter((word) => /^[A-Za-z0-9]{1,100}$/.test(word))
    .map((word) => [conversation, message, word])

/**
 * A search as a user: by a word of one of their messages when they have one (the message must be among the hits),
 * else with a `q` from the spec's schema (hostile text, often); or as a deleted user (a 404). Every hit, on every page
 * of 3 its Link headers lead to, must be a message or a title of the user's conversations, as the model has it.
 */
class SearchMessages implements Command<Model> {
  constructor (readonly user: number, readonly deleted: boolean, readonly word: number, readonly q: string) {}
  check = (model: Readonly<Model>) => (this.deleted ? model.gone.users.length > 0 : model.users.size > 0)
  async run (model: Model, request: Request) {
    const url = (userId: number, q: string) => `${v2.api}/users/${userId}/search?${new URLSearchParams({ q, limit: '3' })}`
    if (this.deleted) {
      expectStatus(await request('GET', url(pick(model.gone.users, this.user)!, this.q)), 404, 'search_messages as a deleted user')
      return
    }
    const userId = pick(model.users.keys(), this.user)!
    const owned = [...model.users.get(userId)!.conversations]
    const chosen = pick(owned.flatMap((id) => model.conversations.get(id)!.messages.flatMap((message) => searchableWords(id, message))), this.word)
    const q = chosen?.[2] ?? this.q
    const hits: any[] = []
    for (let next: string | undefined = url(userId, q); next !== undefined;) {
      const reply: Reply = await request('GET', next)
      expectStatus(reply, 200, `search_messages for ${JSON.stringify(q)}`)
      hits.push(...reply.body)
      next = /^<([^>]+)>; rel="next"$/.exec(String(reply.headers.link ?? ''))?.[1]
      if (hits.length > 1000) throw new Error(`search_messages for ${JSON.stringify(q)}: more hits than the model has rows`)
    }
    for (const hit of hits) {
      const what = `search_messages for ${JSON.stringify(q)}: hit ${hit.conversationId}/${hit.messageId}`
      if (!owned.includes(hit.conversationId)) throw new Error(`${what}: not a conversation of user ${userId}`)
      const conversation = model.conversations.get(hit.conversationId)!
      const message = conversation.messages.find(({ id }) => id === hit.messageId)
      if (hit.messageId !== null && message === undefined) throw new Error(`${what}: no such message in the conversation`)
      if (hit.messageId === null && conversation.title === null) throw new Error(`${what}: a title hit, but the conversation has no title`)
      expectEqual([hit.title, hit.role, ...message === undefined ? [] : [hit.createdAt]], [conversation.title, message?.stored.role ?? null, ...message === undefined ? [] : [message.createdAt]], what)
    }
    if (chosen !== undefined && !hits.some((hit) => hit.conversationId === chosen[0] && hit.messageId === chosen[1].id)) {
      throw new Error(`search_messages for ${JSON.stringify(q)}: message ${chosen[1].id} holds the word, but is not among the hits ${JSON.stringify(hits.map((hit) => [hit.conversationId, hit.messageId]))}`)
    }
  }

  toString = () => `SearchMessages(${this.user}, deleted: ${this.deleted}, ${this.word}, ${JSON.stringify(this.q).slice(0, 300)})`
}

/**
 * A fork of a conversation: at one of its messages (`at` picks it; past its last, no atMessageId: the last), with a
 * title or the source's; or of a deleted conversation (a 404). The fork holds copies of the messages up to there, each
 * as the source has it and at its time, with new ids; the source stays as it was.
 */
class ForkConversation implements Command<Model> {
  constructor (readonly conversation: number, readonly deleted: boolean, readonly at: number, readonly title: string | null | undefined) {}
  check = (model: Readonly<Model>) => (this.deleted ? model.gone.conversations.length > 0 : model.conversations.size > 0)
  async run (model: Model, request: Request) {
    const url = (id: number) => `${v2.api}/conversations/${id}/fork`
    if (this.deleted) {
      expectStatus(await request('POST', url(pick(model.gone.conversations, this.conversation)!), { body: {} }), 404, 'fork_conversation of a deleted conversation')
      return
    }
    const id = pick(model.conversations.keys(), this.conversation)!
    const source = model.conversations.get(id)!
    const at = this.at % (source.messages.length + 1)
    const atMessage = source.messages[at]
    const body = { ...atMessage === undefined ? {} : { atMessageId: atMessage.id }, ...this.title === undefined ? {} : { title: this.title } }
    const reply = await request('POST', url(id), { body })
    expectStatus(reply, 201, 'fork_conversation')
    const copied = atMessage === undefined ? source.messages : source.messages.slice(0, at + 1)
    expectEqual(reply.body.forkedFrom, { conversationId: id, messageId: copied.at(-1)?.id ?? null }, 'the fork\'s forkedFrom')
    const read = await request('GET', `${v2.api}/conversations/${reply.body.id}/messages`)
    expectStatus(read, 200, 'list_messages of the fork')
    expectEqual(read.body.map((message: any) => [message.createdAt, readBack(message)]), copied.map(({ createdAt, stored }) => [createdAt, stored]), 'the fork\'s copies')
    const fork: ModelConversation = {
      userId: source.userId,
      title: this.title === undefined ? source.title : this.title,
      // A copy: an update of the source's metadata (the model's object, changed in place) is not the fork's.
      metadata: { ...source.metadata },
      messages: read.body.map((message: any) => ({ id: message.id, createdAt: message.createdAt, stored: readBack(message) })),
    }
    expectConversation(v2, reply.body, fork, 'the fork')
    model.users.get(source.userId)!.conversations.add(reply.body.id)
    model.conversations.set(reply.body.id, fork)
  }

  toString = () => `ForkConversation(${this.conversation}, deleted: ${this.deleted}, at ${this.at}, title ${JSON.stringify(this.title)})`
}

/**
 * A user's export, or a deleted user's (a 404): one line per conversation the model has for the user, each with its
 * counters and its messages as the model has them.
 */
class ExportUserData implements Command<Model> {
  constructor (readonly user: number, readonly deleted: boolean) {}
  check = (model: Readonly<Model>) => (this.deleted ? model.gone.users.length > 0 : model.users.size > 0)
  async run (model: Model, request: Request) {
    const url = (userId: number) => `${v2.api}/users/${userId}/export`
    if (this.deleted) {
      expectStatus(await request('GET', url(pick(model.gone.users, this.user)!)), 404, 'export_user_data of a deleted user')
      return
    }
    const userId = pick(model.users.keys(), this.user)!
    const reply = await request('GET', url(userId))
    expectStatus(reply, 200, 'export_user_data')
    const lines: any[] = reply.body ?? []
    expectEqual(lines.map((line) => line.id).sort((a, b) => a - b), [...model.users.get(userId)!.conversations].sort((a, b) => a - b), `user ${userId}'s exported conversations`)
    for (const line of lines) {
      const conversation = model.conversations.get(line.id)!
      expectConversation(v2, line, conversation, `exported conversation ${line.id}`)
      expectEqual(line.messages.map(v2.readMessage), conversation.messages.map(v2.modelMessage), `exported conversation ${line.id}'s messages`)
    }
  }

  toString = () => `ExportUserData(${this.user}, deleted: ${this.deleted})`
}

/**
 * One user's export imported into another (`into`; a deleted user's import is a 404): the importer gets a copy of each
 * conversation, its messages as the model has them at their times, with new ids.
 */
class ImportUserData implements Command<Model> {
  constructor (readonly from: number, readonly into: number, readonly deleted: boolean) {}
  check = (model: Readonly<Model>) => model.users.size > 0 && (!this.deleted || model.gone.users.length > 0)
  async run (model: Model, request: Request) {
    const fromId = pick(model.users.keys(), this.from)!
    const exported = await request('GET', `${v2.api}/users/${fromId}/export`)
    expectStatus(exported, 200, 'export_user_data to import')
    const headers = { 'content-type': 'application/x-ndjson' }
    if (this.deleted) {
      const gone = pick(model.gone.users, this.into)!
      expectStatus(await request('POST', `${v2.api}/users/${gone}/import`, { payload: exported.text || '{"messages":[]}\n', headers }), 404, 'import_user_data into a deleted user')
      return
    }
    const intoId = pick(model.users.keys(), this.into)!
    if (exported.text === '') {
      expectStatus(await request('POST', `${v2.api}/users/${intoId}/import`, { payload: exported.text, headers }), 400, 'import_user_data of no line')
      return
    }
    const reply = await request('POST', `${v2.api}/users/${intoId}/import`, { payload: exported.text, headers })
    expectStatus(reply, 201, 'import_user_data')
    for (const { from, id } of reply.body.conversations) {
      const source = model.conversations.get(from)!
      const read = await request('GET', `${v2.api}/conversations/${id}/messages`)
      expectEqual(read.body.map((message: any) => [message.createdAt, readBack(message)]), source.messages.map(({ createdAt, stored }) => [createdAt, stored]), `conversation ${from} imported as ${id}`)
      const copy: ModelConversation = { userId: intoId, title: source.title, metadata: { ...source.metadata }, messages: read.body.map((message: any) => ({ id: message.id, createdAt: message.createdAt, stored: readBack(message) })) }
      expectConversation(v2, (await request('GET', `${v2.api}/conversations/${id}`)).body, copy, `imported conversation ${id}`)
      model.users.get(intoId)!.conversations.add(id)
      model.conversations.set(id, copy)
    }
  }

  toString = () => `ImportUserData(${this.from}, into ${this.into}, deleted: ${this.deleted})`
}

/** search_messages' `q`, as the spec makes it. */
const searchQuery = valueFor((contracts.v2.dereferencedSpec.components!.parameters!.SearchQuery as OpenAPIV3.ParameterObject).schema as OpenAPIV3.SchemaObject) as fc.Arbitrary<string>

/**
 * Bodies from the spec's own schemas, well within the body limit; a part's tool_result answers a call before it
 * (a tool_result made as it came, mostly answering none, is refused: the model expects the 400).
 */
const newMessage = bodyValueFor(schemas.NewMessage!) as fc.Arbitrary<NewMessage>
const newMessages = bodyValueFor(schemas.CreateMessagesRequest!).map((body) => (body as { messages: NewMessage[] }).messages)
const newConversation = bodyValueFor(schemas.CreateConversationRequest!).map(inTheFuture) as fc.Arbitrary<NewConversation>
const answered = fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 })

/** An agent's turn, as an agent stores it. */
const agentTurn: NewMessage[] = [
  {
    role: 'assistant',
    parts: [
      { type: 'reasoning', text: 'The weather decides between indoor and outdoor sights.' },
      { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Lisbon', days: 2, units: ['C'], detail: { hourly: false, note: null } } },
    ],
    model: 'gpt-4o',
    usage: { inputTokens: 412, outputTokens: 21 },
  },
  { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: '{"forecast":"sunny"}' }] },
  { role: 'assistant', content: 'Sunny: start in Alfama.', model: 'gpt-4o', usage: { inputTokens: 450, outputTokens: 9 }, metadata: { finish: 'stop' } },
]

const writes = [
  fc.tuple(fc.nat(), newConversation, answered).map(([user, body, answer]) => new CreateConversation(user, body, answer)),
  fc.tuple(fc.nat(), newMessage, answered).map(([conversation, message, answer]) => new PostMessage(conversation, message, answer)),
  fc.tuple(fc.nat(), newMessages, answered).map(([conversation, messages, answer]) => new PostMessages(conversation, messages, answer)),
]

const search = fc.tuple(fc.nat(), fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 }), fc.nat(), searchQuery)
  .map(([user, deleted, word, q]) => new SearchMessages(user, deleted, word, q))

const seldom = fc.oneof({ arbitrary: fc.constant(false), weight: 3 }, { arbitrary: fc.constant(true), weight: 1 })
const forkTitle = fc.oneof(fc.constant(undefined), fc.constant(null), valueFor(schemas.Title!).filter((title) => title !== null)) as fc.Arbitrary<string | null | undefined>
const fork = fc.tuple(fc.nat(), seldom, fc.nat(), forkTitle).map(([conversation, deleted, at, title]) => new ForkConversation(conversation, deleted, at, title))
const exportData = fc.tuple(fc.nat(), seldom).map(([user, deleted]) => new ExportUserData(user, deleted))
const importData = fc.tuple(fc.nat(), fc.nat(), seldom).map(([from, into, deleted]) => new ImportUserData(from, into, deleted))

export const v2Suite = statefulSuite(v2, [
  // Writes of messages twice as likely as each other command, so that conversations fill up before they are read or
  // deleted; searches too, as each looks at a random user's messages (a word of theirs) or at nothing (a hostile `q`).
  ...writes,
  ...writes,
  search,
  search,
  fork,
  exportData,
  importData,
], () => [
  new CreateUser(v2, 'Ada'),
  new CreateConversation(0, { title: 'Lisbon', messages: [{ role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Two days in Lisbon?' }] }, true),
  new PostMessages(0, agentTurn, false),
  new PostMessage(0, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: 'again', isError: true }] }, false),
  new PostMessage(0, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_never_made', output: 'lost' }] }, false),
  new GetMessage(v2, 2),
  new SearchMessages(0, false, 0, 'Lisbon'),
  new UpdateConversation(v2, 0, { title: 'Lisbon, two days', metadata: { model: 'x', lang: null } }),
  new ForkConversation(0, false, 1, 'Lisbon, again'),
  new ExportUserData(0, false),
  new CreateUser(v2, 'Bob'),
  new ImportUserData(0, 1, false),
  new CheckAll(v2),
  // The assistant's tool call (its usage goes with it), then the newest message (lastMessageAt goes back).
  new DeleteMessage(v2, 2),
  new DeleteMessage(v2, 4),
  new CheckAll(v2),
  new DeleteConversation(v2, 0),
  new CreateConversation(0, {}, false),
  new ForkConversation(0, true, 0, undefined),
  new DeleteUser(v2, 0),
  new SearchMessages(0, true, 0, 'Lisbon'),
  new ExportUserData(0, true),
  new ImportUserData(0, 0, true),
  new CheckAll(v2),
])
