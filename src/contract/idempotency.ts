// Idempotency-Key (the IETF httpapi draft "The Idempotency-Key HTTP Header Field") on every operation whose
// spec declares the header parameter: an operation gains safe retries by the spec alone, with no list here.
// The first request with a key is answered and its answer stored with the key, in the transaction of its
// write (src/store/idempotency-keys.ts); a retry with the same key and request gets that answer again, byte
// for byte; the same key with another request is a 422.
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Operation } from 'openapi-backend'
import type { IdempotencyKeyStore, StoredAnswer } from '../store/idempotency-keys.js'
import type { Db } from '../store/transaction.js'
import type { AnyResult } from './handler-types.js'
import { problem } from './problems.js'
import { sendProblem, sendSerialized } from './reply.js'

export const IDEMPOTENCY_KEY = 'Idempotency-Key'

/** What a replayed answer carries beside the first answer's own headers (Stripe's name for it). */
export const REPLAYED_HEADER = 'Idempotent-Replayed'

/** A request carrying a key, taken before validation; answered once validation has passed the key's format. */
export interface KeyedRequest {
  /**
   * Answers it: `run`'s result, run on the transaction that stores it with the key, or the key's stored
   * answer, or a 422.
   */
  answer (reply: FastifyReply, run: (tx: Db) => Promise<AnyResult>): Promise<FastifyReply>
}

export interface Idempotency {
  /**
   * The keyed request, when it sends the header; undefined without. Taken before validation, which coerces
   * the body in place: the fingerprint is of the body as sent.
   */
  take (request: FastifyRequest, path: string): KeyedRequest | undefined
}

/** The request a key binds: method, path and body as parsed (so JSON whitespace does not count), hashed. */
function fingerprintOf (method: string, path: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${path}\n${body === undefined ? '' : JSON.stringify(body)}`).digest('base64url')
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

/** The operation's idempotency, when its spec declares the Idempotency-Key header; undefined otherwise. */
export function idempotencyFor (operation: Operation, keys: IdempotencyKeyStore): Idempotency | undefined {
  const declared = (operation.parameters ?? []).some((parameter) =>
    'in' in parameter && parameter.in === 'header' && parameter.name.toLowerCase() === IDEMPOTENCY_KEY.toLowerCase())
  if (!declared) return undefined
  const operationId = String(operation.operationId)
  const headerName = IDEMPOTENCY_KEY.toLowerCase()

  return {
    take (request, path) {
      const header = request.headers[headerName]
      if (header === undefined) return undefined
      const fingerprint = fingerprintOf(request.method, path, request.body)
      const scope = { subject: subjectOf(request), operation: operationId, key: String(header) }
      return {
        async answer (reply, run) {
          const keyed = await keys.once(scope, fingerprint, async (tx) => serialize(reply, await run(tx)))
          if (keyed.fingerprint !== fingerprint) {
            return sendProblem(reply, problem('idempotencyKeyReused', `This ${IDEMPOTENCY_KEY} was used with another request; use a new key for a new request.`, path))
          }
          return sendSerialized(reply, keyed.answer, keyed.replayed ? { [REPLAYED_HEADER]: 'true' } : {})
        },
      }
    },
  }
}
