// The spec the server runs, served at the API root so clients and tools can fetch the contract they talk to.
// These routes sit outside the spec itself: they describe the document, not an operation of it.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { noneMatches } from '../contract/etag.js'
import { problem } from '../contract/problems.js'
import { sendProblem } from '../contract/reply.js'
import type { SpecSource } from '../contract/spec.js'

interface Representation { body: Buffer, type: string, etag: string }

// Cheap to fetch again and rarely changed: caches keep it but ask before each use.
const CACHE_CONTROL = 'public, max-age=0, must-revalidate'
const ALLOWED = 'GET, HEAD'

function representation (body: Buffer, type: string): Representation {
  // A strong tag: a hash of the exact bytes served.
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url')}"` }
}

function serve (served: Representation) {
  return async function sendSpec (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.header('ETag', served.etag).header('Cache-Control', CACHE_CONTROL).header('X-Content-Type-Options', 'nosniff')
    if (noneMatches(request.headers['if-none-match'], served.etag)) return reply.code(304).send()
    return reply.type(served.type).send(served.body)
  }
}

/** Where the spec is served, under the API root: public even when the API needs tokens (src/http/auth.ts). */
export function specPaths (basePath: string) {
  return { json: `${basePath}/openapi.json`, yaml: `${basePath}/openapi.yaml` } as const
}

export function registerSpecRoutes (fastify: FastifyInstance, basePath: string, source: SpecSource): void {
  const paths = specPaths(basePath)
  const routes = {
    [paths.json]: representation(Buffer.from(JSON.stringify(source.document)), 'application/json; charset=utf-8'),
    [paths.yaml]: representation(source.yaml, 'application/yaml; charset=utf-8'),
  }
  for (const [url, served] of Object.entries(routes)) {
    fastify.get(url, serve(served))
    // Without this, other methods would fall to the API's router and be told no such path exists.
    // OPTIONS is left to CORS preflight handling.
    fastify.route({
      method: ['POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      handler: async (request, reply) => sendProblem(reply,
        problem('methodNotAllowed', `${request.method} is not allowed here; use ${ALLOWED}.`, url), { Allow: ALLOWED }),
    })
  }
}
