// Sending results and problems: the only place that writes API responses.
import type { FastifyReply } from 'fastify'
import type { AnyResult } from './handler-types.js'
import { PROBLEM_CONTENT_TYPE, type Problem } from './problems.js'

export function sendResult (reply: FastifyReply, result: AnyResult): FastifyReply {
  reply.code(result.status)
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (value !== undefined) reply.header(name, value)
  }
  if (result.status >= 400) reply.type(PROBLEM_CONTENT_TYPE)
  return result.body === undefined ? reply.send() : reply.send(result.body)
}

export function sendProblem (reply: FastifyReply, body: Problem, headers?: Record<string, string>): FastifyReply {
  return sendResult(reply, { status: body.status, body, headers })
}
