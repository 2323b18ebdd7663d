// One fastify route per spec operation; requests that match none fall back to openapi-backend's router.
import type { FastifyInstance } from 'fastify'
import type { Context, OpenAPIBackend, Operation } from 'openapi-backend'
import { compileAccessCheck, type ConversationOwner } from './access.js'
import type { AnyHandler, AnyKeyedHandler } from './handler-types.js'
import { compileRequestValidator, NDJSON_MEDIA_TYPE, toProblemErrors } from './request-validation.js'
import { idempotencyFor } from './idempotency.js'
import type { IdempotencyKeyStore } from '../store/idempotency-keys.js'
import { INVALID_REQUEST, problem, type ProblemAnswer, type ResourceIds } from './problems.js'
import { sendProblem, sendProblemAnswer, sendResult } from './reply.js'
import { isUnder, OPERATION_METHODS, servedMethods } from './spec.js'

declare module 'fastify' {
  interface FastifyContextConfig { operationId?: string }
}

/** A request's path, its query stripped: what routing matches and what a problem's `instance` names. */
export function requestPath ({ url }: { url: string }): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/** `{userId}` in the spec is `:userId` to fastify's router. */
function toRoutePath (basePath: string, specPath: string): string {
  return basePath + specPath.replace(/\{([^}]+)\}/g, ':$1')
}

/**
 * The spec's JSON schemas of an operation's success bodies (an NDJSON body's line), by status: fastify compiles each into a
 * serializer (fast-json-stringify) once at start, which writes exactly the documented fields and is
 * faster than JSON.stringify. Problems (4xx/5xx) keep the default serializer.
 */
function successBodySchemas (operation: Operation): Record<string, object> {
  const schemas: Record<string, object> = {}
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    // An NDJSON body's schema is its line's: each line is serialized alone (ndjson-body.ts).
    const content = 'content' in response ? response.content : undefined
    const schema = (content?.['application/json'] ?? content?.['application/x-ndjson'])?.schema
    if (/^2\d\d$/.test(status) && schema !== undefined) schemas[status] = schema
  }
  return schemas
}

/** The largest body an operation takes: an NDJSON body (an import) may be larger than a JSON one. */
function bodyLimitOf (operation: Operation, limits: BodyLimits): number {
  const body = operation.requestBody
  const takesNdjson = body !== undefined && 'content' in body && Object.keys(body.content).some((type) => type.split(';')[0]!.trim() === NDJSON_MEDIA_TYPE)
  return takesNdjson ? limits.ndjson : limits.json
}

function checkHandlersMatchSpec (api: OpenAPIBackend, handlers: object): void {
  const inSpec = new Set(api.getOperations().map((operation) => operation.operationId))
  const missing = [...inSpec].filter((id) => id === undefined || !(id in handlers))
  const extra = Object.keys(handlers).filter((id) => !inSpec.has(id))
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`handlers and spec disagree: missing ${missing.join(', ') || 'none'}, unknown ${extra.join(', ') || 'none'}`)
  }
}

/** How a request without a key is answered: by the handler, or a keyed handler's write given no key, and its answer. */
function unkeyed (handler: AnyHandler | AnyKeyedHandler): AnyHandler {
  if (typeof handler === 'function') return handler
  return async (request, context) => handler.answer(await handler.write(request, undefined), request, context)
}

/** The largest request body, in bytes, by what the operation takes: JSON, or NDJSON (src/http/limits.ts). */
export interface BodyLimits { json: number, ndjson: number }

export interface RouteOptions {
  bodyLimits: BodyLimits
  /** Where Idempotency-Key answers are kept (src/contract/idempotency.ts). */
  keys: IdempotencyKeyStore
  /**
   * With tokens required (src/http/auth.ts), each operation first checks that the caller may act on what its
   * path names (src/contract/access.ts), after validation: the ids it looks up are then well formed.
   */
  conversationOwner?: ConversationOwner
}

/** One contract version: its OpenAPI document's router and validators, its handlers (a Handlers of its operations), its path. */
export interface Contract {
  api: OpenAPIBackend
  handlers: object
  basePath: string
}

/** The routes of every contract version, and one fallback for requests none of them routes. */
export function registerApiRoutes (fastify: FastifyInstance, contracts: readonly Contract[], options: RouteOptions): void {
  for (const contract of contracts) registerContractRoutes(fastify, contract, options)
  registerFallback(fastify, contracts)
}

function registerContractRoutes (fastify: FastifyInstance, { api, handlers, basePath }: Contract, { keys, conversationOwner, bodyLimits }: RouteOptions): void {
  checkHandlersMatchSpec(api, handlers)
  for (const operation of api.getOperations()) {
    const operationId = String(operation.operationId)
    const handler = (handlers as Record<string, AnyHandler | AnyKeyedHandler>)[operationId]!
    const answer = unkeyed(handler)
    const validate = compileRequestValidator(api, operation)
    const checkAccess = conversationOwner === undefined ? undefined : compileAccessCheck(operation, conversationOwner)
    const idempotency = idempotencyFor(operation, handler, keys)
    fastify.route({
      method: operation.method.toUpperCase(),
      url: toRoutePath(basePath, operation.path),
      config: { operationId },
      bodyLimit: bodyLimitOf(operation, bodyLimits),
      schema: { response: successBodySchemas(operation) },
      async handler (request, reply) {
        const path = requestPath(request)
        const key = idempotency?.keyOf(request, path)
        const validation = validate(request)
        if (!validation.valid) return sendProblem(reply, problem('validation', INVALID_REQUEST, path, validation.errors))
        if (checkAccess !== undefined) {
          // The authentication hook answers 401 before here; an identity missing now would be our bug, not a pass.
          if (request.identity === undefined) throw new Error(`${operationId} reached without a verified identity`)
          const denied = await checkAccess(request.identity, validation.request.params as ResourceIds, path)
          if (denied !== undefined) return sendResult(reply, denied)
        }
        if (key === undefined || idempotency === undefined) return sendResult(reply, await answer(validation.request, { path }))
        return await idempotency.answer(reply, key, validation.request, { path })
      },
    })
  }
  registerFallbackAnswers(api)
}

/** Methods the spec serves on a path, HEAD with GET. */
function allowedMethods (api: OpenAPIBackend, path: string): string[] {
  return servedMethods(OPERATION_METHODS.filter((method) => api.router.matchOperation({ method, path, headers: {} }) !== undefined))
}

const instanceOf = (context: Context) => context.request.path

/** How a version's router answers a request no route took: see registerFallback. */
function registerFallbackAnswers (api: OpenAPIBackend): void {
  api.register({
    notFound: (context: Context): ProblemAnswer => ({
      problem: problem('routeNotFound', `No operation at ${context.request.method.toUpperCase()} ${instanceOf(context)}.`, instanceOf(context)),
    }),
    methodNotAllowed: (context: Context): ProblemAnswer => {
      const allow = allowedMethods(api, context.request.path)
      return {
        problem: problem('methodNotAllowed', `${context.request.method.toUpperCase()} is not allowed here; use ${allow.join(', ')}.`, instanceOf(context)),
        headers: { Allow: allow.join(', ') },
      }
    },
    validationFail: (context: Context): ProblemAnswer => ({
      problem: problem('validation', INVALID_REQUEST, instanceOf(context), toProblemErrors(context.validation.errors ?? [])),
    }),
    // Reached only when openapi-backend matches a path variant fastify's router did not; no such route is served.
    notImplemented: (context: Context): ProblemAnswer => ({
      problem: problem('routeNotFound', `No operation at ${context.request.method.toUpperCase()} ${instanceOf(context)}.`, instanceOf(context)),
    }),
  })
}

/**
 * Requests no fastify route took: the router of the version whose path they are under (openapi-backend's, over its
 * spec) answers them, so an unknown path is a 404, a known path with another method a 405 with `Allow`, and a path
 * too odd for fastify's router (a 5000-digit id) still gets its validation errors. A path under no version is a 404.
 */
function registerFallback (fastify: FastifyInstance, contracts: readonly Contract[]): void {
  fastify.setNotFoundHandler(async (request, reply) => {
    const path = requestPath(request)
    const api = contracts.find(({ basePath }) => isUnder(path, basePath))?.api
    if (api === undefined) return sendProblem(reply, problem('routeNotFound', `No operation at ${request.method} ${path}.`, path))
    const outcome = await api.handleRequest({
      method: request.method,
      path,
      query: request.query as Record<string, string>,
      headers: request.headers as Record<string, string>,
      body: request.body,
    }) as ProblemAnswer
    return sendProblemAnswer(reply, outcome)
  })
}
