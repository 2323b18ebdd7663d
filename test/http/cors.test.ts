// CORS: off by default; with CORS_ORIGINS, listed browser origins may call every operation of every contract
// version's spec, send the headers it takes and read the headers its answers carry.
// CORS does not depend on the store:
// stores: sqlite
import Fastify from 'fastify'
import type { OpenAPIV3 } from 'openapi-types'
import t from 'tap'
import { CONTRACT_VERSIONS, readSpec, specMethods, type ContractVersion } from '../../src/contract/spec.js'
import { registerCors } from '../../src/http/cors.js'
import { contracts, requiredQuery } from '../contract.js'
import { API, API_V2, startApp } from '../helper.js'
import { fillPath, specOperations, toUrl } from '../contract/spec-arbitraries.js'
import { adminToken, bearer, secretAuth } from '../tokens.js'

const FRONT_END = 'https://chat.example.com'

const allowedMethods = (header: unknown) => String(header).split(',').map((method) => method.trim()).sort()
const headerList = (header: unknown) => String(header).split(',').map((name) => name.trim().toLowerCase())

t.test('off by default: no CORS headers, and a preflight is not an operation', async (t) => {
  const { request } = await startApp(t)
  const get = await request('GET', `${API}/users/1`, { headers: { origin: FRONT_END } })
  t.equal(get.status, 404)
  t.equal(get.headers['access-control-allow-origin'], undefined)
  const preflight = await request('OPTIONS', `${API}/users`, {
    headers: { origin: FRONT_END, 'access-control-request-method': 'POST' },
  })
  t.equal(preflight.status, 405)
  t.equal(preflight.headers['access-control-allow-origin'], undefined)
})

t.test('on for listed origins: preflight, exposed headers, and nothing for other origins', async (t) => {
  const { request } = await startApp(t, { corsOrigins: [FRONT_END, 'http://localhost:5173'] })

  const preflight = await request('OPTIONS', `${API}/users/1/conversations`, {
    headers: { origin: FRONT_END, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers['access-control-allow-origin'], FRONT_END)
  t.match(preflight.headers['access-control-allow-methods'], /POST/)
  t.match(preflight.headers['access-control-allow-headers'], /Content-Type/i)
  t.match(preflight.headers.vary, /Origin/)

  const created = await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: { origin: FRONT_END } })
  t.equal(created.status, 201)
  t.equal(created.headers['access-control-allow-origin'], FRONT_END)
  for (const header of ['Location', 'Link', 'X-Request-Id', 'Retry-After', 'ETag', 'Idempotent-Replayed']) {
    t.match(created.headers['access-control-expose-headers'], header, `a front end can read ${header}`)
  }
  const conditional = await request('OPTIONS', `${API}/conversations/1`, {
    headers: { origin: FRONT_END, 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'if-match, if-none-match' },
  })
  const allowedHeaders = headerList(conditional.headers['access-control-allow-headers'])
  for (const header of ['If-Match', 'If-None-Match', 'Idempotency-Key']) t.ok(allowedHeaders.includes(header.toLowerCase()), `a front end may send ${header}`)
  const problem = await request('GET', `${API}/users/999`, { headers: { origin: 'http://localhost:5173' } })
  t.equal(problem.status, 404)
  t.equal(problem.headers['access-control-allow-origin'], 'http://localhost:5173', 'errors are readable too')

  const stranger = await request('GET', `${API}/users/${created.body.id}`, { headers: { origin: 'https://evil.example' } })
  t.equal(stranger.status, 200)
  t.equal(stranger.headers['access-control-allow-origin'], undefined, 'an unlisted origin gets no CORS grant')
  const strangerPreflight = await request('OPTIONS', `${API}/users`, {
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  })
  t.equal(strangerPreflight.headers['access-control-allow-origin'], undefined)
})

t.test('with tokens required: a preflight needs none, may ask to send Authorization, and rate limit headers are readable', async (t) => {
  const { request } = await startApp(t, { corsOrigins: [FRONT_END], auth: secretAuth, rateLimit: { perMinute: 100 } })
  const preflight = await request('OPTIONS', `${API}/users`, {
    headers: { origin: FRONT_END, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  })
  t.equal(preflight.status, 204, 'browsers send no credentials on a preflight: it is not a 401')
  const allowedHeaders = headerList(preflight.headers['access-control-allow-headers'])
  t.ok(allowedHeaders.includes('authorization'), 'a front end may send Authorization')
  const created = await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: { origin: FRONT_END, ...bearer(await adminToken()) } })
  t.equal(created.status, 201)
  for (const header of ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'WWW-Authenticate']) {
    t.match(created.headers['access-control-expose-headers'], header, `a front end can read ${header}`)
  }
  t.equal(created.headers['ratelimit-remaining'], '99')
  const refused = await request('GET', `${API}/users/${created.body.id}`, { headers: { origin: FRONT_END } })
  t.equal(refused.status, 401)
  t.equal(refused.headers['access-control-allow-origin'], FRONT_END, 'a 401 is readable by the front end, so it can ask for a token')
})

t.test('a preflight allows exactly the methods the specs have operations for, HEAD with GET', async (t) => {
  for (const version of CONTRACT_VERSIONS) t.strictSame([...specMethods(readSpec(version))].sort(), ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST'], `${version}'s spec today`)
  const { request } = await startApp(t, { corsOrigins: [FRONT_END] })
  for (const base of [API, API_V2]) {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const preflight = await request('OPTIONS', `${base}/users/1`, {
        headers: { origin: FRONT_END, 'access-control-request-method': method },
      })
      t.equal(preflight.status, 204)
      t.strictSame(allowedMethods(preflight.headers['access-control-allow-methods']), [...specMethods(readSpec('v1'))].sort(), `${base}: ${method}`)
    }
  }
})

t.test('a PATCH operation in the spec makes a preflight allow PATCH, with no other edit', async (t) => {
  // update_conversation brought PATCH into the spec and nothing else was edited for CORS: the spec without
  // its PATCH operations must not allow PATCH, the spec as committed must.
  const spec = readSpec('v1')
  t.ok(specMethods(spec).includes('PATCH'), 'the real spec has a PATCH operation (update_conversation)')
  const unpatched = structuredClone(spec)
  for (const item of Object.values(unpatched.paths ?? {})) delete item?.patch
  t.strictSame([...specMethods(unpatched)].sort(), ['DELETE', 'GET', 'HEAD', 'POST'])

  for (const [document, allowsPatch] of [[unpatched, false], [spec, true]] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await registerCors(app, [FRONT_END], [document])
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: `${API}/conversations/1`,
      headers: { origin: FRONT_END, 'access-control-request-method': 'PATCH' },
    })
    t.equal(preflight.statusCode, 204)
    t.equal(preflight.headers['access-control-allow-origin'], FRONT_END)
    t.equal(allowedMethods(preflight.headers['access-control-allow-methods']).includes('PATCH'), allowsPatch,
      allowsPatch ? 'PATCH allowed once the spec has it' : 'PATCH not allowed while the spec lacks it')
  }
})

// Response headers a browser lets any script read without being told (the Fetch standard's CORS-safelisted ones).
const SAFELISTED = new Set(['cache-control', 'content-language', 'content-length', 'content-type', 'expires', 'last-modified', 'pragma'])

/** The headers `version`'s spec says an operation's answers may carry, and X-Request-Id, which every answer does. */
function responseHeaders (version: ContractVersion, operationId: string): string[] {
  const operation = contracts[version].specOperations.find((candidate) => candidate.operationId === operationId)!
  const declared = Object.values(operation.responses ?? {}).flatMap((response) => Object.keys((response as OpenAPIV3.ResponseObject).headers ?? {}))
  return [...new Set(['X-Request-Id', ...declared])].filter((name) => !SAFELISTED.has(name.toLowerCase()))
}

/** The headers a front end sends to an operation: its header parameters, Content-Type with a body, a token and a request id. */
function requestHeaders (version: ContractVersion, operation: ReturnType<typeof specOperations>[number]): string[] {
  const bearerScheme = Object.entries(contracts[version].dereferencedSpec.components?.securitySchemes ?? {})
    .some(([, scheme]) => (scheme as OpenAPIV3.SecuritySchemeObject).type === 'http' && (scheme as OpenAPIV3.HttpSecurityScheme).scheme === 'bearer')
  return [
    ...operation.headerParams.map((parameter) => parameter.name),
    ...operation.bodies.length > 0 ? ['Content-Type'] : [],
    ...bearerScheme ? ['Authorization'] : [],
    'X-Request-Id',
  ]
}

for (const version of CONTRACT_VERSIONS) {
  t.test(`every operation of ${version}'s spec: its preflight allows its method and headers, and its answers are readable`, async (t) => {
    const { basePath, operationIdOf, assertReachedEveryOperation } = contracts[version]
    const { request, createUser, createConversation, postMessage } = await startApp(t, { corsOrigins: [FRONT_END] })
    const reached = new Set<string>()
    for (const operation of specOperations(version)) {
      // Rows made for this operation alone, so a delete cannot spoil the next.
      const user = await createUser()
      const conversation = await createConversation(user.id)
      const message = await postMessage(conversation.id)
      const url = toUrl(basePath, fillPath(operation, { userId: user.id, conversationId: conversation.id, messageId: message.id }), requiredQuery(contracts[version].specOperations.find((candidate) => candidate.operationId === operation.operationId)!))
      const sends = requestHeaders(version, operation)

      const preflight = await request('OPTIONS', url, {
        headers: { origin: FRONT_END, 'access-control-request-method': operation.method, 'access-control-request-headers': sends.join(', ').toLowerCase() },
      })
      t.equal(preflight.status, 204, `${operation.operationId}: preflight`)
      t.equal(preflight.headers['access-control-allow-origin'], FRONT_END, `${operation.operationId}: preflight grants the origin`)
      t.ok(allowedMethods(preflight.headers['access-control-allow-methods']).includes(operation.method), `${operation.operationId}: preflight allows ${operation.method}`)
      const allowed = headerList(preflight.headers['access-control-allow-headers'])
      for (const header of sends) t.ok(allowed.includes(header.toLowerCase()), `${operation.operationId}: a front end may send ${header}`)

      const body = operation.bodies.find((candidate) => candidate.mediaType === 'application/json') ?? operation.bodies[0]
      const answer = await request(operation.method, url, {
        ...body === undefined ? {} : { body: body.schema.example },
        headers: { origin: FRONT_END, ...body === undefined ? {} : { 'content-type': body.mediaType } },
      })
      t.ok(answer.status >= 200 && answer.status < 300, `${operation.operationId}: ${answer.status}`)
      t.equal(answer.headers['access-control-allow-origin'], FRONT_END, `${operation.operationId}: its answer is readable`)
      const exposed = headerList(answer.headers['access-control-expose-headers'])
      for (const header of responseHeaders(version, operation.operationId)) t.ok(exposed.includes(header.toLowerCase()), `${operation.operationId}: a front end can read ${header}`)
      const problem = await request(operation.method, toUrl(basePath, fillPath(operation, {}), { unknown: 1 }), { headers: { origin: FRONT_END } })
      t.ok(problem.status >= 400 && problem.status < 500, `${operation.operationId}: a problem (${problem.status})`)
      t.equal(problem.headers['access-control-allow-origin'], FRONT_END, `${operation.operationId}: its problems are readable`)
      const operationId = operationIdOf(operation.method, url)
      if (answer.status < 300 && operationId !== undefined) reached.add(operationId)
    }
    assertReachedEveryOperation(t, reached)
  })
}
