// search_messages over the full-text indexes the search migrations build and their triggers keep in step
// (docs/decisions.md, "Search: two stores, one query language"): SQLite's FTS5 table SearchIndex, PostgreSQL's tables
// MessageSearch and ConversationSearch. Each store ranks by its own measure (FTS5's
// bm25, PostgreSQL's ts_rank_cd), scaled to an integer score so a page's position is a cursor of integers; ties go
// newest first, then messages before titles, then by id. The hits' texts are read for the page's rows only.
import { columns, queryRows } from './columns.js'
import { empty, join, raw, sql, type Dialect, type Sql } from './dialect.js'
import type { Provider } from './migrate/index.js'
import type { SearchFilters, SearchHit } from './models.js'
import { isId, isTimestampMs, toPage, type ListOptions, type Page } from './page.js'
import type { PrismaClient } from './database.js'
import { parseQuery, snippetOf, type Term } from './search-text.js'
import type { UserRepository } from './users.js'
import type { Expiry } from './expiry.js'

/**
 * Relevance as a non-negative integer: the stores' measures are floats, and a cursor holds integers. bm25 is about 1e-6
 * for a word most rows hold (FTS5's floor for its weight) and tens at most, so nine decimals keep its order and the
 * score stays a safe integer.
 */
const SCORE_SCALE = 1_000_000_000
const MAX_SCORE = 1_000_000_000_000_000

/** Sort key of a search: score, createdAt (ms), kind (1 a message, 0 a title), id. */
export type SearchKey = [score: number, createdAtMs: number, kind: number, id: number]
export const isSearchKey = (key: readonly number[]): key is SearchKey =>
  key.length === 4 && key[0]! <= MAX_SCORE && isTimestampMs(key[1]!) && (key[2] === 0 || key[2] === 1) && isId(key[3]!)

/** A hit as the query selects it: the API's fields but the snippet's, the text the snippet is cut from, the score. */
type HitRow = Omit<SearchHit, 'snippet' | 'highlights'> & { text: string | null, score: number }

const keyOf = (hit: HitRow): SearchKey =>
  [hit.score, Date.parse(hit.createdAt), hit.messageId === null ? 0 : 1, hit.messageId ?? hit.conversationId]

/** A ranked candidate as both stores' inner queries select it. */
interface Ranked { rid: Sql, kind: Sql, score: Sql, at: Sql }

/** The rows strictly after `key` in the hits' order (score, createdAt, kind, id, all descending). */
const after = (key: SearchKey | undefined, { score, at, kind, rid }: Ranked) => key === undefined
  ? empty
  : sql`AND (${score}, ${at}, ${kind}, ${rid}) < (${key[0]}, ${new Date(key[1])}, ${key[2]}, ${key[3]})`

const ORDER = raw('score DESC, at DESC, kind DESC, rid DESC')

/**
 * SQLite: one MATCH on the FTS5 table, each term a quoted string (a word) or quoted words (a phrase), `*` after it for a
 * prefix; quotes are the only syntax inside a string, and words hold none. A conversation filter is its token in the
 * `scope` column; the owner is each hit's conversation's.
 */
function sqliteHits (userId: number, terms: readonly Term[], filters: SearchFilters, key: SearchKey | undefined, limit: number, list: Sql, expiry: Expiry): Sql {
  const phrases = terms.map(({ words, prefix }) => `"${words.join(' ')}"${prefix ? ' *' : ''}`).join(' ')
  const scope = filters.conversationId === undefined ? '' : `scope : "c${filters.conversationId}" AND `
  const ranked: Ranked = { rid: sql`abs(hit.rid)`, kind: sql`(hit.rid > 0)`, score: sql`hit.score`, at: sql`coalesce(m."createdAt", c."createdAt")` }
  return sql`
    SELECT ${list} FROM (
      SELECT ${ranked.rid} AS rid, ${ranked.kind} AS kind, hit.score AS score, ${ranked.at} AS at, m.role AS role, c.id AS cid
      FROM (
        SELECT rowid AS rid, CAST(min(round(-bm25("SearchIndex", 0.0, 1.0) * ${raw(String(SCORE_SCALE))}), ${raw(String(MAX_SCORE))}) AS INTEGER) AS score
        FROM "SearchIndex" WHERE "SearchIndex" MATCH ${`${scope}body : (${phrases})`}
      ) AS hit
      LEFT JOIN "Message" AS m ON hit.rid > 0 AND m.id = hit.rid
      JOIN "Conversation" AS c ON c.id = coalesce(m."conversationId", -hit.rid)
      WHERE c."userId" = ${userId} AND ${expiry.live('c')} ${filters.role === undefined ? empty : sql`AND m.role = ${filters.role}`} ${timeRange(ranked.at, filters)} ${after(key, ranked)}
      ORDER BY ${ORDER}
      LIMIT ${limit}
    ) AS h
    JOIN "Conversation" AS c ON c.id = h.cid
    ORDER BY ${ORDER}`
}

/**
 * PostgreSQL: the terms' tsqueries (search_term, from the migration) AND-ed, over the user's entries of messages and
 * titles, each table's GIN index holding the owner beside the words.
 */
function postgresHits (userId: number, terms: readonly Term[], filters: SearchFilters, key: SearchKey | undefined, limit: number, list: Sql, expiry: Expiry): Sql {
  const query = join(terms.map(({ words, prefix }) => sql`search_term(${words.join(' ')}, ${prefix})`), ' && ')
  // A double, not a bigint, which the driver would read as a BigInt: the value is a whole number below 2^53.
  const score = sql`CAST(LEAST(round(CAST(ts_rank_cd(s.search, ${query}) AS double precision) * ${raw(String(SCORE_SCALE))}), ${raw(String(MAX_SCORE))}) AS double precision)`
  const ranked: Ranked = { rid: sql`rid`, kind: sql`kind`, score: sql`score`, at: sql`at` }
  const messages = sql`
    SELECT m.id AS rid, 1 AS kind, ${score} AS score, m."createdAt" AS at, m.role AS role, m."conversationId" AS cid
    FROM "MessageSearch" AS s JOIN "Message" AS m ON m.id = s."messageId"
    WHERE s."userId" = ${userId} AND s.search @@ (${query})
    ${filters.conversationId === undefined ? empty : sql`AND m."conversationId" = ${filters.conversationId}`}
    ${filters.role === undefined ? empty : sql`AND m.role = ${filters.role}`} ${timeRange(sql`m."createdAt"`, filters)}`
  // A role filter asks for messages: titles have none.
  const titles = filters.role !== undefined
    ? empty
    : sql`
    UNION ALL
    SELECT c.id, 0, ${score}, c."createdAt", NULL, c.id
    FROM "ConversationSearch" AS s JOIN "Conversation" AS c ON c.id = s."conversationId"
    WHERE s."userId" = ${userId} AND s.search @@ (${query})
    ${filters.conversationId === undefined ? empty : sql`AND c.id = ${filters.conversationId}`} ${timeRange(sql`c."createdAt"`, filters)}`
  return sql`
    SELECT ${list} FROM (
      SELECT * FROM (${messages} ${titles}) AS hit
      WHERE ${expiry.liveConversation(sql`hit.cid`)} ${after(key, ranked)}
      ORDER BY ${ORDER}
      LIMIT ${limit}
    ) AS h
    JOIN "Conversation" AS c ON c.id = h.cid
    LEFT JOIN "Message" AS m ON h.kind = 1 AND m.id = h.rid
    ORDER BY ${ORDER}`
}

function timeRange (at: Sql, { since, until }: SearchFilters): Sql {
  return sql`${since === undefined ? empty : sql`AND ${at} >= ${new Date(since)}`} ${until === undefined ? empty : sql`AND ${at} < ${new Date(until)}`}`
}

/**
 * The page's columns, over the ranked rows `h` and their conversation `c` (and on PostgreSQL their message `m`). On
 * SQLite a message's text is a subquery of the view by id: joined, the view would be built whole, every message's text.
 */
function hitColumns (dialect: Dialect, provider: Provider) {
  return columns<HitRow>({
    conversationId: sql`h.cid`,
    messageId: sql`CASE WHEN h.kind = 1 THEN h.rid END`,
    role: sql`h.role`,
    createdAt: dialect.isoTime(sql`h.at`),
    title: sql`c.title`,
    text: provider === 'postgres' ? sql`CASE WHEN h.kind = 1 THEN message_search_text(m.parts) ELSE c.title END` : sql`CASE WHEN h.kind THEN (SELECT t.body FROM "MessageSearchRow" AS t WHERE t.rowid = h.rid) ELSE c.title END`,
    score: sql`h.score`,
  })
}

export function createSearchRepository (prisma: PrismaClient, dialect: Dialect, provider: Provider, users: UserRepository, expiry: Expiry) {
  const hitsOf = provider === 'postgres' ? postgresHits : sqliteHits
  const list = hitColumns(dialect, provider)

  return {
    /**
     * A page of the user's hits for `q`, best first, each with its snippet; null when the user does not exist. A query
     * with no word in it finds nothing.
     */
    async search (userId: number, q: string, filters: SearchFilters, { limit, after: key }: ListOptions<SearchKey>): Promise<Page<SearchHit, SearchKey> | null> {
      const terms = parseQuery(q)
      const rows = terms.length === 0 ? [] : await queryRows(prisma, list, (selected) => hitsOf(userId, terms, filters, key, limit + 1, selected, expiry))
      // Hits are the user's, so only a search that found none needs to ask whether the user exists.
      if (rows.length === 0 && !await users.exists(userId)) return null
      const page = toPage(rows, limit, keyOf)
      return {
        items: page.items.map(({ text, score: _score, ...hit }) => ({ ...hit, ...snippetOf(text ?? '', terms) })),
        next: page.next,
      }
    },
  }
}
