// Sending results and problems: the only place that writes API responses.
import type { FastifyReply } from 'fastify'
import type { AnyResult } from './handler-types.js'
import { ChunkedArray, chunkedArrayStream } from './chunked-body.js'
import { NdjsonLines, ndjsonStream } from './ndjson-body.js'
import { PROBLEM_CONTENT_TYPE, type Problem, type ProblemAnswer } from './problems.js'
import type { StoredAnswer } from '../store/idempotency-keys.js'

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8'
const NDJSON_CONTENT_TYPE = 'application/x-ndjson; charset=utf-8'

/** The headers each reply's result set, so an error that replaces the result can take them back. */
const resultHeaders = new WeakMap<FastifyReply, string[]>()

/**
 * On every API answer, success or problem: its JSON is read as JSON only (no MIME sniffing into HTML), and
 * it describes data that changes with each write, so no cache may keep it. The spec routes and /docs set
 * their own, revalidated, caching.
 */
const API_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' } as const

export function sendResult (reply: FastifyReply, result: AnyResult): FastifyReply {
  reply.code(result.status)
  reply.headers(API_HEADERS)
  const names: string[] = []
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    if (value !== undefined) {
      reply.header(name, value)
      names.push(name)
    }
  }
  resultHeaders.set(reply, names)
  if (result.status >= 400) reply.type(PROBLEM_CONTENT_TYPE)
  if (result.body instanceof ChunkedArray) {
    // The type fastify gives a body it serializes; the serializer is the route's, compiled for this status.
    reply.type(JSON_CONTENT_TYPE)
    // Typed by fastify as taking an object; the route's schema for this status is an array.
    const compiled = reply.getSerializationFunction(String(result.status)) as ((items: unknown[]) => string) | undefined
    const serialize = compiled ?? ((items: unknown[]) => JSON.stringify(items))
    return reply.send(chunkedArrayStream(result.body, serialize))
  }
  if (result.body instanceof NdjsonLines) {
    reply.type(NDJSON_CONTENT_TYPE)
    // The route's serializer for this status is the line's (routes.ts, successBodySchemas).
    const compiled = reply.getSerializationFunction(String(result.status)) as ((line: unknown) => string) | undefined
    return reply.send(ndjsonStream(result.body, compiled ?? JSON.stringify))
  }
  return result.body === undefined ? reply.send() : reply.send(result.body)
}

/**
 * Sends an answer already serialized (an Idempotency-Key's, src/contract/idempotency.ts) as it is: the same
 * bytes, status and headers each time, under the content type sendResult gives the same status.
 */
export function sendSerialized (reply: FastifyReply, answer: StoredAnswer, headers: Record<string, string>): FastifyReply {
  // A string body goes out unserialized once its type is set; fastify adds the charset, as it does to objects.
  if (answer.status < 400 && answer.body !== '') reply.type('application/json')
  return sendResult(reply, { status: answer.status, headers: { ...answer.headers, ...headers }, body: answer.body === '' ? undefined : answer.body })
}

export function sendProblem (reply: FastifyReply, body: Problem, headers?: Record<string, string>): FastifyReply {
  return sendResult(reply, { status: body.status, body, headers })
}

export function sendProblemAnswer (reply: FastifyReply, { problem, headers }: ProblemAnswer): FastifyReply {
  return sendProblem(reply, problem, headers)
}

/**
 * Removes the headers a result set on this reply, e.g. `Location` after a create whose body then failed to
 * serialize: the error answer that replaces it describes no created resource. Headers the platform set
 * (X-Request-Id, CORS, Connection) stay.
 */
export function dropResultHeaders (reply: FastifyReply): void {
  for (const name of resultHeaders.get(reply) ?? []) reply.removeHeader(name)
  resultHeaders.delete(reply)
}
