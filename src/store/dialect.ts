// The few spellings SQLite and PostgreSQL disagree on. Every query is otherwise one tagged template,
// the same text on both stores, with values always bound as parameters.
import { Prisma } from '../../generated/prisma/sqlite/client.js'
import type { Provider } from './migrate/index.js'

export const { sql, join, empty, raw } = Prisma
export type Sql = Prisma.Sql

export interface Dialect {
  /** A JSON value for a JSON column: SQLite stores the text, PostgreSQL needs the text cast to jsonb. Null is SQL's NULL. */
  json (value: unknown): Sql
  /** The later of a timestamp column and a value, so concurrent writers never move it backwards. */
  later (column: Sql, value: Date): Sql
  /** The same for a column that may be null: the value when it is. */
  laterOrValue (column: Sql, value: Date): Sql
  /** A JSON column's SQL NULL and empty object, as constants. */
  nullJson: Sql
  emptyObject: Sql
  /** A timestamp column as the API writes it, `2026-11-24T18:11:37.123Z`: built by the database, not per row in JS. */
  isoTime (column: Sql): Sql
  /** A JSON object column with an RFC 7396 merge patch applied: null values remove keys, others set them. */
  mergePatch (column: Sql, patch: Record<string, string | null>): Sql
  /** How many keys a JSON object holds. */
  keyCount (object: Sql): Sql
  /** The text at `key` of a JSON object (a constant of the code), or null. */
  jsonText (json: Sql, key: string): Sql
  /** The text at `key` of each object of a JSON array, in the array's order, joined by `separator`. */
  joinedTexts (array: Sql, key: string, separator: string): Sql
  /** A JSON array's elements as a FROM item `alias`, each element its column `value`. */
  jsonElements (array: Sql, alias: string): Sql
  /** A usage column ({inputTokens, outputTokens}) with `input` and `output` tokens added. */
  addUsage (usage: Sql, input: Sql, output: Sql): Sql
  /** A JSON object of SQL values, keys in this order (constants of the code). */
  jsonObject (fields: Record<string, Sql>): Sql
  /** One token count of a usage column, 0 when it is null. */
  tokens (usage: Sql, field: 'inputTokens' | 'outputTokens'): Sql
  /** The id of the row of `table` inserted last in the same transaction. */
  lastId (table: 'User' | 'Conversation' | 'Message'): Sql
  /**
   * Whether INSERT and UPDATE may sit inside WITH, so a write and its bookkeeping are one statement: atomic
   * on its own and one round trip, where a transaction costs four (BEGIN, two statements, COMMIT).
   */
  writesInWith: boolean
}

/** A JSON object's key, checked: it is written into the SQL text. */
function jsonKey (key: string): string {
  if (!/^\w+$/.test(key)) throw new Error(`JSON key ${JSON.stringify(key)} is not a plain key`)
  return key
}

/** A constant of the code as an SQL string literal, so a column list binds no parameter. */
const textLiteral = (text: string) => raw(`'${text.replaceAll("'", "''")}'`)

/** `'key', value, …`: json_object's and jsonb_build_object's arguments. */
const objectFields = (fields: Record<string, Sql>) => join(Object.entries(fields).map(([key, value]) => sql`${textLiteral(jsonKey(key))}, ${value}`))

const identifier = (name: string) => {
  if (!/^[A-Za-z_]\w*$/.test(name)) throw new Error(`${JSON.stringify(name)} is not a plain identifier`)
  return raw(name)
}

const sqlite: Dialect = {
  json: (value) => sql`${value === null ? null : JSON.stringify(value)}`,
  // SQLite's scalar max(); its timestamps are ISO-8601 text of one fixed width, so text order is time order.
  later: (column, value) => sql`max(${column}, ${value})`,
  // SQLite's max() is null when an argument is; '' sorts before every timestamp.
  laterOrValue: (column, value) => sql`max(COALESCE(${column}, ''), ${value})`,
  nullJson: sql`NULL`,
  emptyObject: sql`'{}'`,
  mergePatch: (column, patch) => sql`json_patch(${column}, ${JSON.stringify(patch)})`,
  keyCount: (object) => sql`(SELECT count(*) FROM json_each(${object}))`,
  // Stored as ISO-8601 text with milliseconds and `+00:00` (what Prisma writes): 23 characters, then `Z`.
  isoTime: (column) => sql`substr(${column}, 1, 23) || 'Z'`,
  jsonText: (json, key) => sql`json_extract(${json}, ${raw(`'$.${jsonKey(key)}'`)})`,
  jsonElements: (array, alias) => sql`json_each(${array}) AS ${identifier(alias)}`,
  // json_each walks an array in order, and group_concat keeps the order rows come in.
  joinedTexts: (array, key, separator) => sql`(SELECT group_concat(${sqlite.jsonText(sql`e.value`, key)}, ${textLiteral(separator)}) FROM json_each(${array}) AS e)`,
  // Bound numbers may arrive as REAL; the sums stay integers.
  addUsage: (usage, input, output) => sql`json_object('inputTokens', json_extract(${usage}, '$.inputTokens') + CAST(${input} AS INTEGER), 'outputTokens', json_extract(${usage}, '$.outputTokens') + CAST(${output} AS INTEGER))`,
  tokens: (usage, field) => sql`COALESCE(${sqlite.jsonText(usage, field)}, 0)`,
  jsonObject: (fields) => sql`json_object(${objectFields(fields)})`,
  // SQLite has one writer at a time and AUTOINCREMENT ids only grow, so inside the write transaction the
  // highest id is the row just inserted. (last_insert_rowid() moves with every row inserted, of any table.)
  lastId: (table) => sql`(SELECT max(id) FROM ${raw(`"${table}"`)})`,
  // SQLite's WITH takes SELECT only; in-process, its batch transaction costs no round trips anyway.
  writesInWith: false,
}

const postgres: Dialect = {
  json: (value) => sql`CAST(${value === null ? null : JSON.stringify(value)} AS jsonb)`,
  later: (column, value) => sql`GREATEST(${column}, ${value})`,
  // GREATEST skips nulls.
  laterOrValue: (column, value) => sql`GREATEST(${column}, ${value})`,
  nullJson: sql`CAST(NULL AS jsonb)`,
  emptyObject: sql`CAST('{}' AS jsonb)`,
  // PostgreSQL has no merge patch: the non-null values concatenated over the column, then the null-valued keys removed.
  mergePatch: (column, patch) => sql`(${column} || jsonb_strip_nulls(${postgres.json(patch)})) - ARRAY(SELECT key FROM jsonb_each(${postgres.json(patch)}) WHERE value = 'null'::jsonb)`,
  keyCount: (object) => sql`(SELECT count(*) FROM jsonb_object_keys(${object}))`,
  // timestamp(3) columns hold UTC (Prisma writes them so).
  isoTime: (column) => sql`to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  jsonText: (json, key) => sql`(${json} ->> ${raw(`'${jsonKey(key)}'`)})`,
  jsonElements: (array, alias) => sql`jsonb_array_elements(${array}) AS ${identifier(alias)}(value)`,
  joinedTexts: (array, key, separator) => sql`(SELECT string_agg(${postgres.jsonText(sql`e.value`, key)}, ${textLiteral(separator)} ORDER BY e.position) FROM jsonb_array_elements(${array}) WITH ORDINALITY AS e(value, position))`,
  addUsage: (usage, input, output) => sql`jsonb_build_object('inputTokens', (${usage} ->> 'inputTokens')::bigint + ${input}, 'outputTokens', (${usage} ->> 'outputTokens')::bigint + ${output})`,
  tokens: (usage, field) => sql`COALESCE(CAST(${postgres.jsonText(usage, field)} AS bigint), 0)`,
  jsonObject: (fields) => sql`jsonb_build_object(${objectFields(fields)})`,
  // Per session, so concurrent inserts on other connections cannot interfere.
  lastId: (table) => sql`currval(pg_get_serial_sequence(${`"${table}"`}, 'id'))`,
  writesInWith: true,
}

export const dialectOf = (provider: Provider): Dialect => provider === 'postgres' ? postgres : sqlite
