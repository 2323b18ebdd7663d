// search_messages against a model (issue 28): random conversations and messages of two users written through v2,
// some deleted, some renamed, the second user deleted, and every search, followed page by page, compared with the hits
// this file finds by brute force in what it wrote, with a tokenizer of its own. Texts are a few words spelt many ways
// (case, diacritics, composed or not, other scripts) joined by spaces and punctuation; queries are words, words AND-ed,
// phrases (quoted, or words joined by punctuation), prefixes, and text that looks like a search engine's operators,
// which the query language reads as words (openapi/v2.yaml, search_messages). FUZZ_SEED replays a run, FUZZ_RUNS
// makes it longer.
import fc from 'fast-check'
import t from 'tap'
import { runs, seed } from '../contract/spec-arbitraries.js'
import { expectEqual, expectStatus, pick } from '../contract/stateful.js'
import { API_V2, startApp, type Reply, type Request, type V2NewMessage } from '../helper.js'

// ---------------------------------------------------------------------------------------------------------
// What the test writes

/** The vocabulary: each word in the spellings texts and queries use, all of them one word to search. */
const SPELLINGS: readonly string[][] = [
  // Composed and decomposed (e + U+0301): one word.
  ['Café', 'cafe', 'CAFÉ', 'Cafe\u0301'],
  ['naïve', 'NAIVE', 'Naïve'],
  ['über', 'UBER', 'Über'],
  // A word and a longer one it is a prefix of.
  ['tram', 'Tram'],
  ['tramway', 'TRAMWAY'],
  ['Lisbon', 'lisbon'],
  // Operators' names, which are words like any other here.
  ['not', 'NOT'],
  ['or', 'OR'],
  ['near', 'NEAR'],
  ['foo', 'Foo'],
  ['bar', 'BAR'],
  // Case beyond ASCII.
  ['Москва', 'МОСКВА'],
  ['28'],
]

const SPELLING = fc.constantFrom(...SPELLINGS.flat())

/** Spellings a URL or a file name may hold as they are. */
const URL_WORD = fc.constantFrom(...SPELLINGS.flat().filter((spelling) => /^[A-Za-z0-9]+$/.test(spelling)))

/** What may come between words: spaces, punctuation, query syntax, an emoji, a zero-width space; all separate words. */
const SEPARATOR = fc.constantFrom(' ', ' ', ' ', '  ', '-', '.', ', ', '\n', '\t', ' "', '" ', ': ', ' (', ') ', '_', '/', ' * ', '’', ' 😀 ', '\u200b', ' & ', ' | ', '<->')

/** Texts with the same words in the same order, spelt differently: their hits rank alike. */
const STOCK = fc.constantFrom('Café tram 28', 'cafe TRAM 28', 'CAFÉ-tram.28', 'Cafe\u0301, Tram: 28')

/** One to six words with separators between them, and maybe before. */
const sentence = fc.tuple(fc.option(SEPARATOR, { nil: '' }), fc.array(fc.tuple(SPELLING, SEPARATOR), { minLength: 1, maxLength: 6 }))
  .map(([lead, words]) => lead + words.map(([word, separator], i) => (i === words.length - 1 ? word : word + separator)).join(''))

/** A searched text. */
const text: fc.Arbitrary<string> = fc.oneof({ arbitrary: sentence, weight: 4 }, { arbitrary: STOCK, weight: 1 })

type Part = NonNullable<V2NewMessage['parts']>[number]

const ROLES = ['user', 'assistant', 'system', 'tool', 'developer'] as const

/** The parts of one message, each kind: the searched ones and those whose words are not searched (call, image, file). */
const parts: fc.Arbitrary<Part[]> = fc.array(fc.oneof(
  text.map((value): Part[] => [{ type: 'text', text: value }]),
  text.map((value): Part[] => [{ type: 'reasoning', text: value }]),
  text.map((value): Part[] => [{ type: 'refusal', text: value }]),
  // A call (its name and arguments not searched) and its result (whose output is), as JSON or as text, or empty.
  fc.tuple(fc.nat(99), URL_WORD, text, fc.oneof(text, text.map((value) => JSON.stringify({ result: value })), fc.constant('')))
    .map(([n, name, argument, output]): Part[] => [
      { type: 'tool_call', id: `call_${n}`, name: `${name}_lookup`, arguments: { query: argument, [name]: [argument] } },
      { type: 'tool_result', toolCallId: `call_${n}`, output },
    ]),
  fc.tuple(URL_WORD, URL_WORD).map(([a, b]): Part[] => [{ type: 'image', url: `https://example.com/${a}-${b}.png`, mediaType: 'image/png' }]),
  fc.tuple(URL_WORD, URL_WORD).map(([a, b]): Part[] => [{ type: 'file', url: `data:text/plain,${a}%20${b}`, name: `${a} ${b}.txt` }])
), { minLength: 1, maxLength: 4 }).map((chunks) => chunks.flat())

const newMessage: fc.Arbitrary<V2NewMessage> = fc.tuple(fc.constantFrom(...ROLES), fc.oneof(
  text.map((content) => ({ content })),
  parts.map((value) => ({ parts: value }))
)).map(([role, body]) => ({ role, ...body }))

const title = fc.option(text, { nil: null, freq: 3 })

/**
 * What search reads of a message, by the spec: its text, reasoning and refusal parts and its tool results' output, in
 * order, joined by newlines; null when it has none.
 */
function searchedText (message: V2NewMessage): string | null {
  if (message.content !== undefined) return message.content
  const texts = (message.parts ?? []).flatMap((part) => {
    if (part.type === 'text' || part.type === 'reasoning' || part.type === 'refusal') return [part.text]
    return part.type === 'tool_result' ? [part.output] : []
  })
  return texts.length === 0 ? null : texts.join('\n')
}

// ---------------------------------------------------------------------------------------------------------
// The test's own search

/** A word as search compares it: without diacritics (composed or not), lower case. */
const fold = (value: string): string => value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()

/** A text's words: runs of letters and digits, folded. */
const wordsOf = (value: string): string[] => fold(value).split(/[^\p{L}\p{N}]+/u).filter((word) => word !== '')

/** One term of a query: words that must be adjacent, in order; the last a prefix when `prefix`. */
interface Term { words: string[], prefix: boolean }

/** A query: `q` as sent, the terms it means, and filters (a role, a conversation picked by position at run time). */
interface Query { q: string, terms: Term[], role?: string, conversation?: number }

const holds = (words: string[], { words: termWords, prefix }: Term): boolean => words.some((_, i) =>
  i + termWords.length <= words.length && termWords.every((word, k) =>
    prefix && k === termWords.length - 1 ? words[i + k]!.startsWith(word) : words[i + k] === word))

/** Whether `value` holds every term. */
const matches = (value: string | null, terms: Term[]): boolean => value !== null && terms.length > 0 && terms.every((term) => holds(wordsOf(value), term))

// ---------------------------------------------------------------------------------------------------------
// Queries

const word = (...spellings: string[]): Term => ({ words: spellings.map(fold), prefix: false })

/** The first `n` characters of a spelling, as a prefix term and as typed. */
const prefixOf = (spelling: string, n: number) => [...spelling].slice(0, n).join('')

/** Queries over two spellings `a` and `b` and a prefix length, with the terms the query language reads in them. */
const TEMPLATES: Array<(a: string, b: string, n: number) => Omit<Query, 'role' | 'conversation'>> = [
  (a) => ({ q: a, terms: [word(a)] }),
  (a, b) => ({ q: `${a} ${b}`, terms: [word(a), word(b)] }),
  (a, b) => ({ q: `"${a} ${b}"`, terms: [word(a, b)] }),
  // Punctuation joins words into a phrase.
  (a, b) => ({ q: `${a}-${b}`, terms: [word(a, b)] }),
  (a, b) => ({ q: `"${a}.${b}"`, terms: [word(a, b)] }),
  (a, _, n) => ({ q: `${prefixOf(a, n)}*`, terms: [{ words: [fold(prefixOf(a, n))], prefix: true }] }),
  (a) => ({ q: `${a}**`, terms: [{ words: [fold(a)], prefix: true }] }),
  (a, b, n) => ({ q: `"${a} ${prefixOf(b, n)}"*`, terms: [{ words: [fold(a), fold(prefixOf(b, n))], prefix: true }] }),
  // Operators of search engines are words, and their signs separators.
  (a) => ({ q: `NOT ${a}`, terms: [word('not'), word(a)] }),
  (a) => ({ q: `${a} OR`, terms: [word(a), word('or')] }),
  (a, b) => ({ q: `${a} OR ${b}`, terms: [word(a), word('or'), word(b)] }),
  (a, b) => ({ q: `${a} AND NOT ${b}`, terms: [word(a), word('and'), word('not'), word(b)] }),
  (a) => ({ q: `-${a}`, terms: [word(a)] }),
  (a, b) => ({ q: `NEAR(${a} ${b})`, terms: [word('near', a), word(b)] }),
  (a) => ({ q: `near:${a}`, terms: [word('near', a)] }),
  (a) => ({ q: `${a}:*`, terms: [word(a)] }),
  (a) => ({ q: `^${a}`, terms: [word(a)] }),
  (a) => ({ q: `(${a}`, terms: [word(a)] }),
  (a) => ({ q: `${a})`, terms: [word(a)] }),
  (a) => ({ q: `!${a}`, terms: [word(a)] }),
  // A quote left open is no syntax.
  (a) => ({ q: `"${a}`, terms: [word(a)] }),
  (a, b) => ({ q: `${a}"${b}"`, terms: [word(a), word(b)] }),
  (a, b) => ({ q: `${a} & ${b}`, terms: [word(a), word(b)] }),
  (a, b) => ({ q: `${a} | ${b}`, terms: [word(a), word(b)] }),
  (a, b) => ({ q: `${a} <-> ${b}`, terms: [word(a), word(b)] }),
  // `q` at its maximum length, 500 characters: emoji (12 characters each, percent-encoded in a Link) or quotes after a word.
  (a) => ({ q: `${a} ${'😀'.repeat(499 - [...a].length)}`, terms: [word(a)] }),
  (a) => ({ q: `${a} ${'"'.repeat(499 - [...a].length)}`, terms: [word(a)] }),
  // No word: nothing is found.
  () => ({ q: '*', terms: [] }),
  () => ({ q: '**', terms: [] }),
  () => ({ q: '"', terms: [] }),
  () => ({ q: '" - "', terms: [] }),
]

const query: fc.Arbitrary<Query> = fc.record({
  template: fc.nat(TEMPLATES.length - 1),
  a: SPELLING,
  b: SPELLING,
  n: fc.constantFrom(2, 3),
  role: fc.option(fc.constantFrom(...ROLES), { nil: undefined, freq: 5 }),
  conversation: fc.option(fc.nat(), { nil: undefined, freq: 5 }),
}).map(({ template, a, b, n, role, conversation }) => ({
  ...TEMPLATES[template]!(a, b, n),
  ...role === undefined ? {} : { role },
  ...conversation === undefined ? {} : { conversation },
}))

/** What every run ends with: each word of the vocabulary alone, in its last spelling (texts use them all). */
const EVERY_WORD: Query[] = SPELLINGS.map((spellings) => spellings.at(-1)!).map((spelling) => ({ q: spelling, terms: [word(spelling)] }))

// ---------------------------------------------------------------------------------------------------------
// The model

interface ModelMessage { id: number, role: string, createdAt: string, text: string | null }
interface ModelConversation { id: number, userId: number, title: string | null, createdAt: string, messages: ModelMessage[] }

interface Model {
  /** The two users, in order: the second is the one deleted. */
  users: Array<{ id: number, alive: boolean }>
  /** The live conversations, oldest first. */
  conversations: ModelConversation[]
}

type Command = fc.AsyncCommand<Model, Request>

/** A hit as the API names it. */
const keyOf = (hit: { conversationId: number, messageId: number | null }) => `${hit.conversationId}/${hit.messageId ?? 'title'}`

interface Expected { conversation: ModelConversation, message?: ModelMessage, text: string }

/** The hits of `query` for a user, found by reading everything the model holds. */
function expectedHits (model: Model, userId: number, { terms, role, conversation }: Query): Map<string, Expected> {
  const only = conversation === undefined ? undefined : pick(model.conversations, conversation)?.id
  const hits = new Map<string, Expected>()
  for (const candidate of model.conversations) {
    if (candidate.userId !== userId || (only !== undefined && candidate.id !== only)) continue
    if (role === undefined && matches(candidate.title, terms)) hits.set(keyOf({ conversationId: candidate.id, messageId: null }), { conversation: candidate, text: candidate.title! })
    for (const message of candidate.messages) {
      if ((role === undefined || message.role === role) && matches(message.text, terms)) {
        hits.set(keyOf({ conversationId: candidate.id, messageId: message.id }), { conversation: candidate, message, text: message.text! })
      }
    }
  }
  return hits
}

const PAGE = 3

const nextOf = (reply: Reply): string | undefined => {
  const link = reply.headers.link as string | undefined
  if (link === undefined) return undefined
  const next = /^<([^>]+)>; rel="next"$/.exec(link)?.[1]
  if (next === undefined) throw new Error(`malformed Link: ${link}`)
  return next
}

/** A highlight's text: code points of the snippet. */
const highlighted = (snippet: string, { start, end }: { start: number, end: number }) => [...snippet].slice(start, end).join('')

/** Checks one hit against what the model wrote: its fields, its snippet and highlights. */
function checkHit (hit: any, expected: Expected, { q, terms }: Query): void {
  const what = `q=${JSON.stringify(q)}: hit ${keyOf(hit)}`
  const { conversation, message } = expected
  expectEqual([hit.role, hit.createdAt, hit.title], [message?.role ?? null, message?.createdAt ?? conversation.createdAt, conversation.title], `${what}: role, createdAt, title`)
  // Texts are short: the snippet is all of the text around the match (its spaces put together, `…` where it is cut).
  const compact = (value: string) => value.replace(/\s+/g, '')
  if (!compact(expected.text).includes(compact(hit.snippet.replace(/^…|…$/g, '')))) {
    throw new Error(`${what}: snippet ${JSON.stringify(hit.snippet)} is not of the text ${JSON.stringify(expected.text)}`)
  }
  if (hit.highlights.length === 0) throw new Error(`${what}: no highlight in ${JSON.stringify(hit.snippet)}`)
  let end = 0
  for (const range of hit.highlights) {
    if (range.start < end || range.end <= range.start) throw new Error(`${what}: highlights out of order or empty: ${JSON.stringify(hit.highlights)}`)
    end = range.end
    const folded = fold(highlighted(hit.snippet, range))
    const found = terms.some(({ words, prefix }) => words.some((termWord, k) => (prefix && k === words.length - 1 ? folded.startsWith(termWord) : folded === termWord)))
    if (!found) throw new Error(`${what}: highlight ${JSON.stringify(highlighted(hit.snippet, range))} is no word of the query (snippet ${JSON.stringify(hit.snippet)})`)
  }
}

/**
 * Hits whose texts have the same words in the same order score the same on both stores, so among them the order is
 * the tie-break's: newest first, a message before a title, the larger id first.
 */
function checkTies (hits: any[], expected: Map<string, Expected>, q: string): void {
  const tieKey = (hit: any) => [expected.get(keyOf(hit))!.message?.createdAt ?? expected.get(keyOf(hit))!.conversation.createdAt, hit.messageId === null ? 0 : 1, hit.messageId ?? hit.conversationId] as const
  const greater = (a: readonly [string, number, number], b: readonly [string, number, number]) => a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? a[1] > b[1] : a[2] > b[2]
  for (let i = 0; i < hits.length; i += 1) {
    for (let j = i + 1; j < hits.length; j += 1) {
      const [a, b] = [expected.get(keyOf(hits[i]))!, expected.get(keyOf(hits[j]))!]
      if (wordsOf(a.text).join(' ') !== wordsOf(b.text).join(' ')) continue
      if (!greater(tieKey(hits[i]), tieKey(hits[j]))) {
        throw new Error(`q=${JSON.stringify(q)}: ${keyOf(hits[i])} comes before ${keyOf(hits[j])}, but their texts score alike and it is not newer (tie-break)`)
      }
    }
  }
}

/**
 * Searches as `user` (by position) and compares with the model: the hits of every page, followed by Link with a
 * small limit, are exactly the model's (no duplicate, none missing), in the order one page of them all has; a deleted
 * user's search is a 404.
 */
async function checkSearch (model: Model, request: Request, user: number, query: Query): Promise<void> {
  const { id: userId, alive } = model.users[user]!
  const conversationId = query.conversation === undefined ? undefined : pick(model.conversations, query.conversation)?.id
  const filters = { ...query.role === undefined ? {} : { role: query.role }, ...conversationId === undefined ? {} : { conversationId: String(conversationId) } }
  const url = (limit: number) => `${API_V2}/users/${userId}/search?${new URLSearchParams({ q: query.q, ...filters, limit: String(limit) })}`
  const what = `search as user ${userId} for ${JSON.stringify(query.q)} ${JSON.stringify(filters)}`
  if (!alive) {
    expectStatus(await request('GET', url(PAGE)), 404, `${what} (deleted)`)
    return
  }

  const paged: any[] = []
  let next: string | undefined = url(PAGE)
  for (let page = 0; next !== undefined; page += 1) {
    const reply: Reply = await request('GET', next)
    expectStatus(reply, 200, `${what}, page ${page}`)
    if (reply.body.length > PAGE) throw new Error(`${what}, page ${page}: ${reply.body.length} hits, more than limit=${PAGE}`)
    if (page > 0 && reply.body.length === 0) throw new Error(`${what}, page ${page}: empty, but the page before gave a Link to it`)
    paged.push(...reply.body)
    next = nextOf(reply)
    if (next !== undefined) {
      // The next page repeats the search.
      const repeated = new URL(next, 'http://x').searchParams
      expectEqual([repeated.get('q'), repeated.get('role'), repeated.get('conversationId')], [query.q, filters.role ?? null, filters.conversationId ?? null], `${what}: the Link's q and filters`)
    }
    if (page > 100) throw new Error(`${what}: more than 100 pages`)
  }

  const expected = expectedHits(model, userId, query)
  const keys = paged.map(keyOf)
  if (new Set(keys).size !== keys.length) throw new Error(`${what}: a hit on two pages: ${keys.join(', ')}`)
  expectEqual([...keys].sort(), [...expected.keys()].sort(), `${what}: the hits`)
  for (const hit of paged) checkHit(hit, expected.get(keyOf(hit))!, query)
  checkTies(paged, expected, query.q)

  // Pages follow one another in the order of the whole list.
  const whole = await request('GET', url(100))
  expectStatus(whole, 200, `${what}, one page`)
  expectEqual(whole.body.map(keyOf), keys, `${what}: pages of ${PAGE} in the order of one page of all`)
}

// ---------------------------------------------------------------------------------------------------------
// Commands

/** Messages as written: their ids, roles and times from the answer, their searched text from what was sent. */
function written (sent: V2NewMessage[], answered: any[]): ModelMessage[] {
  expectEqual(answered.length, sent.length, 'messages written')
  return answered.map((message, i) => ({ id: message.id, role: message.role, createdAt: message.createdAt, text: searchedText(sent[i]!) }))
}

const describe = (value: unknown) => JSON.stringify(value)

class CreateConversation implements Command {
  constructor (readonly user: number, readonly title: string | null, readonly messages: V2NewMessage[]) {}
  check = (model: Readonly<Model>) => model.users[this.user]!.alive
  async run (model: Model, request: Request) {
    const userId = model.users[this.user]!.id
    const reply = await request('POST', `${API_V2}/users/${userId}/conversations`, { body: { title: this.title, messages: this.messages } })
    expectStatus(reply, 201, 'create_conversation')
    model.conversations.push({ id: reply.body.id, userId, title: this.title, createdAt: reply.body.createdAt, messages: written(this.messages, reply.body.messages) })
  }

  toString = () => `CreateConversation(${this.user}, ${describe(this.title)}, ${describe(this.messages)})`
}

class PostMessage implements Command {
  constructor (readonly conversation: number, readonly message: V2NewMessage) {}
  check = (model: Readonly<Model>) => model.conversations.length > 0
  async run (model: Model, request: Request) {
    const conversation = pick(model.conversations, this.conversation)!
    const reply = await request('POST', `${API_V2}/conversations/${conversation.id}/messages`, { body: this.message })
    expectStatus(reply, 201, 'create_message')
    conversation.messages.push(...written([this.message], [reply.body]))
  }

  toString = () => `PostMessage(${this.conversation}, ${describe(this.message)})`
}

class PostMessages implements Command {
  constructor (readonly conversation: number, readonly messages: V2NewMessage[]) {}
  check = (model: Readonly<Model>) => model.conversations.length > 0
  async run (model: Model, request: Request) {
    const conversation = pick(model.conversations, this.conversation)!
    const reply = await request('POST', `${API_V2}/conversations/${conversation.id}/messages/batch`, { body: { messages: this.messages } })
    expectStatus(reply, 201, 'create_messages')
    conversation.messages.push(...written(this.messages, reply.body.messages))
  }

  toString = () => `PostMessages(${this.conversation}, ${describe(this.messages)})`
}

class DeleteMessage implements Command {
  constructor (readonly message: number) {}
  check = (model: Readonly<Model>) => model.conversations.some((conversation) => conversation.messages.length > 0)
  async run (model: Model, request: Request) {
    const [conversation, message] = pick(model.conversations.flatMap((c) => c.messages.map((m) => [c, m] as const)), this.message)!
    expectStatus(await request('DELETE', `${API_V2}/conversations/${conversation.id}/messages/${message.id}`), 204, 'delete_message')
    conversation.messages = conversation.messages.filter((candidate) => candidate !== message)
  }

  toString = () => `DeleteMessage(${this.message})`
}

class DeleteConversation implements Command {
  constructor (readonly conversation: number) {}
  check = (model: Readonly<Model>) => model.conversations.length > 0
  async run (model: Model, request: Request) {
    const conversation = pick(model.conversations, this.conversation)!
    expectStatus(await request('DELETE', `${API_V2}/conversations/${conversation.id}`), 204, 'delete_conversation')
    model.conversations = model.conversations.filter((candidate) => candidate !== conversation)
  }

  toString = () => `DeleteConversation(${this.conversation})`
}

class Rename implements Command {
  constructor (readonly conversation: number, readonly title: string | null) {}
  check = (model: Readonly<Model>) => model.conversations.length > 0
  async run (model: Model, request: Request) {
    const conversation = pick(model.conversations, this.conversation)!
    const reply = await request('PATCH', `${API_V2}/conversations/${conversation.id}`, { body: { title: this.title }, headers: { 'content-type': 'application/merge-patch+json' } })
    expectStatus(reply, 200, 'update_conversation')
    conversation.title = this.title
  }

  toString = () => `Rename(${this.conversation}, ${describe(this.title)})`
}

/** The second user deleted: their hits go with them, and a search of theirs is a 404. */
class DeleteOtherUser implements Command {
  check = (model: Readonly<Model>) => model.users[1]!.alive
  async run (model: Model, request: Request) {
    const user = model.users[1]!
    expectStatus(await request('DELETE', `${API_V2}/users/${user.id}`), 204, 'delete_user')
    user.alive = false
    model.conversations = model.conversations.filter((conversation) => conversation.userId !== user.id)
  }

  toString = () => 'DeleteOtherUser'
}

class Search implements Command {
  constructor (readonly user: number, readonly queries: Query[]) {}
  check = () => true
  async run (model: Model, request: Request) {
    for (const one of this.queries) await checkSearch(model, request, this.user, one)
  }

  toString = () => `Search(${this.user}, ${describe(this.queries)})`
}

/** Every word of the vocabulary, as each user: what every run ends with. */
class SearchEveryWord implements Command {
  check = () => true
  async run (model: Model, request: Request) {
    for (const user of [0, 1]) {
      for (const one of EVERY_WORD) await checkSearch(model, request, user, one)
    }
  }

  toString = () => 'SearchEveryWord'
}

const USER = fc.constantFrom(0, 1)

const writes: Array<fc.Arbitrary<Command>> = [
  fc.tuple(USER, title, fc.array(newMessage, { maxLength: 3 })).map(([user, value, messages]) => new CreateConversation(user, value, messages)),
  fc.tuple(fc.nat(), newMessage).map(([conversation, message]) => new PostMessage(conversation, message)),
  fc.tuple(fc.nat(), fc.array(newMessage, { minLength: 1, maxLength: 3 })).map(([conversation, messages]) => new PostMessages(conversation, messages)),
]

const commands: Array<fc.Arbitrary<Command>> = [
  // Writes three times as likely as each other command, so that there is something to find, and to delete.
  ...writes,
  ...writes,
  ...writes,
  fc.nat().map((message) => new DeleteMessage(message)),
  fc.nat().map((conversation) => new DeleteConversation(conversation)),
  fc.tuple(fc.nat(), title).map(([conversation, value]) => new Rename(conversation, value)),
  fc.constant(new DeleteOtherUser()),
  fc.tuple(USER, fc.array(query, { minLength: 1, maxLength: 3 })).map(([user, queries]) => new Search(user, queries)),
]

t.comment(`fast-check seed ${seed} (FUZZ_SEED=${seed} replays it)`)

t.test('every search finds exactly what a scan of everything written finds, page by page', async (t) => {
  // One app for all runs: each run's users are its own, and hits are only ever a user's own.
  const { request } = await startApp(t)
  const newUser = async (name: string) => {
    const reply = await request('POST', `${API_V2}/users`, { body: { name } })
    expectStatus(reply, 201, 'create_user')
    return { id: reply.body.id as number, alive: true }
  }
  await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: 'large' }), async (sequence) => {
    const setup = async () => ({ model: { users: [await newUser('Searcher'), await newUser('Other')], conversations: [] }, real: request })
    await fc.asyncModelRun(setup, [...sequence, new SearchEveryWord()])
  }), { seed, numRuns: runs(12) })
  t.pass('every search agreed with the model')
})
