// Every API answer, success or problem, is not to be sniffed or cached; the spec files and /docs keep their own caching.
import t from 'tap'
import { assertReachedEveryOperation, operationIdOf } from '../contract.js'
import { API, startApp, type Reply, type RequestOptions } from '../helper.js'
import { fillPath, specOperations, toUrl } from '../contract/spec-arbitraries.js'

const MISSING_ID = 2 ** 31 - 1

t.test('API answers carry nosniff and no-store, for every operation of the spec; the docs and spec files keep their caching', async (t) => {
  const { app, request, createUser, createConversation, postMessage } = await startApp(t)
  const answers: Array<[string, Reply]> = []
  const reached = new Set<string>()
  const send = async (what: string, method: string, url: string, options?: RequestOptions) => {
    const reply = await request(method, url, options)
    answers.push([`${what}: ${method} ${url} → ${reply.status}`, reply])
    return reply
  }

  // Each operation as the spec describes it: a success (its body the schema's example, on rows made for it
  // alone, so a delete cannot spoil the next), a 400 (a query parameter it does not take) and, where it
  // names a row, a 404.
  for (const operation of specOperations()) {
    const user = await createUser()
    const conversation = await createConversation(user.id)
    const message = await postMessage(conversation.id)
    const ids = { userId: user.id, conversationId: conversation.id, messageId: message.id }
    const body = operation.bodies.find((candidate) => candidate.mediaType === 'application/json') ?? operation.bodies[0]
    const withBody = body === undefined ? {} : { body: body.schema.example, headers: { 'content-type': body.mediaType } }
    const path = fillPath(operation, ids)

    const success = await send(operation.operationId, operation.method, toUrl(API, path), withBody)
    t.ok(success.status >= 200 && success.status < 300, `${operation.operationId} succeeds (${success.status})`)
    if (success.status < 300) reached.add(operationIdOf(operation.method, toUrl(API, path))!)
    const invalid = await send(operation.operationId, operation.method, toUrl(API, path, { unknown: 1 }), withBody)
    t.equal(invalid.status, 400, `${operation.operationId} with an unknown query parameter`)
    if (operation.pathParams.length > 0) {
      const missing = fillPath(operation, Object.fromEntries(Object.keys(ids).map((name) => [name, MISSING_ID])))
      t.equal((await send(operation.operationId, operation.method, toUrl(API, missing), withBody)).status, 404, `${operation.operationId} on a missing row`)
    }
  }
  assertReachedEveryOperation(t, reached)

  // And answers that no operation gives.
  await send('no such path', 'GET', `${API}/nope`)
  await send('an unsupported media type', 'POST', `${API}/users`, { payload: 'x', headers: { 'content-type': 'text/plain' } })
  await send('a method the path does not have', 'PUT', `${API}/users`, { body: {} })
  for (const [what, reply] of answers) {
    t.equal(reply.headers['x-content-type-options'], 'nosniff', what)
    t.equal(reply.headers['cache-control'], 'no-store', what)
  }

  for (const url of [`${API}/openapi.json`, `${API}/openapi.yaml`, '/docs/static/swagger-initializer.js']) {
    const reply = await app.inject({ url })
    t.equal(reply.statusCode, 200, url)
    t.not(reply.headers['cache-control'], 'no-store', `${url} keeps its own caching`)
  }
})
