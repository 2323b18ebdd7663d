// One log line per request, written when the response is done, so a line carries what it cost.
// fastify's LogController is the documented place for this: replacing its two request lines keeps its
// other lines (stream errors, serializer failures) that disabling request logging would silence too.
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

export class RequestLog extends LogController {
  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // request.log is already bound to the request id (reqId).
    const line = {
      method: request.method,
      url: request.url,
      operationId: request.routeOptions.config.operationId,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    }
    if (error) request.log.error({ ...line, err: error }, 'request')
    else request.log.info(line, 'request')
  }
}
