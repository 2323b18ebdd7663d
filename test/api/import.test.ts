// import_user_data through the API on both stores: an export imported into another user exports the same lines but for
// ids; all or none, a bad line a 400 naming it; forkedFrom mapped within the import; Idempotency-Key; times kept and
// counters counted again; the body's bound; scoping.
import t from 'tap'
import { API_V2, startApp, store, storeContents, tableRows, v2Fixtures, type Reply } from '../helper.js'
import { adminToken, bearer, secretAuth, userToken } from '../tokens.js'

// A write refused by the database may draw an id from a PostgreSQL sequence, which no rollback returns.
const unchangedRows = store === 'sqlite' ? storeContents : tableRows

const NDJSON = { 'content-type': 'application/x-ndjson' }
const exportUrl = (userId: number) => `${API_V2}/users/${userId}/export`
const importUrl = (userId: number) => `${API_V2}/users/${userId}/import`

/** An export's lines with what an import makes anew (ids, the user) taken out, and forkedFrom's source by its place. */
function comparable (lines: any[]): unknown[] {
  const place = new Map<number, number>(lines.map((line, i) => [line.id, i]))
  const messagePlace = new Map<number, number>(lines.flatMap((line) => line.messages.map((message: any, i: number) => [message.id, i] as [number, number])))
  return lines.map(({ id: _id, userId: _user, forkedFrom, messages, ...rest }) => ({
    ...rest,
    forkedFrom: forkedFrom === null ? null : { line: place.get(forkedFrom.conversationId) ?? null, message: forkedFrom.messageId === null ? null : messagePlace.get(forkedFrom.messageId) ?? null },
    messages: messages.map(({ id: _m, conversationId: _c, ...message }: any) => message),
  }))
}

t.test('an export imported into another user exports the same lines, but for ids and the user', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const ada = await app.createUser({ name: 'Ada' })
  const bob = await app.createUser({ name: 'Bob' })
  const lisbon = await v2.createConversation(ada.id, {
    title: 'Lisbon',
    metadata: { app: 'guide' },
    messages: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'assistant', parts: [{ type: 'reasoning', text: 'hmm' }, { type: 'tool_call', id: 'c1', name: 'weather', arguments: { city: 'Lisbon' } }], model: 'gpt-4o', usage: { inputTokens: 5, outputTokens: 2 } },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'c1', output: 'sunny' }], metadata: { k: 'v' } },
    ]
  })
  await v2.fork(lisbon.id, { atMessageId: lisbon.messages[1]!.id, title: 'Lisbon, again' })
  await v2.createConversation(ada.id)
  const exported: Reply = await request('GET', exportUrl(ada.id))

  const imported = await request('POST', importUrl(bob.id), { payload: exported.text, headers: NDJSON })
  t.equal(imported.status, 201)
  t.same(imported.body.conversations.map((c: any) => c.from), exported.body.map((line: any) => line.id), 'one per line, in order')
  const again: Reply = await request('GET', exportUrl(bob.id))
  t.equal(again.body.length, exported.body.length)
  t.ok(again.body.every((line: any) => line.userId === bob.id))
  t.same(comparable(again.body), comparable(exported.body), 'the same lines: times, parts, usage, counters, forkedFrom mapped')
  t.same(new Set(again.body.map((line: any) => line.id)), new Set(imported.body.conversations.map((c: any) => c.id)))
  const search = await request('GET', `${API_V2}/users/${bob.id}/search?q=sunny`)
  t.equal(search.body.length, 1, 'the imported messages are searched')
  t.same((await request('GET', exportUrl(ada.id))).text, exported.text, "and Ada's history is as it was")
})

t.test('an import is all or none: a bad line is a 400 naming it, and nothing is stored', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const user = await app.createUser()
  const good = { title: 'fine', messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }] }
  const before = await unchangedRows(databaseUrl)
  const cases: Array<[string, string, string, string]> = [
    ['not JSON', `${JSON.stringify(good)}\nnot json\n`, '/1', 'line 2: is not JSON'],
    ['an empty line', `${JSON.stringify(good)}\n\n${JSON.stringify(good)}\n`, '/1', 'line 2: is empty'],
    ['a bad role', `${JSON.stringify(good)}\n${JSON.stringify({ messages: [{ role: 'bad', parts: [{ type: 'text', text: 'x' }] }] })}\n`, '/1/messages/0/role', 'line 2: must be one of: user, assistant, system, tool, developer'],
    ['a tool_result answering no call', `${JSON.stringify({ messages: [{ role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'nope', output: 'x' }] }] })}\n`, '/0/messages/0/parts/0/toolCallId', 'line 1: must name a tool_call of an earlier message of the same conversation'],
    ['a repeated id', `${JSON.stringify({ ...good, id: 7 })}\n${JSON.stringify({ ...good, id: 7 })}\n`, '/1/id', 'line 2: is the id of line 1 too'],
  ]
  for (const [what, payload, pointer, detail] of cases) {
    const reply: Reply = await request('POST', importUrl(user.id), { payload, headers: NDJSON })
    t.equal(reply.status, 400, what)
    t.same(reply.body.errors[0], { in: 'body', pointer, detail }, `${what}: names the line`)
  }
  t.equal((await request('POST', importUrl(user.id), { payload: '', headers: NDJSON })).status, 400, 'no line at all')
  t.equal((await request('POST', importUrl(user.id), { body: good })).status, 415, 'JSON is not NDJSON')
  t.equal((await request('POST', importUrl(2147483647), { payload: `${JSON.stringify(good)}\n`, headers: NDJSON })).status, 404, 'no such user')
  t.equal(await unchangedRows(databaseUrl), before, 'nothing stored')
})

t.test('times are kept, counters counted again, forkedFrom outside the import dropped; a retried import stores nothing twice', async (t) => {
  const app = await startApp(t)
  const { request, databaseUrl } = app
  const user = await app.createUser()
  const line = {
    id: 41,
    title: 'old',
    messageCount: 99,
    usage: { inputTokens: 1000, outputTokens: 1000 },
    forkedFrom: { conversationId: 12, messageId: 5 },
    createdAt: '2020-01-01T00:00:00.000Z',
    updatedAt: '2020-01-02T00:00:00.000Z',
    messages: [
      { role: 'user', parts: [{ type: 'text', text: 'a' }], createdAt: '2020-01-01T00:00:01.000Z', usage: { inputTokens: 2, outputTokens: 0 } },
      { role: 'assistant', parts: [{ type: 'text', text: 'b' }], content: 'ignored', usage: { inputTokens: 0, outputTokens: 3 } },
    ],
  }
  const headers = { ...NDJSON, 'idempotency-key': 'import-1' }
  const first = await request('POST', importUrl(user.id), { body: [line], headers })
  t.equal(first.status, 201)
  const id = first.body.conversations[0].id
  const rows = await tableRows(databaseUrl)
  const retried = await request('POST', importUrl(user.id), { body: [line], headers })
  t.equal(retried.headers['idempotent-replayed'], 'true')
  t.equal(retried.text, first.text)
  t.equal(await tableRows(databaseUrl), rows, 'stored once')
  const conversation = (await request('GET', `${API_V2}/conversations/${id}`)).body
  t.match(conversation, {
    title: 'old',
    messageCount: 2,
    usage: { inputTokens: 2, outputTokens: 3 },
    lastMessageAt: '2020-01-01T00:00:01.000Z',
    forkedFrom: null,
    createdAt: '2020-01-01T00:00:00.000Z',
    updatedAt: '2020-01-02T00:00:00.000Z',
  })
  const messages = (await request('GET', `${API_V2}/conversations/${id}/messages`)).body
  t.same(messages.map((m: any) => [m.content, m.createdAt]), [['a', '2020-01-01T00:00:01.000Z'], ['b', '2020-01-01T00:00:00.000Z']], "content is its parts' text; a message's time defaults to its conversation's")
})

t.test('every time the contract allows is kept as it was sent, from year 0001 to 9999; year 0000 is a 400', async (t) => {
  const app = await startApp(t)
  const user = await app.createUser()
  // PostgreSQL has no year 0 (1 BC); ISO 8601 has.
  const zero = await app.request('POST', importUrl(user.id), { body: [{ createdAt: '0000-12-31T23:59:59.999Z', messages: [] }], headers: NDJSON })
  t.same([zero.status, zero.body.errors?.[0]?.pointer], [400, '/0/createdAt'])
  const times = ['0001-01-01T00:00:00.000Z', '0001-12-31T23:59:59.999Z', '0999-06-15T12:00:00.000Z', '1969-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z']
  const lines = times.map((time) => ({ createdAt: time, updatedAt: time, messages: [{ role: 'user', parts: [{ type: 'text', text: time }], createdAt: time }] }))
  const imported = await app.request('POST', importUrl(user.id), { body: lines, headers: NDJSON })
  t.equal(imported.status, 201, imported.text.slice(0, 300))
  const exported = (await app.request('GET', exportUrl(user.id))).text.trim().split('\n').map((line) => JSON.parse(line))
  t.same(exported.map((line) => [line.createdAt, line.updatedAt, line.lastMessageAt, line.messages[0].createdAt]).sort(), times.map((time) => [time, time, time, time]).sort())
})

t.test('a user imports only into their own history; another user is a 404', async (t) => {
  const app = await startApp(t, { auth: secretAuth })
  const { request } = app
  const admin = bearer(await adminToken())
  const ada = await app.createUser({ name: 'Ada' }, admin)
  const bob = await app.createUser({ name: 'Bob' }, admin)
  const body = [{ messages: [{ role: 'user', parts: [{ type: 'text', text: 'mine' }] }] }]
  t.equal((await request('POST', importUrl(ada.id), { body, headers: { ...NDJSON, ...bearer(await userToken(bob.id)) } })).status, 404, "Bob cannot import into Ada's")
  t.equal((await request('POST', importUrl(ada.id), { body, headers: NDJSON })).status, 401)
  t.equal((await request('POST', importUrl(ada.id), { body, headers: { ...NDJSON, ...bearer(await userToken(ada.id)) } })).status, 201)
})
