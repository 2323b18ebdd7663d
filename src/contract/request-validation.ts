// Validates a routed request with openapi-backend's validators, compiled once from the spec; a body against the schema of its media type.
import type { IncomingHttpHeaders } from 'node:http'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { errorCodes } from 'fastify'
import { ValidationContext, type OpenAPIBackend, type Operation } from 'openapi-backend'
import type { ProblemError } from './problems.js'
import { PROPERTY_NAMES_EXTENSION } from './spec.js'

export interface RawRequest {
  params: unknown
  query: unknown
  headers: IncomingHttpHeaders
  body: unknown
}

export interface ValidRequest {
  params: Record<string, unknown>
  query: Record<string, unknown>
  headers: Record<string, unknown>
  body: unknown
}

export type Validation = { valid: true, request: ValidRequest } | { valid: false, errors: ProblemError[] }

interface IntegerParameter { in: 'path' | 'query', name: string }

/** Where a request part lives in openapi-backend's validation input, and how a Problem names it. */
const parts: Record<string, ProblemError['in']> = { path: 'path', query: 'query', header: 'header', requestBody: 'body' }

// ajv's type coercion reads integers with Number(), so it takes "1e3", "0x10" and " 7 " as ids;
// the spec means plain decimal digits.
const DECIMAL_INTEGER = /^-?\d+$/

/** Newline-delimited JSON, parsed into the array of its lines' values (src/http/content-types.ts). */
export const NDJSON_MEDIA_TYPE = 'application/x-ndjson'

/**
 * The schema of an NDJSON body as parsed (src/http/content-types.ts): the array of its lines, at least one, each the
 * spec's schema, which is a line's; its example, one line of the spec's example.
 */
export function ndjsonBodySchema (line: { example?: unknown }): object {
  return { type: 'array', minItems: 1, items: line, ...line.example === undefined ? {} : { example: [line.example] } }
}

/** `Application/JSON; charset=utf-8` → `application/json`. */
function mediaTypeOf (contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase()
}

function bodyContent (operation: Operation): Record<string, { schema?: object }> {
  const body = operation.requestBody
  return body !== undefined && 'content' in body ? body.content : {}
}

/** Every media type the spec takes a request body in, with the operations that take it. */
export function requestMediaTypes (api: OpenAPIBackend): Map<string, string[]> {
  const types = new Map<string, string[]>()
  for (const operation of api.getOperations()) {
    for (const declared of Object.keys(bodyContent(operation))) {
      const type = mediaTypeOf(declared)
      types.set(type, [...(types.get(type) ?? []), String(operation.operationId)])
    }
  }
  return types
}

/** openapi-backend's validator of `{ requestBody }`, as opposed to its validator of the parameters. */
function isBodyValidator (validate: ValidateFunction): boolean {
  const schema = validate.schema as { properties?: object }
  return typeof schema === 'object' && 'requestBody' in (schema.properties ?? {})
}

/**
 * A body validator per media type the operation declares. openapi-backend compiles one, from
 * `application/json`'s schema, and would check every body against it; the others are compiled here from their
 * own schemas, with openapi-backend's Ajv settings.
 */
function compileBodyValidators (api: OpenAPIBackend, operation: Operation, fromBackend: ValidateFunction | undefined): Map<string, ValidateFunction> {
  const required = operation.requestBody !== undefined && 'required' in operation.requestBody && operation.requestBody.required === true
  const validators = new Map<string, ValidateFunction>()
  for (const [declared, media] of Object.entries(bodyContent(operation))) {
    const type = mediaTypeOf(declared)
    const body = type === NDJSON_MEDIA_TYPE ? ndjsonBodySchema(media.schema ?? {}) : media.schema ?? {}
    const schema = { type: 'object', properties: { requestBody: body }, required: required ? ['requestBody'] : [] }
    validators.set(type, type === 'application/json' && fromBackend !== undefined
      ? fromBackend
      : api.validator.getAjv(ValidationContext.RequestBody).compile(schema))
  }
  return validators
}

/** The names of the header parameters the operation declares, as the spec spells them. */
function headerParameters (operation: Operation): string[] {
  return (operation.parameters ?? []).flatMap((parameter) => 'in' in parameter && parameter.in === 'header' ? [parameter.name] : [])
}

function integerParameters (operation: Operation): IntegerParameter[] {
  return (operation.parameters ?? []).flatMap((parameter) => {
    if (!('in' in parameter) || (parameter.in !== 'path' && parameter.in !== 'query')) return []
    const schema = parameter.schema
    return schema !== undefined && 'type' in schema && schema.type === 'integer'
      ? [{ in: parameter.in, name: parameter.name }]
      : []
  })
}

export function escapePointerToken (token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

function describe (error: ErrorObject): string {
  if (error.keyword === 'enum') return `must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`
  if (error.keyword === 'additionalProperties') return 'is not allowed here'
  if (error.keyword === 'required' && error.instancePath === '') return 'is required'
  return error.message ?? `fails ${error.keyword}`
}

/**
 * A key that breaks propertyNames (metadata's 1-64 characters) gives ajv three errors: the key's own, e.g.
 * maxLength, carrying `propertyName`, then "property name must be valid" and the extension's "must pass
 * "x-propertyNames" keyword validation", which say no more and name the validator's internals. Only the first is kept.
 */
const repeatsAnother = (error: ErrorObject) => error.keyword === 'propertyNames' || error.keyword === PROPERTY_NAMES_EXTENSION

/** Turns an ajv error on openapi-backend's { path, query, header, requestBody } input into a Problem error. */
function toProblemError (error: ErrorObject): ProblemError {
  const [, part = '', ...rest] = error.instancePath.split('/')
  let tokens = rest
  let where = parts[part]
  let detail = describe(error)
  if (where === undefined) {
    // An error on the input root: a whole part is missing, e.g. a required body.
    const missing = String(error.params.missingProperty ?? '')
    where = parts[missing] ?? 'body'
    tokens = []
  } else if (error.keyword === 'additionalProperties') {
    tokens = [...rest, escapePointerToken(String(error.params.additionalProperty))]
  } else if (error.keyword === 'required') {
    tokens = [...rest, escapePointerToken(String(error.params.missingProperty))]
  } else if (error.propertyName !== undefined) {
    // The error is about a key of the object at instancePath, not about the object.
    tokens = [...rest, escapePointerToken(error.propertyName)]
    detail = `key ${detail}`
  }
  const pointer = tokens.length === 0 ? '' : `/${tokens.join('/')}`
  return { in: where, pointer, detail }
}

/** The properties of a `oneOf` whose every branch is `required: [one property]`: exactly one of them may be sent. */
function exclusiveProperties (error: ErrorObject): string[] | undefined {
  const branches = error.schema
  if (error.keyword !== 'oneOf' || !Array.isArray(branches)) return undefined
  const names = branches.map((branch: { required?: unknown }) => Array.isArray(branch.required) && branch.required.length === 1 ? String(branch.required[0]) : undefined)
  return names.every((name) => name !== undefined) ? names : undefined
}

/**
 * A `oneOf` of properties exactly one of which is sent (a message's `content` or `parts`): ajv says only that the
 * object matched none or several branches. Several: an error at each property sent too many, as at a property not
 * allowed there. None: the branches' own errors (each property is required) already name them, so the `oneOf` says
 * nothing more. Undefined for any other error.
 */
function exclusivePropertyErrors (error: ErrorObject): ProblemError[] | undefined {
  const names = exclusiveProperties(error)
  if (names === undefined) return undefined
  const passing = error.params.passingSchemas as number[] | null
  if (passing === null) return []
  const [first, ...others] = passing.map((index) => names[index]!)
  return others.map((name) => ({
    ...toProblemError({ ...error, keyword: 'additionalProperties', params: { additionalProperty: name } }),
    detail: `must not be sent with ${first}: send exactly one of ${names.join(', ')}`,
  }))
}

/** ajv's errors as Problem errors, each said once. */
export function toProblemErrors (errors: ErrorObject[]): ProblemError[] {
  const seen = new Set<string>()
  return errors.filter((error) => !repeatsAnother(error)).flatMap((error) => exclusivePropertyErrors(error) ?? [toProblemError(error)]).filter((error) => {
    const key = `${error.in} ${error.pointer} ${error.detail}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

const ndjsonBody = (raw: RawRequest) => raw.body !== undefined && mediaTypeOf(raw.headers['content-type'] ?? '') === NDJSON_MEDIA_TYPE

/** An NDJSON body's errors: each pointer starts with its line's index; each detail names the line by its number. */
const ofLines = (errors: ProblemError[]): ProblemError[] => errors.map((error) => {
  const index = /^\/(\d+)(?:\/|$)/.exec(error.pointer)?.[1]
  return error.in !== 'body' || index === undefined ? error : { ...error, detail: `line ${Number(index) + 1}: ${error.detail}` }
})

export function compileRequestValidator (api: OpenAPIBackend, operation: Operation) {
  const fromBackend = api.validator.getRequestValidatorsForOperation(operation.operationId as string)
  const parameterValidators = fromBackend.filter((validate) => !isBodyValidator(validate))
  const bodyValidators = compileBodyValidators(api, operation, fromBackend.find(isBodyValidator))
  // With no body, any of them checks that one is not required.
  const noBodyValidator = bodyValidators.values().next().value
  const integers = integerParameters(operation)
  const headerNames = headerParameters(operation)

  /** The validator for the body's media type; a media type this operation does not declare is a 415. */
  function bodyValidator (raw: RawRequest): ValidateFunction | undefined {
    if (raw.body === undefined || bodyValidators.size === 0) return noBodyValidator
    const validate = bodyValidators.get(mediaTypeOf(raw.headers['content-type'] ?? ''))
    // The parsers take every media type some operation declares; src/http/error-handler.ts answers this as it does theirs.
    if (validate === undefined) throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE()
    return validate
  }

  return function validateRequest (raw: RawRequest): Validation {
    const path = { ...(raw.params as Record<string, unknown>) }
    const query = { ...(raw.query as Record<string, unknown>) }
    const notDecimal = integers.filter(({ in: where, name }) => {
      const value = (where === 'path' ? path : query)[name]
      return typeof value === 'string' && !DECIMAL_INTEGER.test(value)
    })
    if (notDecimal.length > 0) {
      return {
        valid: false,
        errors: notDecimal.map(({ in: where, name }) => ({ in: where, pointer: `/${name}`, detail: 'must be an integer' })),
      }
    }

    const validateBody = bodyValidator(raw)
    const input: Record<string, unknown> = { path, query, header: raw.headers }
    if (raw.body !== undefined) input.requestBody = raw.body
    const errors: ErrorObject[] = []
    for (const validate of validateBody === undefined ? parameterValidators : [validateBody, ...parameterValidators]) {
      if (!validate(input)) errors.push(...(validate.errors ?? []))
    }
    if (errors.length > 0) return { valid: false, errors: validateBody !== undefined && ndjsonBody(raw) ? ofLines(toProblemErrors(errors)) : toProblemErrors(errors) }
    // ajv coerced path and query values in place. Node lowercases header names; handlers get the spec's.
    const headers = Object.fromEntries(headerNames.map((name) => [name, raw.headers[name.toLowerCase()]]))
    return { valid: true, request: { params: path, query, headers, body: input.requestBody } }
  }
}
