// Liveness and readiness, outside the versioned API so load balancers need not know its version; and
// the API's answer while the store is still opening.
import type { FastifyInstance } from 'fastify'
import type { Database } from '../store/database.js'
import { problem, RETRY_AFTER_SECONDS } from '../contract/problems.js'
import { sendProblem } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'

export function registerHealthRoutes (fastify: FastifyInstance, database: Database): void {
  fastify.get('/healthz', async () => ({ status: 'ok' }))

  fastify.get('/readyz', async (request, reply) => {
    if (await database.isReady()) return { status: 'ready' }
    return sendProblem(reply, problem('unavailable', 'The database is unreachable or not fully migrated.', '/readyz'), { 'Retry-After': RETRY_AFTER_SECONDS })
  })
}

/**
 * The server listens before its store is open (a PostgreSQL that starts alongside it is waited for):
 * meanwhile operations answer 503 with Retry-After at once, rather than hang or fail on missing tables.
 */
export function registerOpeningGate (fastify: FastifyInstance, database: Database): void {
  fastify.addHook('onRequest', async (request, reply) => {
    if (database.isOpen() || request.routeOptions.config.operationId === undefined) return
    return sendProblem(reply, problem('unavailable', 'The server is starting and its database is not ready yet; retry shortly.', requestPath(request)), { 'Retry-After': RETRY_AFTER_SECONDS })
  })
}
