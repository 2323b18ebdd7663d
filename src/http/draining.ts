// While the server drains (SIGTERM, then close), requests that still reach it, pipelined or on a busy
// keep-alive connection, are turned away with the API's own 503 problem, so a client or load balancer
// retries them elsewhere. fastify's built-in return503OnClosing answers with a body of its own shape.
import type { FastifyInstance } from 'fastify'
import { unavailable } from '../contract/problems.js'
import { sendProblemAnswer } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'

export function registerDraining (fastify: FastifyInstance): void {
  let draining = false
  fastify.addHook('preClose', async () => {
    draining = true
  })
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!draining) return done()
    reply.header('Connection', 'close')
    // Answered here: not calling done ends the request's hooks.
    sendProblemAnswer(reply, unavailable('The server is shutting down; retry the request.', requestPath(request)))
  })
}
