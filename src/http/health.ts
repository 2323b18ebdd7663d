// Liveness and readiness, outside the versioned API so load balancers need not know its version.
import type { FastifyInstance } from 'fastify'
import type { Database } from '../store/database.js'
import { problem, RETRY_AFTER_SECONDS } from '../contract/problems.js'
import { sendProblem } from '../contract/reply.js'

/** Liveness and readiness: answered even while the server sheds load (src/http/load-shedding.ts). */
export const HEALTH_PATHS = ['/healthz', '/readyz'] as const

export function registerHealthRoutes (fastify: FastifyInstance, database: Database): void {
  fastify.get(HEALTH_PATHS[0], async () => ({ status: 'ok' }))

  fastify.get(HEALTH_PATHS[1], async (request, reply) => {
    if (await database.isReady()) return { status: 'ready' }
    return sendProblem(reply, problem('unavailable', 'The database is unreachable or not fully migrated.', '/readyz'), { 'Retry-After': RETRY_AFTER_SECONDS })
  })
}
