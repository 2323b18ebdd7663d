// Handler types take the body of any JSON media type, as the server parses them. Checked by the compiler
// (`npx tsc --noEmit -p .` covers test/): an operation taking merge-patch must give its handler a typed body.
import t from 'tap'
import type { RequestOf, ResultOf } from '../../src/contract/handler-types.js'

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

const patch: RequestOf<RenameConversation>['body'] = { title: null }
// @ts-expect-error a merge-patch body has the merge-patch schema's type
const wrong: RequestOf<RenameConversation>['body'] = { title: 5 }
const either: Array<RequestOf<RenameEither>['body']> = [{ title: 'x' }, { title: null }, undefined]
const results: Array<ResultOf<RenameConversation>> = [{ status: 200, body: { id: 1, title: null } }, { status: 404, body: { status: 404 } }]

t.test('bodies of any JSON media type are typed', async (t) => {
  t.same([patch, wrong, either.length, results.length], [{ title: null }, { title: 5 }, 3, 2])
})
