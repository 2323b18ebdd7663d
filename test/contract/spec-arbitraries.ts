// Requests made from a contract version's spec at run time: fast-check arbitraries for every schema the API reads,
// and for each valid request, the ways to break it in exactly one place.
import { Ajv, type ValidateFunction } from 'ajv'
import fc from 'fast-check'
import type { OpenAPIV3 } from 'openapi-types'
import { customizeAjv, type ContractVersion } from '../../src/contract/spec.js'
import { ndjsonBodySchema, NDJSON_MEDIA_TYPE } from '../../src/contract/request-validation.js'
import { BODY_LIMIT_BYTES } from '../../src/http/limits.js'
import { contracts } from '../contract.js'

/** The `x-jsonBounds` extension: bounds on a free-form JSON value that no JSON Schema keyword states. */
interface JsonBounds { maxBytes: number, maxDepth: number }

/** The most items a valid array of the fuzzers holds, where fewer than five (their default) are wanted. */
const VALID_ITEMS = 'x-fuzzValidItems'

type Schema = OpenAPIV3.SchemaObject & { 'x-propertyNames'?: OpenAPIV3.SchemaObject, 'x-jsonBounds'?: JsonBounds, [VALID_ITEMS]?: number }

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

/**
 * A request broken in one place, and where the 400's errors must point. `answered`: a refusal the operation's handler
 * makes (a tool_result answering no tool_call) rather than the validator, so it is kept under the request's
 * Idempotency-Key, as a 404 is, and that key's record is the one row it may add.
 */
export interface Broken { request: FuzzRequest, in: 'path' | 'query' | 'header' | 'body', pointer: string, how: string, answered?: true }

export const runs = (fallback: number): number => Number(process.env.FUZZ_RUNS ?? fallback)
/** FUZZ_SEED replays a failure; otherwise a fresh seed each run, printed by the tests. */
export const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31))

/** Media types whose bodies the fuzzer can write: JSON and its `+json` structured-syntax suffix, and NDJSON. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json$/

/** A version's operations, every method it uses, read from its spec: a new operation is fuzzed by adding it there. */
export function specOperations (version: ContractVersion): SpecOperation[] {
  return contracts[version].specOperations.map((operation) => {
    // openapi-backend lists the operation's own parameters first, then the path's: the first of a name wins.
    const parameters = (operation.parameters as OpenAPIV3.ParameterObject[]).filter((parameter, i, all) =>
      all.findIndex((other) => other.in === parameter.in && other.name === parameter.name) === i)
    const requestBody = operation.requestBody as OpenAPIV3.RequestBodyObject | undefined
    const bodies = Object.entries(requestBody?.content ?? {}).map(([mediaType, media]) => {
      // An NDJSON body is the array of its lines, as the server parses and validates it (its pointers start with a line's index).
      // Valid ones hold one or two lines: each line nests messages and parts, and more lines would mostly make bodies past
      // VALID_BODY_BYTES, to be made again.
      if (mediaType === NDJSON_MEDIA_TYPE) return { mediaType, schema: { ...ndjsonBodySchema(media.schema as Schema), [VALID_ITEMS]: 2 } as Schema }
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

/**
 * Text every free-text pattern of the spec takes (they only keep NUL out): a schema whose pattern refuses it has a
 * shape of its own (a URL, a media type), and its strings are made from the pattern.
 */
const FREE_TEXT = 'a ~"\\%?#/é字😀\u200b'

/** Lengths as the validator counts them: in code points. */
const lengthOf = (text: string) => [...text].length

/**
 * Text that some parser on the way reads as syntax, and that free text takes as text: the query operators of SQLite's
 * FTS5 and PostgreSQL's tsquery (search_messages hands neither of them a query), quotes left open and wildcards; what a
 * URL or a query string treats specially (percent signs, also before hex that is no UTF-8, `+`, `&`, `=`, `#`); emoji
 * (astral, joined, flags, skin tones); combining marks alone and stacked; invisible, bidirectional, compatibility and
 * private-use characters; letters whose case or diacritics fold in more than one way. No NUL and no lone surrogate:
 * the spec refuses both in a body (and a query string cannot carry a surrogate but as bytes no UTF-8 has, which
 * fuzz-operations.ts sends as such).
 */
const HOSTILE_FRAGMENTS = [
  'NEAR(a b)', 'NEAR(a b, 2)', 'a OR b', 'a AND NOT b', 'a NOT b', '-a', 'col:a', '{body scope}: a', '^a', '(a', 'a)', 'a*', 'a *', '"a', 'a"b"',
  '*', '**', '"', '""', '"" *', 'a + b', 'a & b', 'a | b', '!a', '!!a', 'a <-> b', 'a <2> b', 'a:*', 'a:AB', "'a'", "''", "a'b", '\\', '\\"',
  '%', '%25', '%zz', '%ED%A0%80', '%00', '+', 'a=b&c=d', '#a', '?a', '/../',
  '😀', '👩🏽‍💻', '🇵🇹', '🏽', '\u0301', 'e\u0301', 'Z\u0351\u0364\u0335\u0314\u0301', '\u0301\u0301*', 'Café', 'CAFÉ', 'ﬁ', 'İ', 'ß', 'Ⅻ', '①', '²',
  '\ue000', '\u200b', '\u200d', '\u200f', '\u202e', '\u2060', '\ufeff', '\ufffd', '\u00a0', '\u00ad', '\t', '\r\n', '字', 'Ελλάδα', 'ΜΌΣΧΑ',
]

/**
 * Strings of hostile fragments, mostly a few of them, sometimes one repeated to the maximum length (a 500-character
 * query of quotes or emoji), cut at a code point.
 */
function hostileString (minLength: number, maxLength: number): fc.Arbitrary<string> {
  const fragment = fc.constantFrom(...HOSTILE_FRAGMENTS)
  const few = fc.tuple(fc.array(fragment, { minLength: 1, maxLength: 4 }), fc.constantFrom(' ', '')).map(([fragments, joint]) => fragments.join(joint))
  const long = fragment.map((value) => [...value.repeat(Math.ceil(maxLength / lengthOf(value)))].slice(0, maxLength).join(''))
  return fc.oneof({ arbitrary: few, weight: 3 }, { arbitrary: long, weight: 1 })
    .filter((value) => lengthOf(value) >= minLength && lengthOf(value) <= maxLength)
}

/**
 * Strings mostly short (fast), sometimes at their exact maximum length, sometimes hostile (HOSTILE_FRAGMENTS), any
 * Unicode the schema allows.
 */
function stringArbitrary (schema: Schema): fc.Arbitrary<string> {
  if (schema.enum !== undefined) return fc.constantFrom(...(schema.enum as string[]))
  if (schema.format === 'email') return fc.emailAddress().filter((email) => email.length <= (schema.maxLength ?? 254))
  const minLength = schema.minLength ?? 0
  const maxLength = schema.maxLength ?? 100
  // The validator compiles patterns as Unicode regular expressions.
  const pattern = schema.pattern === undefined ? undefined : new RegExp(schema.pattern, 'u')
  if (pattern !== undefined && !pattern.test(FREE_TEXT)) return patternedString(pattern, minLength, maxLength)
  const short = fc.string({ unit: CHARACTER, minLength, maxLength: Math.min(maxLength, minLength + 12) })
  // At the maximum: a short string, then one character repeated (thousands of random ones would take long to make).
  const full = fc.tuple(short, CHARACTER).map(([start, filler]) => start + filler.repeat(maxLength - lengthOf(start)))
  const hostile = { arbitrary: hostileString(minLength, maxLength), weight: 2 }
  return maxLength > minLength + 12 ? fc.oneof({ arbitrary: short, weight: 8 }, { arbitrary: full, weight: 1 }, hostile) : fc.oneof({ arbitrary: short, weight: 8 }, hostile)
}

/**
 * Strings a pattern with a shape of its own takes: made from the pattern, and now and then padded to the maximum
 * length with a character its tail takes, when it takes one (a random string that long would never match).
 */
function patternedString (pattern: RegExp, minLength: number, maxLength: number): fc.Arbitrary<string> {
  const short = fc.stringMatching(pattern).filter((value) => lengthOf(value) >= minLength && lengthOf(value) <= maxLength)
  const pad = (value: string) => value + 'a'.repeat(maxLength - lengthOf(value))
  const padsWell = fc.sample(short, { numRuns: 10, seed: 1 }).every((value) => pattern.test(pad(value)))
  const full = padsWell ? [{ arbitrary: short.map(pad).filter((value) => pattern.test(value)), weight: 1 }] : []
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

/** Any value that obeys `schema` (the subset of JSON Schema our specs use), checked by ajv. */
export function valueFor (schema: Schema): fc.Arbitrary<unknown> {
  return rawValueFor(schema).filter((value) => obeys(schema, value))
}

/**
 * The largest valid body the fuzzers send: half the server's body limit, so that a body broken by a value past a
 * bound (a 256 KiB URL and one more character) is still judged by the validator rather than refused as too large.
 */
const VALID_BODY_BYTES = BODY_LIMIT_BYTES / 2

/** A request body that obeys `schema` and is well below the server's body limit. */
export function bodyValueFor (schema: Schema): fc.Arbitrary<unknown> {
  return valueFor(schema).filter((value) => Buffer.byteLength(JSON.stringify(value)) <= VALID_BODY_BYTES)
}

/** The members of a `oneOf` that is the whole schema, with no properties of its own (a union such as Part), or undefined. */
function unionMembers (schema: Schema): Schema[] | undefined {
  return schema.oneOf !== undefined && schema.properties === undefined ? schema.oneOf as Schema[] : undefined
}

/**
 * The properties of a `oneOf` whose every branch requires one property and says nothing else (NewMessage's
 * `content` or `parts`): exactly one of them is sent.
 */
function exclusiveProperties (schema: Schema): string[] | undefined {
  if (schema.oneOf === undefined || schema.properties === undefined) return undefined
  const names = (schema.oneOf as Schema[]).map((branch) =>
    Object.keys(branch).length === 1 && branch.required?.length === 1 ? branch.required[0] : undefined)
  return names.every((name) => name !== undefined) ? names as string[] : undefined
}

function integerArbitrary (schema: Schema): fc.Arbitrary<number> {
  const min = schema.minimum ?? -(2 ** 31)
  const max = schema.maximum ?? 2 ** 31 - 1
  // fc.integer stays within 32 bits; an int64 bound takes the safe integers.
  return min >= -(2 ** 31) && max <= 2 ** 31 - 1 ? fc.integer({ min, max }) : fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number)
}

function rawValueFor (schema: Schema): fc.Arbitrary<unknown> {
  const value = ((): fc.Arbitrary<unknown> => {
    const members = unionMembers(schema)
    if (members !== undefined) return fc.oneof(...members.map(rawValueFor))
    switch (schema.type) {
      case 'string': return stringArbitrary(schema)
      case 'integer': return integerArbitrary(schema)
      case 'boolean': return fc.boolean()
      // Each item valid on its own: an array of many nested items (an import's lines, their messages, their parts) is
      // then valid as a whole, instead of one invalid part in a hundred sending the whole body back to be made again.
      case 'array': return fc.array(valueFor(schema.items as Schema), {
        minLength: schema.minItems ?? 0,
        // The spec's maximums (100 messages, 100 parts) are reached by the broken-request tests; valid ones stay small.
        maxLength: Math.min(schema.maxItems ?? 5, schema[VALID_ITEMS] ?? 5),
      })
      case 'object': return objectFor(schema)
      default: throw new Error(`no arbitrary for schema type ${String(schema.type)}`)
    }
  })()
  return schema.nullable === true ? fc.option(value, { nil: null, freq: 4 }) : value
}

function objectFor (schema: Schema): fc.Arbitrary<unknown> {
  if (schema.properties === undefined) {
    // Any JSON object (a tool call's arguments), within its x-jsonBounds.
    if (typeof schema.additionalProperties !== 'object') return jsonObjectFor(schema['x-jsonBounds'])
    // A map: Metadata.
    // fastify's parser refuses a body holding a `__proto__` key anywhere (prototype poisoning), whatever the schema.
    const keys = stringArbitrary({ type: 'string', ...schema['x-propertyNames'] }).filter((key) => key !== '__proto__')
    return fc.dictionary(keys, rawValueFor(schema.additionalProperties as Schema), { maxKeys: Math.min(schema.maxProperties ?? 5, 5) })
  }
  // Each property valid on its own (a timestamp's pattern allows month 13, its format does not), as an array's items are.
  const properties = Object.fromEntries(Object.entries(schema.properties).map(([name, property]) => [name, valueFor(property as Schema)]))
  const required = schema.required ?? []
  const exclusive = exclusiveProperties(schema)
  if (exclusive === undefined) return fc.record(properties, { requiredKeys: required })
  // One of the exclusive properties, always, and none of the others.
  return fc.oneof(...exclusive.map((sent) => fc.record(
    Object.fromEntries(Object.entries(properties).filter(([name]) => name === sent || !exclusive.includes(name))),
    { requiredKeys: [...required, sent] })))
}

/** An object nested `depth` levels deep, as x-jsonBounds counts them (the object itself is level 1). */
const nestedObject = (depth: number): Record<string, unknown> => depth <= 1 ? {} : { a: nestedObject(depth - 1) }

/** An object whose JSON is exactly `bytes` long. */
const filledObject = (bytes: number): Record<string, unknown> => ({ a: 'x'.repeat(bytes - '{"a":""}'.length) })

/** Any JSON object: mostly small and a few levels deep, sometimes exactly at the bounds, when it has some. */
function jsonObjectFor (bounds: JsonBounds | undefined): fc.Arbitrary<Record<string, unknown>> {
  const small = fc.dictionary(fc.string({ unit: CHARACTER, maxLength: 12 }), fc.jsonValue({ maxDepth: 3, stringUnit: CHARACTER }), { maxKeys: 5 })
    .filter((value) => !JSON.stringify(value).includes('"__proto__":'))
  if (bounds === undefined) return small
  return fc.oneof(
    { arbitrary: small, weight: 8 },
    { arbitrary: fc.constant(null).map(() => nestedObject(bounds.maxDepth)), weight: 1 },
    { arbitrary: fc.constant(null).map(() => filledObject(bounds.maxBytes)), weight: 1 }
  )
}

/**
 * What NewMessage's description says in words: a tool_result part answers a tool_call of an earlier message of the
 * conversation (`storedCalls`, the ids of its calls) or one earlier in the same request. Each tool_result of `body`
 * that answers none is made to answer one, or, with no call before it, becomes the call itself.
 */
export function withAnsweredToolResults<T> (body: T, storedCalls: readonly string[]): T {
  const calls = [...storedCalls]
  const answer = (part: unknown): unknown => {
    if (typeof part !== 'object' || part === null) return part
    const { type, id, toolCallId } = part as Record<string, unknown>
    if (type === 'tool_call') calls.push(String(id))
    if (type !== 'tool_result' || calls.includes(String(toolCallId))) return part
    if (calls.length === 0) {
      calls.push(String(toolCallId))
      return { type: 'tool_call', id: toolCallId, name: 'lookup', arguments: {} }
    }
    return { ...part, toolCallId: calls[lengthOf(String(toolCallId)) % calls.length] }
  }
  // Parts in request order: messages, then the parts of each.
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk)
    if (typeof node !== 'object' || node === null) return node
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, key === 'parts' && Array.isArray(value) ? value.map(answer) : walk(value)]))
  }
  return walk(body) as T
}

/**
 * What ExpiresAt's description says in words: set by a create or an update, it is in the future. A body's (or each
 * line's) `expiresAt` that is not is moved to the last instant the format allows; an import keeps any, so its lines
 * are left alone by whoever sends them.
 */
export function inTheFuture<T> (body: T): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('expiresAt' in body)) return body
  const { expiresAt } = body as { expiresAt: unknown }
  return typeof expiresAt === 'string' && Date.parse(expiresAt) <= Date.now() ? { ...body, expiresAt: '9999-12-31T23:59:59.999Z' } : body
}

/** A path template filled with ids: `/users/{userId}` → `/users/7`. */
export function fillPath (operation: SpecOperation, ids: Record<string, unknown>): string {
  return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(ids[name])))
}

/** A URL with `query` percent-encoded; a parameter given an array is sent once for each of its values. */
export function toUrl (basePath: string, path: string, query: Record<string, unknown> = {}): string {
  const search = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== undefined)
    .flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((one): [string, string] => [name, String(one)])))
  const text = search.toString()
  return `${basePath}${path}${text === '' ? '' : `?${text}`}`
}

/**
 * Bytes a query string can hold that no string the fuzzers make turns into: percent-encodings of no UTF-8 (a lone
 * surrogate as WTF-8 would write it, a sequence cut short, an overlong form, a code point past U+10FFFF, a byte UTF-8
 * never uses), a `%` with no hex after it, and `+` (a space) next to its encoded self. Each is sent as is, in place of
 * a free-text query parameter's value.
 */
export const ODD_QUERY_ENCODINGS = [
  '%ED%A0%80', '%ED%B0%80', '%ED%A0%80%ED%B0%80', 'a%ED%A0%80b', '%F0%9F%98', '%C0%AF', '%E0%80%80', '%F4%90%80%80', '%FF', '%FE%FF',
  '%', 'a%', '%2', '%zz', '%%41', '+', 'a+b', '%2B', 'a+%2B+b', '%E2%80%AE', '%EF%BB%BF', '%F0%9F%98%80'.repeat(125),
]

/** Whether a schema takes free text (FREE_TEXT): a string with no enum, format or pattern of a shape of its own. */
export function isFreeText (schema: Schema): boolean {
  return schema.type === 'string' && schema.enum === undefined && schema.format === undefined &&
    (schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(FREE_TEXT))
}

// (A malformed percent-encoding, `%zz`, never reaches validation: test/api/bad-input.test.ts covers it.)
const BAD_IDS = ['0', '-1', 'abc', '1.5', '1e3', '0x10', '2147483648', '99999999999999999999', ' 7']
const BAD_ENTITY_TAGS = ['unquoted', '"open', '"1.1" "1.2"', '**', `"${'x'.repeat(1000)}"`]
// (Leading and trailing spaces are no way to break a key: HTTP strips them before the server sees the value.)
const BAD_IDEMPOTENCY_KEYS = ['', 'x'.repeat(256), 'tab\there', 'caf\u00e9']

/** Values breaking each header parameter, by name: a header without a list here fails loudly rather than go unbroken. */
const BAD_HEADERS: Record<string, string[]> = {
  'If-Match': BAD_ENTITY_TAGS,
  'If-None-Match': BAD_ENTITY_TAGS,
  'Idempotency-Key': BAD_IDEMPOTENCY_KEYS,
}

/**
 * Values breaking a query parameter, from its schema: an integer's below its minimum, above its maximum and not
 * integers; a string's (enum, pattern, format, lengths) those of a few shapes the schema refuses. A parameter no
 * candidate breaks fails loudly rather than go unbroken.
 */
function badQueryValues (parameter: OpenAPIV3.ParameterObject): string[] {
  const schema = parameter.schema as Schema
  if (schema.type === 'integer') {
    return ['ten', '2.5', '', ...schema.minimum === undefined ? [] : [String(schema.minimum - 1)], ...schema.maximum === undefined ? [] : [String(schema.maximum + 1)]]
  }
  const candidates = ['', '!!!', 'a b', 'nobody', 'nul \u0000 inside', '2026-02-30T00:00:00.000Z', '2026-01-01T00:00:00Z',
    ...schema.maxLength === undefined ? [] : ['x'.repeat(schema.maxLength + 1)]]
  const bad = candidates.filter((value) => !obeys(schema, value))
  if (bad.length === 0) throw new Error(`query ${parameter.name}: no way to break it (badQueryValues)`)
  return bad
}

export interface BreakingOptions {
  /**
   * Every path parameter names a row made for this case: a refusal the handler makes (after the row is found) can
   * then be asked for. With an id no row has, the answer to such a request is the 404.
   */
  rowsExist?: boolean
}

/** Every way to break a valid request in exactly one place, with where the server must say it is wrong. */
export function breakings (operation: SpecOperation, basePath: string, ids: Record<string, unknown>, query: Record<string, unknown>, body: SentBody | undefined, headers: Record<string, string> = {}, { rowsExist = false }: BreakingOptions = {}): Broken[] {
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
    const at = { in: 'query' as const, pointer: `/${parameter.name}` }
    for (const bad of badQueryValues(parameter)) {
      broken.push({ request: request(path, { ...query, [parameter.name]: bad }, body), ...at, how: `query ${parameter.name}=${JSON.stringify(bad)}` })
    }
    // Twice, each time valid: a parameter is one value.
    const value = query[parameter.name] ?? smallSample(parameter.schema as Schema)
    broken.push({ request: request(path, { ...query, [parameter.name]: [value, value] }, body), ...at, how: `query ${parameter.name} given twice` })
    if (parameter.required === true) {
      const { [parameter.name]: _, ...rest } = query
      broken.push({ request: request(path, rest, body), ...at, how: `query ${parameter.name} missing` })
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
    if (rowsExist) {
      for (const { pointer, value, how } of unansweredToolResults(body.value)) {
        broken.push({ request: request(path, query, { mediaType: body.mediaType, value }), in: 'body', pointer, how, answered: true })
      }
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

/** A value of none of the types `schema` allows; for a union, of none of its members' types. */
function wrongTypeFor (schema: Schema): unknown {
  const type = schema.type ?? unionMembers(schema)?.map((member) => member.type).reduce((a, b) => (a === b ? a : undefined))
  switch (type) {
    case 'string': return 42
    case 'integer': return 'seven'
    case 'array': return { not: 'an array' }
    case 'object': return ['not', 'an', 'object']
    default: return null
  }
}

const smallSamples = new Map<object, unknown>()

/** A valid value of `schema`, the smallest of a few as JSON: what a broken request carries many of, or adds. */
function smallSample (schema: Schema): unknown {
  if (!smallSamples.has(schema)) {
    const samples = fc.sample(valueFor(schema), { numRuns: 20, seed: 1 })
    smallSamples.set(schema, samples.reduce((a, b) => (JSON.stringify(b).length < JSON.stringify(a).length ? b : a)))
  }
  return smallSamples.get(schema)
}

function tooBig (schema: Schema): { value: unknown, how: string } | undefined {
  if (schema.type === 'string' && schema.enum !== undefined) return { value: 'nobody', how: 'not in the enum' }
  if (schema.type === 'string' && schema.maxLength !== undefined) return { value: 'x'.repeat(schema.maxLength + 1), how: `${schema.maxLength + 1} characters` }
  if (schema.type === 'array' && schema.maxItems !== undefined) {
    const item = smallSample(schema.items as Schema)
    return { value: Array.from({ length: schema.maxItems + 1 }, () => item), how: `${schema.maxItems + 1} items` }
  }
  if (schema.type === 'object' && schema.maxProperties !== undefined) {
    return { value: Object.fromEntries(Array.from({ length: schema.maxProperties + 1 }, (_, i) => [`k${i}`, 'v'])), how: `${schema.maxProperties + 1} keys` }
  }
  if (schema.type === 'integer' && schema.maximum !== undefined) return { value: schema.maximum + 1, how: 'above the maximum' }
  return undefined
}

/** Values past an x-jsonBounds: a NUL in a string or a key, one level too deep, one byte too long. */
function pastJsonBounds ({ maxBytes, maxDepth }: JsonBounds): Array<{ value: unknown, how: string }> {
  return [
    { value: { text: 'nul \u0000 inside' }, how: 'NUL in a string' },
    { value: { 'nul\u0000key': 1 }, how: 'NUL in a key' },
    { value: nestedObject(maxDepth + 1), how: `${maxDepth + 1} levels deep` },
    { value: filledObject(maxBytes + 1), how: `${maxBytes + 1} bytes as JSON` },
  ]
}

function bodyBreakings (schema: Schema, root: unknown, pointer: string): BodyBreak[] {
  const tokens = pointer === '' ? [] : pointer.slice(1).split('/').map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'))
  const at = (replacement: unknown) => replaced(root, tokens, replacement)
  let current: unknown = root
  for (const token of tokens) current = (current as Record<string, unknown>)[token]

  const members = unionMembers(schema)
  if (members !== undefined) {
    // A union is broken by a value of no member's type, and within the member the value is one of. A value whose
    // discriminator is missing, not a string or names no member is of no member at all: the 400 names the value.
    const member = members.find((candidate) => obeys(candidate, current))
    const tag = schema.discriminator === undefined ? undefined : `${pointer}/${escapeToken(schema.discriminator.propertyName)}`
    return [
      { pointer, value: at(wrongTypeFor(schema)), how: `wrong type at ${pointer}` },
      ...(member === undefined ? [] : bodyBreakings(member, root, pointer)).map((broken) => broken.pointer === tag ? { ...broken, pointer } : broken),
    ]
  }

  const breaks: BodyBreak[] = []
  if (pointer !== '' && schema.nullable !== true) breaks.push({ pointer, value: at(wrongTypeFor(schema)), how: `wrong type at ${pointer}` })
  const big = tooBig(schema)
  if (big !== undefined && pointer !== '') breaks.push({ pointer, value: at(big.value), how: `${big.how} at ${pointer}` })
  if (schema.type === 'string' && (schema.minLength ?? 0) > 0 && schema.enum === undefined) breaks.push({ pointer, value: at(''), how: `empty string at ${pointer}` })
  if (schema.type === 'string' && schema.pattern !== undefined && schema.enum === undefined && schema.format === undefined) {
    breaks.push({ pointer, value: at('nul \u0000 inside'), how: `NUL at ${pointer}` })
  }
  if (schema.type === 'array' && (schema.minItems ?? 0) > 0 && pointer !== '') breaks.push({ pointer, value: at([]), how: `no items at ${pointer}` })
  const bounds = schema['x-jsonBounds']
  if (bounds !== undefined && pointer !== '') {
    for (const { value, how } of pastJsonBounds(bounds)) breaks.push({ pointer, value: at(value), how: `${how} at ${pointer}` })
  }

  if (schema.type === 'object' && current !== null && typeof current === 'object') {
    const object = current as Record<string, unknown>
    if (schema.properties !== undefined) {
      for (const name of schema.required ?? []) {
        breaks.push({ pointer: `${pointer}/${escapeToken(name)}`, value: replaced(root, [...tokens, name], undefined), how: `missing ${pointer}/${name}` })
      }
      if (schema.additionalProperties === false) {
        breaks.push({ pointer: `${pointer}/surprise`, value: replaced(root, [...tokens, 'surprise'], 1), how: `unknown field ${pointer}/surprise` })
      }
      const exclusive = exclusiveProperties(schema) ?? []
      const sent = exclusive.find((name) => object[name] !== undefined)
      if (sent !== undefined) {
        // None of them: the 400 names each, the one that was sent among them.
        breaks.push({ pointer: `${pointer}/${escapeToken(sent)}`, value: replaced(root, [...tokens, sent], undefined), how: `none of ${exclusive.join(', ')} at ${pointer}` })
        // Two of them: the 400 names the one later in the spec's oneOf, sent with the earlier one.
        for (const other of exclusive.filter((name) => name !== sent)) {
          const later = exclusive.filter((name) => name === sent || name === other).at(-1)!
          const both = replaced(root, [...tokens, other], smallSample(schema.properties[other] as Schema))
          breaks.push({ pointer: `${pointer}/${escapeToken(later)}`, value: both, how: `${sent} and ${other} together at ${pointer}` })
        }
      }
      for (const [name, property] of Object.entries(schema.properties)) {
        if (object[name] !== undefined) breaks.push(...bodyBreakings(property as Schema, root, `${pointer}/${escapeToken(name)}`))
        else if (name !== 'messages') {
          // An optional property not sent is added, valid, to be broken; an exclusive one instead of the one sent.
          const base = exclusive.includes(name) && sent !== undefined ? replaced(root, [...tokens, sent], undefined) : root
          breaks.push(...bodyBreakings(property as Schema, replaced(base, [...tokens, name], smallSample(property as Schema)), `${pointer}/${escapeToken(name)}`))
        }
      }
    } else if (typeof schema.additionalProperties === 'object') {
      const key = 'x'.repeat((schema['x-propertyNames']?.maxLength ?? 64) + 1)
      breaks.push({ pointer: `${pointer}/${key}`, value: replaced(root, [...tokens, key], 'v'), how: `key too long in ${pointer}` })
      breaks.push({ pointer: `${pointer}/k`, value: replaced(root, [...tokens, 'k'], 7), how: `non-string value in ${pointer}` })
    }
  }
  if (schema.type === 'array' && Array.isArray(current)) {
    // Broken within its first item, or within the first of each member a union's items hold (each part type).
    const items = unionMembers(schema.items as Schema)
    const kindOf = (item: unknown) => items?.findIndex((member) => obeys(member, item)) ?? 0
    const firstOfEach = current.flatMap((item, i) => current.findIndex((other) => kindOf(other) === kindOf(item)) === i ? [i] : [])
    for (const i of firstOfEach) breaks.push(...bodyBreakings(schema.items as Schema, root, `${pointer}/${i}`))
  }
  return breaks
}

/** A tool_call id no request of the fuzzers makes. */
const UNANSWERED_CALL = 'call-that-was-never-made'

/**
 * A valid body (its tool_results answered) made to hold a tool_result that answers no tool_call: each tool_result in
 * turn, and the last part of each message replaced by one. Being the first that answers none, it is the one the
 * 400 names.
 */
function unansweredToolResults (body: unknown): BodyBreak[] {
  const breaks: BodyBreak[] = []
  const walk = (node: unknown, tokens: string[]): void => {
    if (Array.isArray(node)) { node.forEach((item, i) => { walk(item, [...tokens, String(i)]) }); return }
    if (typeof node !== 'object' || node === null) return
    for (const [key, value] of Object.entries(node)) {
      if (key !== 'parts' || !Array.isArray(value)) { walk(value, [...tokens, key]); continue }
      const parts = [...tokens, key]
      const unanswered = (j: number, part: object) => {
        const pointer = `/${[...parts, String(j), 'toolCallId'].map(escapeToken).join('/')}`
        breaks.push({ pointer, value: replaced(body, [...parts, String(j)], part), how: `a tool_result answering no tool_call at ${pointer}` })
      }
      value.forEach((part: { type?: unknown }, j) => {
        if (part?.type === 'tool_result') unanswered(j, { ...part, toolCallId: UNANSWERED_CALL })
      })
      if (value.length > 0) unanswered(value.length - 1, { type: 'tool_result', toolCallId: UNANSWERED_CALL, output: 'lost' })
    }
  }
  walk(body, [])
  return breaks
}
