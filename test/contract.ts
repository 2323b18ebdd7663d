// Checks a response against the spec of the contract version its path is under: status documented, content type,
// headers and body schemas. Each version's document, operations and router are here for the spec-derived tests.
import { Ajv, type ValidateFunction } from 'ajv'
import { OpenAPIBackend, type Operation } from 'openapi-backend'
import type { OpenAPIV3 } from 'openapi-types'
import { requestPath } from '../src/contract/routes.js'
import { apiBasePath, CONTRACT_VERSIONS, customizeAjv, isUnder, readSpec, type ContractVersion } from '../src/contract/spec.js'

export interface SeenResponse {
  method: string
  url: string
  status: number
  headers: Record<string, string | string[] | number | undefined>
  text: string
}

/** One contract version as the tests read it: its document with every $ref resolved, its operations and router. */
export interface ContractView {
  version: ContractVersion
  basePath: string
  /** The spec with every $ref resolved, as openapi-backend reads it. */
  dereferencedSpec: OpenAPIV3.Document
  /** Every operation in the spec, whatever its method, with its path-level parameters (openapi-backend's reading). */
  specOperations: Operation[]
  /** The operationId a request reaches, or undefined when no operation serves it. */
  operationIdOf (method: string, url: string): string | undefined
  /** Asserts that a walk of the API reached exactly the spec's operations, naming any it has no step for. */
  assertReachedEveryOperation (t: { same: (found: unknown, wanted: unknown, message: string) => unknown }, reached: Iterable<string>): void
  api: OpenAPIBackend
}

async function contractView (version: ContractVersion): Promise<ContractView> {
  const spec = readSpec(version)
  const basePath = apiBasePath(spec)
  const api = new OpenAPIBackend({ definition: spec, apiRoot: basePath, quick: true })
  await api.init()
  const specOperations = api.getOperations()
  return {
    version,
    basePath,
    api,
    dereferencedSpec: api.definition as OpenAPIV3.Document,
    specOperations,
    operationIdOf (method, url) {
      const path = url.split('?')[0] ?? ''
      return (api.router.matchOperation({ method, path, headers: {} }) as Operation | undefined)?.operationId
    },
    assertReachedEveryOperation (t, reached) {
      const wanted = specOperations.map((operation) => operation.operationId!).sort()
      const found = [...new Set(reached)].sort()
      const missing = wanted.filter((operationId) => !found.includes(operationId))
      t.same(found, wanted, missing.length === 0 ? `the walk reached every operation in the ${version} spec` : `no step of the walk reaches ${version}'s ${missing.join(', ')}: add one`)
    },
  }
}

/**
 * What a request needs in its query to reach its operation's handler: each required query parameter, as its example
 * in the spec (a required parameter with none fails here, loudly). Walks of every operation send it.
 */
export function requiredQuery ({ operationId, parameters }: { operationId?: string, parameters?: unknown[] }): Record<string, string> {
  return Object.fromEntries((parameters as OpenAPIV3.ParameterObject[] | undefined ?? [])
    .filter((parameter) => parameter.in === 'query' && parameter.required === true)
    .map((parameter) => {
      const example: unknown = parameter.example ?? (parameter.schema as OpenAPIV3.SchemaObject | undefined)?.example
      if (example === undefined) throw new Error(`${operationId}: the required query parameter ${parameter.name} has no example to send`)
      return [parameter.name, String(example)]
    }))
}

/** Every contract version, by version. */
export const contracts = Object.fromEntries(await Promise.all(CONTRACT_VERSIONS.map(async (version) => [version, await contractView(version)]))) as Record<ContractVersion, ContractView>

/** The version whose path `path` is under, if any. */
function contractAt (path: string): ContractView | undefined {
  return Object.values(contracts).find(({ basePath }) => isUnder(path, basePath))
}

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
  if (type === NDJSON) {
    // Each line a JSON value of the schema, each ended by a newline.
    if (response.text !== '' && !response.text.endsWith('\n')) return ['body: NDJSON not ended by a newline']
    const lines = parsedLines(response.text)
    if (lines === undefined) return ['body: a line is not JSON']
    return lines.flatMap((line, i) => schemaErrors(media.schema!, line, `body line ${i + 1}`))
  }
  let body: unknown
  try {
    body = JSON.parse(response.text)
  } catch {
    return ['body: not JSON']
  }
  return schemaErrors(media.schema, body, 'body')
}

const NDJSON = 'application/x-ndjson'

/** The values of an NDJSON body's lines; undefined when one is not JSON. */
function parsedLines (text: string): unknown[] | undefined {
  try {
    return text.split('\n').slice(0, -1).map((line) => JSON.parse(line))
  } catch {
    return undefined
  }
}

/** A response body as a test reads it: JSON parsed, NDJSON as the array of its lines' values, anything else undefined. */
export function parsedBody (headers: SeenResponse['headers'], text: string): unknown {
  const type = mediaType(headers)
  if (text === '') return undefined
  if (type === NDJSON) return parsedLines(text)
  return /json$/.test(type) ? JSON.parse(text) : undefined
}

function headerErrors (response: SeenResponse, headers: Record<string, OpenAPIV3.HeaderObject> | undefined): string[] {
  return Object.entries(headers ?? {}).flatMap(([name, header]) => {
    const value = response.headers[name.toLowerCase()]
    if (value === undefined) return header.required === true ? [`header ${name}: required but missing`] : []
    return header.schema === undefined ? [] : schemaErrors(header.schema, value, `header ${name}`)
  })
}

// Every version's Problem is one schema (test/versions.test.ts).
const problemContent = (contracts.v1.dereferencedSpec.components?.responses?.NotFound as OpenAPIV3.ResponseObject).content

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
  const operation = contractAt(path)?.api.router.matchOperation({ method: response.method, path, headers: {} }) as Operation | undefined
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

// v1's, for the tests written before v2; tests of every version go through `contracts`.
export const { dereferencedSpec, specOperations, operationIdOf, assertReachedEveryOperation } = contracts.v1
