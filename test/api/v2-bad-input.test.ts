// API v2's bounds on a message, in each write that takes one (create_message, create_messages and
// create_conversation's initial messages): every value past a bound is a 400 naming it, never a 5xx, and nothing
// is stored; every value at a bound is stored and read back as sent.
import t from 'tap'
import { API_V2, startApp, storeContents, v2Fixtures, type InProcessApp, type Reply, type V2NewMessage } from '../helper.js'

const long = (n: number, unit = 'x') => unit.repeat(n)

/** `levels` objects nested in one another: 1 is `{}`. */
const nested = (levels: number): object => levels === 1 ? {} : { d: nested(levels - 1) }
/** An object holding arrays nested `levels - 1` deep: `levels` levels of JSON in all. */
const nestedArrays = (levels: number): object => {
  let value: unknown[] = []
  for (let i = 2; i < levels; i++) value = [value]
  return { a: value }
}

const toolCall = (args: unknown) => ({ role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'f', arguments: args }] })
const parts = (...list: unknown[]) => ({ role: 'user', parts: list })
const text = (extra: Record<string, unknown>) => ({ role: 'user', content: 'x', ...extra })
const metadataOf = (entries: number, key = (i: number) => `k${i}`, value = 'v') => Object.fromEntries(Array.from({ length: entries }, (_, i) => [key(i), value]))

// Past a bound: the message, and where (below the message) the 400 points.
const BAD: Array<[string, unknown, string]> = [
  ['content and parts together', { role: 'user', content: 'x', parts: [{ type: 'text', text: 'x' }] }, '/parts'],
  ['neither content nor parts', { role: 'user' }, '/content'],
  ['neither content nor parts (parts named too)', { role: 'user' }, '/parts'],
  ['no role', { content: 'x' }, '/role'],
  ['content empty', { role: 'user', content: '' }, '/content'],
  ['content past 32768 characters', { role: 'user', content: long(32769) }, '/content'],
  ['content with NUL', { role: 'user', content: 'a\u0000b' }, '/content'],
  ['parts []', parts(), '/parts'],
  ['101 parts', parts(...Array.from({ length: 101 }, () => ({ type: 'text', text: 'x' }))), '/parts'],
  ['parts not an array', { role: 'user', parts: { type: 'text', text: 'x' } }, '/parts'],
  ['an unknown part type', parts({ type: 'video', url: 'https://example.com/v.mp4' }), '/parts/0'],
  ['a part without type', parts({ text: 'x' }), '/parts/0'],
  ['a part that is no object', parts('x'), '/parts/0'],
  ['a text part without text', parts({ type: 'text' }), '/parts/0/text'],
  ['a text part with empty text', parts({ type: 'text', text: '' }), '/parts/0/text'],
  ['a text part past 32768 characters', parts({ type: 'text', text: long(32769) }), '/parts/0/text'],
  ['a text part with NUL', parts({ type: 'text', text: '\u0000' }), '/parts/0/text'],
  ['a text part with a field of another type', parts({ type: 'text', text: 'x', url: 'https://example.com/' }), '/parts/0/url'],
  ['an image at http:', parts({ type: 'image', url: 'http://example.com/a.png' }), '/parts/0/url'],
  ['an image at ftp:', parts({ type: 'image', url: 'ftp://example.com/a.png' }), '/parts/0/url'],
  ['an image at javascript:', parts({ type: 'image', url: 'javascript:alert(1)' }), '/parts/0/url'],
  ['an image URL with a space', parts({ type: 'image', url: 'https://example.com/a b.png' }), '/parts/0/url'],
  ['an image URL past 256 KiB', parts({ type: 'image', url: `data:,${long(262144 - 5)}` }), '/parts/0/url'],
  ['an image without url', parts({ type: 'image', mediaType: 'image/png' }), '/parts/0/url'],
  ['an image media type without subtype', parts({ type: 'image', url: 'https://example.com/a', mediaType: 'png' }), '/parts/0/mediaType'],
  ['a file at http:', parts({ type: 'file', url: 'http://example.com/a.pdf' }), '/parts/0/url'],
  ['a file with an empty name', parts({ type: 'file', url: 'https://example.com/a.pdf', name: '' }), '/parts/0/name'],
  ['a file name past 255 characters', parts({ type: 'file', url: 'https://example.com/a.pdf', name: long(256) }), '/parts/0/name'],
  ['tool_call arguments over 64 KiB as JSON', toolCall({ a: long(65529) }), '/parts/0/arguments'],
  ['tool_call arguments over 64 KiB in UTF-8, under it in characters', toolCall({ a: long(32765, 'é') }), '/parts/0/arguments'],
  ['tool_call arguments 33 objects deep', toolCall(nested(33)), '/parts/0/arguments'],
  ['tool_call arguments 33 levels deep through arrays', toolCall(nestedArrays(33)), '/parts/0/arguments'],
  ['tool_call arguments with NUL in a string', toolCall({ a: 'x\u0000y' }), '/parts/0/arguments'],
  ['tool_call arguments with NUL in a nested string', toolCall({ a: [{ b: ['\u0000'] }] }), '/parts/0/arguments'],
  ['tool_call arguments with NUL in a key', toolCall({ 'k\u0000': 1 }), '/parts/0/arguments'],
  ['tool_call arguments with NUL in a nested key', toolCall({ a: { '\u0000': 'v' } }), '/parts/0/arguments'],
  ['tool_call arguments an array', toolCall([1, 2]), '/parts/0/arguments'],
  ['tool_call arguments a string', toolCall('{"a":1}'), '/parts/0/arguments'],
  ['tool_call arguments null', toolCall(null), '/parts/0/arguments'],
  ['tool_call without arguments', parts({ type: 'tool_call', id: 'c', name: 'f' }), '/parts/0/arguments'],
  ['tool_call with an empty id', parts({ type: 'tool_call', id: '', name: 'f', arguments: {} }), '/parts/0/id'],
  ['tool_call name past 256 characters', parts({ type: 'tool_call', id: 'c', name: long(257), arguments: {} }), '/parts/0/name'],
  ['tool_call name with NUL', parts({ type: 'tool_call', id: 'c', name: 'f\u0000', arguments: {} }), '/parts/0/name'],
  ['tool_result output not a string', parts({ type: 'tool_result', toolCallId: 'call_ok', output: { a: 1 } }), '/parts/0/output'],
  ['tool_result output past 65536 characters', parts({ type: 'tool_result', toolCallId: 'call_ok', output: long(65537) }), '/parts/0/output'],
  ['tool_result output with NUL', parts({ type: 'tool_result', toolCallId: 'call_ok', output: '\u0000' }), '/parts/0/output'],
  ['tool_result isError not a boolean', parts({ type: 'tool_result', toolCallId: 'call_ok', output: 'o', isError: 'yes' }), '/parts/0/isError'],
  ['tool_result with an empty toolCallId', parts({ type: 'tool_result', toolCallId: '', output: 'o' }), '/parts/0/toolCallId'],
  ['reasoning without text', parts({ type: 'reasoning' }), '/parts/0/text'],
  ['refusal with NUL', parts({ type: 'refusal', text: 'no\u0000' }), '/parts/0/text'],
  ['usage inputTokens negative', text({ usage: { inputTokens: -1, outputTokens: 0 } }), '/usage/inputTokens'],
  ['usage outputTokens negative', text({ usage: { inputTokens: 0, outputTokens: -5 } }), '/usage/outputTokens'],
  ['usage not an integer', text({ usage: { inputTokens: 1.5, outputTokens: 0 } }), '/usage/inputTokens'],
  ['usage a numeric string', text({ usage: { inputTokens: '3', outputTokens: 0 } }), '/usage/inputTokens'],
  ['usage past int32', text({ usage: { inputTokens: 0, outputTokens: 2147483648 } }), '/usage/outputTokens'],
  ['usage without outputTokens', text({ usage: { inputTokens: 1 } }), '/usage/outputTokens'],
  ['usage with another field', text({ usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } }), '/usage/totalTokens'],
  ['usage not an object', text({ usage: 12 }), '/usage'],
  ['role outside the enum', { role: 'robot', content: 'x' }, '/role'],
  ['role in another case', { role: 'Tool', content: 'x' }, '/role'],
  ['role not a string', { role: 5, content: 'x' }, '/role'],
  ['model empty', text({ model: '' }), '/model'],
  ['model past 256 characters', text({ model: long(257) }), '/model'],
  ['model with NUL', text({ model: 'gpt\u0000' }), '/model'],
  ['model not a string', text({ model: 4 }), '/model'],
  ['metadata of 17 keys', text({ metadata: metadataOf(17) }), '/metadata'],
  ['metadata key past 64 characters', text({ metadata: { [long(65)]: 'v' } }), '/metadata'],
  ['metadata key empty', text({ metadata: { '': 'v' } }), '/metadata'],
  ['metadata value past 512 characters', text({ metadata: { k: long(513) } }), '/metadata/k'],
  ['metadata value not a string', text({ metadata: { k: 1 } }), '/metadata/k'],
  ['metadata value with NUL', text({ metadata: { k: '\u0000' } }), '/metadata/k'],
  ['metadata key with NUL', text({ metadata: { 'k\u0000': 'v' } }), '/metadata'],
  ['metadata an array', text({ metadata: ['v'] }), '/metadata'],
  ['a field no message has', text({ id: 7 }), '/id'],
  ['a v1-only reading of a message: createdAt', text({ createdAt: '2026-11-24T18:11:37.123Z' }), '/createdAt'],
]

// At a bound: stored and read back exactly.
const GOOD: Array<[string, Record<string, unknown>]> = [
  ['role tool', { role: 'tool', content: 'a tool speaks' }],
  ['role developer', { role: 'developer', content: 'be brief' }],
  ['role tool with a tool_result', { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_ok', output: long(65536), isError: true }] }],
  ['content of 32768 characters', { role: 'user', content: long(32768) }],
  ['100 parts', parts(...Array.from({ length: 100 }, (_, i) => ({ type: 'text', text: `p${i}` })))],
  ['every part type', parts(
    { type: 'text', text: 't' },
    { type: 'image', url: 'https://example.com/a.png', mediaType: 'image/png' },
    { type: 'image', url: 'data:image/png;base64,iVBORw0KGgo=' },
    { type: 'file', url: 'https://example.com/a.pdf', name: long(255), mediaType: 'application/pdf' },
    { type: 'tool_call', id: long(256), name: long(256), arguments: {} },
    { type: 'tool_result', toolCallId: 'call_ok', output: '' },
    { type: 'reasoning', text: 'r' },
    { type: 'refusal', text: 'no' })],
  ['an image URL of 256 KiB', parts({ type: 'image', url: `https://${long(262144 - 8)}` })],
  ['tool_call arguments of exactly 64 KiB as JSON', toolCall({ a: long(65528) })],
  ['tool_call arguments of exactly 64 KiB in UTF-8', toolCall({ a: long(32764, 'é') })],
  ['tool_call arguments 32 objects deep', toolCall(nested(32))],
  ['tool_call arguments 32 levels deep through arrays', toolCall(nestedArrays(32))],
  ['tool_call arguments of every JSON kind', toolCall({ s: 'é🙂\n"\\', n: -12.5, i: 2147483648, z: 0, t: true, f: false, nil: null, list: [1, 'two', null, [], {}], obj: { inner: { deeper: [{ x: 1 }] } }, '': 'empty key', 'ü/~': 'odd key' })],
  ['usage at zero', text({ usage: { inputTokens: 0, outputTokens: 0 } })],
  ['usage at int32\'s bound', text({ usage: { inputTokens: 2147483647, outputTokens: 2147483647 } })],
  ['usage null', text({ usage: null })],
  ['model of 256 characters', text({ model: long(256) })],
  ['model null', text({ model: null })],
  ['metadata of 16 keys at their bounds', text({ metadata: metadataOf(16, (i) => `${i}`.padEnd(64, 'k'), long(512)) })],
  ['metadata empty', text({ metadata: {} })],
]

/** What v2 reads back of a message sent as `input`. */
function expected (input: Record<string, any>) {
  const parts = input.parts ?? [{ type: 'text', text: input.content }]
  return {
    role: input.role,
    content: input.content ?? parts.flatMap((part: any) => part.type === 'text' ? [part.text] : []).join('\n'),
    parts,
    model: input.model ?? null,
    usage: input.usage ?? null,
    metadata: input.metadata ?? {},
  }
}

/** A message with the tool call the good tool_results answer. */
const CALL: V2NewMessage = { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_ok', name: 'f', arguments: {} }] }

interface Write {
  name: string
  /** Where the message is in the body. */
  at: string
  send (app: InProcessApp, conversationId: number, message: unknown): Promise<Reply>
  /** The message stored, from a 201. */
  created (reply: Reply): any
}

const WRITES: Write[] = [
  {
    name: 'create_message',
    at: '',
    send: (app, id, message) => app.request('POST', `${API_V2}/conversations/${id}/messages`, { body: message }),
    created: (reply) => reply.body,
  },
  {
    name: 'create_messages',
    at: '/messages/1',
    send: (app, id, message) => app.request('POST', `${API_V2}/conversations/${id}/messages/batch`, { body: { messages: [{ role: 'user', content: 'first' }, message] } }),
    created: (reply) => reply.body.messages[1],
  },
  {
    name: 'create_conversation',
    at: '/messages/1',
    send: async (app, id, message) => {
      const { userId } = (await app.request('GET', `${API_V2}/conversations/${id}`)).body
      return await app.request('POST', `${API_V2}/users/${userId}/conversations`, { body: { messages: [CALL, message] } })
    },
    created: (reply) => reply.body.messages[1],
  },
]

for (const write of WRITES) {
  t.test(`${write.name}: a message past any bound is a 400 naming it, and nothing is stored`, async (t) => {
    const app = await startApp(t)
    const { id } = await v2Fixtures(app.request).createConversation((await app.createUser()).id, { messages: [CALL] })
    for (const [what, message, below] of BAD) {
      await t.test(what, async (t) => {
        const before = await storeContents(app.databaseUrl)
        const pointer = `${write.at}${below}`
        const reply = await write.send(app, id, message)
        t.equal(reply.status, 400)
        t.equal(reply.headers['content-type'], 'application/problem+json; charset=utf-8')
        const pointers: string[] = (reply.body?.errors ?? []).map((error: { pointer: string }) => error.pointer)
        t.ok(pointers.some((found) => found === pointer || found.startsWith(`${pointer}/`)), `names ${pointer}: ${JSON.stringify(pointers).slice(0, 300)}`)
        t.ok(pointers.every((found) => found.startsWith(`${write.at}/`)), 'and nothing outside the message')
        t.equal(await storeContents(app.databaseUrl), before, 'nothing stored')
      })
    }
  })

  t.test(`${write.name}: a message at every bound is stored and read back as sent`, async (t) => {
    const app = await startApp(t)
    const { id } = await v2Fixtures(app.request).createConversation((await app.createUser()).id, { messages: [CALL] })
    for (const [what, message] of GOOD) {
      await t.test(what, async (t) => {
        const reply = await write.send(app, id, message)
        t.equal(reply.status, 201)
        const created = write.created(reply)
        const { id: messageId, conversationId, createdAt: _, ...stored } = created
        t.strictSame(stored, expected(message), 'the answer holds it as sent')
        const got = await app.request('GET', `${API_V2}/conversations/${conversationId}/messages/${messageId}`)
        t.strictSame(got.body, created, 'and so does get_message')
      })
    }
  })
}
