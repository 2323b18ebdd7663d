// The OpenAPI document the server runs: loaded once, shared by routing, validation and the tests.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { load } from 'js-yaml'
import { OpenAPIBackend, type Document } from 'openapi-backend'
import type { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { isInt32 } from '../int32.js'
import { projectRoot } from '../project-root.js'
import type { StoreLimits } from '../store/conversations.js'

export const specPath = join(projectRoot, 'openapi', 'trackbot.yaml')

export interface SpecSource {
  /** The spec file's bytes, as the server read them at start. */
  yaml: Buffer
  /** The same document, parsed. */
  document: Document
}

/** The spec file, read and parsed once: the server routes by it and serves it (src/http/docs.ts). */
function readSpecSource (): SpecSource {
  const yaml = readFileSync(specPath)
  return { yaml, document: load(yaml.toString('utf8')) as Document }
}

export function readSpec (): Document {
  return readSpecSource().document
}

let committed: SpecSource | undefined

/**
 * The committed spec, read and parsed once per process and shared: the app serves it unless given another, and the
 * problems' bounds are read from it (src/contract/problems.ts). Never edited: readSpec gives a copy of one's own.
 */
export function committedSpec (): SpecSource {
  committed ??= readSpecSource()
  return committed
}

/** The path prefix of the spec's server URL, e.g. /api/v1. */
export function apiBasePath (spec: Document): string {
  const url = spec.servers?.[0]?.url ?? '/'
  return new URL(url, 'http://localhost').pathname.replace(/\/$/, '')
}

/**
 * The bounds the store enforces itself, read from the spec: a merged metadata must hold no more keys than
 * the Metadata schema's maxProperties. A spec without that bound does not start.
 */
export function storeLimits (spec: Document): StoreLimits {
  const metadata = spec.components?.schemas?.Metadata as { maxProperties?: unknown } | undefined
  const metadataKeys = metadata?.maxProperties
  if (typeof metadataKeys !== 'number') throw new Error('the spec\'s Metadata schema has no maxProperties, which the store enforces on merged metadata')
  return { metadataKeys }
}

/** What a problem may echo of a request, as the spec's Problem and ProblemError schemas bound it. */
export interface ProblemBounds {
  /** Problem.detail's and Problem.instance's maxLength. */
  detail: number
  instance: number
  /** Problem.errors' maxItems. */
  errors: number
  /** ProblemError.pointer's and ProblemError.detail's maxLength. */
  errorPointer: number
  errorDetail: number
}

/** A problem's bounds, read from the spec: a spec without them does not start. */
export function problemBounds (spec: Document): ProblemBounds {
  const bound = (schema: string, property: string, keyword: 'maxLength' | 'maxItems'): number => {
    const properties = (spec.components?.schemas?.[schema] as { properties?: Record<string, Record<string, unknown>> } | undefined)?.properties
    const value = properties?.[property]?.[keyword]
    if (typeof value !== 'number') throw new Error(`the spec's ${schema}.${property} has no ${keyword}, which every problem the server sends is clipped to`)
    return value
  }
  return {
    detail: bound('Problem', 'detail', 'maxLength'),
    instance: bound('Problem', 'instance', 'maxLength'),
    errors: bound('Problem', 'errors', 'maxItems'),
    errorPointer: bound('ProblemError', 'pointer', 'maxLength'),
    errorDetail: bound('ProblemError', 'detail', 'maxLength'),
  }
}

/** OpenAPI 3.0 has no propertyNames, so the spec spells it as this extension. */
export const PROPERTY_NAMES_EXTENSION = 'x-propertyNames'

/** The methods an OpenAPI path item may hold an operation under. */
export const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const

/** Methods as the server answers them: upper case, and HEAD wherever GET is (fastify answers HEAD for every GET route). */
export function servedMethods (methods: readonly string[]): string[] {
  const served = methods.map((method) => method.toUpperCase())
  if (served.includes('GET') && !served.includes('HEAD')) served.push('HEAD')
  return served
}

/** Every method the spec has an operation for, on any path, as the server answers them. */
export function specMethods (spec: Document): string[] {
  const paths = Object.values(spec.paths ?? {})
  return servedMethods(OPERATION_METHODS.filter((method) => paths.some((item) => item?.[method] !== undefined)))
}

/**
 * Formats the spec uses (OpenAPI's int32 among them), and `x-propertyNames`, which the validator expands to the
 * JSON Schema keyword.
 */
export function customizeAjv (ajv: Ajv): Ajv {
  addFormats.default(ajv, ['email', 'date-time', 'uri'])
  ajv.addFormat('int32', { type: 'number', validate: isInt32 })
  ajv.addKeyword({ keyword: PROPERTY_NAMES_EXTENSION, macro: (schema: object) => ({ propertyNames: schema }) })
  return ajv
}

export async function createOpenApi (spec: Document): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: spec,
    apiRoot: apiBasePath(spec),
    strict: true,
    validate: true,
    coerceTypes: true,
    // Schemas are not checked against JSON Schema's meta-schema: openapi-backend makes one Ajv per validator,
    // and each would compile the meta-schema again, in memory and start-up time. The spec is linted in CI.
    ajvOpts: { allErrors: true, validateSchema: false },
    customizeAjv,
    // Skips, at start, checking the definition against OpenAPI's meta-schema and compiling response
    // validators, both slow to start. The definition is the committed file, linted in CI
    // (redocly), and responses are checked by the tests (test/contract.ts), not at run time. Request
    // validators are still compiled at start, by src/contract/routes.ts, so no first request pays for them.
    quick: true,
  })
  await api.init()
  return api
}
