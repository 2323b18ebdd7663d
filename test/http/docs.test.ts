// The served spec and the /docs page, without a browser: the bytes, caching, headers and assets.
// The served spec and the page are not API operations, so they are checked here rather than by test/contract.ts.
// They do not depend on the store:
// stores: sqlite
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { load } from 'js-yaml'
import { specPath } from '../../src/contract/spec.js'
import { API, startApp } from '../helper.js'

const sourceBytes = readFileSync(specPath('v1'))
const sourceDocument = load(sourceBytes.toString('utf8')) as Record<string, unknown>

const sha256 = (body: Buffer | string) => createHash('sha256').update(body).digest('base64url')

t.test('the served spec is the source document, as YAML bytes and as JSON', async (t) => {
  const { app } = await startApp(t)

  const yaml = await app.inject({ url: `${API}/openapi.yaml` })
  t.equal(yaml.statusCode, 200)
  t.equal(yaml.headers['content-type'], 'application/yaml; charset=utf-8')
  t.ok(yaml.rawPayload.equals(sourceBytes), 'the file, byte for byte')

  const json = await app.inject({ url: `${API}/openapi.json` })
  t.equal(json.statusCode, 200)
  t.equal(json.headers['content-type'], 'application/json; charset=utf-8')
  t.same(json.json(), sourceDocument)
  t.strictSame(json.json(), JSON.parse(JSON.stringify(sourceDocument)), 'no key added, dropped or retyped')
  t.equal(json.json().servers[0].url, 'http://localhost:8080/api/v1', 'the source servers, not the docs copy')

  for (const reply of [yaml, json]) {
    t.equal(reply.headers.etag, `"${sha256(reply.rawPayload)}"`, 'strong ETag: the hash of the bytes served')
    t.equal(reply.headers['cache-control'], 'public, max-age=0, must-revalidate')
    t.equal(reply.headers['x-content-type-options'], 'nosniff')
    t.type(reply.headers['x-request-id'], 'string')
  }
  t.not(yaml.headers.etag, json.headers.etag, 'each representation has its own tag')
})

t.test('If-None-Match: 304 for a matching tag, 200 otherwise; HEAD answers with the same headers', async (t) => {
  const { app } = await startApp(t)
  for (const url of [`${API}/openapi.json`, `${API}/openapi.yaml`]) {
    const first = await app.inject({ url })
    const etag = String(first.headers.etag)
    const conditional = (ifNoneMatch: string) => app.inject({ url, headers: { 'if-none-match': ifNoneMatch } })

    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const reply = await conditional(header)
      t.equal(reply.statusCode, 304, `${url} If-None-Match: ${header}`)
      t.equal(reply.body, '', '304 has no body')
      t.equal(reply.headers.etag, etag)
      t.equal(reply.headers['cache-control'], 'public, max-age=0, must-revalidate')
    }
    for (const header of ['"other"', etag.slice(0, -2) + '"', etag.slice(1, -1)]) {
      const reply = await conditional(header)
      t.equal(reply.statusCode, 200, `${url} If-None-Match: ${header} does not match`)
      t.ok(reply.rawPayload.equals(first.rawPayload))
    }

    const head = await app.inject({ method: 'HEAD', url })
    t.equal(head.statusCode, 200)
    t.equal(head.body, '')
    t.equal(head.headers.etag, etag)
    t.equal(head.headers['content-type'], first.headers['content-type'])
  }
})

t.test('other methods on the served spec are 405 with Allow, not "no such path"', async (t) => {
  const { app } = await startApp(t)
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
    const reply = await app.inject({ method, url: `${API}/openapi.json` })
    t.equal(reply.statusCode, 405, method)
    t.equal(reply.headers.allow, 'GET, HEAD')
    t.match(reply.json(), { type: 'urn:trackbot:problem:method-not-allowed', status: 405 })
  }
})

/** Every src/href the page names, resolved against the page's URL. */
function assetUrls (html: string, pageUrl: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => new URL(match[1] as string, `http://page${pageUrl}`).pathname)
}

t.test('/docs is served from this server alone, with a strict CSP', async (t) => {
  const { app } = await startApp(t)
  for (const pageUrl of ['/docs', '/docs/']) {
    const page = await app.inject({ url: pageUrl })
    t.equal(page.statusCode, 200, pageUrl)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.body, /<title>Trackbot API reference<\/title>/)
    t.notMatch(page.body, /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, 'no absolute or protocol-relative URL in the page')
    t.notMatch(page.body, /<script>(?!\s*<\/script>)|<style|\bon[a-z]+="/i, 'no inline script, style or handler the CSP would block')

    const csp = String(page.headers['content-security-policy'])
    t.match(csp, /default-src 'self'/)
    t.match(csp, /script-src 'self'(;|$)/)
    t.match(csp, /connect-src 'self'/)
    t.notMatch(csp, /https?:|\*|unsafe-eval|unsafe-inline|validator/, 'no other origin and no unsafe source')
    t.match(page.headers, { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY' })

    const assets = assetUrls(page.body, pageUrl)
    t.same(assets.filter((asset) => asset.endsWith('.js')).length, 3, 'bundle, preset and initializer')
    for (const asset of assets) {
      const reply = await app.inject({ url: asset })
      t.equal(reply.statusCode, 200, `${pageUrl} → ${asset}`)
      t.ok(reply.rawPayload.length > 0)
      t.match(reply.headers['content-type'], /^(application\/javascript|text\/css|image\/png)/, asset)
      t.equal(reply.headers['x-content-type-options'], 'nosniff')
    }
  }

  const initializer = await app.inject({ url: '/docs/static/swagger-initializer.js' })
  t.match(initializer.body, /validatorUrl: null,/, 'no validator badge fetched from validator.swagger.io')
  t.notMatch(initializer.body, /https?:\/\/(?!stackoverflow\.com\/a\/)/, 'no URL other than a comment link')
})

t.test('the page renders a copy of the spec whose server is this one', async (t) => {
  const { app } = await startApp(t)
  const rendered = await app.inject({ url: '/docs/json' })
  t.equal(rendered.statusCode, 200)
  const { servers, ...rest } = rendered.json()
  const { servers: sourceServers, ...sourceRest } = sourceDocument
  t.same(servers, [{ url: API, description: 'This server' }], 'relative: try-it goes to whatever host served the page')
  t.same(rest, sourceRest, 'otherwise the source document')
  t.same(sourceServers, [{ url: 'http://localhost:8080/api/v1', description: 'Local Trackbot server' }])
  // The copy must not leak into the spec the API serves.
  t.same((await app.inject({ url: `${API}/openapi.json` })).json().servers, sourceServers)
})

t.test('paths that escape the docs assets or miss them are 404s, the API routes are untouched', async (t) => {
  const { app, request } = await startApp(t)
  for (const url of ['/docs/static/..%2f..%2fpackage.json', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/missing.js', '/docs/static/../../package.json']) {
    const reply = await app.inject({ url })
    t.equal(reply.statusCode, 404, url)
    t.notMatch(reply.body, /"dependencies"/, 'no file from outside the assets')
    t.match(reply.headers['content-type'], /^application\/problem\+json/)
  }
  const missing = await request('GET', `${API}/no-such-thing`)
  t.equal(missing.status, 404)
  t.equal(missing.body.type, 'urn:trackbot:problem:route-not-found')
  const user = await request('POST', `${API}/users`, { body: { name: 'Docs' } })
  t.equal(user.status, 201)
})
