// Idempotency-Key (the IETF httpapi draft "The Idempotency-Key HTTP Header Field") on every operation whose spec
// declares the header parameter, with no list here: its handler must be keyed (handler-types.ts, KeyedHandler),
// and its write stores the key with the rows it wrote, in the write's own statement (src/store/keyed-writes.ts).
// A retry with the same key and request finds the key taken, writes nothing, and gets the first answer again, byte
// for byte, made from the rows the key holds. An answer that wrote nothing (a 404, a 409) is stored as it was sent.
// The same key with another request is a 422.
import { hash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Operation } from 'openapi-backend'
import type { IdempotencyKey, IdempotencyKeyStore, KeyHeld, StoredAnswer } from '../store/idempotency-keys.js'
import type { AnyHandler, AnyKeyedHandler, AnyResult, HandlerContext } from './handler-types.js'
import { IDEMPOTENCY_KEY, REPLAYED_HEADER } from './idempotency-headers.js'
import { problem } from './problems.js'
import { sendProblem, sendResult, sendSerialized } from './reply.js'

const REPLAYED = { [REPLAYED_HEADER]: 'true' }

/** A result made again from the rows a key holds: the first answer, marked as a replay. */
const replay = (reply: FastifyReply, result: AnyResult) => sendResult(reply, { ...result, headers: { ...result.headers, ...REPLAYED } })

export interface Idempotency {
  /**
   * The request's key when it sends the header, undefined without. Taken before validation, which coerces the
   * body in place: the fingerprint is of the body as sent.
   */
  keyOf (request: FastifyRequest, path: string): IdempotencyKey | undefined
  /** Answers a valid keyed request from its write's outcome, or from what its key holds. */
  answer (reply: FastifyReply, key: IdempotencyKey, request: unknown, context: HandlerContext): Promise<FastifyReply>
}

/** The request a key binds: method, path and body as parsed (so JSON whitespace does not count), hashed. */
function fingerprintOf (method: string, path: string, body: unknown): string {
  return hash('sha256', `${method} ${path}\n${body === undefined ? '' : JSON.stringify(body)}`, 'base64url')
}

/**
 * Whose key it is: the verified caller's (src/http/auth.ts), so two callers' keys never meet; anonymous
 * requests (AUTH_MODE=none) share one space per operation.
 */
function subjectOf (request: FastifyRequest): string {
  return request.identity?.subject ?? ''
}

/**
 * A result as the bytes it is sent as: a success body through the route's serializer, compiled from the
 * spec's schema (what fastify would use), a problem as JSON; the result's own headers, none undefined.
 */
function serialize (reply: FastifyReply, result: AnyResult): StoredAnswer {
  const headers = Object.fromEntries(Object.entries(result.headers ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined))
  if (result.body === undefined) return { status: result.status, headers, body: '' }
  const serializer = result.status < 400 ? reply.getSerializationFunction(String(result.status)) : undefined
  return { status: result.status, headers, body: serializer === undefined ? JSON.stringify(result.body) : serializer(result.body as Record<string, unknown>) }
}

/** The answer to what a key holds for a request: the first answer again, or a 422 for another request's key. */
function answerHeld<V> (reply: FastifyReply, held: KeyHeld<V>, answerOf: (value: V) => AnyResult, path: string): FastifyReply {
  switch (held.kind) {
    case 'rowsHeld': return replay(reply, answerOf(held.value))
    case 'answerHeld': return sendSerialized(reply, held.answer, REPLAYED)
    case 'otherRequest': return sendProblem(reply, problem('idempotencyKeyReused', `This ${IDEMPOTENCY_KEY} was used with another request; use a new key for a new request.`, path))
  }
}

/** The operation's idempotency, when its spec declares the Idempotency-Key header; undefined otherwise. */
export function idempotencyFor (operation: Operation, handler: AnyHandler | AnyKeyedHandler, keys: IdempotencyKeyStore): Idempotency | undefined {
  const declared = (operation.parameters ?? []).some((parameter) =>
    'in' in parameter && parameter.in === 'header' && parameter.name.toLowerCase() === IDEMPOTENCY_KEY.toLowerCase())
  if (!declared) return undefined
  const operationId = String(operation.operationId)
  const headerName = IDEMPOTENCY_KEY.toLowerCase()

  return {
    keyOf (request, path) {
      const header = request.headers[headerName]
      if (header === undefined) return undefined
      return { subject: subjectOf(request), operation: operationId, value: String(header), fingerprint: fingerprintOf(request.method, path, request.body) }
    },

    async answer (reply, key, request, context) {
      // The spec gave this operation the header, but its handler stores no keys (handlers.ts would not compile against
      // the types generated from such a spec): retries would write again. Loud, so that such a spec fails its first
      // keyed request and test, rather than answering unkeyed.
      if (typeof handler === 'function') throw new Error(`${operationId} declares ${IDEMPOTENCY_KEY} but its handler is not keyed: its write must store the key (src/contract/handler-types.ts, KeyedHandler)`)
      const answerOf = (value: unknown) => handler.answer(value, request, context)
      const outcome = await handler.write(request, key)
      switch (outcome.kind) {
        case 'written': return sendResult(reply, answerOf(outcome.value))
        case 'nothingWritten': {
          // The handler's own 404 or 409: the answer is kept as sent, unless the key holds something already: what an
          // earlier request with the key wrote, when this write failed before reaching the key (SQLite checks a foreign
          // key first: a retry after the user was deleted), or what a concurrent one stored meanwhile. The answer is
          // then what the key holds, made from its rows as any replay is, without running the write again.
          const answer = serialize(reply, answerOf(outcome.value))
          const stored = await keys.storeAnswer(key, answer)
          if (stored.kind === 'answerStored') return sendSerialized(reply, answer, {})
          return answerHeld(reply, stored, (rows) => answerOf(outcome.held(rows)), context.path)
        }
        case 'rowsHeld': case 'answerHeld': case 'otherRequest': return answerHeld(reply, outcome, answerOf, context.path)
        default: throw new Error(`${operationId}'s keyed write returned no key outcome: it must write through writeWith or writeBatch (src/store/keyed-writes.ts)`)
      }
    },
  }
}
