// Every API answer, success or problem, is not to be sniffed or cached; the spec files and /docs keep their own caching.
import t from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { contracts, requiredQuery } from '../contract.js'
import { API, API_V2, startApp, type Reply, type RequestOptions } from '../helper.js'
import { fillPath, specOperations, toUrl } from '../contract/spec-arbitraries.js'

const MISSING_ID = 2 ** 31 - 1

t.test('API answers carry nosniff and no-store, for every operation of every version\'s spec; the docs and spec files keep their caching', async (t) => {
  const answers: Array<[string, Reply]> = []
  // An app, so a store, per version: each version's create_user example takes the same email.
  const apps = new Map(await Promise.all(CONTRACT_VERSIONS.map(async (version) => [version, await startApp(t)] as const)))
  let app = apps.get('v1')!
  const send = async (what: string, method: string, url: string, options?: RequestOptions) => {
    const reply = await app.request(method, url, options)
    answers.push([`${what}: ${method} ${url} → ${reply.status}`, reply])
    return reply
  }

  // Each operation as the spec describes it: a success (its body the schema's example, on rows made for it
  // alone, so a delete cannot spoil the next), a 400 (a query parameter it does not take) and, where it
  // names a row, a 404.
  for (const version of CONTRACT_VERSIONS) {
    app = apps.get(version)!
    const { createUser, createConversation, postMessage } = app
    const { basePath, operationIdOf, assertReachedEveryOperation } = contracts[version]
    const reached = new Set<string>()
    for (const operation of specOperations(version)) {
      const name = `${version} ${operation.operationId}`
      const user = await createUser()
      const conversation = await createConversation(user.id)
      const message = await postMessage(conversation.id)
      const ids = { userId: user.id, conversationId: conversation.id, messageId: message.id }
      const body = operation.bodies.find((candidate) => candidate.mediaType === 'application/json') ?? operation.bodies[0]
      const withBody = body === undefined ? {} : { body: body.schema.example, headers: { 'content-type': body.mediaType } }
      const path = fillPath(operation, ids)
      const query = requiredQuery(contracts[version].specOperations.find((candidate) => candidate.operationId === operation.operationId)!)

      const success = await send(name, operation.method, toUrl(basePath, path, query), withBody)
      t.ok(success.status >= 200 && success.status < 300, `${name} succeeds (${success.status})`)
      if (success.status < 300) reached.add(operationIdOf(operation.method, toUrl(basePath, path))!)
      const invalid = await send(name, operation.method, toUrl(basePath, path, { ...query, unknown: 1 }), withBody)
      t.equal(invalid.status, 400, `${name} with an unknown query parameter`)
      if (operation.pathParams.length > 0) {
        const missing = fillPath(operation, Object.fromEntries(Object.keys(ids).map((id) => [id, MISSING_ID])))
        t.equal((await send(name, operation.method, toUrl(basePath, missing, query), withBody)).status, 404, `${name} on a missing row`)
      }
    }
    assertReachedEveryOperation(t, reached)
  }

  // And answers that no operation gives.
  for (const base of [API, API_V2]) {
    await send('no such path', 'GET', `${base}/nope`)
    await send('an unsupported media type', 'POST', `${base}/users`, { payload: 'x', headers: { 'content-type': 'text/plain' } })
    await send('a method the path does not have', 'PUT', `${base}/users`, { body: {} })
  }
  for (const [what, reply] of answers) {
    t.equal(reply.headers['x-content-type-options'], 'nosniff', what)
    t.equal(reply.headers['cache-control'], 'no-store', what)
  }

  const specFiles = CONTRACT_VERSIONS.flatMap((version) => [`${contracts[version].basePath}/openapi.json`, `${contracts[version].basePath}/openapi.yaml`])
  const docsAssets = CONTRACT_VERSIONS.map((version) => `/docs/${version}/static/swagger-initializer.js`)
  for (const url of [...specFiles, ...docsAssets]) {
    const reply = await app.app.inject({ url })
    t.equal(reply.statusCode, 200, url)
    t.not(reply.headers['cache-control'], 'no-store', `${url} keeps its own caching`)
  }
})
