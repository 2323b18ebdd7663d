// The typed client (src/client.ts) refuses at compile time a call the contract does not allow: each
// `@ts-expect-error` line below must fail to compile, for the reason its comment names, once the directive is
// gone, and the file must compile as written (the test compiles it both ways).
// stores: none
import t from 'tap'
import type { TrackbotClient } from '../../src/client.js'
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

t.test('a call the contract does not allow does not compile', async (t) => {
  assertExpectedTypeErrors(t, 'test/contract/client-types.test.ts')
})
