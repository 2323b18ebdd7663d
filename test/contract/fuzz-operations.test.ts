// Every operation in the spec, whatever its method, fuzzed from the spec (bodies in each media type it
// declares): valid requests get a documented answer that is not an error of the client's making;
// requests broken in one place get a 400 naming that place, and change nothing. No request ever gets a
// 5xx. FUZZ_SEED replays a run, FUZZ_RUNS makes it longer.
import fc from 'fast-check'
import t from 'tap'
import { API, fixtures, startApp, storeContents, type Request, type RequestOptions } from '../helper.js'
import { AUTH_MODES, withToken } from '../tokens.js'
import { breakings, fillPath, headerValueFor, runs, seed, specOperations, toUrl, valueFor, type SentBody, type SpecOperation } from './spec-arbitraries.js'

const FRESH = 'fresh'

t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} replays it)`)

/**
 * An id for each path parameter: a row made just for this case, or an id no row has. Not any id: fast-check
 * favours small ones, which name rows earlier cases made and changed, and a valid request can be a documented
 * 400 there (a metadata patch whose merge passes the key bound).
 */
function idsArbitrary (operation: SpecOperation): fc.Arbitrary<Record<string, number | typeof FRESH>> {
  return fc.record(Object.fromEntries(operation.pathParams.map((parameter) =>
    [parameter.name, fc.oneof({ arbitrary: fc.constant(FRESH), weight: 3 }, { arbitrary: fc.integer({ min: 2 ** 30, max: 2 ** 31 - 1 }), weight: 1 })])))
}

/** Query values the spec allows; no cursor, which is opaque and only valid as a Link header gives it. */
function queryArbitrary (operation: SpecOperation): fc.Arbitrary<Record<string, unknown>> {
  const params = operation.queryParams.filter((parameter) => parameter.name !== 'cursor')
  return fc.record(Object.fromEntries(params.map((parameter) => [parameter.name, valueFor(parameter.schema as never)])), { requiredKeys: [] })
}

/** Header values the spec allows (If-Match, If-None-Match), each sent or not. */
function headersArbitrary (operation: SpecOperation): fc.Arbitrary<Record<string, string>> {
  // A header not picked is left out of the record, not set to undefined.
  return fc.record(Object.fromEntries(operation.headerParams.map((parameter) => [parameter.name, headerValueFor(parameter)])), { requiredKeys: [] }) as fc.Arbitrary<Record<string, string>>
}

/** A body in one of the media types the operation declares; sometimes none, when the body is optional. */
function bodyArbitrary (operation: SpecOperation): fc.Arbitrary<SentBody | undefined> {
  if (operation.bodies.length === 0) return fc.constant(undefined)
  const sent = fc.oneof(...operation.bodies.map(({ mediaType, schema }) => valueFor(schema).map((value) => ({ mediaType, value }))))
  return operation.bodyRequired ? sent : fc.option(sent, { nil: undefined, freq: 5 })
}

const sending = (body: SentBody | undefined, headers: Record<string, string> = {}): RequestOptions =>
  body === undefined ? { headers } : { body: body.value, headers: { ...headers, 'content-type': body.mediaType } }

/**
 * Turns FRESH into the id of a user, conversation or message created for this case alone. Path parameters
 * come in the spec's order, so a fresh message goes into the conversation already chosen when it exists
 * (else into a new one, making it a message of another conversation).
 */
async function resolveIds (request: Request, ids: Record<string, number | typeof FRESH>): Promise<Record<string, number>> {
  const resolved: Record<string, number> = {}
  const { createUser, createConversation } = fixtures(request)
  const newConversation = async () => await createConversation((await createUser({ name: 'Fuzz' })).id, { messages: [{ role: 'user', content: 'hi' }] })
  for (const [name, id] of Object.entries(ids)) {
    if (id !== FRESH) { resolved[name] = id; continue }
    if (name === 'userId') { resolved[name] = (await createUser({ name: 'Fuzz' })).id; continue }
    if (name === 'conversationId') { resolved[name] = (await newConversation()).id; continue }
    // A path parameter naming another kind of row needs a way to make one here, or its cases would all be 404s.
    if (name !== 'messageId') throw new Error(`no way to make a row for path parameter ${name}`)
    // Posted inline: the conversation chosen may be any id, and a 404 there means a message of a new one.
    const posted = resolved.conversationId === undefined
      ? undefined
      : await request('POST', `${API}/conversations/${resolved.conversationId}/messages`, { body: { role: 'user', content: 'hi' } })
    resolved[name] = posted?.status === 201 ? posted.body.id : (await newConversation()).messages[0]!.id
  }
  return resolved
}

const operations = specOperations()

for (const mode of AUTH_MODES) {
  t.test(`valid requests get a documented answer, never a 400 or a 5xx (${mode.name})`, async (t) => {
    const app = await startApp(t, mode.options)
    const request = withToken(app.request, await mode.token())
    for (const operation of operations) {
      await fc.assert(fc.asyncProperty(idsArbitrary(operation), queryArbitrary(operation), bodyArbitrary(operation), headersArbitrary(operation), async (ids, query, body, headers) => {
        const url = toUrl(API, fillPath(operation, await resolveIds(request, ids)), query)
        // `request` fails the case if the answer breaks the spec (status, headers, body) or is a 5xx.
        const reply = await request(operation.method, url, sending(body, headers))
        if (reply.status === 400) throw new Error(`${operation.operationId} ${url} → ${reply.status} ${reply.text}`)
      }), { seed, numRuns: runs(30) })
      t.pass(`${operation.operationId}: valid requests answered as documented`)
    }
  })

  t.test(`requests broken in one place get a 400 naming it, and change nothing (${mode.name})`, async (t) => {
    const { databaseUrl, ...app } = await startApp(t, mode.options)
    const request = withToken(app.request, await mode.token())
    for (const operation of operations) {
      const cases = fc.tuple(idsArbitrary(operation), queryArbitrary(operation), bodyArbitrary(operation), headersArbitrary(operation), fc.nat())
      await fc.assert(fc.asyncProperty(cases, async ([ids, query, body, headers, pick]) => {
        const resolved = await resolveIds(request, ids)
        const options = breakings(operation, API, resolved, query, body, headers)
        const broken = options[pick % options.length]!
        const before = await storeContents(databaseUrl)
        const reply = await request(broken.request.method, broken.request.url, sending(broken.request.body, broken.request.headers))
        const named = (reply.body?.errors ?? []).some((error: any) => error.in === broken.in && error.pointer === broken.pointer)
        if (reply.status !== 400 || !named) {
          throw new Error(`${operation.operationId}, ${broken.how}: ${broken.request.url} → ${reply.status}, wanted a 400 naming ${broken.in} ${broken.pointer}: ${reply.text}`)
        }
        if (await storeContents(databaseUrl) !== before) throw new Error(`${operation.operationId}, ${broken.how}: a refused request changed the store`)
      }), { seed, numRuns: runs(30) })
      t.pass(`${operation.operationId}: broken requests refused where they are broken`)
    }
  })
}
