// Writes an Idempotency-Key may guard. With a key, the key's row is written by the database in the write's own
// statement (PostgreSQL) or batch transaction (SQLite), holding the rows the write returned: a stored write never
// lacks its key nor a key its write, whatever crashes between them, and the key costs one more row written, not a
// transaction of its own. A write whose key an earlier request took rolls back whole, and its outcome is what the
// key holds (src/store/idempotency-keys.ts). Without a key, each is the plain write, its value returned as it is.
import type { Prisma } from '../../generated/prisma/sqlite/client.js'
import { queryRows, rowsFromJson, type Columns } from './columns.js'
import type { PrismaClient } from './database.js'
import { join, raw, sql, type Sql } from './dialect.js'
import { heldAfter, keyRow, type IdempotencyKey, type Keyed, type KeyHeld } from './idempotency-keys.js'

/**
 * How a keyed write's outcome becomes the value its repository returns (a user, a conversation with its
 * messages), built once per write and dialect.
 */
export interface WriteValue<Written, T> {
  /** From what this request's write returned: a statement's rows (writeWith), a batch's results (writeBatch). */
  written (written: Written): T
  /** From the rows an earlier write with the key returned, as the key holds them (JSON); nothingWritten's `held`. */
  held (rows: unknown[]): T
}

/** The WriteValue of a write whose value is made of the rows `columns` selects, whether written now or held. */
export function rowsValue<Row, T> (columns: Columns<Row>, valueOf: (rows: Row[]) => T): WriteValue<Row[], T> {
  return { written: valueOf, held: (rows) => valueOf(rowsFromJson(columns, rows)) }
}

/** The same value, from a batch whose first statement returns the rows. */
export function firstStatementValue<Row, T> ({ written, held }: WriteValue<Row[], T>): WriteValue<readonly [Row[], ...unknown[]], T> {
  return { written: ([rows]) => written(rows), held }
}

/**
 * SQLite: rows a write returns, as the key's INSERT reads them back within the batch: the columns that make them
 * (the same rows PostgreSQL's statement returns, so a key copied between stores replays alike; the columns holding
 * JSON are embedded as JSON, not as text), and where they are (`FROM … WHERE …`).
 */
export interface RowSelection<Row> {
  columns: Columns<Row>
  from: Sql
}

/**
 * SQLite: the rows `selection` names, as one JSON array of objects, the array the driver would make of them: what a
 * key's INSERT stores, and a JSON column of another column set (a conversation's messages). An SQL expression, built
 * once per write and dialect.
 */
export function sqliteJsonRows ({ columns: { map, list, json }, from }: RowSelection<any>): Sql {
  const fields = Object.keys(map).map((name) => {
    // columns() allows plain identifiers only, so the name quotes safely.
    const column = raw(`"${name}"`)
    return sql`${name}, ${json.includes(name) ? sql`json(${column})` : column}`
  })
  return sql`(SELECT json_group_array(json_object(${join(fields)})) FROM (SELECT ${list} ${from}))`
}

type Results<Statements extends readonly unknown[]> = { -readonly [K in keyof Statements]: Awaited<Statements[K]> }

/** What the key held, its rows made into the write's value. Throws `error`, the write's own, when the key holds nothing. */
async function heldInstead<T> (prisma: PrismaClient, key: IdempotencyKey, error: unknown, valueOf: (rows: unknown[]) => T): Promise<KeyHeld<T>> {
  const held = await heldAfter(prisma, key, error)
  if (held === undefined) throw error
  return held.kind === 'rowsHeld' ? { kind: 'rowsHeld', value: valueOf(held.value) } : held
}

/**
 * PostgreSQL: `WITH ${ctes} SELECT ${columns} FROM ${from}`, one statement. With a key, the key's row joins it as
 * one more CTE, holding the rows the SELECT returns (json_agg: the values the driver decodes, as JSON). A taken key
 * breaks its unique index and the whole statement rolls back (a concurrent request with the key waits on the key's
 * index entry until the first commits).
 */
export async function writeWith<Row, T> (
  prisma: PrismaClient, key: IdempotencyKey | undefined, rowColumns: Columns<Row>, ctes: Sql, from: Sql, value: WriteValue<Row[], T>
): Promise<T | Keyed<T>> {
  if (key === undefined) return value.written(await queryRows(prisma, rowColumns, (list) => sql`WITH ${ctes} SELECT ${list} FROM ${from}`))
  try {
    const rows = await queryRows(prisma, rowColumns, (list) => sql`
      WITH ${ctes},
      written AS (SELECT ${list} FROM ${from}),
      stored_key AS (${keyRow(key, sql`(SELECT COALESCE(json_agg(written), '[]')::text FROM written)`)})
      SELECT * FROM written`)
    return { kind: 'written', value: value.written(rows) }
  } catch (error) {
    return await heldInstead(prisma, key, error, value.held)
  }
}

/**
 * SQLite: the statements in one batch transaction (a single one on its own). With a key, the key's row is the
 * batch's last statement, reading back `keyRows` (sqliteJsonRows). A taken key breaks its unique index and the
 * batch rolls back (SQLite has one writer, so no other write is in between).
 */
export async function writeBatch<const Statements extends ReadonlyArray<Prisma.PrismaPromise<unknown>>, T> (
  prisma: PrismaClient, key: IdempotencyKey | undefined, statements: Statements, keyRows: Sql, value: WriteValue<Results<Statements>, T>
): Promise<T | Keyed<T>> {
  if (key === undefined) {
    const results = statements.length === 1 ? [await statements[0]] : await prisma.$transaction([...statements])
    return value.written(results as Results<Statements>)
  }
  try {
    const results = await prisma.$transaction([...statements, prisma.$executeRaw(keyRow(key, keyRows))])
    return { kind: 'written', value: value.written(results.slice(0, statements.length) as Results<Statements>) }
  } catch (error) {
    return await heldInstead(prisma, key, error, value.held)
  }
}

/** What an interactive transaction's statements run on. */
export type TransactionClient = Prisma.TransactionClient

/**
 * Both stores: `write` in one interactive transaction, for a write of many statements whose later ones read what the
 * earlier ones returned (an import: each conversation's new id before its messages). With a key, the key's row is the
 * transaction's last statement, holding the rows `write` returned, as JSON; a taken key breaks its unique index and the
 * whole transaction rolls back, as in writeBatch. `timeoutMs` bounds the transaction (Prisma's default is 5 s).
 */
export async function writeInTransaction<Row, T> (
  prisma: PrismaClient, key: IdempotencyKey | undefined, write: (client: TransactionClient) => Promise<Row[]>, value: WriteValue<Row[], T>, timeoutMs: number
): Promise<T | Keyed<T>> {
  const options = { timeout: timeoutMs, maxWait: timeoutMs }
  if (key === undefined) return value.written(await prisma.$transaction(write, options))
  try {
    const rows = await prisma.$transaction(async (client) => {
      const rows = await write(client)
      await client.$executeRaw(keyRow(key, sql`${JSON.stringify(rows)}`))
      return rows
    }, options)
    return { kind: 'written', value: value.written(rows) }
  } catch (error) {
    return await heldInstead(prisma, key, error, value.held)
  }
}
