// While the server drains (SIGTERM, then close), requests that still reach it, pipelined or on a busy
// keep-alive connection, are turned away with the API's own 503 problem, so a client or load balancer
// retries them elsewhere. fastify's built-in return503OnClosing answers with a body of its own shape.
// A keep-alive connection whose request was in flight when closing began goes idle only once that request is
// answered, after server.close() closed the connections idle at that moment: without closing those too,
// close() would wait out each one's keep-alive timeout before the process could exit.
import type { FastifyInstance } from 'fastify'
import { unavailable } from '../contract/problems.js'
import { sendProblemAnswer } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'

/** How often, while draining, connections that have gone idle since are closed. */
const IDLE_SWEEP_MS = 50

export function registerDraining (fastify: FastifyInstance): void {
  let draining = false
  fastify.addHook('preClose', async () => {
    draining = true
    if (!fastify.server.listening) return
    // Polled rather than hooked per response, so requests served before closing pay nothing for it.
    const sweep = setInterval(() => fastify.server.closeIdleConnections(), IDLE_SWEEP_MS).unref()
    fastify.server.once('close', () => clearInterval(sweep))
  })
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!draining) return done()
    reply.header('Connection', 'close')
    // Answered here: not calling done ends the request's hooks.
    sendProblemAnswer(reply, unavailable('The server is shutting down; retry the request.', requestPath(request)))
  })
}
