// Validates a routed request with openapi-backend's validators, compiled once from the spec.
import type { IncomingHttpHeaders } from 'node:http'
import type { ErrorObject } from 'ajv'
import type { OpenAPIBackend, Operation } from 'openapi-backend'
import type { ProblemError } from './problems.js'
import { clip } from './problems.js'

export interface RawRequest {
  params: unknown
  query: unknown
  headers: IncomingHttpHeaders
  body: unknown
}

export interface ValidRequest {
  params: Record<string, unknown>
  query: Record<string, unknown>
  body: unknown
}

export type Validation = { valid: true, request: ValidRequest } | { valid: false, errors: ProblemError[] }

interface IntegerParameter { in: 'path' | 'query', name: string }

/** Where a request part lives in openapi-backend's validation input, and how a Problem names it. */
const parts: Record<string, ProblemError['in']> = { path: 'path', query: 'query', header: 'header', requestBody: 'body' }

// ajv's type coercion reads integers with Number(), so it takes "1e3", "0x10" and " 7 " as ids;
// the spec means plain decimal digits.
const DECIMAL_INTEGER = /^-?\d+$/

function integerParameters (operation: Operation): IntegerParameter[] {
  return (operation.parameters ?? []).flatMap((parameter) => {
    if (!('in' in parameter) || (parameter.in !== 'path' && parameter.in !== 'query')) return []
    const schema = parameter.schema
    return schema !== undefined && 'type' in schema && schema.type === 'integer'
      ? [{ in: parameter.in, name: parameter.name }]
      : []
  })
}

function escapePointerToken (token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1')
}

function describe (error: ErrorObject): string {
  if (error.keyword === 'enum') return `must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`
  if (error.keyword === 'additionalProperties') return 'is not allowed here'
  if (error.keyword === 'required' && error.instancePath === '') return 'is required'
  return error.message ?? `fails ${error.keyword}`
}

/** Turns an ajv error on openapi-backend's { path, query, header, requestBody } input into a Problem error. */
export function toProblemError (error: ErrorObject): ProblemError {
  const [, part = '', ...rest] = error.instancePath.split('/')
  let tokens = rest
  let where = parts[part]
  if (where === undefined) {
    // An error on the input root: a whole part is missing, e.g. a required body.
    const missing = String(error.params.missingProperty ?? '')
    where = parts[missing] ?? 'body'
    tokens = []
  } else if (error.keyword === 'additionalProperties') {
    tokens = [...rest, escapePointerToken(String(error.params.additionalProperty))]
  } else if (error.keyword === 'required') {
    tokens = [...rest, escapePointerToken(String(error.params.missingProperty))]
  } else if (error.keyword === 'propertyNames') {
    tokens = [...rest, escapePointerToken(String(error.params.propertyName))]
  }
  const pointer = tokens.length === 0 ? '' : `/${tokens.join('/')}`
  return { in: where, pointer: clip(pointer, 500), detail: clip(describe(error), 500) }
}

function uniqueErrors (errors: ProblemError[]): ProblemError[] {
  const seen = new Set<string>()
  return errors.filter((error) => {
    const key = `${error.in} ${error.pointer} ${error.detail}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export function compileRequestValidator (api: OpenAPIBackend, operation: Operation) {
  const validators = api.validator.getRequestValidatorsForOperation(operation.operationId as string)
  const integers = integerParameters(operation)

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

    const input: Record<string, unknown> = { path, query, header: raw.headers }
    if (raw.body !== undefined) input.requestBody = raw.body
    const errors: ErrorObject[] = []
    for (const validate of validators) {
      if (!validate(input)) errors.push(...(validate.errors ?? []))
    }
    if (errors.length > 0) return { valid: false, errors: uniqueErrors(errors.map(toProblemError)) }
    // ajv coerced path and query values in place.
    return { valid: true, request: { params: path, query, body: input.requestBody } }
  }
}
