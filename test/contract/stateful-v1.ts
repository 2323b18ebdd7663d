// v1's model for the stateful fuzzer: users, conversations and text messages, and a command per operation (those
// every version shares are in stateful.ts).
import fc from 'fast-check'
import { contracts } from '../contract.js'
import type { Request } from '../helper.js'
import {
  CheckAll, CreateUser, DeleteConversation, DeleteMessage, DeleteUser, expectConversation, expectEqual, expectStatus, GetMessage, pick,
  statefulSuite, text, UpdateConversation, type Command, type Model, type Version,
} from './stateful.js'

interface ModelMessage { id: number, content: string }

/** What v1's model compares of a message: its id and content. */
const v1: Version<ModelMessage> = {
  api: contracts.v1.basePath,
  readMessage: ({ id, content }: any) => [id, content],
  modelMessage: ({ id, content }) => [id, content],
  counters: (messages) => ({ messageCount: messages.length }),
}

class CreateConversation implements Command<Model<ModelMessage>> {
  constructor (readonly user: number, readonly contents: string[]) {}
  check = (model: Readonly<Model<ModelMessage>>) => model.users.size > 0
  async run (model: Model<ModelMessage>, request: Request) {
    const userId = pick(model.users.keys(), this.user)!
    const reply = await request('POST', `${v1.api}/users/${userId}/conversations`, { body: { messages: this.contents.map((content) => ({ role: 'user', content })) } })
    expectStatus(reply, 201, 'create_conversation')
    expectEqual(reply.body.messages.map((m: any) => m.content), this.contents, 'initial messages')
    const conversation = { userId, title: null, metadata: {}, messages: reply.body.messages.map((m: any) => ({ id: m.id, content: m.content })) }
    expectConversation(v1, reply.body, conversation, 'the new conversation')
    model.users.get(userId)!.conversations.add(reply.body.id)
    model.conversations.set(reply.body.id, conversation)
  }

  toString = () => `CreateConversation(${this.user}, ${this.contents.length} messages)`
}

class PostMessage implements Command<Model<ModelMessage>> {
  constructor (readonly conversation: number, readonly content: string) {}
  check = (model: Readonly<Model<ModelMessage>>) => model.conversations.size > 0
  async run (model: Model<ModelMessage>, request: Request) {
    const id = pick(model.conversations.keys(), this.conversation)!
    const reply = await request('POST', `${v1.api}/conversations/${id}/messages`, { body: { role: 'assistant', content: this.content } })
    expectStatus(reply, 201, 'create_message')
    model.conversations.get(id)!.messages.push({ id: reply.body.id, content: this.content })
  }

  toString = () => `PostMessage(${this.conversation})`
}

export const v1Suite = statefulSuite(v1, [
  fc.tuple(fc.nat(), fc.array(text, { maxLength: 4 })).map(([user, contents]) => new CreateConversation(user, contents)),
  fc.tuple(fc.nat(), text).map(([conversation, content]) => new PostMessage(conversation, content)),
], () => [
  new CreateUser(v1, 'Ada'),
  new CreateConversation(0, ['hi', 'there']),
  new PostMessage(0, 'more'),
  new GetMessage(v1, 0),
  new UpdateConversation(v1, 0, { title: 'Lisbon', metadata: { model: 'x', lang: null } }),
  new DeleteMessage(v1, 1),
  new CheckAll(v1),
  new DeleteConversation(v1, 0),
  new CreateConversation(0, []),
  new DeleteUser(v1, 0),
  new CheckAll(v1),
])
