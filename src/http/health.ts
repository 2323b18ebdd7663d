// Liveness and readiness, outside the versioned API so load balancers need not know its version.
import type { FastifyInstance } from 'fastify'
import type { Database } from '../store/database.js'
import { problem, RETRY_AFTER_SECONDS } from '../contract/problems.js'
import { sendProblem } from '../contract/reply.js'

export function registerHealthRoutes (fastify: FastifyInstance, database: Database): void {
  fastify.get('/healthz', async () => ({ status: 'ok' }))

  fastify.get('/readyz', async (request, reply) => {
    if (await database.isReady()) return { status: 'ready' }
    return sendProblem(reply, problem('unavailable', 'The database is unreachable or not fully migrated.', '/readyz'), { 'Retry-After': RETRY_AFTER_SECONDS })
  })
}
