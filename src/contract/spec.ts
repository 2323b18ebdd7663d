// The OpenAPI document the server runs: loaded once, shared by routing, validation and the tests.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { load } from 'js-yaml'
import { OpenAPIBackend, type Document } from 'openapi-backend'
import type { Ajv, ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import { isInt32 } from '../int32.js'
import { projectRoot } from '../project-root.js'
import type { StoreLimits } from '../store/conversations.js'

/**
 * The contract's versions, oldest first: one OpenAPI document each, `openapi/<version>.yaml`, served side by side
 * under its own server path (`/api/<version>`) from one store. A version, once clients are generated from it, is
 * frozen; what is new goes to a new one (docs/decisions.md).
 */
export const CONTRACT_VERSIONS = ['v1', 'v2'] as const
export type ContractVersion = (typeof CONTRACT_VERSIONS)[number]

export const specPath = (version: ContractVersion) => join(projectRoot, 'openapi', `${version}.yaml`)

export interface SpecSource {
  version: ContractVersion
  /** The spec file's bytes, as the server read them at start. */
  yaml: Buffer
  /** The same document, parsed. */
  document: Document
}

/** A spec file, read and parsed once: the server routes by it and serves it (src/http/docs.ts). */
function readSpecSource (version: ContractVersion): SpecSource {
  const yaml = readFileSync(specPath(version))
  return { version, yaml, document: load(yaml.toString('utf8')) as Document }
}

export function readSpec (version: ContractVersion): Document {
  return readSpecSource(version).document
}

const committed = new Map<ContractVersion, SpecSource>()

/**
 * A committed spec, read and parsed once per process and shared: the app serves it unless given another, and the
 * problems' bounds are read from it (src/contract/problems.ts). Never edited: readSpec gives a copy of one's own.
 */
export function committedSpec (version: ContractVersion): SpecSource {
  let source = committed.get(version)
  if (source === undefined) committed.set(version, source = readSpecSource(version))
  return source
}

/** Every version's committed document. */
export function committedDocuments (): Record<ContractVersion, Document> {
  return Object.fromEntries(CONTRACT_VERSIONS.map((version) => [version, committedSpec(version).document])) as Record<ContractVersion, Document>
}

/** Whether a request path is the API root `basePath` or under it. */
export const isUnder = (path: string, basePath: string): boolean => path === basePath || path.startsWith(`${basePath}/`)

/** The path prefix of the spec's server URL, e.g. /api/v1. */
export function apiBasePath (spec: Document): string {
  const url = spec.servers?.[0]?.url ?? '/'
  return new URL(url, 'http://localhost').pathname.replace(/\/$/, '')
}

/** A number a schema of the spec must state, or the server does not start. */
function schemaBound (spec: Document, schema: string, keyword: 'maxProperties' | 'maxLength', why: string): number {
  const value = (spec.components?.schemas?.[schema] as Record<string, unknown> | undefined)?.[keyword]
  if (typeof value !== 'number') throw new Error(`the spec's ${schema} schema has no ${keyword}, which ${why}`)
  return value
}

/**
 * The bounds the store enforces itself, read from the specs it serves: a merged metadata must hold no more keys
 * than every version's Metadata allows, and v1 reads a message's text cut to its MessageContent's maxLength.
 * Specs without those bounds do not start.
 */
export function storeLimits (specs: Record<ContractVersion, Document> = committedDocuments()): StoreLimits {
  const metadataKeys = Math.min(...CONTRACT_VERSIONS.map((version) =>
    schemaBound(specs[version], 'Metadata', 'maxProperties', 'the store enforces on merged metadata')))
  const v1ContentLength = schemaBound(specs.v1, 'MessageContent', 'maxLength', 'v1 cuts a longer text to')
  return { metadataKeys, v1ContentLength }
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

/** Bounds on a free-form JSON value (a tool call's arguments), which no JSON Schema keyword states. */
export const JSON_BOUNDS_EXTENSION = 'x-jsonBounds'

interface JsonBounds { maxBytes: number, maxDepth: number }

/** Why `value` breaks `bounds`, or undefined: too deep, a string or key holding NUL (no store keeps one), too long as JSON. */
function jsonBoundsBroken (value: unknown, { maxBytes, maxDepth }: JsonBounds): string | undefined {
  const walk = (node: unknown, depth: number): string | undefined => {
    if (typeof node === 'string') return node.includes('\u0000') ? 'must not hold NUL in any string' : undefined
    if (typeof node !== 'object' || node === null) return undefined
    if (depth > maxDepth) return `must NOT be nested more than ${maxDepth} levels deep`
    for (const [key, child] of Object.entries(node)) {
      if (key.includes('\u0000')) return 'must not hold NUL in any key'
      const broken = walk(child, depth + 1)
      if (broken !== undefined) return broken
    }
    return undefined
  }
  const broken = walk(value, 1)
  if (broken !== undefined) return broken
  return Buffer.byteLength(JSON.stringify(value)) > maxBytes ? `must NOT be longer than ${maxBytes} bytes as JSON` : undefined
}

/**
 * Formats the spec uses (OpenAPI's int32 and int64 among them); `x-propertyNames`, which the validator expands to
 * the JSON Schema keyword; and `x-jsonBounds`.
 */
export function customizeAjv (ajv: Ajv): Ajv {
  addFormats.default(ajv, ['email', 'date-time', 'uri'])
  ajv.addFormat('int32', { type: 'number', validate: isInt32 })
  ajv.addFormat('int64', { type: 'number', validate: Number.isSafeInteger })
  ajv.addKeyword({ keyword: PROPERTY_NAMES_EXTENSION, macro: (schema: object) => ({ propertyNames: schema }) })
  const validateJsonBounds: ((bounds: JsonBounds, value: unknown) => boolean) & { errors?: Array<Partial<ErrorObject>> } = (bounds, value) => {
    const broken = jsonBoundsBroken(value, bounds)
    validateJsonBounds.errors = broken === undefined ? [] : [{ keyword: JSON_BOUNDS_EXTENSION, message: broken, params: bounds }]
    return broken === undefined
  }
  ajv.addKeyword({ keyword: JSON_BOUNDS_EXTENSION, schemaType: 'object', errors: true, validate: validateJsonBounds })
  return ajv
}

/**
 * The document as the validator takes it: ajv reads `discriminator` (and so checks a part against the one schema its
 * `type` names, with errors about that one), but refuses its `mapping`, which generated clients need; the mapping
 * names the same schemas the members' `type` enums do.
 */
function withoutDiscriminatorMappings<T> (node: T): T {
  if (Array.isArray(node)) return node.map(withoutDiscriminatorMappings) as T
  if (typeof node !== 'object' || node === null) return node
  return Object.fromEntries(Object.entries(node).map(([key, value]) => key === 'discriminator'
    ? [key, { propertyName: (value as { propertyName: string }).propertyName }]
    : [key, withoutDiscriminatorMappings(value)])) as T
}

export async function createOpenApi (spec: Document): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    definition: withoutDiscriminatorMappings(spec),
    apiRoot: apiBasePath(spec),
    strict: true,
    validate: true,
    coerceTypes: true,
    // verbose: errors carry their schema, which request-validation.ts reads to name a `oneOf`'s properties.
    // Schemas are not checked against JSON Schema's meta-schema: openapi-backend makes one Ajv per validator,
    // and each would compile the meta-schema again, in memory and start-up time. The spec is linted in CI.
    // useDefaults: a parameter's default is the spec's, applied as the request is validated, so handlers read it there.
    ajvOpts: { allErrors: true, validateSchema: false, discriminator: true, verbose: true, useDefaults: true },
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
