// Handler types take the body of any JSON media type, as the server parses them. Checked by the compiler: this
// file must compile, and its `@ts-expect-error` line must not once the directive is gone (the test below
// compiles it both ways): an operation taking merge-patch must give its handler a typed body.
// stores: none
import t from 'tap'
import type { RequestOf, ResultOf } from '../../src/contract/handler-types.js'
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

t.test('bodies of any JSON media type are typed', async (t) => {
  assertExpectedTypeErrors(t, 'test/contract/handler-types.test.ts')
})
