// v1's model for the stateful fuzzer: users, conversations and text messages, and a command per operation.
import fc from 'fast-check'
import { contracts } from '../contract.js'
import type { Request } from '../helper.js'
import { expectEqual, expectMostRecentFirst, expectStatus, patch, patched, pick, sortedEntries, text, type Command, type Patch, type StatefulSuite } from './stateful.js'

const API = contracts.v1.basePath

interface ModelMessage { id: number, content: string }

interface Model {
  /** user id → their name and conversations */
  users: Map<number, { name: string, conversations: Set<number> }>
  /** conversation id → its owner, title, metadata and messages, oldest first */
  conversations: Map<number, { userId: number, title: string | null, metadata: Record<string, string>, messages: ModelMessage[] }>
  gone: { users: number[], conversations: number[], messages: Array<{ conversationId: number, id: number }> }
}

/** A message of a conversation that has one: [conversation id, message]. */
const pickMessage = (model: Readonly<Model>, index: number): [number, ModelMessage] | undefined =>
  pick([...model.conversations].flatMap(([id, conversation]) => conversation.messages.map((message): [number, ModelMessage] => [id, message])), index)

class CreateUser implements Command<Model> {
  constructor (readonly name: string) {}
  check = () => true
  async run (model: Model, request: Request) {
    const reply = await request('POST', `${API}/users`, { body: { name: this.name } })
    expectStatus(reply, 201, 'create_user')
    model.users.set(reply.body.id, { name: this.name, conversations: new Set() })
  }

  toString = () => `CreateUser(${JSON.stringify(this.name)})`
}

class CreateConversation implements Command<Model> {
  constructor (readonly user: number, readonly contents: string[]) {}
  check = (model: Readonly<Model>) => model.users.size > 0
  async run (model: Model, request: Request) {
    const userId = pick(model.users.keys(), this.user)!
    const reply = await request('POST', `${API}/users/${userId}/conversations`, { body: { messages: this.contents.map((content) => ({ role: 'user', content })) } })
    expectStatus(reply, 201, 'create_conversation')
    expectEqual(reply.body.messages.map((m: any) => m.content), this.contents, 'initial messages')
    model.users.get(userId)!.conversations.add(reply.body.id)
    model.conversations.set(reply.body.id, {
      userId,
      title: null,
      metadata: {},
      messages: reply.body.messages.map((m: any) => ({ id: m.id, content: m.content })),
    })
  }

  toString = () => `CreateConversation(${this.user}, ${this.contents.length} messages)`
}

class PostMessage implements Command<Model> {
  constructor (readonly conversation: number, readonly content: string) {}
  check = (model: Readonly<Model>) => model.conversations.size > 0
  async run (model: Model, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    const reply = await request('POST', `${API}/conversations/${id}/messages`, { body: { role: 'assistant', content: this.content } })
    expectStatus(reply, 201, 'create_message')
    model.conversations.get(id)!.messages.push({ id: reply.body.id, content: this.content })
  }

  toString = () => `PostMessage(${this.conversation})`
}

class UpdateConversation implements Command<Model> {
  constructor (readonly conversation: number, readonly patch: Patch) {}
  check = (model: Readonly<Model>) => model.conversations.size > 0
  async run (model: Model, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    const conversation = model.conversations.get(id)!
    const reply = await request('PATCH', `${API}/conversations/${id}`, { body: this.patch, headers: { 'content-type': 'application/merge-patch+json' } })
    expectStatus(reply, 200, 'update_conversation')
    patched(conversation, this.patch)
    expectEqual([reply.body.title, sortedEntries(reply.body.metadata)], [conversation.title, sortedEntries(conversation.metadata)], `conversation ${id} as patched`)
  }

  toString = () => `UpdateConversation(${this.conversation}, ${JSON.stringify(this.patch)})`
}

class GetMessage implements Command<Model> {
  constructor (readonly message: number) {}
  check = (model: Readonly<Model>) => pickMessage(model, 0) !== undefined
  async run (model: Model, request: Request) {
    const [conversationId, message] = pickMessage(model, this.message)!
    const reply = await request('GET', `${API}/conversations/${conversationId}/messages/${message.id}`)
    expectStatus(reply, 200, 'get_message')
    expectEqual([reply.body.id, reply.body.conversationId, reply.body.content], [message.id, conversationId, message.content], `message ${message.id}`)
  }

  toString = () => `GetMessage(${this.message})`
}

class DeleteMessage implements Command<Model> {
  constructor (readonly message: number) {}
  check = (model: Readonly<Model>) => pickMessage(model, 0) !== undefined
  async run (model: Model, request: Request) {
    const [conversationId, message] = pickMessage(model, this.message)!
    const url = `${API}/conversations/${conversationId}/messages/${message.id}`
    expectStatus(await request('DELETE', url), 204, 'delete_message')
    expectStatus(await request('DELETE', url), 404, 'delete_message again')
    const conversation = model.conversations.get(conversationId)!
    conversation.messages = conversation.messages.filter((candidate) => candidate.id !== message.id)
    model.gone.messages.push({ conversationId, id: message.id })
  }

  toString = () => `DeleteMessage(${this.message})`
}

class DeleteConversation implements Command<Model> {
  constructor (readonly conversation: number) {}
  check = (model: Readonly<Model>) => model.conversations.size > 0
  async run (model: Model, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    expectStatus(await request('DELETE', `${API}/conversations/${id}`), 204, 'delete_conversation')
    expectStatus(await request('DELETE', `${API}/conversations/${id}`), 404, 'delete_conversation again')
    forgetConversation(model, id)
  }

  toString = () => `DeleteConversation(${this.conversation})`
}

/** A conversation gone, with its messages. */
function forgetConversation (model: Model, id: number): void {
  const conversation = model.conversations.get(id)!
  model.users.get(conversation.userId)?.conversations.delete(id)
  for (const message of conversation.messages) model.gone.messages.push({ conversationId: id, id: message.id })
  model.conversations.delete(id)
  model.gone.conversations.push(id)
}

class DeleteUser implements Command<Model> {
  constructor (readonly user: number) {}
  check = (model: Readonly<Model>) => model.users.size > 0
  async run (model: Model, request: Request) {
    const userId = pick(model.users.keys(), this.user)!
    expectStatus(await request('DELETE', `${API}/users/${userId}`), 204, 'delete_user')
    for (const id of model.users.get(userId)!.conversations) forgetConversation(model, id)
    model.users.delete(userId)
    model.gone.users.push(userId)
  }

  toString = () => `DeleteUser(${this.user})`
}

/** Reads everything the model knows through the API and compares; deleted rows must be 404s. */
class CheckAll implements Command<Model> {
  check = () => true
  async run (model: Model, request: Request) {
    for (const [userId, user] of model.users) {
      const got = await request('GET', `${API}/users/${userId}`)
      expectStatus(got, 200, 'get_user_by_id')
      expectEqual(got.body.name, user.name, `user ${userId}'s name`)
      const listed = await request('GET', `${API}/users/${userId}/conversations`)
      expectStatus(listed, 200, 'list_conversations')
      expectEqual(listed.body.map((c: any) => c.id).sort((a: number, b: number) => a - b), [...user.conversations].sort((a, b) => a - b), `user ${userId}'s conversations`)
      expectMostRecentFirst(listed.body)
    }
    for (const [id, conversation] of model.conversations) {
      const messages = await request('GET', `${API}/conversations/${id}/messages`)
      expectEqual(messages.body.map((m: any) => [m.id, m.content]), conversation.messages.map((m) => [m.id, m.content]), `conversation ${id}'s messages`)
      const got = (await request('GET', `${API}/conversations/${id}`)).body
      expectEqual(got.messageCount, conversation.messages.length, `conversation ${id}'s messageCount`)
      expectEqual([got.title, sortedEntries(got.metadata)], [conversation.title, sortedEntries(conversation.metadata)], `conversation ${id}'s title and metadata`)
    }
    for (const id of model.gone.conversations) expectStatus(await request('GET', `${API}/conversations/${id}/messages`), 404, `deleted conversation ${id}`)
    for (const { conversationId, id } of model.gone.messages) {
      expectStatus(await request('GET', `${API}/conversations/${conversationId}/messages/${id}`), 404, `deleted message ${id}`)
    }
    for (const id of model.gone.users) expectStatus(await request('GET', `${API}/users/${id}`), 404, `deleted user ${id}`)
  }

  toString = () => 'CheckAll'
}

export const v1Suite: StatefulSuite<Model> = {
  commands: [
    text.map((name) => new CreateUser(name)),
    fc.tuple(fc.nat(), fc.array(text, { maxLength: 4 })).map(([user, contents]) => new CreateConversation(user, contents)),
    fc.tuple(fc.nat(), text).map(([conversation, content]) => new PostMessage(conversation, content)),
    fc.tuple(fc.nat(), patch).map(([conversation, changes]) => new UpdateConversation(conversation, changes)),
    fc.nat().map((message) => new GetMessage(message)),
    fc.nat().map((message) => new DeleteMessage(message)),
    fc.nat().map((conversation) => new DeleteConversation(conversation)),
    fc.nat().map((user) => new DeleteUser(user)),
    fc.constant(new CheckAll()),
  ],
  everyCommand: () => [
    new CreateUser('Ada'),
    new CreateConversation(0, ['hi', 'there']),
    new PostMessage(0, 'more'),
    new GetMessage(0),
    new UpdateConversation(0, { title: 'Lisbon', metadata: { model: 'x', lang: null } }),
    new DeleteMessage(1),
    new CheckAll(),
    new DeleteConversation(0),
    new CreateConversation(0, []),
    new DeleteUser(0),
    new CheckAll(),
  ],
  checkAll: () => new CheckAll(),
  emptyModel: () => ({ users: new Map(), conversations: new Map(), gone: { users: [], conversations: [], messages: [] } }),
}
