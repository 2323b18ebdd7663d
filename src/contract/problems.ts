// Every error the API can answer with, in one place: one RFC 9457 shape for all of them.
import { STATUS_CODES } from 'node:http'
// Every version's Problem is the same schema (test/versions.test.ts).
import type { components } from '../../generated/v2.js'
import { committedSpec, problemBounds } from './spec.js'

export type Problem = components['schemas']['Problem']
export type ProblemError = components['schemas']['ProblemError']

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/**
 * Every problem is clipped to these, so none outgrows its schema whatever it echoes of the request. The committed
 * spec's: a spec the app is given instead (tests' variants) keeps the Problem schemas.
 */
const BOUNDS = problemBounds(committedSpec('v2').document)

/** The `Retry-After` of a 503: seconds a client should wait (the database unavailable, the server draining or not ready). */
const RETRY_AFTER_SECONDS = '1'

/** The `Retry-After` of every 507: a full disk is not freed within a second, so clients need not knock every second. */
export const STORAGE_RETRY_AFTER_SECONDS = '30'

const problemKinds = {
  validation: { status: 400, slug: 'validation-error' },
  malformedJson: { status: 400, slug: 'malformed-json' },
  badRequest: { status: 400, slug: 'bad-request' },
  unauthorized: { status: 401, slug: 'unauthorized' },
  insufficientScope: { status: 403, slug: 'insufficient-scope' },
  notFound: { status: 404, slug: 'not-found' },
  routeNotFound: { status: 404, slug: 'route-not-found' },
  methodNotAllowed: { status: 405, slug: 'method-not-allowed' },
  conflict: { status: 409, slug: 'conflict' },
  preconditionFailed: { status: 412, slug: 'precondition-failed' },
  payloadTooLarge: { status: 413, slug: 'payload-too-large' },
  unsupportedMediaType: { status: 415, slug: 'unsupported-media-type' },
  idempotencyKeyReused: { status: 422, slug: 'idempotency-key-reused' },
  tooManyRequests: { status: 429, slug: 'too-many-requests' },
  internal: { status: 500, slug: 'internal-error' },
  unavailable: { status: 503, slug: 'service-unavailable' },
  storageFull: { status: 507, slug: 'insufficient-storage' },
} as const

export type ProblemKind = keyof typeof problemKinds

/** The detail of every `validation` problem about a request; its errors say where. */
export const INVALID_REQUEST = 'The request does not match the API contract.'

/** The path ids an operation names its resource by (the spec's path parameters). */
export interface ResourceIds { userId?: number, conversationId?: number, messageId?: number }

/** What a 404 says about the resource `ids` name, by the innermost of them. */
function notFoundDetail ({ userId, conversationId, messageId }: ResourceIds): string {
  if (messageId !== undefined) return `Conversation ${conversationId} has no message ${messageId}.`
  if (conversationId !== undefined) return `Conversation ${conversationId} does not exist.`
  return `User ${userId} does not exist.`
}

const clippedError = ({ in: where, pointer, detail }: ProblemError): ProblemError =>
  ({ in: where, pointer: clip(pointer, BOUNDS.errorPointer), detail: clip(detail, BOUNDS.errorDetail) })

export function problem (kind: ProblemKind, detail: string, instance: string, errors?: ProblemError[]): Problem {
  const { status, slug } = problemKinds[kind]
  const body: Problem = {
    type: `urn:trackbot:problem:${slug}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: clip(detail, BOUNDS.detail),
    instance: clip(instance, BOUNDS.instance),
  }
  if (errors !== undefined && errors.length > 0) body.errors = errors.slice(0, BOUNDS.errors).map(clippedError)
  return body
}

/** A problem and the headers it is sent with. */
export interface ProblemAnswer {
  problem: Problem
  headers?: Record<string, string>
}

/**
 * A 503 and the Retry-After every 503 carries: RETRY_AFTER_SECONDS, or `retryAfterS` when what has to pass takes
 * longer (a full disk: STORAGE_RETRY_AFTER_SECONDS).
 */
export function unavailable (detail: string, instance: string, retryAfterS = RETRY_AFTER_SECONDS): ProblemAnswer {
  return { problem: problem('unavailable', detail, instance), headers: { 'Retry-After': retryAfterS } }
}

/** A 507 and its Retry-After. */
export function storageFull (detail: string, instance: string): ProblemAnswer {
  return { problem: problem('storageFull', detail, instance), headers: { 'Retry-After': STORAGE_RETRY_AFTER_SECONDS } }
}

/**
 * The 404 for `ids`: the handlers' answer for a row that is not there and src/contract/access.ts's for one that
 * is not the caller's are this one result, so a client cannot tell the two apart.
 */
export const notFound = (ids: ResourceIds, instance: string) => ({ status: 404, body: problem('notFound', notFoundDetail(ids), instance) }) as const

/**
 * For HTTP errors we have no kind of our own for (a 414 from the router, say): RFC 9457's
 * "about:blank" type, whose title is the status phrase.
 */
export function httpProblem (status: number, detail: string, instance: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail: clip(detail, BOUNDS.detail), instance: clip(instance, BOUNDS.instance) }
}

/** Bounds what we echo back from a request, so a problem never outgrows its schema. */
function clip (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}
