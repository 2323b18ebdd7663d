// Random sequences of creates, posts, reads and deletes, checked step by step against a model of what
// should exist: lists, counts, order and cascades agree with the model after every command.
import fc from 'fast-check'
import t from 'tap'
import { API, startApp, type TestApp } from '../helper.js'
import { runs, seed } from './spec-arbitraries.js'
import { AUTH_MODES, withToken } from '../tokens.js'

interface Model {
  users: Map<number, Set<number>>
  /** conversation id → its owner and its messages' contents, oldest first */
  conversations: Map<number, { userId: number, messages: string[] }>
  gone: { users: number[], conversations: number[] }
}

type Real = TestApp['request']
type Command = fc.AsyncCommand<Model, Real>

// Commands name rows by their position among the live ones, so shrinking keeps sequences meaningful.
const pick = <T>(items: Iterable<T>, index: number): T | undefined => {
  const list = [...items]
  return list.length === 0 ? undefined : list[index % list.length]
}

function expectStatus (reply: { status: number, text: string }, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what}: wanted ${status}, got ${reply.status} ${reply.text}`)
}

function expectEqual (actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: wanted ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
}

class CreateUser implements Command {
  constructor (readonly name: string) {}
  check = () => true
  async run (model: Model, request: Real) {
    const reply = await request('POST', `${API}/users`, { body: { name: this.name } })
    expectStatus(reply, 201, 'create_user')
    model.users.set(reply.body.id, new Set())
  }

  toString = () => `CreateUser(${JSON.stringify(this.name)})`
}

class CreateConversation implements Command {
  constructor (readonly user: number, readonly contents: string[]) {}
  check = (model: Readonly<Model>) => model.users.size > 0
  async run (model: Model, request: Real) {
    const userId = pick(model.users.keys(), this.user)!
    const reply = await request('POST', `${API}/users/${userId}/conversations`, { body: { messages: this.contents.map((content) => ({ role: 'user', content })) } })
    expectStatus(reply, 201, 'create_conversation')
    expectEqual(reply.body.messages.map((m: any) => m.content), this.contents, 'initial messages')
    model.users.get(userId)!.add(reply.body.id)
    model.conversations.set(reply.body.id, { userId, messages: [...this.contents] })
  }

  toString = () => `CreateConversation(${this.user}, ${this.contents.length} messages)`
}

class PostMessage implements Command {
  constructor (readonly conversation: number, readonly content: string) {}
  check = (model: Readonly<Model>) => model.conversations.size > 0
  async run (model: Model, request: Real) {
    const id = pick(model.conversations.keys(), this.conversation)!
    const reply = await request('POST', `${API}/conversations/${id}/messages`, { body: { role: 'assistant', content: this.content } })
    expectStatus(reply, 201, 'create_message')
    model.conversations.get(id)!.messages.push(this.content)
  }

  toString = () => `PostMessage(${this.conversation})`
}

class DeleteConversation implements Command {
  constructor (readonly conversation: number) {}
  check = (model: Readonly<Model>) => model.conversations.size > 0
  async run (model: Model, request: Real) {
    const id = pick(model.conversations.keys(), this.conversation)!
    expectStatus(await request('DELETE', `${API}/conversations/${id}`), 204, 'delete_conversation')
    expectStatus(await request('DELETE', `${API}/conversations/${id}`), 404, 'delete_conversation again')
    model.users.get(model.conversations.get(id)!.userId)!.delete(id)
    model.conversations.delete(id)
    model.gone.conversations.push(id)
  }

  toString = () => `DeleteConversation(${this.conversation})`
}

class DeleteUser implements Command {
  constructor (readonly user: number) {}
  check = (model: Readonly<Model>) => model.users.size > 0
  async run (model: Model, request: Real) {
    const userId = pick(model.users.keys(), this.user)!
    expectStatus(await request('DELETE', `${API}/users/${userId}`), 204, 'delete_user')
    for (const id of model.users.get(userId)!) {
      model.conversations.delete(id)
      model.gone.conversations.push(id)
    }
    model.users.delete(userId)
    model.gone.users.push(userId)
  }

  toString = () => `DeleteUser(${this.user})`
}

/** Reads everything the model knows through the API and compares; deleted rows must be 404s. */
class CheckAll implements Command {
  check = () => true
  async run (model: Model, request: Real) {
    for (const [userId, conversations] of model.users) {
      const listed = await request('GET', `${API}/users/${userId}/conversations`)
      expectStatus(listed, 200, 'list_conversations')
      expectEqual(listed.body.map((c: any) => c.id).sort((a: number, b: number) => a - b), [...conversations].sort((a, b) => a - b), `user ${userId}'s conversations`)
      const times = listed.body.map((c: any) => `${c.updatedAt} ${String(c.id).padStart(10, '0')}`)
      expectEqual(times, [...times].sort().reverse(), 'most recent activity first')
    }
    for (const [id, conversation] of model.conversations) {
      const messages = await request('GET', `${API}/conversations/${id}/messages`)
      expectEqual(messages.body.map((m: any) => m.content), conversation.messages, `conversation ${id}'s messages`)
      expectEqual((await request('GET', `${API}/conversations/${id}`)).body.messageCount, conversation.messages.length, `conversation ${id}'s messageCount`)
    }
    for (const id of model.gone.conversations) expectStatus(await request('GET', `${API}/conversations/${id}/messages`), 404, `deleted conversation ${id}`)
    for (const id of model.gone.users) expectStatus(await request('GET', `${API}/users/${id}`), 404, `deleted user ${id}`)
  }

  toString = () => 'CheckAll'
}

// eslint-disable-next-line no-control-regex -- NUL and lone surrogates are what the spec refuses
const text = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\u0000\ud800-\udfff]/.test(s))
const commands = [
  fc.constant(null).chain(() => text.map((name) => new CreateUser(name))),
  fc.tuple(fc.nat(), fc.array(text, { maxLength: 4 })).map(([user, contents]) => new CreateConversation(user, contents)),
  fc.tuple(fc.nat(), text).map(([conversation, content]) => new PostMessage(conversation, content)),
  fc.nat().map((conversation) => new DeleteConversation(conversation)),
  fc.nat().map((user) => new DeleteUser(user)),
  fc.constant(new CheckAll()),
]

t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} replays it)`)

for (const mode of AUTH_MODES) {
  t.test(`any sequence of operations agrees with the model (${mode.name})`, async (t) => {
    // One app for all runs: each run's model holds only the rows it made, so earlier runs do not interfere.
    const app = await startApp(t, undefined, mode.options)
    const request = withToken(app.request, await mode.token())
    await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 30 }), async (sequence) => {
      const model: Model = { users: new Map(), conversations: new Map(), gone: { users: [], conversations: [] } }
      await fc.asyncModelRun(() => ({ model, real: request }), [...sequence, new CheckAll()])
    }), { seed, numRuns: runs(25) })
    t.pass('every run agreed with the model')
  })
}
