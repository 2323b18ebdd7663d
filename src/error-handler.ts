// Every error fastify, the JSON parser, Prisma or our own code throws becomes one Problem shape.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PrismaClientKnownRequestError } from '@prisma/client/runtime/client'
import { httpProblem, problem, type Problem } from './problems.js'
import { sendProblem } from './reply.js'

/** Seconds a client should wait before retrying when the database is unavailable. */
const RETRY_AFTER_SECONDS = '1'

interface Mapped { problem: Problem, headers?: Record<string, string> }

function instanceOf (request: FastifyRequest): string {
  const query = request.url.indexOf('?')
  return query === -1 ? request.url : request.url.slice(0, query)
}

/** Fastify's own errors about the request: body parsing, limits, URLs. */
function fastifyProblem (error: FastifyError, instance: string): Mapped | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { problem: problem('payloadTooLarge', 'Request body is larger than 1048576 bytes.', instance) }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { problem: problem('unsupportedMediaType', 'Send the request body as application/json.', instance) }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { problem: problem('malformedJson', 'The request body is not valid JSON.', instance) }
    case 'FST_ERR_BAD_URL':
      return { problem: problem('badRequest', 'The URL is not valid: it has a malformed percent-encoding.', instance) }
  }
  // secure-json-parse throws SyntaxError for bad JSON and for __proto__ / constructor.prototype keys.
  if (error instanceof SyntaxError) {
    return { problem: problem('malformedJson', `The request body is not valid JSON: ${error.message}`.slice(0, 500), instance) }
  }
  const status = error.statusCode
  if (status !== undefined && status >= 400 && status < 500) return { problem: httpProblem(status, error.message, instance) }
  return undefined
}

const unavailable = (instance: string): Mapped => ({
  problem: problem('unavailable', 'The database is busy or unreachable; retry shortly.', instance),
  headers: { 'Retry-After': RETRY_AFTER_SECONDS },
})

// Socket errors, and SQLSTATE classes 08 (connection exception), 53 (insufficient resources) and
// 57P (operator intervention: shutdown, restart).
const CONNECTION_CODE = /^(E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|AI_AGAIN)|08...|53...|57P0[1-3])$/

/**
 * A connection that died while idle in the pool reaches Prisma's caller as the driver's own error,
 * not as a Prisma error code, so it is recognised by its code or pg's fixed message.
 */
function isConnectionLoss (error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  return (typeof code === 'string' && CONNECTION_CODE.test(code)) ||
    /^Connection terminated( unexpectedly| due to connection timeout)?$/.test(error.message)
}

/** Database errors that reach here without a repository expecting them, e.g. in a race with a delete. */
function databaseProblem (error: unknown, instance: string): Mapped | undefined {
  if (isConnectionLoss(error)) return unavailable(instance)
  if (!(error instanceof PrismaClientKnownRequestError)) return undefined
  switch (error.code) {
    case 'P2002':
      return { problem: problem('conflict', 'The request clashes with stored data.', instance) }
    case 'P2003':
    case 'P2025':
      return { problem: problem('notFound', 'A resource this request needs no longer exists.', instance) }
    // Unreachable, timed out, connection closed, pool timeout, write conflict or deadlock.
    case 'P1001': case 'P1002': case 'P1008': case 'P1017': case 'P2024': case 'P2034':
      return unavailable(instance)
  }
  return undefined
}

export function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const instance = instanceOf(request)
  // Router errors skip the onRequest hooks, so echo the request id here too.
  reply.header('X-Request-Id', request.id)
  const mapped = fastifyProblem(error, instance) ?? databaseProblem(error, instance)
  if (mapped !== undefined) {
    if (mapped.problem.status === 503) request.log.warn({ err: error }, 'database unavailable')
    return sendProblem(reply, mapped.problem, mapped.headers)
  }
  // Anything else is our bug: log it in full with the request id, tell the client nothing of it.
  request.log.error({ err: error }, 'unhandled error')
  return sendProblem(reply, problem('internal', `Something went wrong on our side; quote request id ${request.id} when reporting it.`, instance))
}

export function registerErrorHandling (fastify: FastifyInstance): void {
  fastify.setErrorHandler(handleError)
}
