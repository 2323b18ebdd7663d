// Request bodies are parsed in the media types the spec declares: JSON, and newline-delimited JSON (an import), parsed
// as the array of its lines' values; any other is a 415 from fastify, and a spec declaring one the server cannot parse
// does not start.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errorCodes } from 'fastify'
import type { OpenAPIBackend } from 'openapi-backend'
import type { ProblemError } from '../contract/problems.js'
import { escapePointerToken, NDJSON_MEDIA_TYPE, requestMediaTypes } from '../contract/request-validation.js'

/** application/json, and any type with the +json structured suffix (RFC 6839), e.g. application/merge-patch+json (RFC 7396). */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json$/

/**
 * A decoded body that no schema could accept, such as strings that are not Unicode text or a key that would
 * reach an object's prototype: a 400 validation problem naming where, from src/http/error-handler.ts.
 */
export class InvalidBodyError extends Error {
  constructor (readonly errors: ProblemError[]) {
    super(`request body is invalid at ${errors.map((error) => error.pointer).join(', ')}`)
  }
}

/** The body declares a charset other than UTF-8: a 415 from src/http/error-handler.ts. */
export class UnsupportedCharsetError extends Error {
  constructor (readonly charset: string) {
    super(`request body declared in charset ${charset}`)
  }
}

/** The body's bytes are not UTF-8 (invalid, overlong, truncated): a 400 from src/http/error-handler.ts. */
export class NotUtf8Error extends Error {
  constructor () {
    super('request body is not valid UTF-8')
  }
}

// JSON is UTF-8 (RFC 8259 §8.1). A lenient decoder would replace bad bytes with U+FFFD, silently storing
// text the client never sent; this one throws instead.
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The names a client may give UTF-8 by: the WHATWG Encoding Standard's labels of it (so `utf8`, a common
 * spelling many HTTP libraries send, is UTF-8 too, as browsers read it).
 */
const UTF8_LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8']

/** The `charset` parameter of a Content-Type, lower-cased and unquoted, or undefined when there is none. */
function charsetOf (contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^\s;]*))/i.exec(contentType ?? '')
  return match === null ? undefined : (match[1] ?? match[2])!.toLowerCase()
}

// A surrogate can reach a decoded string only through a \uD800-\uDFFF escape: UTF-8 bytes cannot encode one.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
// Each error's pointer is rebuilt from the root, so at most a few are reported on a deeply nested body.
const MAX_BODY_ERRORS = 10

interface Visit { value: unknown, token: string, parent: Visit | undefined }

function pointerOf (visit: Visit): string {
  const tokens: string[] = []
  for (let at: Visit | undefined = visit; at?.parent !== undefined; at = at.parent) tokens.push(escapePointerToken(at.token))
  return tokens.reverse().map((token) => `/${token}`).join('')
}

/**
 * Strings and property names holding an unpaired surrogate. Neither store can keep one (PostgreSQL refuses it,
 * SQLite would store bytes that are not UTF-8), and no text field of the contract means one. Iterative, as a
 * 1 MiB body can nest deeper than the call stack.
 */
function unpairedSurrogates (text: string, value: unknown): ProblemError[] {
  if (!SURROGATE_ESCAPE.test(text)) return []
  const errors: ProblemError[] = []
  const notText = (visit: Visit) => errors.push({ in: 'body', pointer: pointerOf(visit), detail: 'must not contain unpaired UTF-16 surrogates' })
  const pending: Visit[] = [{ value, token: '', parent: undefined }]
  while (pending.length > 0 && errors.length < MAX_BODY_ERRORS) {
    const visit = pending.pop()!
    if (typeof visit.value === 'string') {
      if (UNPAIRED_SURROGATE.test(visit.value)) notText(visit)
    } else if (typeof visit.value === 'object' && visit.value !== null) {
      // Reversed, so the first error found is the first in the document.
      for (const [token, child] of Object.entries(visit.value).reverse()) {
        const next = { value: child, token, parent: visit }
        if (UNPAIRED_SURROGATE.test(token)) notText(next)
        pending.push(next)
      }
    }
  }
  return errors
}

/**
 * The `__proto__` keys, and `constructor` keys holding a `prototype`, in a body fastify's parser refused.
 * It refuses them (code merging the parsed object could reach Object.prototype) with the same error as
 * malformed JSON; such a body is JSON, so the client is told which key, as for any invalid property.
 * JSON.parse keeps `__proto__` as an own property, so the walk sees it; nothing parsed here is kept. Empty
 * when the body is not JSON at all.
 */
function forbiddenKeys (text: string): ProblemError[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return []
  }
  const errors: ProblemError[] = []
  const pending: Visit[] = [{ value: parsed, token: '', parent: undefined }]
  while (pending.length > 0 && errors.length < MAX_BODY_ERRORS) {
    const visit = pending.pop()!
    if (typeof visit.value !== 'object' || visit.value === null) continue
    for (const [token, child] of Object.entries(visit.value).reverse()) {
      const next = { value: child, token, parent: visit }
      const reachesPrototype = token === '__proto__' ||
        (token === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype'))
      if (reachesPrototype) errors.push({ in: 'body', pointer: pointerOf(next), detail: 'is a key that would reach the object prototype' })
      else pending.push(next)
    }
  }
  return errors
}

/** A request whose headers say it has no body, whatever its Content-Type (axios sends one with an empty POST). */
function hasNoBody (request: FastifyRequest): boolean {
  const length = request.headers['content-length']
  return request.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')
}

/** Every media type some version's spec takes a request body in, with the operations that take it. */
function allRequestMediaTypes (apis: readonly OpenAPIBackend[]): Map<string, string[]> {
  const types = new Map<string, string[]>()
  for (const [mediaType, operationIds] of apis.flatMap((api) => [...requestMediaTypes(api)])) {
    types.set(mediaType, [...new Set([...types.get(mediaType) ?? [], ...operationIds])])
  }
  return types
}

type ParsedBody = (error: Error | null, value?: unknown) => void
type JsonParser = (request: FastifyRequest, body: string, done: ParsedBody) => void

/** One JSON text: fastify's parser, then the checks no schema can make (prototype keys, unpaired surrogates). */
function parseJsonText (parseJson: JsonParser, request: FastifyRequest, body: string, done: ParsedBody): void {
  parseJson(request, body, (error, value) => {
    if (error !== null) {
      const forbidden = forbiddenKeys(body)
      done(forbidden.length > 0 ? new InvalidBodyError(forbidden) : error, undefined)
      return
    }
    const notText = unpairedSurrogates(body, value)
    done(notText.length > 0 ? new InvalidBodyError(notText) : null, value)
  })
}

/**
 * NDJSON: each line parsed as a JSON body is, into the array of their values. A line that is not JSON is a 400 naming
 * it by its index (the pointer, as validation names a line's errors) and its number; so is an empty line but the last.
 */
function parseNdjson (parseJson: JsonParser, request: FastifyRequest, body: string, done: ParsedBody): void {
  const lines = body.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const values: unknown[] = []
  for (const [index, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    let failed = null as Error | null
    parseJsonText(parseJson, request, line, (error, value) => {
      failed = error
      values.push(value)
    })
    if (failed !== null) {
      const errors: ProblemError[] = failed instanceof InvalidBodyError
        ? failed.errors.map((error) => ({ ...error, pointer: `/${index}${error.pointer}`, detail: `line ${index + 1}: ${error.detail}` }))
        : [{ in: 'body', pointer: `/${index}`, detail: `line ${index + 1}: ${line.trim() === '' ? 'is empty' : 'is not JSON'}` }]
      done(new InvalidBodyError(errors), undefined)
      return
    }
  }
  done(null, values)
}

export function registerContentTypes (fastify: FastifyInstance, apis: readonly OpenAPIBackend[]): void {
  // fastify's own parser, refusing __proto__ and constructor.prototype keys.
  const parseJson = fastify.getDefaultJsonParser('error', 'error') as JsonParser
  fastify.removeAllContentTypeParsers()
  for (const [mediaType, operationIds] of allRequestMediaTypes(apis)) {
    if (!JSON_MEDIA_TYPE.test(mediaType) && mediaType !== NDJSON_MEDIA_TYPE) {
      throw new Error(`the spec declares request bodies in ${mediaType} (${operationIds.join(', ')}), which the server cannot parse: it parses application/json, +json media types and ${NDJSON_MEDIA_TYPE} only`)
    }
    const parse = mediaType === NDJSON_MEDIA_TYPE ? parseNdjson : parseJsonText
    // An empty body means "no body": create_conversation accepts none, and a required body is then a 400
    // from validation rather than fastify's own empty-body error.
    // Read as bytes, so they are checked as UTF-8 before anything decodes them.
    fastify.addContentTypeParser(mediaType, { parseAs: 'buffer' }, (request, bytes, done) => {
      if ((bytes as Buffer).length === 0) {
        done(null, undefined)
        return
      }
      const charset = charsetOf(request.headers['content-type'])
      if (charset !== undefined && !UTF8_LABELS.includes(charset)) {
        done(new UnsupportedCharsetError(charset), undefined)
        return
      }
      let body: string
      try {
        body = utf8.decode(bytes as Buffer)
      } catch {
        done(new NotUtf8Error(), undefined)
        return
      }
      parse(parseJson, request, body, done)
    })
  }
  // Every other media type: no body at all is no body, as fastify treats a request without Content-Type.
  // A body is a 415, and is not read; fastify closes the connection after it. Unknown paths go on to their 404.
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    if (hasNoBody(request) || request.is404) {
      done(null, undefined)
      return
    }
    done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined)
  })
}
