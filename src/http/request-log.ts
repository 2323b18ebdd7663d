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

  /**
   * A streamed body (a full list, src/contract/chunked-body.ts) failed after its status and first bytes were
   * sent: fastify destroys the connection, so the client sees a cut-off response; the cause is ours to log.
   * A client that went away first is no error of the server's.
   */
  override streamError (error: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply): void {
    if (error.code === 'ERR_STREAM_PREMATURE_CLOSE') request.log.info({ status: reply.statusCode }, 'response abandoned by the client')
    else request.log.error({ err: error, status: reply.statusCode }, 'response cut off: its body failed after the status was sent')
  }
}
