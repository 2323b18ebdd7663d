// What the stateful fuzzer's models of each contract version share: the model (users, conversations and what is
// gone, generic over how a version's model holds a message), the commands that do the same in every version but for
// the version's base path and what it compares of a message and a conversation, how a version's suite is made, and
// the helpers its commands check answers with (test/contract/fuzz-stateful.test.ts runs them).
import fc from 'fast-check'
import type { Request } from '../helper.js'

export type Command<Model extends object> = fc.AsyncCommand<Model, Request>

/** One contract version's model of the API and the commands that drive it. */
export interface StatefulSuite<Model extends object> {
  /** An arbitrary of each command. */
  commands: Array<fc.Arbitrary<Command<Model>>>
  /** One of every command, in an order where each finds what it needs: the walk that shows which operations the commands reach. */
  everyCommand (): Array<Command<Model>>
  /** Reads everything the model knows through the API and compares: every run ends with it. */
  checkAll (): Command<Model>
  emptyModel (): Model
}

// Commands name rows by their position among the live ones, so shrinking keeps sequences meaningful.
export const pick = <T>(items: Iterable<T>, index: number): T | undefined => {
  const list = [...items]
  return list.length === 0 ? undefined : list[index % list.length]
}

export function expectStatus (reply: { status: number, text: string }, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what}: wanted ${status}, got ${reply.status} ${reply.text.slice(0, 2000)}`)
}

export function expectEqual (actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: wanted ${JSON.stringify(expected)?.slice(0, 2000)}, got ${JSON.stringify(actual)?.slice(0, 2000)}`)
}

/** Metadata as stored: keys in no particular order. */
export const sortedEntries = (metadata: Record<string, string>) => Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** A JSON value with every object's keys sorted: stores keep JSON objects' values, not their key order. */
export function canonical (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]))
}

/** Most recent activity first: the order list_conversations promises. */
export function expectMostRecentFirst (conversations: Array<{ id: number, updatedAt: string }>): void {
  const times = conversations.map((c) => `${c.updatedAt} ${String(c.id).padStart(10, '0')}`)
  expectEqual(times, [...times].sort().reverse(), 'most recent activity first')
}

// eslint-disable-next-line no-control-regex -- NUL and lone surrogates are what the spec refuses
export const text = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\u0000\ud800-\udfff]/.test(s))

/** A merge patch: a title to set or clear, and metadata keys to set or remove (from a few, so they meet). */
export interface Patch { title?: string | null, metadata?: Record<string, string | null> }

export const patch: fc.Arbitrary<Patch> = fc.record({
  title: fc.option(text, { nil: null }),
  metadata: fc.dictionary(fc.constantFrom('model', 'lang', 'source'), fc.option(text, { nil: null }), { maxKeys: 3 }),
}, { requiredKeys: [] })

/** A conversation's title and metadata after `patch`. */
export function patched (conversation: { title: string | null, metadata: Record<string, string> }, changes: Patch): void {
  if (changes.title !== undefined) conversation.title = changes.title
  for (const [key, value] of Object.entries(changes.metadata ?? {})) {
    if (value === null) delete conversation.metadata[key]
    else conversation.metadata[key] = value
  }
}

/** A conversation as the model has it: its owner, title, metadata and messages (in the version's terms), oldest first. */
export interface ModelConversation<Message> { userId: number, title: string | null, metadata: Record<string, string>, messages: Message[] }

export interface Model<Message extends { id: number }> {
  /** user id → their name and conversations */
  users: Map<number, { name: string, conversations: Set<number> }>
  /** conversation id → the conversation */
  conversations: Map<number, ModelConversation<Message>>
  gone: { users: number[], conversations: number[], messages: Array<{ conversationId: number, id: number }> }
}

/** What a version's shared commands differ in: where its API is, and what of a message and a conversation they compare. */
export interface Version<Message extends { id: number }> {
  api: string
  /** A message (its id included) as the API answers it and as the model holds it, in the same terms to compare. */
  readMessage (answered: any): unknown
  modelMessage (message: Message): unknown
  /** A conversation's counters as the model has them: a Conversation answered must have each key with its value. */
  counters (messages: Message[]): Record<string, unknown>
  /** What more CheckAll compares of each conversation the model has (v2: its messages as v1 reads them). */
  checkConversation? (request: Request, id: number, conversation: ModelConversation<Message>): Promise<void>
}

/** A Conversation answered agrees with the model's: title, metadata and every counter. */
export function expectConversation<Message extends { id: number }> (version: Version<Message>, answered: any, conversation: ModelConversation<Message>, what: string): void {
  const counters = version.counters(conversation.messages)
  expectEqual(
    [answered.title, sortedEntries(answered.metadata), Object.keys(counters).map((key) => answered[key])],
    [conversation.title, sortedEntries(conversation.metadata), Object.values(counters)],
    what)
}

/** A message of a conversation that has one: [conversation id, message]. */
const pickMessage = <Message extends { id: number }>(model: Readonly<Model<Message>>, index: number): [number, Message] | undefined =>
  pick([...model.conversations].flatMap(([id, conversation]) => conversation.messages.map((message): [number, Message] => [id, message])), index)

/** A conversation gone, with its messages. */
function forgetConversation<Message extends { id: number }> (model: Model<Message>, id: number): void {
  const conversation = model.conversations.get(id)!
  model.users.get(conversation.userId)?.conversations.delete(id)
  for (const message of conversation.messages) model.gone.messages.push({ conversationId: id, id: message.id })
  model.conversations.delete(id)
  model.gone.conversations.push(id)
}

export class CreateUser<Message extends { id: number }> implements Command<Model<Message>> {
  constructor (readonly version: Version<Message>, readonly name: string) {}
  check = () => true
  async run (model: Model<Message>, request: Request) {
    const reply = await request('POST', `${this.version.api}/users`, { body: { name: this.name } })
    expectStatus(reply, 201, 'create_user')
    model.users.set(reply.body.id, { name: this.name, conversations: new Set() })
  }

  toString = () => `CreateUser(${JSON.stringify(this.name)})`
}

export class UpdateConversation<Message extends { id: number }> implements Command<Model<Message>> {
  constructor (readonly version: Version<Message>, readonly conversation: number, readonly patch: Patch) {}
  check = (model: Readonly<Model<Message>>) => model.conversations.size > 0
  async run (model: Model<Message>, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    const conversation = model.conversations.get(id)!
    const reply = await request('PATCH', `${this.version.api}/conversations/${id}`, { body: this.patch, headers: { 'content-type': 'application/merge-patch+json' } })
    expectStatus(reply, 200, 'update_conversation')
    patched(conversation, this.patch)
    // The counters too: a patch leaves them as they were.
    expectConversation(this.version, reply.body, conversation, `conversation ${id} as patched`)
  }

  toString = () => `UpdateConversation(${this.conversation}, ${JSON.stringify(this.patch)})`
}

export class GetMessage<Message extends { id: number }> implements Command<Model<Message>> {
  constructor (readonly version: Version<Message>, readonly message: number) {}
  check = (model: Readonly<Model<Message>>) => pickMessage(model, 0) !== undefined
  async run (model: Model<Message>, request: Request) {
    const [conversationId, message] = pickMessage(model, this.message)!
    const reply = await request('GET', `${this.version.api}/conversations/${conversationId}/messages/${message.id}`)
    expectStatus(reply, 200, 'get_message')
    expectEqual([reply.body.conversationId, this.version.readMessage(reply.body)], [conversationId, this.version.modelMessage(message)], `message ${message.id}`)
  }

  toString = () => `GetMessage(${this.message})`
}

export class DeleteMessage<Message extends { id: number }> implements Command<Model<Message>> {
  constructor (readonly version: Version<Message>, readonly message: number) {}
  check = (model: Readonly<Model<Message>>) => pickMessage(model, 0) !== undefined
  async run (model: Model<Message>, request: Request) {
    const [conversationId, message] = pickMessage(model, this.message)!
    const url = `${this.version.api}/conversations/${conversationId}/messages/${message.id}`
    expectStatus(await request('DELETE', url), 204, 'delete_message')
    expectStatus(await request('DELETE', url), 404, 'delete_message again')
    const conversation = model.conversations.get(conversationId)!
    conversation.messages = conversation.messages.filter((candidate) => candidate.id !== message.id)
    model.gone.messages.push({ conversationId, id: message.id })
  }

  toString = () => `DeleteMessage(${this.message})`
}

export class DeleteConversation<Message extends { id: number }> implements Command<Model<Message>> {
  constructor (readonly version: Version<Message>, readonly conversation: number) {}
  check = (model: Readonly<Model<Message>>) => model.conversations.size > 0
  async run (model: Model<Message>, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    expectStatus(await request('DELETE', `${this.version.api}/conversations/${id}`), 204, 'delete_conversation')
    expectStatus(await request('DELETE', `${this.version.api}/conversations/${id}`), 404, 'delete_conversation again')
    forgetConversation(model, id)
  }

  toString = () => `DeleteConversation(${this.conversation})`
}

export class DeleteUser<Message extends { id: number }> implements Command<Model<Message>> {
  constructor (readonly version: Version<Message>, readonly user: number) {}
  check = (model: Readonly<Model<Message>>) => model.users.size > 0
  async run (model: Model<Message>, request: Request) {
    const userId = pick(model.users.keys(), this.user)!
    expectStatus(await request('DELETE', `${this.version.api}/users/${userId}`), 204, 'delete_user')
    for (const id of model.users.get(userId)!.conversations) forgetConversation(model, id)
    model.users.delete(userId)
    model.gone.users.push(userId)
  }

  toString = () => `DeleteUser(${this.user})`
}

/** Reads everything the model knows through the API and compares; deleted rows must be 404s. */
export class CheckAll<Message extends { id: number }> implements Command<Model<Message>> {
  constructor (readonly version: Version<Message>) {}
  check = () => true
  async run (model: Model<Message>, request: Request) {
    const { api } = this.version
    for (const [userId, user] of model.users) {
      const got = await request('GET', `${api}/users/${userId}`)
      expectStatus(got, 200, 'get_user_by_id')
      expectEqual(got.body.name, user.name, `user ${userId}'s name`)
      const listed = await request('GET', `${api}/users/${userId}/conversations`)
      expectStatus(listed, 200, 'list_conversations')
      expectEqual(listed.body.map((c: any) => c.id).sort((a: number, b: number) => a - b), [...user.conversations].sort((a, b) => a - b), `user ${userId}'s conversations`)
      expectMostRecentFirst(listed.body)
    }
    for (const [id, conversation] of model.conversations) {
      const messages = await request('GET', `${api}/conversations/${id}/messages`)
      expectStatus(messages, 200, 'list_messages')
      expectEqual(messages.body.map((m: any) => this.version.readMessage(m)), conversation.messages.map((m) => this.version.modelMessage(m)), `conversation ${id}'s messages`)
      const got = await request('GET', `${api}/conversations/${id}`)
      expectStatus(got, 200, 'get_conversation_by_id')
      expectConversation(this.version, got.body, conversation, `conversation ${id}`)
      await this.version.checkConversation?.(request, id, conversation)
    }
    for (const id of model.gone.conversations) expectStatus(await request('GET', `${api}/conversations/${id}/messages`), 404, `deleted conversation ${id}`)
    for (const { conversationId, id } of model.gone.messages) {
      expectStatus(await request('GET', `${api}/conversations/${conversationId}/messages/${id}`), 404, `deleted message ${id}`)
    }
    for (const id of model.gone.users) expectStatus(await request('GET', `${api}/users/${id}`), 404, `deleted user ${id}`)
  }

  toString = () => 'CheckAll'
}

/**
 * A version's suite: its own commands (its writes of conversations and messages, as often as given, and reads only it
 * has) among the commands every version shares, and its walk through every command.
 */
export function statefulSuite<Message extends { id: number }> (
  version: Version<Message>,
  own: Array<fc.Arbitrary<Command<Model<Message>>>>,
  everyCommand: () => Array<Command<Model<Message>>>
): StatefulSuite<Model<Message>> {
  return {
    commands: [
      text.map((name) => new CreateUser(version, name)),
      ...own,
      fc.tuple(fc.nat(), patch).map(([conversation, changes]) => new UpdateConversation(version, conversation, changes)),
      fc.nat().map((message) => new GetMessage(version, message)),
      fc.nat().map((message) => new DeleteMessage(version, message)),
      fc.nat().map((conversation) => new DeleteConversation(version, conversation)),
      fc.nat().map((user) => new DeleteUser(version, user)),
      fc.constant(new CheckAll(version)),
    ],
    everyCommand,
    checkAll: () => new CheckAll(version),
    emptyModel: () => ({ users: new Map(), conversations: new Map(), gone: { users: [], conversations: [], messages: [] } }),
  }
}
