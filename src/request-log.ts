// One log line per request, written when the response is done, so a line carries what it cost.
import type { FastifyInstance } from 'fastify'

export function registerRequestLog (fastify: FastifyInstance): void {
  fastify.addHook('onResponse', async (request, reply) => {
    // request.log is already bound to the request id (reqId).
    request.log.info({
      method: request.method,
      url: request.url,
      operationId: request.routeOptions.config.operationId,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    }, 'request')
  })
}
