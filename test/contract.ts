// Checks a response against the spec: status documented, content type, headers and body schemas.
import { Ajv, type ValidateFunction } from 'ajv'
import { OpenAPIBackend, type Operation } from 'openapi-backend'
import type { OpenAPIV3 } from 'openapi-types'
import { requestPath } from '../src/contract/routes.js'
import { apiBasePath, customizeAjv, readSpec } from '../src/contract/spec.js'

export interface SeenResponse {
  method: string
  url: string
  status: number
  headers: Record<string, string | string[] | number | undefined>
  text: string
}

const spec = readSpec()
const api = new OpenAPIBackend({ definition: spec, apiRoot: apiBasePath(spec), quick: true })
await api.init()
const document = api.definition as OpenAPIV3.Document
const ajv = customizeAjv(new Ajv({ allErrors: true, strict: false }))
const compiled = new Map<object, ValidateFunction>()

function validatorFor (schema: object): ValidateFunction {
  let validate = compiled.get(schema)
  if (validate === undefined) {
    validate = ajv.compile(schema)
    compiled.set(schema, validate)
  }
  return validate
}

function schemaErrors (schema: object, value: unknown, what: string): string[] {
  const validate = validatorFor(schema)
  return validate(value) ? [] : [`${what}: ${ajv.errorsText(validate.errors)}`]
}

function mediaType (headers: SeenResponse['headers']): string {
  return String(headers['content-type'] ?? '').split(';')[0]?.trim() ?? ''
}

function bodyErrors (response: SeenResponse, content: Record<string, OpenAPIV3.MediaTypeObject> | undefined): string[] {
  if (content === undefined) return response.text === '' ? [] : ['body: documented as empty but has content']
  const type = mediaType(response.headers)
  const media = content[type]
  if (media?.schema === undefined) return [`content-type ${type || '(none)'} is not one of ${Object.keys(content).join(', ')}`]
  let body: unknown
  try {
    body = JSON.parse(response.text)
  } catch {
    return ['body: not JSON']
  }
  return schemaErrors(media.schema, body, 'body')
}

function headerErrors (response: SeenResponse, headers: Record<string, OpenAPIV3.HeaderObject> | undefined): string[] {
  return Object.entries(headers ?? {}).flatMap(([name, header]) => {
    const value = response.headers[name.toLowerCase()]
    if (value === undefined) return header.required === true ? [`header ${name}: required but missing`] : []
    return header.schema === undefined ? [] : schemaErrors(header.schema, value, `header ${name}`)
  })
}

const problemContent = (document.components?.responses?.NotFound as OpenAPIV3.ResponseObject).content

/** Everything wrong with a response, as the spec sees it; empty when it obeys the contract. */
export function contractErrors (response: SeenResponse): string[] {
  const path = requestPath(response)
  if (path === '/healthz' || path === '/readyz') return []
  const errors: string[] = []
  if (response.headers['x-request-id'] === undefined) errors.push('header X-Request-Id: missing')
  if (response.method === 'OPTIONS' && response.status === 204) {
    // A CORS preflight, answered by the CORS layer as the Fetch standard says, outside the API contract.
    return response.text === '' ? errors : [...errors, 'CORS preflight with a body']
  }
  const operation = api.router.matchOperation({ method: response.method, path, headers: {} }) as Operation | undefined
  if (operation === undefined) {
    // No operation: the router's own 404/405 (or a body-parsing 4xx), always a Problem.
    if (response.status < 400 || response.status >= 500) errors.push(`status ${response.status} for a request no operation serves`)
    if (response.status === 405 && response.headers.allow === undefined) errors.push('405 without Allow')
    return [...errors, ...bodyErrors(response, problemContent)]
  }
  const documented = operation.responses?.[String(response.status)] as OpenAPIV3.ResponseObject | undefined
  if (documented === undefined) return [...errors, `status ${response.status} is not documented for ${operation.operationId}`]
  return [...errors, ...headerErrors(response, documented.headers as Record<string, OpenAPIV3.HeaderObject>), ...bodyErrors(response, documented.content)]
}

/** The spec with every $ref resolved, as openapi-backend reads it. */
export { document as dereferencedSpec }

/** Every operation in the spec, whatever its method, with its path-level parameters (openapi-backend's reading). */
export const specOperations = api.getOperations()

/** The operationId a request reaches, or undefined when no operation serves it. */
export function operationIdOf (method: string, url: string): string | undefined {
  const path = url.split('?')[0] ?? ''
  return (api.router.matchOperation({ method, path, headers: {} }) as Operation | undefined)?.operationId
}

/** Asserts that a walk of the API reached exactly the spec's operations, naming any it has no step for. */
export function assertReachedEveryOperation (t: { same: (found: unknown, wanted: unknown, message: string) => unknown }, reached: Iterable<string>): void {
  const wanted = specOperations.map((operation) => operation.operationId!).sort()
  const found = [...new Set(reached)].sort()
  const missing = wanted.filter((operationId) => !found.includes(operationId))
  t.same(found, wanted, missing.length === 0 ? 'the walk reached every operation in the spec' : `no step of the walk reaches ${missing.join(', ')}: add one`)
}
