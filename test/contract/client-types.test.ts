// The typed clients (src/client.ts for v1, src/client-v2.ts for v2) refuse at compile time a call the contract does
// not allow: each `@ts-expect-error` line below must fail to compile, for the reason its comment names, once the
// directive is gone, and the file must compile as written (the test compiles it both ways).
// stores: none
import t from 'tap'
import type { TrackbotClient } from '../../src/client.js'
import type { Part, TrackbotV2Client } from '../../src/client-v2.js'
import { assertExpectedTypeErrors } from './expected-type-errors.js'

// Compiled, never run.
export function typeChecks (client: TrackbotClient): void {
  // @ts-expect-error -- TS2345: no such path
  void client.GET('/users', {})
  // @ts-expect-error -- TS2554: a path with parameters needs the request options that hold them
  void client.GET('/users/{userId}')
  // @ts-expect-error -- TS2741: path parameters are required
  void client.GET('/users/{userId}', { params: {} })
  // @ts-expect-error -- TS2322: ids are numbers
  void client.GET('/users/{userId}', { params: { path: { userId: 'one' } } })
  // @ts-expect-error -- TS2741: name is required
  void client.POST('/users', { body: { email: 'a@example.com' } })
  // @ts-expect-error -- TS2322: role is one of the spec's values
  void client.POST('/conversations/{conversationId}/messages', { params: { path: { conversationId: 1 } }, body: { role: 'robot', content: 'x' } })
}

// Compiled, never run.
export function v2TypeChecks (client: TrackbotV2Client, part: Part): unknown[] {
  const path = { params: { path: { conversationId: 1 } } }
  // Accepted: every part type, a tool call's arguments any JSON object, a null model and usage.
  void client.POST('/conversations/{conversationId}/messages/batch', {
    ...path,
    body: {
      messages: [
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: { a: [1, null, { b: 'x' }] } }], model: null, usage: null },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'c1', output: '{}', isError: true }] },
        { role: 'developer', parts: [{ type: 'text', text: 'x' }, { type: 'image', url: 'https://example.com/a.png' }, { type: 'file', url: 'data:,x', name: 'a' }] },
        { role: 'assistant', parts: [{ type: 'reasoning', text: 'x' }, { type: 'refusal', text: 'no' }] },
      ],
    },
  })
  // @ts-expect-error -- TS2322: a part's type is one of the union's
  void client.POST('/conversations/{conversationId}/messages', { ...path, body: { role: 'user', parts: [{ type: 'video', url: 'https://example.com/v.mp4' }] } })
  // @ts-expect-error -- TS2353: a part has the fields of its own type, not another's
  void client.POST('/conversations/{conversationId}/messages', { ...path, body: { role: 'user', parts: [{ type: 'text', url: 'https://example.com/a.png' }] } })
  // @ts-expect-error -- TS2322: a tool call has arguments
  void client.POST('/conversations/{conversationId}/messages', { ...path, body: { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f' }] } })
  // @ts-expect-error -- TS2322: a tool call's arguments are a JSON object
  void client.POST('/conversations/{conversationId}/messages', { ...path, body: { role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: 'x' }] } })
  // @ts-expect-error -- TS2322: usage counts both input and output tokens
  void client.POST('/conversations/{conversationId}/messages', { ...path, body: { role: 'assistant', content: 'x', usage: { inputTokens: 1 } } })
  // @ts-expect-error -- TS2322: role is one of v2's values
  void client.POST('/conversations/{conversationId}/messages/batch', { ...path, body: { messages: [{ role: 'robot', content: 'x' }] } })
  // @ts-expect-error -- TS2741: create_messages takes its messages in `messages`
  void client.POST('/conversations/{conversationId}/messages/batch', { ...path, body: {} })
  // @ts-expect-error -- TS2345: create_messages is a POST
  void client.PUT('/conversations/{conversationId}/messages/batch', { ...path, body: { messages: [] } })
  // Narrowed on `type`, a part has its own fields and no others.
  const fields = part.type === 'tool_call' ? [part.name, part.arguments] : part.type === 'tool_result' ? [part.toolCallId, part.output] : []
  // @ts-expect-error -- TS2339: a text part has no arguments
  const noArguments = part.type === 'text' ? part.arguments : undefined
  return [fields, noArguments]
}

t.test('a call the contract does not allow does not compile', async (t) => {
  assertExpectedTypeErrors(t, 'test/contract/client-types.test.ts')
})
