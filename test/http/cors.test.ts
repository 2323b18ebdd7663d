// CORS: off by default; with CORS_ORIGINS, listed browser origins may call the API and read its headers.
import Fastify from 'fastify'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { readSpec, specMethods } from '../../src/contract/spec.js'
import { registerCors } from '../../src/http/cors.js'
import { API, freshDatabaseUrl, request, store } from '../helper.js'
import { adminToken, bearer, secretAuth } from '../tokens.js'

const FRONT_END = 'https://chat.example.com'

const allowedMethods = (header: unknown) => String(header).split(',').map((method) => method.trim()).sort()

if (store !== 'sqlite') {
  t.pass('CORS does not depend on the store: runs on the SQLite pass')
} else {
  t.test('off by default: no CORS headers, and a preflight is not an operation', async (t) => {
    const app = await buildApp({ databaseUrl: await freshDatabaseUrl(t) })
    t.teardown(() => app.close())
    const get = await request(app, 'GET', `${API}/users/1`, { headers: { origin: FRONT_END } })
    t.equal(get.status, 404)
    t.equal(get.headers['access-control-allow-origin'], undefined)
    const preflight = await request(app, 'OPTIONS', `${API}/users`, {
      headers: { origin: FRONT_END, 'access-control-request-method': 'POST' },
    })
    t.equal(preflight.status, 405)
    t.equal(preflight.headers['access-control-allow-origin'], undefined)
  })

  t.test('on for listed origins: preflight, exposed headers, and nothing for other origins', async (t) => {
    const app = await buildApp({ databaseUrl: await freshDatabaseUrl(t), corsOrigins: [FRONT_END, 'http://localhost:5173'] })
    t.teardown(() => app.close())

    const preflight = await request(app, 'OPTIONS', `${API}/users/1/conversations`, {
      headers: { origin: FRONT_END, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    })
    t.equal(preflight.status, 204)
    t.equal(preflight.headers['access-control-allow-origin'], FRONT_END)
    t.match(preflight.headers['access-control-allow-methods'], /POST/)
    t.match(preflight.headers['access-control-allow-headers'], /Content-Type/i)
    t.match(preflight.headers.vary, /Origin/)

    const created = await request<any>(app, 'POST', `${API}/users`, { body: { name: 'Ada' }, headers: { origin: FRONT_END } })
    t.equal(created.status, 201)
    t.equal(created.headers['access-control-allow-origin'], FRONT_END)
    for (const header of ['Location', 'Link', 'X-Request-Id', 'Retry-After', 'ETag', 'Idempotent-Replayed']) {
      t.match(created.headers['access-control-expose-headers'], header, `a front end can read ${header}`)
    }
    const conditional = await request(app, 'OPTIONS', `${API}/conversations/1`, {
      headers: { origin: FRONT_END, 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'if-match, if-none-match' },
    })
    const allowedHeaders = String(conditional.headers['access-control-allow-headers']).split(',').map((name) => name.trim().toLowerCase())
    for (const header of ['If-Match', 'If-None-Match', 'Idempotency-Key']) t.ok(allowedHeaders.includes(header.toLowerCase()), `a front end may send ${header}`)
    const problem = await request(app, 'GET', `${API}/users/999`, { headers: { origin: 'http://localhost:5173' } })
    t.equal(problem.status, 404)
    t.equal(problem.headers['access-control-allow-origin'], 'http://localhost:5173', 'errors are readable too')

    const stranger = await request(app, 'GET', `${API}/users/${created.body.id}`, { headers: { origin: 'https://evil.example' } })
    t.equal(stranger.status, 200)
    t.equal(stranger.headers['access-control-allow-origin'], undefined, 'an unlisted origin gets no CORS grant')
    const strangerPreflight = await request(app, 'OPTIONS', `${API}/users`, {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    t.equal(strangerPreflight.headers['access-control-allow-origin'], undefined)
  })

  t.test('with tokens required: a preflight needs none, may ask to send Authorization, and rate limit headers are readable', async (t) => {
    const app = await buildApp({ databaseUrl: await freshDatabaseUrl(t), corsOrigins: [FRONT_END], auth: secretAuth, rateLimit: { perMinute: 100 } })
    t.teardown(() => app.close())
    const preflight = await request(app, 'OPTIONS', `${API}/users`, {
      headers: { origin: FRONT_END, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    })
    t.equal(preflight.status, 204, 'browsers send no credentials on a preflight: it is not a 401')
    const allowedHeaders = String(preflight.headers['access-control-allow-headers']).split(',').map((name) => name.trim().toLowerCase())
    t.ok(allowedHeaders.includes('authorization'), 'a front end may send Authorization')
    const created = await request<any>(app, 'POST', `${API}/users`, { body: { name: 'Ada' }, headers: { origin: FRONT_END, ...bearer(await adminToken()) } })
    t.equal(created.status, 201)
    for (const header of ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'WWW-Authenticate']) {
      t.match(created.headers['access-control-expose-headers'], header, `a front end can read ${header}`)
    }
    t.equal(created.headers['ratelimit-remaining'], '99')
    const refused = await request(app, 'GET', `${API}/users/${created.body.id}`, { headers: { origin: FRONT_END } })
    t.equal(refused.status, 401)
    t.equal(refused.headers['access-control-allow-origin'], FRONT_END, 'a 401 is readable by the front end, so it can ask for a token')
  })

  t.test('a preflight allows exactly the methods the spec has operations for, HEAD with GET', async (t) => {
    t.strictSame([...specMethods(readSpec())].sort(), ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST'], 'the spec today')
    const app = await buildApp({ databaseUrl: await freshDatabaseUrl(t), corsOrigins: [FRONT_END] })
    t.teardown(() => app.close())
    for (const method of ['GET', 'POST', 'DELETE']) {
      const preflight = await request(app, 'OPTIONS', `${API}/users/1`, {
        headers: { origin: FRONT_END, 'access-control-request-method': method },
      })
      t.equal(preflight.status, 204)
      t.strictSame(allowedMethods(preflight.headers['access-control-allow-methods']), [...specMethods(readSpec())].sort())
    }
  })

  t.test('a PATCH operation in the spec makes a preflight allow PATCH, with no other edit', async (t) => {
    // update_conversation brought PATCH into the spec and nothing else was edited for CORS: the spec without
    // its PATCH operations must not allow PATCH, the spec as committed must.
    const spec = readSpec()
    t.ok(specMethods(spec).includes('PATCH'), 'the real spec has a PATCH operation (update_conversation)')
    const unpatched = structuredClone(spec)
    for (const item of Object.values(unpatched.paths ?? {})) delete item?.patch
    t.strictSame([...specMethods(unpatched)].sort(), ['DELETE', 'GET', 'HEAD', 'POST'])

    for (const [document, allowsPatch] of [[unpatched, false], [spec, true]] as const) {
      const app = Fastify()
      t.teardown(() => app.close())
      await registerCors(app, [FRONT_END], document)
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
}
