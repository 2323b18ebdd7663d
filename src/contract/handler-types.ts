// Handler types derived from the generated `operations`: a missing handler, an undocumented
// status, a missing required header or a body of the wrong shape fails to compile.
import type { operations } from '../../generated/trackbot.js'
import type { ChunkedArray } from './chunked-body.js'

export type OperationId = keyof operations

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

type RequestBody<Op extends Operation> = [NonNullable<Op['requestBody']>] extends [never]
  ? undefined
  : Op extends { requestBody: { content: infer C } }
    ? JsonOf<C>
    : JsonOf<NonNullable<Op['requestBody']> extends { content: infer C } ? C : never> | undefined

export interface RequestOf<Op extends Operation> {
  params: Part<Op['parameters']['path']>
  query: Part<Op['parameters']['query']>
  /** The header parameters the operation declares, by their names in the spec; absent ones undefined. */
  headers: Part<Op['parameters']['header']>
  body: RequestBody<Op>
}

/** Response headers the platform sets, never a handler: src/contract/idempotency.ts marks replays. */
type PlatformHeader = 'Idempotent-Replayed'

/** Drops the `[name: string]: unknown` index signature openapi-typescript adds to headers, and the platform's headers. */
type NamedKeys<T> = { [K in keyof T as string extends K ? never : K extends PlatformHeader ? never : K]: T[K] }

type HeadersPart<R> = R extends { headers: infer H }
  ? (keyof NamedKeys<H> extends never
      ? unknown
      : Record<string, never> extends NamedKeys<H> ? { headers?: NamedKeys<H> } : { headers: NamedKeys<H> })
  : unknown

/** An array body may also come in chunks (a full list read from one snapshot: chunked-body.ts). */
type BodyOf<B> = B extends Array<infer Item> ? B | ChunkedArray<Item> : B

type BodyPart<R> = R extends { content: infer C } ? { body: BodyOf<JsonOf<C>> } : { body?: undefined }

// 401, 403 and 429 (authentication, access, rate limits), 413, 415, 422 (Idempotency-Key reuse) and 5xx come
// from the platform (body parsing, src/contract/idempotency.ts, error handler), never from a handler.
type HandlerStatus<Op extends Operation> = Exclude<keyof Op['responses'], 401 | 403 | 413 | 415 | 422 | 429 | 500>

export type ResultOf<Op extends Operation> = {
  [S in HandlerStatus<Op>]: { status: S } & BodyPart<Op['responses'][S]> & HeadersPart<Op['responses'][S]>
}[HandlerStatus<Op>]

export interface HandlerContext {
  /** The request path, for `Location`-style links and problem `instance`s. */
  path: string
}

export type Handler<Op extends Operation> = (request: RequestOf<Op>, context: HandlerContext) => Promise<ResultOf<Op>>

export type Handlers = { [Id in OperationId]: Handler<operations[Id]> }

/** What the routing layer sees of any handler's result. */
export interface AnyResult {
  status: number
  body?: unknown
  headers?: Record<string, string | undefined>
}
