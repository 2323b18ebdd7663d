// The search benchmark's data (issue 28): a store of over a million messages whose text is drawn from a made-up
// vocabulary with Zipf-like word frequencies, so that the benchmark's queries are words of known frequencies, plus a
// planted rare word and a planted phrase. How often each query matches is counted while the rows are made.
//
// One user owns almost all of it: the cost of both the LIKE scan (every row of the user's) and the index (the postings
// of the user's scope token, the doclists of the words within it) grows with the searched user's own messages, not the
// store's, so the heaviest user is the worst case for both and the one measured. The other users' messages (a tenth)
// are there so that the index's scope to one user has something to leave out.
//
// Rows go in before the search migration, and the migration's backfill (src/store/migrate/backfill.ts) then indexes
// them, as on a store upgraded to this version: the index's final state is the one the project's own SQL writes (the
// triggers and the backfill read the same views or functions), and it is faster than a trigger firing per insert.
import pg from 'pg'
import Sqlite from 'better-sqlite3'
import { providerOf, sqliteFile } from '../../src/store/database-url.js'
import { mulberry32 } from '../mulberry32.js'
import { BASE_MS, BATCH, DAY_MS, insertRows, migrate, migrationsFor, type Batch, type ConversationRow, type MessageRow } from './seed.js'

export interface SearchSeedSize {
  /** The searched user's messages. */
  searched: number
  /** Other users, and their messages between them. */
  otherUsers: number
  others: number
}

export const SEARCH_FULL_SIZE: SearchSeedSize = { searched: 1_000_000, otherUsers: 99, others: 100_000 }
/** The smoke run's (CI): enough for every query kind to find something. */
export const SEARCH_SMOKE_SIZE: SearchSeedSize = { searched: 4_000, otherUsers: 9, others: 1_000 }

/** Messages a conversation: a long chat, so a user with a million messages has ten thousand conversations. */
const CONVERSATION_LENGTH = 100

export const SEARCH_KINDS = ['frequent', 'medium', 'rare', 'two-words', 'phrase', 'prefix'] as const
export type SearchKind = typeof SEARCH_KINDS[number]

export interface SearchQuery {
  kind: SearchKind
  /** As the API takes it (search_messages' query language). */
  q: string
  /** The searched user's messages it matches, as the index matches words (whole words, case folded). */
  hits: number
}

export interface SearchFixture {
  userId: number
  /** The searched user's messages, and the store's. */
  messages: number
  storeMessages: number
  queries: SearchQuery[]
  /** Inserting the rows, and the search migration indexing them. */
  rowsSeconds: number
  indexSeconds: number
}

/** The share of the searched user's messages a query word is picked to be in. */
const TARGETS = { frequent: 0.1, medium: 0.001, pair: 0.01, prefix: 0.01, phrase: [0.05, 0.02, 0.01] }
/** Messages given the rare word, and the phrase (a share: its words are frequent, the phrase is not). */
const RARE_COUNT = 5
const PHRASE_SHARE = 0.0001

const VOCABULARY = 30_000
/** Zipf's exponent: the n-th most frequent word is 1/n as frequent as the first, as in natural language. */
const ZIPF_S = 1
/** Words a message: short user turns, longer answers (4 to 24 words and 15 to 75). */
const USER_WORDS: [number, number] = [4, 20]
const ASSISTANT_WORDS: [number, number] = [15, 60]
const MEAN_WORDS = (USER_WORDS[0] + USER_WORDS[1] / 2 + ASSISTANT_WORDS[0] + ASSISTANT_WORDS[1] / 2) / 2

// Letters of the made-up words: no c, h, q, x, y, so the titles ("Chat n") and the rare word share no word with them.
const CONSONANTS = 'bdfgklmnprstvz'
const VOWELS = 'aeiou'
const RARE_WORD = 'quixhyx'

/** Distinct words of one to three syllables, some closed by a consonant, shortest first: frequent words are short. */
function vocabulary (next: () => number): string[] {
  const pick = (letters: string) => letters[Math.floor(next() * letters.length)]!
  const words = new Set<string>()
  while (words.size < VOCABULARY) {
    let word = ''
    const syllables = 1 + Math.floor(next() * 3)
    for (let s = 0; s < syllables; s++) word += pick(CONSONANTS) + pick(VOWELS)
    if (next() < 0.3) word += pick(CONSONANTS)
    words.add(word)
  }
  return [...words].sort((a, b) => a.length - b.length)
}

/** Draws word indexes with P(rank r) proportional to 1 / (r + 1)^s. */
function zipf (next: () => number): { draw: () => number, probability: Float64Array } {
  const probability = new Float64Array(VOCABULARY)
  let total = 0
  for (let r = 0; r < VOCABULARY; r++) total += (probability[r] = 1 / (r + 1) ** ZIPF_S)
  const cumulative = new Float64Array(VOCABULARY)
  let sum = 0
  for (let r = 0; r < VOCABULARY; r++) {
    probability[r]! /= total
    cumulative[r] = (sum += probability[r]!)
  }
  return {
    probability,
    draw () {
      const u = next() * sum
      let low = 0
      let high = VOCABULARY - 1
      while (low < high) {
        const middle = (low + high) >>> 1
        if (cumulative[middle]! < u) low = middle + 1
        else high = middle
      }
      return low
    },
  }
}

/** The expected share of messages a word (or words) of per-word probability `p` is in. */
const shareOf = (p: number) => 1 - (1 - p) ** MEAN_WORDS

/** The words whose expected shares are nearest the targets, each used once. */
function pickWords (probability: Float64Array, targets: number[], taken: Set<number>): number[] {
  return targets.map((target) => {
    let best = -1
    for (let r = 0; r < VOCABULARY; r++) {
      if (taken.has(r)) continue
      if (best === -1 || Math.abs(Math.log(shareOf(probability[r]!) / target)) < Math.abs(Math.log(shareOf(probability[best]!) / target))) best = r
    }
    taken.add(best)
    return best
  })
}

/** A four-letter prefix of at least three words whose expected share together is nearest the target. */
function pickPrefix (words: string[], probability: Float64Array, target: number): string {
  const byPrefix = new Map<string, { p: number, words: number }>()
  words.forEach((word, r) => {
    if (word.length < 4) return
    const entry = byPrefix.get(word.slice(0, 4)) ?? { p: 0, words: 0 }
    entry.p += probability[r]!
    entry.words += 1
    byPrefix.set(word.slice(0, 4), entry)
  })
  const distance = ({ p }: { p: number }) => Math.abs(Math.log(shareOf(p) / target))
  const [prefix] = [...byPrefix].filter(([, entry]) => entry.words >= 3).sort(([, a], [, b]) => distance(a) - distance(b))[0]!
  return prefix
}

/** `count` distinct message numbers below `total`, at random. */
function planted (count: number, total: number, next: () => number): Set<number> {
  const chosen = new Set<number>()
  while (chosen.size < Math.min(count, total)) chosen.add(Math.floor(next() * total))
  return chosen
}

interface Plan {
  words: string[]
  draw: () => number
  next: () => number
  queries: Array<{ kind: SearchKind, q: string, matches: (tokens: number[]) => boolean }>
  rare: Set<number>
  phrase: Set<number>
  phraseWords: number[]
}

/** The vocabulary, the queries and which of the searched user's messages get the planted rare word and phrase. */
function plan (size: SearchSeedSize): Plan {
  const next = mulberry32(28)
  const words = [...vocabulary(next), RARE_WORD]
  const rareIndex = VOCABULARY
  const { draw, probability } = zipf(next)
  const taken = new Set<number>()
  const [frequent, medium, first, second] = pickWords(probability, [TARGETS.frequent, TARGETS.medium, TARGETS.pair, TARGETS.pair], taken)
  const phraseWords = pickWords(probability, TARGETS.phrase, taken)
  const prefix = pickPrefix(words.slice(0, VOCABULARY), probability, TARGETS.prefix)
  const prefixed = new Uint8Array(words.length).map((_, r) => words[r]!.startsWith(prefix) ? 1 : 0)
  const has = (word: number) => (tokens: number[]) => tokens.includes(word)
  const [a, b, c] = phraseWords as [number, number, number]
  return {
    words,
    draw,
    next,
    rare: planted(RARE_COUNT, size.searched, next),
    phrase: planted(Math.max(2, Math.round(PHRASE_SHARE * size.searched)), size.searched, next),
    phraseWords,
    queries: [
      { kind: 'frequent', q: words[frequent!]!, matches: has(frequent!) },
      { kind: 'medium', q: words[medium!]!, matches: has(medium!) },
      { kind: 'rare', q: RARE_WORD, matches: has(rareIndex) },
      { kind: 'two-words', q: `${words[first!]} ${words[second!]}`, matches: (tokens) => tokens.includes(first!) && tokens.includes(second!) },
      {
        kind: 'phrase',
        q: `"${phraseWords.map((w) => words[w]).join(' ')}"`,
        matches: (tokens) => tokens.some((t, i) => t === a && tokens[i + 1] === b && tokens[i + 2] === c),
      },
      { kind: 'prefix', q: `${prefix}*`, matches: (tokens) => tokens.some((t) => prefixed[t] === 1) },
    ],
  }
}

/** A message's words as vocabulary indexes: a user's question or an answer, with what is planted in it. */
function tokensOf (plan: Plan, assistant: boolean, plant: { rare: boolean, phrase: boolean }): number[] {
  const [least, spread] = assistant ? ASSISTANT_WORDS : USER_WORDS
  const count = least + Math.floor(plan.next() * (spread + 1))
  const tokens: number[] = []
  for (let i = 0; i < count; i++) tokens.push(plan.draw())
  const at = () => Math.floor(plan.next() * (tokens.length + 1))
  if (plant.phrase) tokens.splice(at(), 0, ...plan.phraseWords)
  if (plant.rare) tokens.splice(at(), 0, VOCABULARY)
  return tokens
}

/** Sentences of 5 to 14 words, capitalised, ending in a full stop; never inside the planted phrase. */
function textOf (plan: Plan, tokens: number[]): string {
  const [a, b] = plan.phraseWords
  let text = ''
  let sentence = 0
  let length = 5 + Math.floor(plan.next() * 10)
  tokens.forEach((token, i) => {
    const word = plan.words[token]!
    text += sentence === 0 ? (i === 0 ? '' : ' ') + word[0]!.toUpperCase() + word.slice(1) : ' ' + word
    sentence += 1
    const inPhrase = (token === a && tokens[i + 1] === b) || (token === b && tokens[i - 1] === a)
    if ((sentence >= length && !inPhrase) || i === tokens.length - 1) {
      text += '.'
      sentence = 0
      length = 5 + Math.floor(plan.next() * 10)
    }
  })
  return text
}

/** The rows, in batches; counts each query's matches among the searched user's messages into `hits`. */
function * rows (size: SearchSeedSize, plan: Plan, hits: number[]): Generator<Batch> {
  const users = Array.from({ length: size.otherUsers + 1 }, (_, i) => [i + 1, `Search user ${i + 1}`, BASE_MS - DAY_MS] as [number, string, number])
  yield { table: 'User', rows: users }
  // The searched user's conversations first, then the others' dealt round the other users.
  const owners = [
    ...Array.from({ length: Math.ceil(size.searched / CONVERSATION_LENGTH) }, (_, i) => ({ userId: 1, first: i * CONVERSATION_LENGTH, total: size.searched })),
    ...Array.from({ length: Math.ceil(size.others / CONVERSATION_LENGTH) }, (_, i) => ({ userId: 2 + (i % Math.max(1, size.otherUsers)), first: i * CONVERSATION_LENGTH, total: size.others })),
  ]
  const span = 300 * DAY_MS / owners.length
  let messageId = 1
  let conversations: ConversationRow[] = []
  let messages: MessageRow[] = []
  for (const [i, { userId, first, total }] of owners.entries()) {
    const id = i + 1
    const count = Math.min(CONVERSATION_LENGTH, total - first)
    const createdAt = BASE_MS + Math.floor(i * span)
    for (let k = 0; k < count; k++) {
      const n = first + k
      const searched = userId === 1
      const tokens = tokensOf(plan, k % 2 === 1, { rare: searched && plan.rare.has(n), phrase: searched && plan.phrase.has(n) })
      if (searched) plan.queries.forEach((query, q) => { if (query.matches(tokens)) hits[q]!++ })
      const content = textOf(plan, tokens)
      messages.push([messageId++, id, k % 2 === 1 ? 'assistant' : 'user', content, JSON.stringify([{ type: 'text', text: content }]), createdAt + k * 30_000])
    }
    const lastAt = createdAt + (count - 1) * 30_000
    conversations.push([id, userId, `Chat ${id}`, '{}', count, createdAt, lastAt, lastAt])
    if (messages.length >= BATCH) {
      // Conversations first: messages reference them.
      yield { table: 'Conversation', rows: conversations }
      yield { table: 'Message', rows: messages }
      conversations = []
      messages = []
    }
  }
  if (conversations.length > 0) yield { table: 'Conversation', rows: conversations }
  if (messages.length > 0) yield { table: 'Message', rows: messages }
}

/** The migrations before the search index's, which the rows go in after. */
function beforeSearch (url: string) {
  const all = migrationsFor(url)
  const search = all.findIndex((migration) => migration.name.endsWith('_search'))
  if (search === -1) throw new Error('the search seed needs a migration named *_search to put its rows in before')
  return { before: all.slice(0, search), all }
}

/** Migrates and fills the empty database at `url`; the search migration indexes the rows. */
export async function seedSearch (url: string, size: SearchSeedSize): Promise<SearchFixture> {
  const { before, all } = beforeSearch(url)
  await migrate(url, before)
  const seedPlan = plan(size)
  const hits = seedPlan.queries.map(() => 0)
  const started = performance.now()
  await insertRows(url, rows(size, seedPlan, hits))
  const indexing = performance.now()
  await migrate(url, all)
  if (providerOf(url) === 'postgres') await analyze(url)
  const done = performance.now()
  return {
    userId: 1,
    messages: size.searched,
    storeMessages: size.searched + size.others,
    queries: seedPlan.queries.map(({ kind, q }, i) => ({ kind, q, hits: hits[i]! })),
    rowsSeconds: (indexing - started) / 1000,
    indexSeconds: (done - indexing) / 1000,
  }
}

/** The planner's statistics of the columns the search migration added. */
async function analyze (url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('ANALYZE')
  } finally {
    await client.end()
  }
}

/** What the search index takes on disk, in bytes, and the whole database beside it. */
export interface IndexSize {
  /** SQLite: the FTS5 table's shadow tables. PostgreSQL: the index tables (MessageSearch, ConversationSearch), all of them. */
  indexBytes: number
  /** PostgreSQL: those tables' indexes (the GIN indexes, their primary keys), and their rows (the tsvectors, TOAST included). */
  indexesBytes?: number
  rowsBytes?: number
  databaseBytes: number
}

export async function indexSize (url: string): Promise<IndexSize> {
  if (providerOf(url) === 'sqlite') {
    const db = new Sqlite(sqliteFile(url), { readonly: true })
    try {
      // dbstat (compiled into better-sqlite3's SQLite) sums the pages of each table and index.
      const { bytes } = db.prepare('SELECT sum(pgsize) AS bytes FROM dbstat WHERE name LIKE \'SearchIndex%\'').get() as { bytes: number }
      const { database } = db.prepare('SELECT page_count * page_size AS database FROM pragma_page_count(), pragma_page_size()').get() as { database: number }
      return { indexBytes: bytes, databaseBytes: database }
    } finally {
      db.close()
    }
  }
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    // The search migration's tables: "<Table>Search".
    const { rows: [row] } = await client.query<{ indexes: string, rows: string, database: string }>(`
      SELECT coalesce(sum(pg_indexes_size(oid)), 0) AS indexes, coalesce(sum(pg_table_size(oid)), 0) AS rows, pg_database_size(current_database()) AS database
      FROM pg_class WHERE relkind = 'r' AND relname LIKE '%Search' AND relnamespace = current_schema()::regnamespace`)
    const [indexes, rows] = [Number(row!.indexes), Number(row!.rows)]
    if (indexes + rows === 0) throw new Error('no search index tables (*Search) to measure')
    return { indexBytes: indexes + rows, indexesBytes: indexes, rowsBytes: rows, databaseBytes: Number(row!.database) }
  } finally {
    await client.end()
  }
}
