// The served specs and the /docs pages, without a browser: the bytes, caching, headers and assets, for every
// contract version. The served specs and the pages are not API operations, so they are checked here rather than
// by test/contract.ts. They do not depend on the store:
// stores: sqlite
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { load } from 'js-yaml'
import { CONTRACT_VERSIONS, specPath } from '../../src/contract/spec.js'
import { API, API_V2, startApp } from '../helper.js'

const NEWEST = CONTRACT_VERSIONS.at(-1)!

/** Each version: its base path, its spec file's bytes and document, and its reference page. */
const versions = CONTRACT_VERSIONS.map((version) => {
  const bytes = readFileSync(specPath(version))
  return { version, basePath: `/api/${version}`, bytes, document: load(bytes.toString('utf8')) as Record<string, any>, page: `/docs/${version}` }
})

const sha256 = (body: Buffer | string) => createHash('sha256').update(body).digest('base64url')

t.test('the versions are v1 and v2, at /api/v1 and /api/v2', async (t) => {
  t.same(versions.map(({ basePath }) => basePath), [API, API_V2])
  t.equal(NEWEST, 'v2')
})

t.test('each version\'s served spec is its source document, as YAML bytes and as JSON', async (t) => {
  const { app } = await startApp(t)
  const tags = new Set<string>()
  for (const { version, basePath, bytes, document } of versions) {
    const yaml = await app.inject({ url: `${basePath}/openapi.yaml` })
    t.equal(yaml.statusCode, 200)
    t.equal(yaml.headers['content-type'], 'application/yaml; charset=utf-8')
    t.ok(yaml.rawPayload.equals(bytes), `${version}: the file, byte for byte`)

    const json = await app.inject({ url: `${basePath}/openapi.json` })
    t.equal(json.statusCode, 200)
    t.equal(json.headers['content-type'], 'application/json; charset=utf-8')
    t.same(json.json(), document)
    t.strictSame(json.json(), JSON.parse(JSON.stringify(document)), `${version}: no key added, dropped or retyped`)
    t.equal(json.json().servers[0].url, `http://localhost:8080${basePath}`, `${version}: the source servers, not the docs copy`)
    t.equal(json.json().info.version, `${version.slice(1)}.0.0`, `${version}: its own document`)

    for (const reply of [yaml, json]) {
      t.equal(reply.headers.etag, `"${sha256(reply.rawPayload)}"`, 'strong ETag: the hash of the bytes served')
      t.equal(reply.headers['cache-control'], 'public, max-age=0, must-revalidate')
      t.equal(reply.headers['x-content-type-options'], 'nosniff')
      t.type(reply.headers['x-request-id'], 'string')
      tags.add(String(reply.headers.etag))
    }
  }
  t.equal(tags.size, 2 * versions.length, 'each representation of each version has its own tag')
  t.same(Object.keys(versions[1]!.document.paths).filter((path) => !(path in versions[0]!.document.paths)), ['/users/{userId}/export', '/users/{userId}/import', '/users/{userId}/search', '/conversations/{conversationId}/fork', '/conversations/{conversationId}/messages/batch'],
    'v2 serves the paths v1 does not have')
})

t.test('If-None-Match: 304 for a matching tag, 200 otherwise; HEAD answers with the same headers', async (t) => {
  const { app } = await startApp(t)
  for (const url of versions.flatMap(({ basePath }) => [`${basePath}/openapi.json`, `${basePath}/openapi.yaml`])) {
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
  // One version's tag is not another's.
  const v1 = await app.inject({ url: `${API}/openapi.json` })
  t.equal((await app.inject({ url: `${API_V2}/openapi.json`, headers: { 'if-none-match': String(v1.headers.etag) } })).statusCode, 200, 'v1\'s tag does not match v2\'s spec')
})

t.test('other methods on the served specs are 405 with Allow, not "no such path"', async (t) => {
  const { app } = await startApp(t)
  for (const { basePath } of versions) {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const reply = await app.inject({ method, url: `${basePath}/openapi.json` })
      t.equal(reply.statusCode, 405, `${method} ${basePath}/openapi.json`)
      t.equal(reply.headers.allow, 'GET, HEAD')
      t.match(reply.json(), { type: 'urn:trackbot:problem:method-not-allowed', status: 405 })
    }
  }
})

/** Every src/href the page names, resolved against the page's URL. */
function assetUrls (html: string, pageUrl: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => new URL(match[1] as string, `http://page${pageUrl}`).pathname)
}

t.test('/docs leads to the newest version\'s page', async (t) => {
  const { app } = await startApp(t)
  for (const url of ['/docs', '/docs/']) {
    for (const method of ['GET', 'HEAD'] as const) {
      const reply = await app.inject({ method, url })
      t.equal(reply.statusCode, 302, `${method} ${url}`)
      t.equal(reply.headers.location, `/docs/${NEWEST}`, `${method} ${url} → /docs/${NEWEST}`)
    }
  }
  t.equal((await app.inject({ url: String((await app.inject({ url: '/docs' })).headers.location) })).statusCode, 200, 'where it leads is the page')
})

t.test('each version\'s /docs page is served from this server alone, with a strict CSP', async (t) => {
  const { app } = await startApp(t)
  for (const { version, document, page: base } of versions) {
    for (const pageUrl of [base, `${base}/`]) {
      const page = await app.inject({ url: pageUrl })
      t.equal(page.statusCode, 200, pageUrl)
      t.match(page.headers['content-type'], /^text\/html/)
      t.match(page.body, `<title>Trackbot API ${document.info.version} reference</title>`, `${pageUrl}: ${version}'s title`)
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
        t.ok(asset.startsWith(`${base}/`), `${pageUrl}: ${asset} is under its own page`)
        const reply = await app.inject({ url: asset })
        t.equal(reply.statusCode, 200, `${pageUrl} → ${asset}`)
        t.ok(reply.rawPayload.length > 0)
        t.match(reply.headers['content-type'], /^(application\/javascript|text\/css|image\/png)/, asset)
        t.equal(reply.headers['x-content-type-options'], 'nosniff')
      }
    }

    const initializer = await app.inject({ url: `${base}/static/swagger-initializer.js` })
    t.equal(initializer.statusCode, 200)
    t.match(initializer.body, /validatorUrl: null,/, 'no validator badge fetched from validator.swagger.io')
    t.notMatch(initializer.body, /https?:\/\/(?!stackoverflow\.com\/a\/)/, 'no URL other than a comment link')
    t.match(initializer.body, /url: resolveUrl\('\.\/json'\)/, 'the spec next to the page: /docs/<version>/json')
  }
})

t.test('each page renders a copy of its version\'s spec whose server is this one', async (t) => {
  const { app } = await startApp(t)
  for (const { version, basePath, document, page } of versions) {
    const rendered = await app.inject({ url: `${page}/json` })
    t.equal(rendered.statusCode, 200)
    const { servers, ...rest } = rendered.json()
    const { servers: sourceServers, ...sourceRest } = document
    t.same(servers, [{ url: basePath, description: 'This server' }], `${version}: relative: try-it goes to whatever host served the page`)
    t.same(rest, sourceRest, `${version}: otherwise the source document`)
    t.same(sourceServers, [{ url: `http://localhost:8080${basePath}`, description: 'Local Trackbot server' }])
    // The copy must not leak into the spec the API serves.
    t.same((await app.inject({ url: `${basePath}/openapi.json` })).json().servers, sourceServers)
  }
})

t.test('paths that escape the docs assets or miss them are 404s, the API routes are untouched', async (t) => {
  const { app, request } = await startApp(t)
  const misses = [
    ...versions.flatMap(({ page }) => [`${page}/static/..%2f..%2f..%2fpackage.json`, `${page}/static/%2e%2e/%2e%2e/%2e%2e/package.json`, `${page}/static/missing.js`, `${page}/static/../../../package.json`]),
    // No version, or one there is not: the pages before versions were at /docs/static and /docs/json.
    '/docs/v3', '/docs/v0/', '/docs/static/swagger-initializer.js', '/docs/json',
  ]
  for (const url of misses) {
    const reply = await app.inject({ url })
    t.equal(reply.statusCode, 404, url)
    t.notMatch(reply.body, /"dependencies"/, 'no file from outside the assets')
    t.match(reply.headers['content-type'], /^application\/problem\+json/)
  }
  for (const base of [API, API_V2]) {
    const missing = await request('GET', `${base}/no-such-thing`)
    t.equal(missing.status, 404)
    t.equal(missing.body.type, 'urn:trackbot:problem:route-not-found')
    const user = await request('POST', `${base}/users`, { body: { name: 'Docs' } })
    t.equal(user.status, 201)
  }
})
