// search_messages through the API on both stores: what a query finds (words, phrases, prefixes, case and diacritics,
// every searched part and titles, and what is not searched), that nothing in `q` is syntax, snippets and highlights,
// ranking, filters and pages, the index kept in step by every write, and scoping. test/api/search-model.test.ts
// compares searches with a brute-force scan over random writes.
import t, { type Test } from 'tap'
import { contracts } from '../contract.js'
import { API, API_V2, startApp, until, v2Fixtures, type Reply, type Request, type V2Message } from '../helper.js'
import { bearer, secretAuth, adminToken, userToken } from '../tokens.js'
import type { components } from '../../generated/v2.js'

type Hit = components['schemas']['SearchHit']

/** Waits until the clock that stamps writes (this process's: the app runs in it) is past `time`. */
const clockPast = (time: string) => until(`the clock to pass ${time}`, () => Date.now() > Date.parse(time))

const searchUrl = (userId: number, q: string, query: Record<string, string | number> = {}) =>
  `${API_V2}/users/${userId}/search?${new URLSearchParams({ q, ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])) })}`

async function search (request: Request, userId: number, q: string, query: Record<string, string | number> = {}): Promise<Hit[]> {
  const reply = await request<Hit[]>('GET', searchUrl(userId, q, { limit: 100, ...query }))
  if (reply.status !== 200) throw new Error(`search ${JSON.stringify(q)} → ${reply.status}: ${reply.text}`)
  return reply.body
}

/** A hit as [conversationId, messageId]: what it found, not how it shows it. */
const found = (hits: readonly Hit[]) => hits.map((hit) => [hit.conversationId, hit.messageId] as const)
const sorted = (pairs: ReadonlyArray<readonly [number, number | null]>) => [...pairs].map((pair) => `${pair[0]}/${pair[1]}`).sort()

/** The highlighted words of a hit's snippet. */
const highlighted = ({ snippet, highlights }: Hit) => highlights.map(({ start, end }) => [...snippet].slice(start, end).join(''))

/** Follows rel="next" from `url`: every page. */
async function pages (t: Test, request: Request, url: string): Promise<Hit[][]> {
  const all: Hit[][] = []
  let next: string | undefined = url
  while (next !== undefined) {
    const reply: Reply<Hit[]> = await request('GET', next)
    t.equal(reply.status, 200, `page ${all.length + 1}`)
    all.push(reply.body)
    const link = reply.headers.link as string | undefined
    next = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1]
    if (link !== undefined) t.ok(next, `well-formed Link: ${link}`)
    if (all.length > 50) throw new Error('more than 50 pages')
  }
  return all
}

t.test('words, phrases and prefixes find what they should, in every searched part and in titles, whatever the case and diacritics', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const lisbon = await v2.createConversation(user.id, {
    title: 'Trip to Lisbon',
    messages: [
      { role: 'user', content: 'What should I see in Lisbon in two days? Café recommendations too.' },
      {
        role: 'assistant',
        parts: [
          { type: 'reasoning', text: 'The weather decides between indoor and outdoor sights.' },
          { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Porto', note: 'umbrella' } },
        ],
      },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: '{"forecast":"sunny","high":24}' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'text', text: 'Take tram 28 up to the castle.' },
          { type: 'image', url: 'https://example.com/zebra.png' },
          { type: 'file', url: 'https://example.com/giraffe.pdf', name: 'okapi.pdf' },
          { type: 'refusal', text: 'I cannot book tickets.' },
        ],
      },
    ],
  })
  const [question, thinking, weather, answer] = lisbon.messages.map((m) => m.id) as [number, number, number, number]
  const other = await v2.createConversation(user.id)
  const belem = await v2.postMessage(other.id, { role: 'user', content: 'Does tram 15 go to BELÉM?' })
  // Written through v1: the same store, searched alike.
  const v1 = await request<V2Message>('POST', `${API}/conversations/${other.id}/messages`, { body: { role: 'user', content: 'Pastéis de nata near the monastery' } })
  t.equal(v1.status, 201)

  const cases: Array<[q: string, expected: Array<[number, number | null]>, why: string]> = [
    ['lisbon', [[lisbon.id, null], [lisbon.id, question]], 'a word, in a title and a message'],
    ['LISBON', [[lisbon.id, null], [lisbon.id, question]], 'any case'],
    ['cafe', [[lisbon.id, question]], 'without its diacritics'],
    ['CAFÉ', [[lisbon.id, question]], 'with them, in another case'],
    ['belem', [[other.id, belem.id]], 'a capital with a diacritic'],
    ['pasteis', [[other.id, v1.body.id]], 'a message written through v1'],
    ['tram', [[lisbon.id, answer], [other.id, belem.id]], 'a word in two conversations'],
    ['tram castle', [[lisbon.id, answer]], 'several words: hits hold them all'],
    ['"tram 28"', [[lisbon.id, answer]], 'a phrase'],
    ['"28 tram"', [], 'a phrase is in order'],
    ['"tram castle"', [], 'a phrase is adjacent words'],
    ['tra*', [[lisbon.id, answer], [other.id, belem.id]], 'a prefix'],
    ['"to th"*', [[lisbon.id, answer]], 'a phrase ending in a prefix'],
    ['"tram 2"*', [], 'a phrase ending in one letter: the word "2"'],
    ['castle.', [[lisbon.id, answer]], 'punctuation is not searched'],
    ['tram-28', [[lisbon.id, answer]], 'words joined by punctuation are a phrase'],
    ['28-tram', [], 'in order'],
    ['cast*', [[lisbon.id, answer]], 'a prefix of one word only'],
    ['t*', [], 'a one-letter prefix is the word "t"'],
    ['weather', [[lisbon.id, thinking]], 'reasoning is searched'],
    ['sunny', [[lisbon.id, weather]], "a tool's output is searched"],
    ['tickets', [[lisbon.id, answer]], 'a refusal is searched'],
    ['porto', [], "a tool call's arguments are not"],
    ['umbrella', [], 'nor any of them'],
    ['zebra', [], "nor an image's URL"],
    ['okapi', [], "nor a file's name"],
    ['giraffe', [], 'nor its URL'],
    ['nowhere', [], 'a word nobody wrote'],
  ]
  for (const [q, expected, why] of cases) {
    t.strictSame(sorted(found(await search(request, user.id, q))), sorted(expected), `${JSON.stringify(q)}: ${why}`)
  }
})

t.test('nothing in a query is syntax: operators of FTS5 and tsquery are words or separators, and never an error', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const c = await v2.createConversation(user.id, {
    messages: [
      { role: 'user', content: 'tram or bus' },
      { role: 'user', content: 'sunny weather' },
      { role: 'user', content: 'near and far: not here' },
    ],
  })
  const [orBus, sunny, near] = c.messages.map((m) => m.id) as [number, number, number]
  const cases: Array<[string, number[]]> = [
    ['tram OR sunny', []],
    ['tram OR bus', [orBus]],
    ['NOT sunny', []],
    ['sunny NOT', []],
    ['-sunny', [sunny]],
    ['NEAR(near far)', []],
    ['NEAR(far near)', []],
    ['NEAR( near far )', [near]],
    ['near AND far', [near]],
    ['body:sunny', []],
    ['scope:u1', []],
    ['sunny:*', [sunny]],
    ['sunny & weather', [sunny]],
    ['sunny | tram', []],
    ['!sunny', [sunny]],
    ['sunny <-> weather', [sunny]],
    ['^sunny', [sunny]],
    ['(sunny', [sunny]],
    ['sunny)', [sunny]],
    ['"sunny', [sunny]],
    ['sunny"', [sunny]],
    ['"sunny weather', [sunny]],
    ['a"b"c', []],
    ['*', []],
    ['**', []],
    ['"', []],
    ['""', []],
    ['" "*', []],
    ['🙂 sunny', [sunny]],
    ['\u0301sunny', [sunny]],
    ['\uE000', []],
    ['sunny '.repeat(83).slice(0, 500), [sunny]],
    ["'; DROP TABLE \"Message\"; --", []],
  ]
  for (const [q, expected] of cases) {
    const hits = await search(request, user.id, q)
    t.strictSame(hits.map((hit) => hit.messageId).sort(), expected.sort(), `${JSON.stringify(q)} answers 200 with ${JSON.stringify(expected)}`)
  }
  const tooLong = await request('GET', searchUrl(user.id, 'a'.repeat(501)))
  t.equal(tooLong.status, 400, 'q of 501 characters: a 400')
  const empty = await request('GET', searchUrl(user.id, ''))
  t.equal(empty.status, 400, 'an empty q: a 400')
  const missing = await request('GET', `${API_V2}/users/${user.id}/search`)
  t.equal(missing.status, 400, 'no q: a 400')
  t.match(missing.body, { errors: [{ in: 'query', pointer: '/q' }] })
  const nul = await request('GET', `${API_V2}/users/${user.id}/search?q=a%00b`)
  t.equal(nul.status, 400, 'NUL in q: a 400')
})

t.test('snippets are plain text around the first match, cut at words, with the matched words highlighted in code points', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const long = `${'Lorem ipsum dolor sit amet. '.repeat(20)}Take  Tram\n28 up to the castle, then walk to Alfama. ${'Consectetur adipiscing elit. '.repeat(20)}`
  const c = await v2.createConversation(user.id, {
    title: 'Tram rides',
    messages: [
      { role: 'user', content: long },
      { role: 'user', content: '🙂🙂 Café tram' },
      { role: 'user', content: `${'x'.repeat(300)} tram` },
    ],
  })
  const hits = await search(request, user.id, '"tram 28" alf*')
  t.equal(hits.length, 1)
  const [hit] = hits as [Hit]
  t.match(hit.snippet, /^….*Take Tram 28 up to the castle, then walk to Alfama\..*…$/u, 'cut at both ends, whitespace runs as one space')
  t.ok([...hit.snippet].length <= 242, 'at most 240 characters of the message and two ellipses')
  t.notMatch(hit.snippet, /<|>/, 'no markup')
  t.strictSame(highlighted(hit), ['Tram', '28', 'Alfama'], 'the phrase\'s words and the prefix\'s word')
  t.strictSame(hit.title, 'Tram rides')

  const emoji = (await search(request, user.id, 'cafe')).find((h) => h.messageId === c.messages[1]!.id)!
  t.equal(emoji.snippet, '🙂🙂 Café tram')
  t.strictSame(emoji.highlights, [{ start: 3, end: 7 }], 'offsets count code points: each emoji is one')

  const tram = await search(request, user.id, 'tram')
  const title = tram.find((h) => h.messageId === null)!
  t.strictSame({ snippet: title.snippet, highlights: highlighted(title), role: title.role }, { snippet: 'Tram rides', highlights: ['Tram'], role: null }, 'a title hit')
  const afterLongWord = tram.find((h) => h.messageId === c.messages[2]!.id)!
  t.match(afterLongWord.snippet, /tram$/, 'a match after a word longer than the snippet is shown')
  t.strictSame(highlighted(afterLongWord), ['tram'])
})

t.test('hits come best first, ties newest first', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const c = await v2.createConversation(user.id)
  const once = await v2.postMessage(c.id, { role: 'user', content: 'tram and then many other words about the city and its hills and views' })
  await clockPast(once.createdAt)
  const often = await v2.postMessage(c.id, { role: 'user', content: 'tram tram tram' })
  await clockPast(often.createdAt)
  const [older, newer] = await v2.postMessages(c.id, [{ role: 'user', content: 'a ride on the tram' }, { role: 'user', content: 'a ride on the tram' }])
  await clockPast(newer!.createdAt)
  const newest = await v2.postMessage(c.id, { role: 'user', content: 'a ride on the tram' })
  const order = (await search(request, user.id, 'tram')).map((hit) => hit.messageId)
  t.equal(order[0], often.id, 'the message that says it most ranks first')
  t.equal(order.at(-1), once.id, 'the one where it is one word of many ranks last')
  t.strictSame(order.slice(1, 4), [newest.id, newer!.id, older!.id], 'equal texts: newest first, then by id among those written at once')
})

t.test('filters: conversation, role, time; pages of any size join up to the whole result, their links repeating the search', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const a = await v2.createConversation(user.id, { title: 'tram notes' })
  const b = await v2.createConversation(user.id)
  const early = await v2.postMessages(a.id, Array.from({ length: 12 }, (_, i) => ({ role: i % 2 === 0 ? 'user' as const : 'assistant' as const, content: `tram ride number ${i}` })))
  await clockPast(early[0]!.createdAt)
  const late = await v2.postMessages(b.id, Array.from({ length: 13 }, (_, i) => ({ role: 'user' as const, content: `the tram, stop ${i}` })))
  const everything = await search(request, user.id, 'tram')
  t.equal(everything.length, 26, '25 messages and a title')

  t.strictSame(sorted(found(await search(request, user.id, 'tram', { conversationId: b.id }))), sorted(late.map((m) => [b.id, m.id] as const)), 'one conversation')
  t.strictSame(sorted(found(await search(request, user.id, 'tram', { conversationId: a.id }))), sorted([[a.id, null], ...early.map((m) => [a.id, m.id] as const)]), 'another, its title too')
  t.strictSame(sorted(found(await search(request, user.id, 'tram', { role: 'assistant' }))), sorted(early.filter((m) => m.role === 'assistant').map((m) => [a.id, m.id] as const)), 'one role: no titles')
  t.strictSame(sorted(found(await search(request, user.id, 'tram', { since: late[0]!.createdAt }))), sorted(late.map((m) => [b.id, m.id] as const)), 'since: at or after')
  t.strictSame(sorted(found(await search(request, user.id, 'tram', { until: late[0]!.createdAt }))), sorted([[a.id, null], ...early.map((m) => [a.id, m.id] as const)]), 'until: before')
  t.strictSame(await search(request, user.id, 'tram', { conversationId: 2147483647 }), [], 'a conversation nobody has')

  const defaultLimit = (contracts.v2.dereferencedSpec.paths['/users/{userId}/search']!.get!.parameters as Array<{ name: string, schema: { default: number } }>).find((p) => p.name === 'limit')!.schema.default
  const first = await request<Hit[]>('GET', searchUrl(user.id, 'tram'))
  t.equal(first.body.length, defaultLimit, `no limit: the spec's default, ${defaultLimit}`)
  t.strictSame(first.body, everything.slice(0, defaultLimit), 'the same order')

  for (const limit of [1, 7, 26]) {
    const all = await pages(t, request, searchUrl(user.id, 'tram', { limit }))
    t.equal(all.length, Math.ceil(26 / limit))
    t.strictSame(all.flat(), everything, `pages of ${limit} join up to the whole result, no hit twice or missed`)
  }
  const filtered = await pages(t, request, searchUrl(user.id, 'tram ride', { role: 'user', limit: 2 }))
  t.strictSame(filtered.flat(), await search(request, user.id, 'tram ride', { role: 'user' }), 'the links repeat the words and the filters')

  const link = (await request('GET', searchUrl(user.id, 'tram', { limit: 5 }))).headers.link as string
  const cursor = new URL(/^<([^>]+)>/.exec(link)![1]!, 'http://x').searchParams.get('cursor')!
  const stranger = await app.createUser()
  const foreign = await request('GET', searchUrl(stranger.id, 'tram', { limit: 5, cursor }))
  t.equal(foreign.status, 400, "another user's cursor is refused")
  t.match(foreign.body, { errors: [{ in: 'query', pointer: '/cursor' }] })
  const messageCursor = Buffer.from(`${user.id}.5`).toString('base64url')
  t.equal((await request('GET', searchUrl(user.id, 'tram', { cursor: messageCursor }))).status, 400, "another list's cursor is refused")
})

t.test('the index follows every write: posts, batches, renames, deletes and their cascades, and a failed write leaves it alone', async (t) => {
  const app = await startApp(t)
  const { request } = app
  const v2 = v2Fixtures(request)
  const user = await app.createUser()
  const c = await v2.createConversation(user.id, { title: 'Porto weekend', messages: [{ role: 'user', content: 'francesinha please' }] })
  const posted = await v2.postMessage(c.id, { role: 'assistant', content: 'francesinha at the market' })
  const hits = async (q: string) => sorted(found(await search(request, user.id, q)))
  t.strictSame(await hits('francesinha'), sorted([[c.id, c.messages[0]!.id], [c.id, posted.id]]))

  t.equal((await request('DELETE', `${API_V2}/conversations/${c.id}/messages/${posted.id}`)).status, 204)
  t.strictSame(await hits('francesinha'), sorted([[c.id, c.messages[0]!.id]]), 'a deleted message is not found')

  t.equal((await request('PATCH', `${API_V2}/conversations/${c.id}`, { body: { title: 'Lisbon weekend' } })).status, 200)
  t.strictSame(await hits('porto'), [], 'the old title is gone')
  t.strictSame(await hits('lisbon'), sorted([[c.id, null]]), 'the new one is found')
  t.equal((await request('PATCH', `${API_V2}/conversations/${c.id}`, { body: { metadata: { a: 'b' } } })).status, 200)
  t.strictSame(await hits('lisbon'), sorted([[c.id, null]]), 'a patch without a title keeps it')
  t.equal((await request('PATCH', `${API_V2}/conversations/${c.id}`, { body: { title: null } })).status, 200)
  t.strictSame(await hits('lisbon weekend'), [], 'a title set to null is gone')

  const batch = await v2.postMessages(c.id, [{ role: 'user', content: 'pastel de nata' }, { role: 'assistant', content: 'nata it is' }])
  t.strictSame(await hits('nata'), sorted(batch.map((m) => [c.id, m.id] as const)), 'a batch is found')

  const failed = await request('POST', `${API_V2}/conversations/${c.id}/messages/batch`, {
    body: { messages: [{ role: 'user', content: 'zanzibar' }, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'nope', output: 'zanzibar' }] }] },
  })
  t.equal(failed.status, 400, 'a batch refused as a whole')
  t.strictSame(await hits('zanzibar'), [], 'leaves nothing to find')

  const keyed = { 'Idempotency-Key': 'search-once' }
  const first = await v2.postMessage(c.id, { role: 'user', content: 'madeira' }, keyed)
  const again = await v2.postMessage(c.id, { role: 'user', content: 'madeira' }, keyed)
  t.equal(again.id, first.id)
  t.strictSame(await hits('madeira'), sorted([[c.id, first.id]]), 'a retried create is found once')

  const second = await v2.createConversation(user.id, { title: 'sintra', messages: [{ role: 'user', content: 'sintra palace' }] })
  t.equal((await request('DELETE', `${API_V2}/conversations/${second.id}`)).status, 204)
  t.strictSame(await hits('sintra'), [], 'a deleted conversation\'s title and messages are gone')

  const other = await app.createUser()
  const kept = await v2.createConversation(other.id, { title: 'madeira', messages: [{ role: 'user', content: 'madeira wine' }] })
  t.equal((await request('DELETE', `${API_V2}/users/${user.id}`)).status, 204)
  const gone = await request('GET', searchUrl(user.id, 'madeira'))
  t.equal(gone.status, 404, "a deleted user's search is a 404")
  t.strictSame(sorted(found(await search(request, other.id, 'madeira'))), sorted([[kept.id, null], [kept.id, kept.messages[0]!.id]]), "another user's hits stay")
  t.strictSame(sorted(found(await search(request, other.id, 'francesinha nata'))), [], 'and the deleted user\'s are in nobody\'s')
})

t.test('a user finds only their own hits; another user, or one that does not exist, is a 404', async (t) => {
  const app = await startApp(t, { auth: secretAuth })
  const { request } = app
  const admin = bearer(await adminToken())
  const ada = await app.createUser({ name: 'Ada' }, admin)
  const bob = await app.createUser({ name: 'Bob' }, admin)
  const v2 = v2Fixtures(request)
  await v2.createConversation(ada.id, { messages: [{ role: 'user', content: 'secret plans' }] }, admin)
  const bobs = await v2.createConversation(bob.id, { messages: [{ role: 'user', content: 'secret recipes' }] }, admin)
  const asBob = bearer(await userToken(bob.id))
  const own = await request<Hit[]>('GET', searchUrl(bob.id, 'secret'), { headers: asBob })
  t.equal(own.status, 200)
  t.strictSame(found(own.body), [[bobs.id, bobs.messages[0]!.id]], "Bob finds his own message, not Ada's")
  const theirs = await request('GET', searchUrl(ada.id, 'secret'), { headers: asBob })
  t.equal(theirs.status, 404, "Ada's search with Bob's token is a 404")
  t.equal((await request('GET', searchUrl(ada.id, 'secret'))).status, 401, 'no token: a 401')
  const nobody = await request('GET', searchUrl(2147483647, 'secret'), { headers: admin })
  t.equal(nobody.status, 404, 'a user that does not exist: a 404')
  t.match(nobody.body, { status: 404, type: 'urn:trackbot:problem:not-found' })
})
