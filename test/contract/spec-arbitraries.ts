// Requests made from the spec at run time: fast-check arbitraries for every schema the API reads, and
// for each valid request, the ways to break it in exactly one place.
import { Ajv, type ValidateFunction } from 'ajv'
import fc from 'fast-check'
import type { OpenAPIV3 } from 'openapi-types'
import { customizeAjv } from '../../src/contract/spec.js'
import { specOperations as documentOperations } from '../contract.js'

type Schema = OpenAPIV3.SchemaObject & { 'x-propertyNames'?: OpenAPIV3.SchemaObject }

/** A body the operation accepts: one of its declared media types and that type's schema. */
export interface SpecBody { mediaType: string, schema: Schema }

export interface SpecOperation {
  operationId: string
  method: string
  /** `/users/{userId}/conversations` */
  path: string
  pathParams: OpenAPIV3.ParameterObject[]
  queryParams: OpenAPIV3.ParameterObject[]
  /** Header parameters (If-Match, If-None-Match), all optional. */
  headerParams: OpenAPIV3.ParameterObject[]
  /** One per media type of the request body; empty when the operation takes none. */
  bodies: SpecBody[]
  /** Whether the request body is required: when not, a request may come without one. */
  bodyRequired: boolean
}

/** A request body as sent: one of the operation's media types and a value for its schema. */
export interface SentBody { mediaType: string, value: unknown }

export interface FuzzRequest {
  method: string
  url: string
  body?: SentBody
  headers?: Record<string, string>
}

/** A request broken in one place, and where the 400's errors must point. */
export interface Broken { request: FuzzRequest, in: 'path' | 'query' | 'header' | 'body', pointer: string, how: string }

export const runs = (fallback: number): number => Number(process.env.FUZZ_RUNS ?? fallback)
/** FUZZ_SEED replays a failure; otherwise a fresh seed each run, printed by the tests. */
export const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** Media types whose bodies the fuzzer can write: JSON and its `+json` structured-syntax suffix. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json$/

/** The spec's operations, every method it uses, read from the spec itself: a new operation is fuzzed by adding it there. */
export function specOperations (): SpecOperation[] {
  return documentOperations.map((operation) => {
    // openapi-backend lists the operation's own parameters first, then the path's: the first of a name wins.
    const parameters = (operation.parameters as OpenAPIV3.ParameterObject[]).filter((parameter, i, all) =>
      all.findIndex((other) => other.in === parameter.in && other.name === parameter.name) === i)
    const requestBody = operation.requestBody as OpenAPIV3.RequestBodyObject | undefined
    const bodies = Object.entries(requestBody?.content ?? {}).map(([mediaType, media]) => {
      // Fail loudly rather than fuzz an operation with bodies it cannot write.
      if (!JSON_MEDIA_TYPE.test(mediaType)) throw new Error(`${operation.operationId}: no way to fuzz a ${mediaType} body`)
      return { mediaType, schema: media.schema as Schema }
    })
    return {
      operationId: operation.operationId!,
      method: operation.method.toUpperCase(),
      path: operation.path,
      pathParams: parameters.filter((parameter) => parameter.in === 'path'),
      queryParams: parameters.filter((parameter) => parameter.in === 'query'),
      headerParams: parameters.filter((parameter) => parameter.in === 'header'),
      bodies,
      bodyRequired: requestBody?.required === true,
    }
  })
}

const ajv = customizeAjv(new Ajv({ strict: false }))
const validators = new Map<object, ValidateFunction>()

/** Whether `value` obeys `schema`, as the server's own validator reads the spec. */
export function obeys (schema: object, value: unknown): boolean {
  let validate = validators.get(schema)
  if (validate === undefined) {
    validate = ajv.compile(schema)
    validators.set(schema, validate)
  }
  return validate(value)
}

/** One character: often one that trips encoders (JSON, URLs, pointers, UTF-16), else any code point. */
const CHARACTER = fc.oneof(
  { arbitrary: fc.constantFrom('a', ' ', '/', '~', '"', '\\', '%', '?', '#', 'é', '字', '😀', '\u200b'), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 1 }
)

/** Strings mostly short (fast), sometimes at their exact maximum length, any Unicode the schema allows. */
function stringArbitrary (schema: Schema): fc.Arbitrary<string> {
  if (schema.enum !== undefined) return fc.constantFrom(...(schema.enum as string[]))
  if (schema.format === 'email') return fc.emailAddress().filter((email) => email.length <= (schema.maxLength ?? 254))
  const minLength = schema.minLength ?? 0
  const maxLength = schema.maxLength ?? 100
  const text = (min: number, max: number) => fc.string({ unit: CHARACTER, minLength: min, maxLength: max })
  const short = text(minLength, Math.min(maxLength, minLength + 12))
  const full = maxLength > minLength + 12 ? [{ arbitrary: text(maxLength, maxLength), weight: 1 }] : []
  return fc.oneof({ arbitrary: short, weight: 8 }, ...full)
}

/**
 * A header parameter's value, from its schema's pattern (the spec's header schemas all have one, e.g.
 * EntityTagList): a random string would almost never meet it.
 */
export function headerValueFor (parameter: OpenAPIV3.ParameterObject): fc.Arbitrary<string> {
  const schema = parameter.schema as Schema
  // Fail loudly rather than fuzz a header with values the server would refuse.
  if (schema.pattern === undefined) throw new Error(`header ${parameter.name}: no way to fuzz a header without a pattern`)
  return fc.stringMatching(new RegExp(schema.pattern)).filter((value) => obeys(schema, value))
}

/** Any value that obeys `schema` (the subset of JSON Schema our spec uses), checked by ajv. */
export function valueFor (schema: Schema): fc.Arbitrary<unknown> {
  return rawValueFor(schema).filter((value) => obeys(schema, value))
}

function rawValueFor (schema: Schema): fc.Arbitrary<unknown> {
  const value = ((): fc.Arbitrary<unknown> => {
    switch (schema.type) {
      case 'string': return stringArbitrary(schema)
      case 'integer': return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 - 1 })
      case 'boolean': return fc.boolean()
      case 'array': return fc.array(rawValueFor(schema.items as Schema), {
        minLength: schema.minItems ?? 0,
        // The spec's maximum (100 initial messages) is reached by the broken-request tests; valid ones stay small.
        maxLength: Math.min(schema.maxItems ?? 5, 5),
      })
      case 'object': return objectFor(schema)
      default: throw new Error(`no arbitrary for schema type ${String(schema.type)}`)
    }
  })()
  return schema.nullable === true ? fc.option(value, { nil: null, freq: 4 }) : value
}

function objectFor (schema: Schema): fc.Arbitrary<unknown> {
  if (schema.properties === undefined && typeof schema.additionalProperties === 'object') {
    // A map: Metadata.
    // fastify's parser refuses a body holding a `__proto__` key anywhere (prototype poisoning), whatever the schema.
    const keys = stringArbitrary({ type: 'string', ...schema['x-propertyNames'] }).filter((key) => key !== '__proto__')
    return fc.dictionary(keys, rawValueFor(schema.additionalProperties as Schema), { maxKeys: Math.min(schema.maxProperties ?? 5, 5) })
  }
  const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, property]) => [name, rawValueFor(property as Schema)]))
  return fc.record(properties, { requiredKeys: schema.required ?? [] })
}

/** A path template filled with ids: `/users/{userId}` → `/users/7`. */
export function fillPath (operation: SpecOperation, ids: Record<string, unknown>): string {
  return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(ids[name])))
}

export function toUrl (basePath: string, path: string, query: Record<string, unknown> = {}): string {
  const search = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== undefined).map(([name, value]): [string, string] => [name, String(value)]))
  const text = search.toString()
  return `${basePath}${path}${text === '' ? '' : `?${text}`}`
}

// (A malformed percent-encoding, `%zz`, never reaches validation: test/api/bad-input.test.ts covers it.)
const BAD_IDS = ['0', '-1', 'abc', '1.5', '1e3', '0x10', '2147483648', '99999999999999999999', ' 7']
const BAD_LIMITS = ['0', '1001', '-5', 'ten', '2.5', '']
const BAD_CURSORS = ['!!!', 'a b', 'x'.repeat(201), '']
const BAD_ENTITY_TAGS = ['unquoted', '"open', '"1.1" "1.2"', '**', `"${'x'.repeat(1000)}"`]
// (Leading and trailing spaces are no way to break a key: HTTP strips them before the server sees the value.)
const BAD_IDEMPOTENCY_KEYS = ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9']

/** Values breaking each header parameter, by name: a header without a list here fails loudly rather than go unbroken. */
const BAD_HEADERS: Record<string, string[]> = {
  'If-Match': BAD_ENTITY_TAGS,
  'If-None-Match': BAD_ENTITY_TAGS,
  'Idempotency-Key': BAD_IDEMPOTENCY_KEYS,
}

/** Every way to break a valid request in exactly one place, with where the server must say it is wrong. */
export function breakings (operation: SpecOperation, basePath: string, ids: Record<string, unknown>, query: Record<string, unknown>, body: SentBody | undefined, headers: Record<string, string> = {}): Broken[] {
  const broken: Broken[] = []
  const request = (path: string, q: Record<string, unknown>, b: SentBody | undefined, h = headers): FuzzRequest =>
    ({ method: operation.method, url: toUrl(basePath, path, q), headers: h, ...(b === undefined ? {} : { body: b }) })

  for (const parameter of operation.pathParams) {
    for (const bad of BAD_IDS) {
      // Filled anew, not found and replaced in the valid path: one id's digits may occur inside another's.
      const path = fillPath(operation, { ...ids, [parameter.name]: bad })
      broken.push({ request: request(path, query, body), in: 'path', pointer: `/${parameter.name}`, how: `path ${parameter.name}=${JSON.stringify(bad)}` })
    }
  }
  const path = fillPath(operation, ids)
  for (const parameter of operation.queryParams) {
    for (const bad of parameter.name === 'limit' ? BAD_LIMITS : BAD_CURSORS) {
      broken.push({ request: request(path, { ...query, [parameter.name]: bad }, body), in: 'query', pointer: `/${parameter.name}`, how: `query ${parameter.name}=${JSON.stringify(bad)}` })
    }
  }
  broken.push({ request: request(path, { ...query, unknown: '1' }, body), in: 'query', pointer: '/unknown', how: 'unknown query parameter' })
  // Node lowercases header names, and the 400 names the header as it arrived.
  for (const parameter of operation.headerParams) {
    const bads = BAD_HEADERS[parameter.name]
    if (bads === undefined) throw new Error(`header ${parameter.name}: no way to break it (BAD_HEADERS)`)
    for (const bad of bads) {
      broken.push({ request: request(path, query, body, { ...headers, [parameter.name]: bad }), in: 'header', pointer: `/${parameter.name.toLowerCase()}`, how: `header ${parameter.name}: ${JSON.stringify(bad)}` })
    }
  }
  // The body is broken in the media type it was sent as; a request sent without one (it is optional) has none to break.
  const schema = operation.bodies.find((candidate) => candidate.mediaType === body?.mediaType)?.schema
  if (body !== undefined && schema !== undefined) {
    for (const { pointer, value, how } of bodyBreakings(schema, body.value, '')) {
      broken.push({ request: request(path, query, { mediaType: body.mediaType, value }), in: 'body', pointer, how })
    }
  }
  return broken
}

interface BodyBreak { pointer: string, value: unknown, how: string }

const escapeToken = (token: string) => token.replaceAll('~', '~0').replaceAll('/', '~1')

/** `value` with `replacement` at `pointer`'s last token below `parent` (undefined deletes it). */
function replaced (root: unknown, tokens: string[], replacement: unknown): unknown {
  if (tokens.length === 0) return replacement
  const [head, ...rest] = tokens
  if (Array.isArray(root)) return root.map((item, i) => (String(i) === head ? replaced(item, rest, replacement) : item))
  const copy = { ...(root as Record<string, unknown>) }
  if (rest.length === 0 && replacement === undefined) delete copy[head!]
  else copy[head!] = replaced(copy[head!], rest, replacement)
  return copy
}

function wrongTypeFor (schema: Schema): unknown {
  switch (schema.type) {
    case 'string': return 42
    case 'integer': return 'seven'
    case 'array': return { not: 'an array' }
    case 'object': return ['not', 'an', 'object']
    default: return null
  }
}

function tooBig (schema: Schema): { value: unknown, how: string } | undefined {
  if (schema.type === 'string' && schema.enum !== undefined) return { value: 'nobody', how: 'not in the enum' }
  if (schema.type === 'string' && schema.maxLength !== undefined) return { value: 'x'.repeat(schema.maxLength + 1), how: `${schema.maxLength + 1} characters` }
  if (schema.type === 'array' && schema.maxItems !== undefined) {
    const item = fc.sample(valueFor(schema.items as Schema), { numRuns: 1, seed: 1 })[0]
    return { value: Array.from({ length: schema.maxItems + 1 }, () => item), how: `${schema.maxItems + 1} items` }
  }
  if (schema.type === 'object' && schema.maxProperties !== undefined) {
    return { value: Object.fromEntries(Array.from({ length: schema.maxProperties + 1 }, (_, i) => [`k${i}`, 'v'])), how: `${schema.maxProperties + 1} keys` }
  }
  if (schema.type === 'integer' && schema.maximum !== undefined) return { value: schema.maximum + 1, how: 'above the maximum' }
  return undefined
}

function bodyBreakings (schema: Schema, root: unknown, pointer: string): BodyBreak[] {
  const tokens = pointer === '' ? [] : pointer.slice(1).split('/').map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'))
  const at = (replacement: unknown) => replaced(root, tokens, replacement)
  const breaks: BodyBreak[] = []
  if (pointer !== '' && schema.nullable !== true) breaks.push({ pointer, value: at(wrongTypeFor(schema)), how: `wrong type at ${pointer}` })
  const big = tooBig(schema)
  if (big !== undefined && pointer !== '') breaks.push({ pointer, value: at(big.value), how: `${big.how} at ${pointer}` })
  if (schema.type === 'string' && (schema.minLength ?? 0) > 0 && schema.enum === undefined) breaks.push({ pointer, value: at(''), how: `empty string at ${pointer}` })
  if (schema.type === 'string' && schema.pattern !== undefined && schema.enum === undefined && schema.format === undefined) {
    breaks.push({ pointer, value: at('nul \u0000 inside'), how: `NUL at ${pointer}` })
  }

  let current: unknown = root
  for (const token of tokens) current = (current as Record<string, unknown>)[token]
  if (schema.type === 'object' && current !== null && typeof current === 'object') {
    const object = current as Record<string, unknown>
    if (schema.properties !== undefined) {
      for (const name of schema.required ?? []) {
        breaks.push({ pointer: `${pointer}/${escapeToken(name)}`, value: replaced(root, [...tokens, name], undefined), how: `missing ${pointer}/${name}` })
      }
      if (schema.additionalProperties === false) {
        breaks.push({ pointer: `${pointer}/surprise`, value: replaced(root, [...tokens, 'surprise'], 1), how: `unknown field ${pointer}/surprise` })
      }
      for (const [name, property] of Object.entries(schema.properties)) {
        if (object[name] !== undefined) breaks.push(...bodyBreakings(property as Schema, root, `${pointer}/${escapeToken(name)}`))
        else if (name !== 'messages') breaks.push(...bodyBreakings(property as Schema, replaced(root, [...tokens, name], fc.sample(valueFor(property as Schema), { numRuns: 1, seed: 1 })[0]), `${pointer}/${escapeToken(name)}`))
      }
    } else if (typeof schema.additionalProperties === 'object') {
      const key = 'x'.repeat((schema['x-propertyNames']?.maxLength ?? 64) + 1)
      breaks.push({ pointer: `${pointer}/${key}`, value: replaced(root, [...tokens, key], 'v'), how: `key too long in ${pointer}` })
      breaks.push({ pointer: `${pointer}/k`, value: replaced(root, [...tokens, 'k'], 7), how: `non-string value in ${pointer}` })
    }
  }
  if (schema.type === 'array' && Array.isArray(current) && current.length > 0) {
    breaks.push(...bodyBreakings(schema.items as Schema, root, `${pointer}/0`))
  }
  return breaks
}
