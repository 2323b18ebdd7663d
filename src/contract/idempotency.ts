// Idempotency-Key (the IETF httpapi draft "The Idempotency-Key HTTP Header Field") on every operation whose
// spec declares the header parameter, with no list here (its repository's write must store keys: a keyed
// request whose write stored none is a 500, not an unkeyed answer). The first request with a key has its
// write store the key with the rows it wrote, in the write's own statement (src/store/idempotency-keys.ts);
// a retry with the same key and request finds the key taken, its handler gets those rows instead of writing,
// and so makes the first answer again, byte for byte. An answer that wrote nothing (a 404, a 409) is stored
// as it was sent. The same key with another request is a 422.
import { hash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Operation } from 'openapi-backend'
import { KeyHeld, RequestKey, type IdempotencyKeyStore, type StoredAnswer } from '../store/idempotency-keys.js'
import type { AnyResult } from './handler-types.js'
import { problem } from './problems.js'
import { sendProblem, sendResult, sendSerialized } from './reply.js'

export const IDEMPOTENCY_KEY = 'Idempotency-Key'

/** What a replayed answer carries beside the first answer's own headers (Stripe's name for it). */
export const REPLAYED_HEADER = 'Idempotent-Replayed'
const REPLAYED = { [REPLAYED_HEADER]: 'true' }

/** A result made again from the rows a key holds: the first answer, marked as a replay. */
const replay = (reply: FastifyReply, result: AnyResult) => sendResult(reply, { ...result, headers: { ...result.headers, ...REPLAYED } })

/** A request carrying a key, taken before validation; answered once validation has passed the key's format. */
export interface KeyedRequest {
  /**
   * Answers it: `run`'s result, its handler run on repositories given the key (whose create stores the key
   * with its rows, or answers from the rows it holds), or the key's stored answer, or a 422.
   */
  answer (reply: FastifyReply, run: (key: RequestKey) => Promise<AnyResult>): Promise<FastifyReply>
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
          const key = new RequestKey(scope, fingerprint)
          try {
            const result = await run(key)
            // The key held this request's rows, which its create returned in place of writing: the first answer, made again.
            if (key.taken !== undefined) return replay(reply, result)
            if (result.status >= 400) {
              // Nothing written (the handler's own 404 or 409): the answer is kept as sent, unless a request with the
              // key got there first (its write committed after this one failed: a replay of a create_user whose
              // email its first request took, say); the handler then answers from what the key holds.
              const answer = serialize(reply, result)
              return await keys.storeAnswer(key, answer) ? sendSerialized(reply, answer, {}) : replay(reply, await run(key))
            }
            // The spec gave this operation the header, but its write does not store keys: retries would write
            // again. Loud, so that a spec edit the store does not follow fails its first keyed request and test.
            if (!key.stored) throw new Error(`${operationId} declares ${IDEMPOTENCY_KEY} but its write stored no key: its repository must write through writeWith or writeBatch (src/store/idempotency-keys.ts)`)
            return sendResult(reply, result)
          } catch (error) {
            // The key is another request's, or holds the answer of this one that wrote nothing.
            if (!(error instanceof KeyHeld)) throw error
            if (error.answer === undefined) {
              return sendProblem(reply, problem('idempotencyKeyReused', `This ${IDEMPOTENCY_KEY} was used with another request; use a new key for a new request.`, path))
            }
            return sendSerialized(reply, error.answer, REPLAYED)
          }
        },
      }
    },
  }
}
