// /docs: the interactive API reference, rendered from the spec the server runs, with every asset served
// from installed packages so the page works offline and tells no third party it was opened.
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
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

async function docsPlugin (docs: FastifyInstance, options: { document: OpenAPIV3.Document }): Promise<void> {
  // Encapsulated: these headers and the swagger decorator stay with the docs routes.
  docs.addHook('onRequest', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS)
  })
  await docs.register(fastifySwagger, { mode: 'static', specification: { document: options.document } })
  await docs.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: CONTENT_SECURITY_POLICY,
    // Said outright: swagger-ui's own default sends the spec to validator.swagger.io for a badge.
    validatorUrl: false,
    // BaseLayout: no top bar, whose logo is an SVG with an inline <style> the CSP refuses, and whose URL box
    // would load other specs into the page.
    uiConfig: { layout: 'BaseLayout', deepLinking: true, displayOperationId: true, displayRequestDuration: true },
    theme: { title: 'Trackbot API reference' },
  })
}

/** The served spec (`<basePath>/openapi.json|yaml`) and the reference page at /docs. */
export async function registerDocs (fastify: FastifyInstance, basePath: string, source: SpecSource): Promise<void> {
  registerSpecRoutes(fastify, basePath, source)
  await fastify.register(docsPlugin, { document: docsDocument(source.document as OpenAPIV3.Document, basePath) })
}
