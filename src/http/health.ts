// Liveness and readiness, outside the versioned API so load balancers need not know its version; and
// the API's answer while the store is still opening.
import type { FastifyInstance } from 'fastify'
import type { Database } from '../store/database.js'
import { STORAGE_RETRY_AFTER_SECONDS, unavailable } from '../contract/problems.js'
import { sendProblemAnswer } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/**
 * How long a refused write (507, the store's disk full) keeps the server unready. The answers themselves say
 * whether the store can write: no probe is cheap on both stores (a write that proves space must be committed).
 * A write that succeeds makes it ready again at once; but a server out of rotation gets no writes, so the mark
 * also lapses after the 507's Retry-After, and the next refused write sets it again.
 */
const STORAGE_FULL_UNREADY_MS = Number(STORAGE_RETRY_AFTER_SECONDS) * 1000

/** Liveness and readiness: answered even while the server sheds load (src/http/load-shedding.ts). */
export const HEALTH_PATHS = ['/healthz', '/readyz'] as const

export function registerHealthRoutes (fastify: FastifyInstance, database: Database): void {
  let storageFullUntil = 0
  fastify.addHook('onSend', (request, reply, _payload, done) => {
    if (reply.statusCode === 507) storageFullUntil = Date.now() + STORAGE_FULL_UNREADY_MS
    else if (WRITES.has(request.method) && reply.statusCode < 300) storageFullUntil = 0
    done()
  })

  fastify.get(HEALTH_PATHS[0], async () => ({ status: 'ok' }))

  fastify.get(HEALTH_PATHS[1], async (request, reply) => {
    if (Date.now() < storageFullUntil) {
      return sendProblemAnswer(reply, unavailable('The database has no space left for writes.', '/readyz', STORAGE_RETRY_AFTER_SECONDS))
    }
    if (await database.isReady()) return { status: 'ready' }
    return sendProblemAnswer(reply, unavailable('The database is unreachable or not fully migrated.', '/readyz'))
  })
}

/**
 * The server listens before its store is open (a PostgreSQL that starts alongside it is waited for):
 * meanwhile operations answer 503 with Retry-After at once, rather than hang or fail on missing tables.
 */
export function registerOpeningGate (fastify: FastifyInstance, database: Database): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (database.isOpen() || request.routeOptions.config.operationId === undefined) return done()
    // Answered here: not calling done ends the request's hooks.
    sendProblemAnswer(reply, unavailable('The server is starting and its database is not ready yet; retry shortly.', requestPath(request)))
  })
}
