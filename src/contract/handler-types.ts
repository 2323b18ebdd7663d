// Handler types derived from a contract version's generated `operations`: a missing handler, an undocumented
// status, a missing required header, a body of the wrong shape or a plain handler for a keyed operation fails to
// compile.
import type { IdempotencyKey, Keyed, KeyedIf } from '../store/idempotency-keys.js'
import type { ChunkedArray } from './chunked-body.js'
import type { NdjsonLines } from './ndjson-body.js'
import type { IDEMPOTENCY_KEY, REPLAYED_HEADER } from './idempotency-headers.js'

interface Operation {
  parameters: { path?: unknown, query?: unknown, header?: unknown }
  requestBody?: unknown
  responses: object
}

/** `never` (no such part) becomes an empty object, so handlers can always destructure. */
type Part<T> = [NonNullable<T>] extends [never] ? Record<string, never> : NonNullable<T>

/** application/json and the +json structured suffixes (problem+json, merge-patch+json…), as src/http/content-types.ts parses them. */
type JsonMediaType = 'application/json' | `application/${string}+json`

/** The body of any JSON media type a content map declares; `never` when it declares none. */
type JsonOf<Content> = Content[Extract<keyof Content, JsonMediaType>]

/** An application/x-ndjson request body, parsed into its lines' values (src/http/content-types.ts); `never` when there is none. */
type NdjsonLinesOf<Content> = 'application/x-ndjson' extends keyof Content ? Array<Content['application/x-ndjson' & keyof Content]> : never

/** The body of any media type a content map declares, as parsed. */
type ParsedOf<Content> = JsonOf<Content> | NdjsonLinesOf<Content>

type RequestBody<Op extends Operation> = [NonNullable<Op['requestBody']>] extends [never]
  ? undefined
  : Op extends { requestBody: { content: infer C } }
    ? ParsedOf<C>
    : ParsedOf<NonNullable<Op['requestBody']> extends { content: infer C } ? C : never> | undefined

export interface RequestOf<Op extends Operation> {
  params: Part<Op['parameters']['path']>
  query: Part<Op['parameters']['query']>
  /** The header parameters the operation declares, by their names in the spec; absent ones undefined. */
  headers: Part<Op['parameters']['header']>
  body: RequestBody<Op>
}

/** Response headers the platform sets, never a handler: src/contract/idempotency.ts marks replays. */
type PlatformHeader = typeof REPLAYED_HEADER

/** Drops the `[name: string]: unknown` index signature openapi-typescript adds to headers, and the platform's headers. */
type NamedKeys<T> = { [K in keyof T as string extends K ? never : K extends PlatformHeader ? never : K]: T[K] }

type HeadersPart<R> = R extends { headers: infer H }
  ? (keyof NamedKeys<H> extends never
      ? unknown
      : Record<string, never> extends NamedKeys<H> ? { headers?: NamedKeys<H> } : { headers: NamedKeys<H> })
  : unknown

/** An array body may also come in chunks (a full list read from one snapshot: chunked-body.ts). */
type BodyOf<B> = B extends Array<infer Item> ? B | ChunkedArray<Item> : B

/** An application/x-ndjson body: its lines, each the schema's object, streamed (ndjson-body.ts); `never` when there is none. */
type NdjsonOf<Content> = 'application/x-ndjson' extends keyof Content ? NdjsonLines<Content['application/x-ndjson' & keyof Content]> : never

type BodyPart<R> = R extends { content: infer C } ? { body: BodyOf<JsonOf<C>> | NdjsonOf<C> } : { body?: undefined }

/**
 * Statuses the platform answers with, never a handler: 401, 403 and 429 (authentication, access, rate limits), 413
 * and 415 (body parsing), 422 (Idempotency-Key reuse, src/contract/idempotency.ts), 500, 503 (the database
 * unavailable, the server starting, draining or overloaded) and 507 (the disk full), from the error handler and the
 * request hooks.
 */
type PlatformStatus = 401 | 403 | 413 | 415 | 422 | 429 | 500 | 503 | 507

type HandlerStatus<Op extends Operation> = Exclude<keyof Op['responses'], PlatformStatus>

export type ResultOf<Op extends Operation> = {
  [S in HandlerStatus<Op>]: { status: S } & BodyPart<Op['responses'][S]> & HeadersPart<Op['responses'][S]>
}[HandlerStatus<Op>]

export interface HandlerContext {
  /** The request path, for `Location`-style links and problem `instance`s. */
  path: string
}

export type Handler<Op extends Operation> = (request: RequestOf<Op>, context: HandlerContext) => Promise<ResultOf<Op>>

/**
 * The handler of an operation whose spec declares the Idempotency-Key header: the write the key guards, and the
 * answer to what it wrote. Apart, so that src/contract/idempotency.ts answers the write's outcome, and what a
 * request with the same key wrote meanwhile, from the one answer, without running the write again. Typed by the
 * request it takes and the result it gives, so one written for several versions' operations fits each of them.
 */
export interface KeyedHandler<Request, T, Result> {
  /** The repository's write, given the request's key (undefined when the request sends none). */
  write<K extends IdempotencyKey | undefined> (request: Request, key: K): Promise<KeyedIf<K, T>>
  /** The answer to the value a write returned: the same value gets the same answer, whenever it is asked. */
  answer (value: T, request: Request, context: HandlerContext): Result
}

/**
 * A KeyedHandler. Its answer's value is annotated, as the write's generic signature gives TypeScript nothing to
 * infer it from, and the write is checked against it.
 */
export function keyed<Request, T, Result> (write: KeyedHandler<Request, T, Result>['write'], answer: KeyedHandler<Request, T, Result>['answer']): KeyedHandler<Request, T, Result> {
  return { write, answer }
}

/** The names of the header parameters an operation declares; never when it declares none. */
type HeaderNames<Op extends Operation> = [NonNullable<Op['parameters']['header']>] extends [never] ? never : keyof NonNullable<Op['parameters']['header']>

/** Operations whose spec declares the Idempotency-Key header. */
type KeyedOperationId<Ops> = { [Id in keyof Ops]: Ops[Id] extends Operation ? typeof IDEMPOTENCY_KEY extends HeaderNames<Ops[Id]> ? Id : never : never }[keyof Ops]

/**
 * The handlers of one contract version, its generated `operations`. An operation with the Idempotency-Key header
 * takes a KeyedHandler: once the types are generated from a spec that gives an operation the header, its plain
 * handler no longer compiles.
 */
export type Handlers<Ops> = {
  [Id in keyof Ops]: Ops[Id] extends Operation
    ? Id extends KeyedOperationId<Ops> ? KeyedHandler<RequestOf<Ops[Id]>, unknown, ResultOf<Ops[Id]>> : Handler<Ops[Id]>
    : never
}

/** What the routing layer sees of any handler's result. */
export interface AnyResult {
  status: number
  body?: unknown
  headers?: Record<string, string | undefined>
}

/** What the routing layer sees of any handler. */
export type AnyHandler = (request: unknown, context: HandlerContext) => Promise<AnyResult>

/** What the routing layer sees of any keyed handler. */
export interface AnyKeyedHandler {
  write (request: unknown, key: undefined): Promise<unknown>
  write (request: unknown, key: IdempotencyKey): Promise<Keyed<unknown>>
  answer (value: unknown, request: unknown, context: HandlerContext): AnyResult
}
