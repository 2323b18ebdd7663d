// AUTH_MODE=jwt over HTTP: no request without a valid token reaches any user's data, and no user's token
// reaches another user's; what is not the caller's answers exactly as what does not exist.
import t from 'tap'
import type { OpenAPIV3 } from 'openapi-types'
import { CONTRACT_VERSIONS, type ContractVersion } from '../../src/contract/spec.js'
import { contracts, requiredQuery } from '../contract.js'
import { API, API_V2, startApp, storeContents, v2Fixtures, type Fixtures } from '../helper.js'
import { fillPath, specOperations, toUrl } from '../contract/spec-arbitraries.js'
import { adminToken, AUDIENCE, bearer, ISSUER, mint, secretAuth, signingKey, startJwks, TEST_SECRET, unsecuredToken, userToken } from '../tokens.js'

/** A user with one conversation holding one message, made through the API with an admin token. */
async function seedUser (app: Fixtures, admin: string, name: string) {
  const headers = bearer(admin)
  const user = await app.createUser({ name }, headers)
  const conversation = await app.createConversation(user.id, { title: name, messages: [{ role: 'user', content: 'hi' }] }, headers)
  return { userId: user.id, conversationId: conversation.id, messageId: conversation.messages[0]!.id }
}

const challengeOf = (reply: { headers: Record<string, unknown> }) => String(reply.headers['www-authenticate'])

t.test('off by default: no token needed, an Authorization header is ignored', async (t) => {
  const { request } = await startApp(t)
  const created = await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: { authorization: 'Bearer not-a-token' } })
  t.equal(created.status, 201)
  t.equal((await request('GET', `${API}/users/${created.body.id}`)).status, 200)
})

t.test('with jwt, a request without a valid token gets a 401 and changes nothing', async (t) => {
  const app = await startApp(t, { auth: { ...secretAuth, audience: AUDIENCE, issuer: ISSUER } })
  const { request, databaseUrl } = app
  const good = { audience: AUDIENCE, issuer: ISSUER }
  const admin = await adminToken(good)
  const { userId } = await seedUser(app, admin, 'Ada')
  const before = await storeContents(databaseUrl)

  const missing = await request('POST', `${API}/users/${userId}/conversations`, { body: {} })
  t.equal(missing.status, 401, 'no token')
  t.equal(challengeOf(missing), 'Bearer realm="trackbot"', 'no token: a bare challenge, no error code (RFC 6750 §3.1)')
  t.match(missing.body, { type: 'urn:trackbot:problem:unauthorized', status: 401, instance: `${API}/users/${userId}/conversations` })
  t.equal((await request('GET', `${API}/users/${userId}`, { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })).status, 401, 'another scheme')
  t.equal((await request('GET', `${API}/no/such/path`)).status, 401, 'an unknown path under the API root too: no hint of what exists')
  const missingV2 = await request('POST', `${API_V2}/users/${userId}/conversations`, { body: {} })
  t.equal(missingV2.status, 401, 'no token, v2')
  t.equal(challengeOf(missingV2), 'Bearer realm="trackbot"')
  t.match(missingV2.body, { type: 'urn:trackbot:problem:unauthorized', status: 401, instance: `${API_V2}/users/${userId}/conversations` })
  t.equal((await request('GET', `${API_V2}/no/such/path`)).status, 401, 'an unknown path under v2\'s root too')

  const bad = {
    garbage: 'garbage',
    'alg none': unsecuredToken({ sub: String(userId), scope: 'trackbot:admin', aud: AUDIENCE, iss: ISSUER }),
    'wrong secret': await userToken(userId, { ...good, secret: 'another-secret-of-at-least-thirty-two-chars' }),
    expired: await userToken(userId, { ...good, expiresIn: -3600 }),
    'no expiry': await userToken(userId, { ...good, expiresIn: null }),
    'wrong audience': await userToken(userId, { ...good, audience: 'someone-else' }),
    'no audience': await userToken(userId, { issuer: ISSUER }),
    'wrong issuer': await userToken(userId, { ...good, issuer: 'https://evil.example/' }),
    'user id not an id': await mint({ sub: 'ada@example.com' }, good),
    'user id out of range': await mint({ sub: String(2 ** 31) }, good),
  }
  for (const [what, token] of Object.entries(bad)) {
    for (const base of [API, API_V2]) {
      const reply = await request('POST', `${base}/users/${userId}/conversations`, { body: { title: what }, headers: bearer(token) })
      t.equal(reply.status, 401, `${base}: ${what}`)
      t.match(challengeOf(reply), /^Bearer realm="trackbot", error="invalid_token", error_description="[^"\\]+"$/, `${base}: ${what}: invalid_token`)
      t.equal(reply.body.type, 'urn:trackbot:problem:unauthorized')
    }
  }
  t.match((await request('GET', `${API}/users/${userId}`, { headers: bearer(bad.expired) })).body.detail, /expired/)
  t.equal(await storeContents(databaseUrl), before, 'nothing was stored by any refused request')

  const skewed = await userToken(userId, { ...good, expiresIn: -10 })
  t.equal((await request('GET', `${API}/users/${userId}`, { headers: bearer(skewed) })).status, 200, 'expired by less than the clock skew allowed')
  t.equal((await request('GET', `${API}/users/${userId}`, { headers: bearer(await userToken(userId, good)) })).status, 200, 'a good token')
  t.equal((await request('GET', `${API_V2}/users/${userId}`, { headers: bearer(await userToken(userId, good)) })).status, 200, 'a good token, v2')
})

t.test('with jwt, health, the served spec and the docs stay public', async (t) => {
  const { app } = await startApp(t, { auth: secretAuth })
  // Straight through inject: the spec files and the docs are outside the contract the helper checks against.
  const specFiles = CONTRACT_VERSIONS.flatMap((version) => [`${contracts[version].basePath}/openapi.json`, `${contracts[version].basePath}/openapi.yaml`])
  const pages = CONTRACT_VERSIONS.flatMap((version) => [`/docs/${version}`, `/docs/${version}/`])
  t.same(specFiles.filter((url) => url.startsWith(`${API_V2}/`)).length, 2, 'v2\'s spec files are among them')
  for (const url of ['/healthz', '/readyz', ...specFiles, ...pages]) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url)
  }
  const docs = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(docs.statusCode, 302, '/docs leads to the newest version\'s page, without a token')
  t.equal(docs.headers.location, `/docs/${CONTRACT_VERSIONS.at(-1)}`)
})

/** A request of `operation` of contract `version` naming `ids`, with its spec example as the body so validation passes. */
function requestFor (version: ContractVersion, operation: ReturnType<typeof specOperations>[number], ids: Record<string, number>) {
  const { dereferencedSpec, basePath } = contracts[version]
  const spec = dereferencedSpec.paths[operation.path]![operation.method.toLowerCase() as 'get'] as OpenAPIV3.OperationObject
  const content = (spec.requestBody as OpenAPIV3.RequestBodyObject | undefined)?.content ?? {}
  const [mediaType, media] = Object.entries(content)[0] ?? []
  const body = media?.example ?? (media?.schema as { example?: unknown } | undefined)?.example
  return { url: toUrl(basePath, fillPath(operation, ids), requiredQuery(spec)), payload: body === undefined ? undefined : JSON.stringify(body), mediaType }
}

/** Every operation of every contract version, each with its version. */
const everyOperation = CONTRACT_VERSIONS.flatMap((version) => specOperations(version).map((operation) => ({ version, operation, name: `${version} ${operation.operationId}` })))

t.test('a user\'s token reaches only that user\'s data; anything else is a 404 as if it did not exist', async (t) => {
  const app = await startApp(t, { auth: secretAuth })
  const { request, databaseUrl } = app
  const admin = await adminToken()
  const ada = await seedUser(app, admin, 'Ada')
  const bob = await seedUser(app, admin, 'Bob')
  const asAda = bearer(await userToken(ada.userId))

  t.equal((await request('GET', `${API}/users/${ada.userId}`, { headers: asAda })).status, 200, 'her user')
  t.same((await request('GET', `${API}/users/${ada.userId}/conversations`, { headers: asAda })).body.map((c: any) => c.id), [ada.conversationId], 'her conversations')
  t.equal((await request('GET', `${API}/conversations/${ada.conversationId}/messages/${ada.messageId}`, { headers: asAda })).status, 200, 'her message')
  t.equal((await request('POST', `${API}/conversations/${ada.conversationId}/messages`, { body: { role: 'user', content: 'mine' }, headers: asAda })).status, 201, 'posts into her conversation')
  // And through v2, whose operations below must refuse Bob's rows for being his, not for being v2's.
  const v2 = v2Fixtures(request)
  t.equal((await request('GET', `${API_V2}/conversations/${ada.conversationId}`, { headers: asAda })).status, 200, 'her conversation, v2')
  const batch = await v2.postMessages(ada.conversationId, [
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'lookup', arguments: { q: 'x' } }] },
    { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: 'found' }] },
  ], asAda)
  t.same(batch.map((message) => message.role), ['assistant', 'tool'], 'create_messages into her conversation, v2')
  t.equal((await request('GET', `${API_V2}/conversations/${ada.conversationId}/messages/${batch[1]!.id}`, { headers: asAda })).status, 200, 'her message, v2')

  // Every operation of every version's spec, on Bob's ids with Ada's token.
  const before = await storeContents(databaseUrl)
  const seen = new Map<string, { status: number, body: unknown }>()
  t.ok(everyOperation.some(({ name }) => name === 'v2 create_messages'), 'v2\'s create_messages is among them')
  for (const { version, operation, name } of everyOperation) {
    const { url, payload, mediaType } = requestFor(version, operation, bob)
    const reply = await request(operation.method, url, { payload, headers: { ...asAda, ...mediaType === undefined ? {} : { 'content-type': mediaType } } })
    seen.set(name, { status: reply.status, body: reply.body })
    if (operation.pathParams.length === 0) {
      t.equal(reply.status, 403, `${name}: needs the admin scope`)
      t.equal(challengeOf(reply), 'Bearer realm="trackbot", error="insufficient_scope", scope="trackbot:admin"')
      t.equal(reply.body.type, 'urn:trackbot:problem:insufficient-scope')
    } else {
      t.equal(reply.status, 404, `${name} on Bob's ${operation.pathParams.map((p) => p.name).join(', ')}: 404`)
    }
  }
  t.equal(await storeContents(databaseUrl), before, 'nothing of Bob\'s (or anyone\'s) changed')

  // Bob gone, the admin asks the same: the handlers' own 404s for what does not exist are what Ada got.
  t.equal((await request('DELETE', `${API}/users/${bob.userId}`, { headers: bearer(admin) })).status, 204)
  for (const { version, operation, name } of everyOperation.filter(({ operation }) => operation.pathParams.length > 0)) {
    const { url, payload, mediaType } = requestFor(version, operation, bob)
    const reply = await request(operation.method, url, { payload, headers: { ...bearer(admin), ...mediaType === undefined ? {} : { 'content-type': mediaType } } })
    t.same(seen.get(name), { status: reply.status, body: reply.body }, `${name}: not hers is answered exactly as not there`)
  }
})

t.test('an admin token acts for every user and creates users', async (t) => {
  const app = await startApp(t, { auth: secretAuth })
  const { request } = app
  const admin = bearer(await adminToken())
  const ada = await seedUser(app, admin.authorization.slice(7), 'Ada')
  t.equal((await request('GET', `${API}/users/${ada.userId}/conversations`, { headers: admin })).status, 200)
  t.equal((await request('POST', `${API}/conversations/${ada.conversationId}/messages`, { body: { role: 'assistant', content: 'for Ada' }, headers: admin })).status, 201)
  t.equal((await request('POST', `${API_V2}/conversations/${ada.conversationId}/messages/batch`, { body: { messages: [{ role: 'developer', content: 'be brief' }] }, headers: admin })).status, 201, 'and through v2')
  const list = await request('GET', `${API}/conversations/${ada.conversationId}/messages`, { headers: bearer(await userToken(ada.userId)) })
  t.same(list.body.map((m: any) => m.content), ['hi', 'for Ada', 'be brief'], 'Ada sees what the admin posted for her')
  t.equal((await request('DELETE', `${API}/conversations/${ada.conversationId}`, { headers: admin })).status, 204)
  // An admin token that also names a user still acts on every user.
  const both = bearer(await mint({ sub: String(ada.userId), scope: 'openid trackbot:admin' }))
  t.equal((await request('POST', `${API}/users`, { body: { name: 'Bob' }, headers: both })).status, 201)
  t.equal((await request('GET', `${API}/users/${ada.userId}`, { headers: bearer(await mint({ scope: ['trackbot:admin'] })) })).status, 200, 'scope as an array')
})

t.test('AUTH_USER_CLAIM names the claim holding the user id', async (t) => {
  const app = await startApp(t, { auth: { ...secretAuth, userClaim: 'https://trackbot.example/user_id' } })
  const { request } = app
  const ada = await seedUser(app, await adminToken(), 'Ada')
  t.equal((await request('GET', `${API}/users/${ada.userId}`, { headers: bearer(await mint({ sub: 'auth0|1', 'https://trackbot.example/user_id': ada.userId })) })).status, 200)
  t.equal((await request('GET', `${API}/users/${ada.userId}`, { headers: bearer(await userToken(ada.userId)) })).status, 401, 'sub is not the claim any more')
})

t.test('JWKS: RS256 and ES256 keys of the provider, fetched and refetched when a key rotates', async (t) => {
  const first = await signingKey('RS256', 'first')
  const jwks = await startJwks(t, [first])
  // Only a JWKS, and no cooldown, so a rotation is picked up by the next token with an unknown kid.
  const { request } = await startApp(t, { auth: { mode: 'jwt', jwksUrl: jwks.url, jwksCooldownMs: 0 } })
  const adminWith = async (key: typeof first) => bearer(await mint({ sub: 'backend', scope: 'trackbot:admin' }, { key }))

  const created = await request('POST', `${API}/users`, { body: { name: 'Ada' }, headers: await adminWith(first) })
  t.equal(created.status, 201, 'RS256 with the provider\'s key')
  const url = `${API}/users/${created.body.id}`

  const second = await signingKey('ES256', 'second')
  t.equal((await request('GET', url, { headers: await adminWith(second) })).status, 401, 'a key the provider does not publish yet')
  await jwks.serve([second])
  const fetches = jwks.fetches
  t.equal((await request('GET', url, { headers: await adminWith(second) })).status, 200, 'after the rotation: ES256 with the new key, without a restart')
  t.ok(jwks.fetches > fetches, 'the unknown kid made the server fetch the set again')
  t.equal((await request('GET', url, { headers: await adminWith(first) })).status, 401, 'the retired key no longer verifies')

  const forged = await mint({ sub: 'backend', scope: 'trackbot:admin' }, { key: { ...await signingKey('ES256', 'x'), kid: 'second' } })
  t.equal((await request('GET', url, { headers: bearer(forged) })).status, 401, 'the right kid, signed by another key')

  // Algorithm confusion: HS256 with the provider's public key as the "secret".
  const publicJwk = JSON.stringify(await (await import('jose')).exportJWK(second.publicKey))
  const confused = await mint({ sub: 'backend', scope: 'trackbot:admin' }, { secret: publicJwk })
  const refused = await request('GET', url, { headers: bearer(confused) })
  t.equal(refused.status, 401, 'HS256 is not an algorithm of a JWKS-only server')
  t.match(refused.body.detail, /algorithm/)
})

t.test('both keys: the secret for HS256 only, the JWKS for RS256/ES256 only', async (t) => {
  const key = await signingKey('RS256', 'k')
  const jwks = await startJwks(t, [key])
  const { request } = await startApp(t, { auth: { mode: 'jwt', secret: TEST_SECRET, jwksUrl: jwks.url } })
  t.equal((await request('POST', `${API}/users`, { body: { name: 'A' }, headers: bearer(await adminToken()) })).status, 201, 'HS256')
  t.equal((await request('POST', `${API}/users`, { body: { name: 'B' }, headers: bearer(await mint({ scope: 'trackbot:admin' }, { key })) })).status, 201, 'RS256')
})

t.test('a JWKS out of reach is a 503 with Retry-After, not a 401 that would send clients to log in again', async (t) => {
  const { request } = await startApp(t, { auth: { mode: 'jwt', jwksUrl: 'http://127.0.0.1:9/jwks.json' } })
  const reply = await request('GET', `${API}/users/1`, { headers: bearer(await mint({ scope: 'trackbot:admin' }, { key: await signingKey('ES256', 'k') })), expectServerError: true })
  t.equal(reply.status, 503)
  t.equal(reply.headers['retry-after'], '1')
})
