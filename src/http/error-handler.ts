// Every error fastify, the JSON parser, Prisma or our own code throws becomes one Problem shape.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { databaseErrorKind } from '../store/prisma-errors.js'
import { httpProblem, INVALID_REQUEST, problem, storageFull, unavailable, type ProblemAnswer } from '../contract/problems.js'
import { dropResultHeaders, sendProblem, sendProblemAnswer } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'
import { InvalidBodyError, NotUtf8Error, UnsupportedCharsetError } from './content-types.js'
import { BODY_LIMIT_BYTES } from './limits.js'
import { TooManyRequests } from './rate-limit.js'

/** Fastify's own errors about the request: body parsing, limits, URLs. */
function fastifyProblem (error: FastifyError, instance: string, bodyLimit: number): ProblemAnswer | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { problem: problem('payloadTooLarge', `Request body is larger than ${bodyLimit} bytes.`, instance) }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { problem: problem('unsupportedMediaType', 'Send the request body as JSON: application/json, or another JSON media type the operation declares in the spec.', instance) }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { problem: problem('malformedJson', 'The request body is not valid JSON.', instance) }
    case 'FST_ERR_BAD_URL':
      return { problem: problem('badRequest', 'The URL is not valid: it has a malformed percent-encoding.', instance) }
  }
  if (error instanceof UnsupportedCharsetError) {
    return { problem: problem('unsupportedMediaType', `Send the request body as UTF-8 JSON, not charset ${error.charset}.`, instance) }
  }
  // Its RateLimit and Retry-After headers are on the reply already.
  if (error instanceof TooManyRequests) return { problem: problem('tooManyRequests', error.message, instance) }
  if (error instanceof NotUtf8Error) return { problem: problem('malformedJson', 'The request body is not valid UTF-8, so it is not JSON.', instance) }
  if (error instanceof InvalidBodyError) return { problem: problem('validation', INVALID_REQUEST, instance, error.errors) }
  // secure-json-parse's SyntaxError for bad JSON (its __proto__ / constructor.prototype refusals are InvalidBodyError).
  if (error instanceof SyntaxError) {
    return { problem: problem('malformedJson', `The request body is not valid JSON: ${error.message}`, instance) }
  }
  const status = error.statusCode
  if (status !== undefined && status >= 400 && status < 500) return { problem: httpProblem(status, error.message, instance) }
  return undefined
}

/** Database errors that reach here without a repository expecting them, e.g. in a race with a delete. */
function databaseProblem (error: unknown, instance: string): ProblemAnswer | undefined {
  switch (databaseErrorKind(error)) {
    case 'unique':
      return { problem: problem('conflict', 'The request clashes with stored data.', instance) }
    case 'foreignKey':
    case 'notFound':
      return { problem: problem('notFound', 'A resource this request needs no longer exists.', instance) }
    case 'unavailable':
      return unavailable('The database is busy or unreachable; retry shortly.', instance)
    case 'storageFull':
      return storageFull('The database has no space left for this write; nothing was stored.', instance)
  }
  return undefined
}

export function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const instance = requestPath(request)
  // An error after the handler (its result failed to serialize) answers instead of that result, without its headers.
  dropResultHeaders(reply)
  // Router errors skip the onRequest hooks, so echo the request id here too.
  reply.header('X-Request-Id', request.id)
  // The route's own limit (an import takes more); the app's for a request no route took.
  const mapped = fastifyProblem(error, instance, request.routeOptions?.bodyLimit ?? BODY_LIMIT_BYTES) ?? databaseProblem(error, instance)
  if (mapped !== undefined) {
    if (mapped.problem.status === 503) request.log.warn({ err: error }, 'database unavailable')
    if (mapped.problem.status === 507) request.log.error({ err: error }, 'database storage full')
    return sendProblemAnswer(reply, mapped)
  }
  // Anything else is our bug: log it in full with the request id, tell the client nothing of it.
  request.log.error({ err: error }, 'unhandled error')
  return sendProblem(reply, problem('internal', `Something went wrong on our side; quote request id ${request.id} when reporting it.`, instance))
}

export function registerErrorHandling (fastify: FastifyInstance): void {
  fastify.setErrorHandler(handleError)
}
