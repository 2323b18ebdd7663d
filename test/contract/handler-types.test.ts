// Handler types take the body of any JSON media type, as the server parses them, and answer only what the spec
// documents, for each contract version's operations. Checked by the compiler: this file must compile, and each
// `@ts-expect-error` line must not once the directive is gone (the test below compiles it both ways): an operation
// taking merge-patch must give its handler a typed body, and v2's create_messages takes and answers its own shapes.
// stores: none
import t from 'tap'
import type { operations as V2Operations } from '../../generated/v2.js'
import type { Handlers, RequestOf, ResultOf } from '../../src/contract/handler-types.js'
import { assertExpectedTypeErrors } from './expected-type-errors.js'

interface Rename { title?: string | null }

// The shape openapi-typescript gives an operation whose body is application/merge-patch+json.
interface RenameConversation {
  parameters: { path: { conversationId: number }, query?: never }
  requestBody: { content: { 'application/merge-patch+json': Rename } }
  responses: {
    200: { headers: { [name: string]: unknown }, content: { 'application/json': { id: number, title: string | null } } }
    404: { headers: { [name: string]: unknown }, content: { 'application/problem+json': { status: number } } }
  }
}

// Both operations at once: a body in either media type.
interface RenameEither extends Omit<RenameConversation, 'requestBody'> {
  requestBody?: { content: { 'application/json': { title: string }, 'application/merge-patch+json': Rename } }
}

// Compiled, never run.
export function typeChecks (): unknown[] {
  const patch: RequestOf<RenameConversation>['body'] = { title: null }
  // @ts-expect-error -- TS2322: a merge-patch body has the merge-patch schema's type
  const wrong: RequestOf<RenameConversation>['body'] = { title: 5 }
  const either: Array<RequestOf<RenameEither>['body']> = [{ title: 'x' }, { title: null }, undefined]
  const results: Array<ResultOf<RenameConversation>> = [{ status: 200, body: { id: 1, title: null } }, { status: 404, body: { status: 404 } }]
  return [patch, wrong, either, results]
}

type CreateMessages = V2Operations['create_messages']
type V2Message = V2Operations['get_message']['responses'][200]['content']['application/json']
const problem = { type: 'urn:trackbot:problem:not-found', title: 'Not Found', status: 404, detail: 'x', instance: '/api/v2/conversations/1' }

// Compiled, never run.
export function v2TypeChecks (messages: V2Message[]): unknown[] {
  const body: RequestOf<CreateMessages>['body'] = { messages: [{ role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'c1', output: '{}' }] }] }
  // @ts-expect-error -- TS2353: create_messages takes `messages`, not one message
  const oneMessage: RequestOf<CreateMessages>['body'] = { role: 'user', content: 'x' }
  // @ts-expect-error -- TS2322: a part's type is one of the union's
  const unknownPart: RequestOf<CreateMessages>['body'] = { messages: [{ role: 'user', parts: [{ type: 'video', url: 'https://example.com/v.mp4' }] }] }
  const answers: Array<ResultOf<CreateMessages>> = [{ status: 201, body: { messages } }, { status: 400, body: problem }, { status: 404, body: problem }]
  // @ts-expect-error -- TS2322: create_messages documents no 409
  const undocumented: ResultOf<CreateMessages> = { status: 409, body: problem }
  // @ts-expect-error -- TS2322: its 201 answers the messages created, not one of them
  const notOne: ResultOf<CreateMessages> = { status: 201, body: messages[0]! }
  // 422 (a reused Idempotency-Key) and 413 are the platform's answers, never a handler's.
  // @ts-expect-error -- TS2322: a handler never answers 422
  const platforms: ResultOf<CreateMessages> = { status: 422, body: problem }
  // A keyed operation's handler answers what its write returned.
  const answer: Handlers<V2Operations>['create_messages']['answer'] = (created) => ({ status: 201, body: { messages: created as V2Message[] } })
  // @ts-expect-error -- TS2322: nor does its handler's answer have an undocumented status
  const conflicting: Handlers<V2Operations>['create_messages']['answer'] = () => ({ status: 409, body: problem })
  // @ts-expect-error -- TS2322: create_messages declares an Idempotency-Key, so a plain handler is not one for it
  const plain: Handlers<V2Operations>['create_messages'] = async () => ({ status: 201, body: { messages } })
  return [body, oneMessage, unknownPart, answers, undocumented, notOne, platforms, answer, conflicting, plain]
}

t.test('bodies of any JSON media type are typed; a v2 handler takes and answers only what its operation documents', async (t) => {
  assertExpectedTypeErrors(t, 'test/contract/handler-types.test.ts')
})
