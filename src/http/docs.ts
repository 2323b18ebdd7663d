// /docs/<version>: the interactive API reference of each contract version, rendered from the spec the server runs,
// with every asset served from installed packages so the page works offline and tells no third party it was
// opened; /docs leads to the newest version's.
// Built on its first request, in an app of its own: @fastify/swagger and swagger-ui's modules would otherwise stay
// resident in every process, most of which never serve a page.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { OpenAPIV3 } from 'openapi-types'
import type { SpecSource } from '../contract/spec.js'
import { registerSpecRoutes } from './served-spec.js'

export const DOCS_PREFIX = '/docs'

// Only this origin: scripts and styles are files (swagger-ui sets styles through the DOM, which CSP allows),
// images may be data: URLs, try-it requests go back to the page's own server.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join('; ')

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
}

/**
 * The copy the page renders: the spec's server URL names one host and port, so the page points try-it
 * at the API path on whatever server it was loaded from instead.
 */
function docsDocument (document: OpenAPIV3.Document, basePath: string): OpenAPIV3.Document {
  return { ...structuredClone(document), servers: [{ url: basePath, description: 'This server' }] }
}

async function docsApp (document: OpenAPIV3.Document, routePrefix: string): Promise<FastifyInstance> {
  const [{ default: fastifySwagger }, { default: fastifySwaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')])
  const docs = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
  docs.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS)
  })
  await docs.register(fastifySwagger, { mode: 'static', specification: { document } })
  await docs.register(fastifySwaggerUi, {
    routePrefix,
    staticCSP: CONTENT_SECURITY_POLICY,
    // Said outright: swagger-ui's own default sends the spec to validator.swagger.io for a badge.
    validatorUrl: false,
    // BaseLayout: no top bar, whose logo is an SVG with an inline <style> the CSP refuses, and whose URL box
    // would load other specs into the page.
    uiConfig: { layout: 'BaseLayout', deepLinking: true, displayOperationId: true, displayRequestDuration: true },
    theme: { title: `Trackbot API ${document.info.version} reference` },
  })
  await docs.ready()
  return docs
}

// The docs app's own answer for the connection, not the page: the outer server sets these itself.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length'])

/** Where a contract version's reference page is. */
export const docsPath = (version: string) => `${DOCS_PREFIX}/${version}`

/** One contract version's served spec (`<basePath>/openapi.json|yaml`) and reference page (docsPath). */
function registerVersionDocs (fastify: FastifyInstance, basePath: string, source: SpecSource): void {
  registerSpecRoutes(fastify, basePath, source)
  const prefix = docsPath(source.version)
  let docs: Promise<FastifyInstance> | undefined
  // A page that failed to build is tried again on the next request instead of failing every one after it.
  const built = () => (docs ??= docsApp(docsDocument(source.document as OpenAPIV3.Document, basePath), prefix).catch((error: unknown) => {
    docs = undefined
    throw error
  }))
  async function forward (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const answer = await (await built()).inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers: request.headers })
    // Missing assets (and paths escaping them) are this server's 404, a problem like any other.
    if (answer.statusCode === 404) {
      reply.callNotFound()
      return reply
    }
    for (const [name, value] of Object.entries(answer.headers)) {
      if (!HOP_BY_HOP.has(name) && value !== undefined) reply.header(name, value)
    }
    return reply.code(answer.statusCode).send(answer.rawPayload)
  }
  // GET routes answer HEAD too.
  fastify.get(prefix, forward)
  fastify.get(`${prefix}/*`, forward)
}

/** Every contract version's docs, oldest first; /docs redirects to the newest's page. */
export async function registerDocs (fastify: FastifyInstance, contracts: ReadonlyArray<{ spec: SpecSource, basePath: string }>): Promise<void> {
  for (const { spec, basePath } of contracts) registerVersionDocs(fastify, basePath, spec)
  const newest = docsPath(contracts.at(-1)!.spec.version)
  fastify.get(DOCS_PREFIX, async (_request, reply) => reply.redirect(newest, 302))
}
