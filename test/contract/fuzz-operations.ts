// Every operation of a contract version, whatever its method, fuzzed from its spec (bodies in each media type it
// declares): valid requests get a documented answer that is not an error of the client's making (their free text
// often hostile: query operators, emoji, combining marks, 500 characters); requests broken in one place get a 400
// naming that place, and change nothing; free-text query parameters percent-encoded as no string is (no UTF-8, a lone
// surrogate's bytes) get a documented answer. No request ever gets a 5xx. FUZZ_SEED replays a run,
// FUZZ_RUNS makes it longer. One test file per version (fuzz-operations.test.ts, v1's, checks that each has one), so
// each stays well within the runner's time per file and the versions run side by side.
import fc from 'fast-check'
import t from 'tap'
import type { ContractVersion } from '../../src/contract/spec.js'
import { NDJSON_MEDIA_TYPE } from '../../src/contract/request-validation.js'
import { contracts } from '../contract.js'
import { fixtures, modelTables, startApp, storeContents, type Request, type RequestOptions } from '../helper.js'
import { AUTH_MODES, withToken } from '../tokens.js'
import {
  bodyValueFor, breakings, fillPath, headerValueFor, inTheFuture, isFreeText, ODD_QUERY_ENCODINGS, runs, seed, specOperations, toUrl, valueFor, withAnsweredToolResults,
  type Broken, type SentBody, type SpecOperation,
} from './spec-arbitraries.js'

const FRESH = 'fresh'

/** The tool_call every conversation made for a case holds (in a version with parts), for its tool_results to answer. */
const STORED_CALL = 'call_fuzz'

/**
 * An id for each path parameter: a row made just for this case, or an id no row has. Not any id: fast-check
 * favours small ones, which name rows earlier cases made and changed, and a valid request can be a documented
 * 400 there (a metadata patch whose merge passes the key bound).
 */
function idsArbitrary (operation: SpecOperation): fc.Arbitrary<Record<string, number | typeof FRESH>> {
  return fc.record(Object.fromEntries(operation.pathParams.map((parameter) =>
    [parameter.name, fc.oneof({ arbitrary: fc.constant(FRESH), weight: 3 }, { arbitrary: fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), weight: 1 })])))
}

/**
 * Query values the spec allows, the required ones always; no cursor, which is opaque and only valid as a Link header
 * gives it. Free text is often hostile (spec-arbitraries.ts, HOSTILE_FRAGMENTS): a search's `q` of query operators.
 */
function queryArbitrary (operation: SpecOperation): fc.Arbitrary<Record<string, unknown>> {
  const params = operation.queryParams.filter((parameter) => parameter.name !== 'cursor')
  const required = params.filter((parameter) => parameter.required === true).map((parameter) => parameter.name)
  return fc.record(Object.fromEntries(params.map((parameter) => [parameter.name, valueFor(parameter.schema as never)])), { requiredKeys: required })
}

/** Header values the spec allows (If-Match, If-None-Match), each sent or not. */
function headersArbitrary (operation: SpecOperation): fc.Arbitrary<Record<string, string>> {
  // A header not picked is left out of the record, not set to undefined.
  return fc.record(Object.fromEntries(operation.headerParams.map((parameter) => [parameter.name, headerValueFor(parameter)])), { requiredKeys: [] }) as fc.Arbitrary<Record<string, string>>
}

/** A body in one of the media types the operation declares; sometimes none, when the body is optional. */
function bodyArbitrary (operation: SpecOperation): fc.Arbitrary<SentBody | undefined> {
  if (operation.bodies.length === 0) return fc.constant(undefined)
  const sent = fc.oneof(...operation.bodies.map(({ mediaType, schema }) => bodyValueFor(schema).map((value) => ({ mediaType, value }))))
  return operation.bodyRequired ? sent : fc.option(sent, { nil: undefined, freq: 5 })
}

/**
 * The body as a valid request sends it: its tool_results answer calls the request or the conversation holds, its expiry
 * is ahead. Each line of an import is a new conversation of its own: its results answer its own calls only.
 */
function answered (body: SentBody | undefined, { storedCalls, storedMessages }: Pick<Resolved, 'storedCalls' | 'storedMessages'>): SentBody | undefined {
  if (body === undefined) return undefined
  if (body.mediaType === NDJSON_MEDIA_TYPE) return { ...body, value: (body.value as unknown[]).map((line) => withAnsweredToolResults(line, [])) }
  return { ...body, value: inTheFuture(atStoredMessage(withAnsweredToolResults(body.value, storedCalls), storedMessages)) }
}

/**
 * What fork_conversation's description says in words: its `atMessageId` names a message of the conversation. A valid
 * request's names the first the request's conversation holds, when it is one made for the case.
 */
function atStoredMessage (value: unknown, storedMessages: number[]): unknown {
  if (typeof value !== 'object' || value === null || !('atMessageId' in value) || storedMessages.length === 0) return value
  return { ...value, atMessageId: storedMessages[0] }
}

const sending = (body: SentBody | undefined, headers: Record<string, string> = {}): RequestOptions =>
  body === undefined ? { headers } : { body: body.value, headers: { ...headers, 'content-type': body.mediaType } }

interface Resolved {
  ids: Record<string, number>
  /** The ids of the tool calls the request's conversation holds: none where it is new, or no conversation has the id. */
  storedCalls: string[]
  /** The ids of the messages the request's conversation holds, where it was made for the case; else none. */
  storedMessages: number[]
  /** Whether every path parameter names a row made for this case. */
  rowsExist: boolean
}

/**
 * Turns FRESH into the id of a user, conversation or message created for this case alone. Path parameters
 * come in the spec's order, so a fresh message goes into the conversation already chosen when it exists
 * (else into a new one, making it a message of another conversation). In a version with content parts, a fresh
 * conversation holds a tool call for the request's tool_results to answer.
 */
async function resolveIds (request: Request, version: ContractVersion, ids: Record<string, number | typeof FRESH>): Promise<Resolved> {
  const { basePath } = contracts[version]
  const withParts = 'parts' in (contracts[version].dereferencedSpec.components?.schemas?.Message as { properties: object }).properties
  const messages = [
    { role: 'user', content: 'hi' },
    ...withParts ? [{ role: 'assistant', parts: [{ type: 'tool_call', id: STORED_CALL, name: 'lookup', arguments: {} }] }] : [],
  ]
  const created = async (url: string, body: unknown) => {
    const reply = await request('POST', `${basePath}${url}`, { body })
    if (reply.status !== 201) throw new Error(`POST ${basePath}${url} → ${reply.status}, not 201: ${reply.text.slice(0, 500)}`)
    return reply.body
  }
  const { createUser } = fixtures(request)
  const newConversation = async () => await created(`/users/${(await createUser({ name: 'Fuzz' })).id}/conversations`, { messages })
  const resolved: Record<string, number> = {}
  let storedMessages: number[] = []
  for (const [name, id] of Object.entries(ids)) {
    if (id !== FRESH) { resolved[name] = id; continue }
    if (name === 'userId') { resolved[name] = (await createUser({ name: 'Fuzz' })).id; continue }
    if (name === 'conversationId') {
      const conversation = await newConversation()
      resolved[name] = conversation.id
      storedMessages = conversation.messages.map((message: { id: number }) => message.id)
      continue
    }
    // A path parameter naming another kind of row needs a way to make one here, or its cases would all be 404s.
    if (name !== 'messageId') throw new Error(`no way to make a row for path parameter ${name}`)
    // Posted inline: the conversation chosen may be any id, and a 404 there means a message of a new one.
    const posted = resolved.conversationId === undefined
      ? undefined
      : await request('POST', `${basePath}/conversations/${resolved.conversationId}/messages`, { body: { role: 'user', content: 'hi' } })
    resolved[name] = posted?.status === 201 ? posted.body.id : (await newConversation()).messages[0]!.id
  }
  const rowsExist = Object.values(ids).every((id) => id === FRESH)
  return { ids: resolved, storedCalls: withParts && ids.conversationId === FRESH ? [STORED_CALL] : [], storedMessages, rowsExist }
}

/** Store contents (storeContents) less the Idempotency-Key records and their id counter. */
function withoutKeys (contents: string): string {
  const { rows, counters } = JSON.parse(contents) as { rows: unknown[][], counters: Array<{ name?: string, sequencename?: string }> }
  const isKeys = (name: string | undefined) => name?.startsWith('IdempotencyKey') === true
  return JSON.stringify({
    rows: rows.filter((_, i) => modelTables[i] !== 'IdempotencyKey'),
    counters: counters.filter((counter) => !isKeys(counter.name ?? counter.sequencename)),
  })
}

let keys = 0

/**
 * The headers a broken request is sent with. A refusal its handler makes comes after the Idempotency-Key is looked up,
 * and a key an earlier case sent with another body would be a 422 first: such a request gets a key of its own.
 */
function withFreshKey ({ request: { headers = {} }, answered }: Broken): Record<string, string> {
  return answered === true && headers['Idempotency-Key'] !== undefined ? { ...headers, 'Idempotency-Key': `answered-${++keys}` } : headers
}

/** How the fuzzed app takes its requests: AUTH_MODES' by name, `none` or `jwt`. */
export type FuzzedAuth = 'none' | 'jwt'
const authModes: Record<FuzzedAuth, (typeof AUTH_MODES)[number]> = { none: AUTH_MODES[0], jwt: AUTH_MODES[1] }

/**
 * The fuzz tests of one version's operations, in the auth modes given (every one by default): a version with many
 * operations fuzzes each mode in a test file of its own, so that each file runs well within tap's timeout.
 */
export function fuzzOperations (version: ContractVersion, auth: readonly FuzzedAuth[] = ['none', 'jwt']): void {
  t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} replays it)`)
  const { basePath } = contracts[version]
  const operations = specOperations(version)

  // Once per version: in the file that fuzzes without tokens.
  if (auth.includes('none')) {
    t.test(`${version}: free-text query parameters percent-encoded as no string is get a documented answer, never a 5xx`, async (t) => {
      const { request } = await startApp(t)
      const freeText = operations.flatMap((operation) => operation.queryParams.filter((candidate) => isFreeText(candidate.schema as never)).map((parameter) => [operation, parameter] as const))
      if (freeText.length === 0) t.pass(`no operation of ${version} has a free-text query parameter`)
      for (const [operation, parameter] of freeText) {
        // A valid request to rows made for it, but for the parameter's value, sent as is after the others.
        const [query, body] = fc.sample(fc.tuple(queryArbitrary(operation), bodyArbitrary(operation)), { numRuns: 1, seed })[0]!
        const stored = await resolveIds(request, version, Object.fromEntries(operation.pathParams.map(({ name }) => [name, FRESH])))
        const { ids } = stored
        const url = toUrl(basePath, fillPath(operation, ids), { ...query, [parameter.name]: undefined })
        for (const raw of ODD_QUERY_ENCODINGS) {
          const sent = `${url}${url.includes('?') ? '&' : '?'}${encodeURIComponent(parameter.name)}=${raw}`
          // `request` fails the case if the answer breaks the spec or is a 5xx; a 400 is for that value alone.
          const reply = await request(operation.method, sent, sending(answered(body, stored)))
          const named = (reply.body?.errors ?? []).some((error: any) => error.in === 'query' && error.pointer === `/${parameter.name}`)
          if (reply.status === 400 && !named) throw new Error(`${operation.operationId} ${sent} → 400 not naming query /${parameter.name}: ${reply.text.slice(0, 2000)}`)
        }
        t.pass(`${operation.operationId}: ${parameter.name} percent-encoded oddly answered as documented`)
      }
    })
  }

  for (const mode of auth.map((name) => authModes[name])) {
    t.test(`${version}: valid requests get a documented answer, never a 400 or a 5xx (${mode.name})`, async (t) => {
      const app = await startApp(t, mode.options)
      const request = withToken(app.request, await mode.token())
      for (const operation of operations) {
        await fc.assert(fc.asyncProperty(idsArbitrary(operation), queryArbitrary(operation), bodyArbitrary(operation), headersArbitrary(operation), async (ids, query, body, headers) => {
          const stored = await resolveIds(request, version, ids)
          const resolved = stored.ids
          const url = toUrl(basePath, fillPath(operation, resolved), query)
          // `request` fails the case if the answer breaks the spec (status, headers, body) or is a 5xx.
          const reply = await request(operation.method, url, sending(answered(body, stored), headers))
          if (reply.status === 400) throw new Error(`${operation.operationId} ${url} → ${reply.status} ${reply.text}`)
        }), { seed, numRuns: runs(30) })
        t.pass(`${operation.operationId}: valid requests answered as documented`)
      }
    })

    t.test(`${version}: requests broken in one place get a 400 naming it, and change nothing (${mode.name})`, async (t) => {
      const { databaseUrl, ...app } = await startApp(t, mode.options)
      const request = withToken(app.request, await mode.token())
      // What a refusal may not change: everything, or for one its handler makes, everything but the key it is kept under.
      const contents = async (allButKeys: boolean) => allButKeys ? withoutKeys(await storeContents(databaseUrl)) : await storeContents(databaseUrl)
      for (const operation of operations) {
        const cases = fc.tuple(idsArbitrary(operation), queryArbitrary(operation), bodyArbitrary(operation), headersArbitrary(operation), fc.nat())
        await fc.assert(fc.asyncProperty(cases, async ([ids, query, body, headers, pick]) => {
          const stored = await resolveIds(request, version, ids)
          const { ids: resolved, rowsExist } = stored
          const options = breakings(operation, basePath, resolved, query, answered(body, stored), headers, { rowsExist })
          const broken = options[pick % options.length]!
          const before = await contents(broken.answered === true)
          const reply = await request(broken.request.method, broken.request.url, sending(broken.request.body, withFreshKey(broken)))
          const named = (reply.body?.errors ?? []).some((error: any) => error.in === broken.in && error.pointer === broken.pointer)
          if (reply.status !== 400 || !named) {
            throw new Error(`${operation.operationId}, ${broken.how}: ${broken.request.url} → ${reply.status}, wanted a 400 naming ${broken.in} ${broken.pointer}: ${reply.text.slice(0, 2000)}`)
          }
          if (await contents(broken.answered === true) !== before) throw new Error(`${operation.operationId}, ${broken.how}: a refused request changed the store`)
        }), { seed, numRuns: runs(30) })
        t.pass(`${operation.operationId}: broken requests refused where they are broken`)
      }
    })
  }
}
