// The Idempotency-Key table. A keyed create's key row is written by the database in the create's own statement
// (PostgreSQL) or batch transaction (SQLite), holding the rows the create returned, so a stored write never lacks
// its key nor a key its write, whatever crashes between them, and the key costs one more row written, not a
// transaction of its own. A retry's create finds the key taken and gets those rows instead of writing, and its
// handler makes the same answer from them again. The table's unique index on (subject, operation, key) is what
// makes a key once-only, across every process sharing the database.
import type { Prisma } from '../../generated/prisma/sqlite/client.js'
import { columns, queryRows, storedRows, type Columns } from './columns.js'
import type { PrismaClient } from './database.js'
import { join, raw, sql, type Sql } from './dialect.js'
import { databaseErrorKind } from './prisma-errors.js'

/** An answer as it was sent: status, the result's own headers (Location, ETag), the body's bytes as text. */
export interface StoredAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** Who used a key for what: keys of different operations and of different subjects never meet. */
export interface KeyScope {
  /** The authenticated subject; '' while requests are anonymous. */
  subject: string
  operation: string
  key: string
}

/** What a taken key holds: the rows its write returned, or the answer of a request that wrote nothing. */
export type KeyHolding =
  | { fingerprint: string, rows: unknown[], answer?: undefined }
  | { fingerprint: string, answer: StoredAnswer, rows?: undefined }

/**
 * A keyed request's key, given to the repositories its handler runs on (createRepositories' `key`): their
 * create stores it with its rows, or finds it taken and answers with what it holds.
 */
export class RequestKey {
  /** What the key held when this request found it taken; undefined while it was not. */
  taken: KeyHolding | undefined
  /** Whether this request's write stored the key with its rows (writeWith, writeBatch). */
  stored = false
  constructor (readonly scope: KeyScope, readonly fingerprint: string) {}
}

/**
 * Thrown by a keyed create whose key holds what it cannot return as its own rows: another request's (`answer`
 * undefined: a 422 for this one), or the answer of this request made when it wrote nothing (`answer`: replayed).
 * Before any rows reach the handler, so rows of another shape (another request's) never do.
 */
export class KeyHeld extends Error {
  constructor (readonly answer?: StoredAnswer) { super('Idempotency-Key held by another request or answer') }
}

/**
 * What a SQLite write returns, for a key's INSERT to read back within the batch and store: the rows, in the shape
 * the repository returns (the same rows PostgreSQL's statement returns, so a key copied between stores replays
 * alike), the columns that make them, where they are (`FROM … WHERE …`), and which columns hold JSON (embedded as
 * JSON, not as text).
 */
export interface Returned<Row> {
  columns: Columns<Row>
  from: Sql
  json?: ReadonlyArray<keyof Row & string>
}

/**
 * A Returned made into what the key's INSERT reads back: the columns, and the rows as one JSON array (an SQL
 * expression, sqliteJsonRows). Built once per write and dialect (perDialect), not per request.
 */
export interface ReadBack<Row> {
  columns: Columns<Row>
  rows: Sql
}

export const readBack = <Row>(returned: Returned<Row>): ReadBack<Row> => ({ columns: returned.columns, rows: sqliteJsonRows(returned) })

/** A SQLite write's outcome: its statements' results when it wrote, or the rows a taken key holds. */
export type Written<Results, Row> = { results: Results, stored?: undefined } | { stored: Row[], results?: undefined }

/** The rows of a write whose first statement returns them (or that a taken key holds). */
export async function writtenRows<Row, Rest extends readonly unknown[]> (written: Promise<Written<[Row[], ...Rest], Row>>): Promise<Row[]> {
  const outcome = await written
  return outcome.stored ?? outcome.results[0]
}

type Results<Statements extends readonly unknown[]> = { -readonly [K in keyof Statements]: Awaited<Statements[K]> }

/** Expired keys deleted per statement: each DELETE holds its locks (SQLite's one write lock) this briefly. */
const SWEEP_BATCH = 500

const keyColumns = columns<{ fingerprint: string, rows: string | null, status: number | null, headers: string | null, body: string | null }>({
  fingerprint: sql`fingerprint`, rows: sql`"rows"`, status: sql`status`, headers: sql`headers`, body: sql`body`,
})

const sweptColumns = columns<{ id: number }>({ id: sql`id` })

const where = ({ subject, operation, key }: KeyScope) => sql`subject = ${subject} AND operation = ${operation} AND "key" = ${key}`

/** The key's row, with `rows` (an SQL expression) as its rows. */
const keyRow = ({ scope, fingerprint }: RequestKey, rows: Sql) => sql`
  INSERT INTO "IdempotencyKey" (subject, operation, "key", fingerprint, "rows", "createdAt")
  SELECT ${scope.subject}, ${scope.operation}, ${scope.key}, ${fingerprint}, ${rows}, ${new Date()}`

/**
 * SQLite: the rows `returned` names, as the JSON array of objects the driver would make of them; also a JSON
 * column of another column set (a conversation's messages).
 */
export function sqliteJsonRows ({ columns: { map, list }, from, json = [] }: Returned<any>): Sql {
  const fields = Object.keys(map).map((name) => {
    // columns() allows plain identifiers only, so the name quotes safely.
    const column = raw(`"${name}"`)
    return sql`${name}, ${json.includes(name) ? sql`json(${column})` : column}`
  })
  return sql`(SELECT json_group_array(json_object(${join(fields)})) FROM (SELECT ${list} ${from}))`
}

async function find (prisma: PrismaClient, scope: KeyScope): Promise<KeyHolding | null> {
  const [row] = await queryRows(prisma, keyColumns, (list) => sql`SELECT ${list} FROM "IdempotencyKey" WHERE ${where(scope)}`)
  if (row === undefined) return null
  if (row.rows !== null) return { fingerprint: row.fingerprint, rows: JSON.parse(row.rows) }
  return { fingerprint: row.fingerprint, answer: { status: row.status!, headers: JSON.parse(row.headers!), body: row.body! } }
}

/**
 * After a keyed write failed: whether on the key's unique index (taken by an earlier request; what it holds is
 * then this request's), or on something else (another unique index: a taken email), the write's own error.
 */
async function takenBy (prisma: PrismaClient, key: RequestKey, error: unknown): Promise<KeyHolding | undefined> {
  if (databaseErrorKind(error) !== 'unique') return undefined
  return await find(prisma, key.scope) ?? undefined
}

/**
 * The rows the key holds, as the write's: the one place a holding is matched against the request. KeyHeld when
 * they are another request's, or the key holds this request's answer instead of rows.
 */
function heldRows<Row> (key: RequestKey, holding: KeyHolding, rowColumns: Columns<Row>): Row[] {
  key.taken = holding
  if (holding.fingerprint !== key.fingerprint) throw new KeyHeld()
  if (holding.answer !== undefined) throw new KeyHeld(holding.answer)
  return storedRows(rowColumns, holding.rows)
}

/**
 * PostgreSQL: `WITH ${ctes} SELECT ${columns} FROM ${from}`, one statement. With a key, the key's row joins it
 * as one more CTE, holding the rows the SELECT returns (json_agg: the values the driver decodes, as JSON). A
 * taken key breaks its unique index and the whole statement rolls back (a concurrent request with the key waits
 * on the key's index entry until the first commits); the rows the key holds are then returned, as if written.
 */
export async function writeWith<Row> (prisma: PrismaClient, key: RequestKey | undefined, rowColumns: Columns<Row>, ctes: Sql, from: Sql): Promise<Row[]> {
  if (key === undefined) return await queryRows(prisma, rowColumns, (list) => sql`WITH ${ctes} SELECT ${list} FROM ${from}`)
  if (key.taken !== undefined) return heldRows(key, key.taken, rowColumns)
  try {
    const rows = await queryRows(prisma, rowColumns, (list) => sql`
      WITH ${ctes},
      written AS (SELECT ${list} FROM ${from}),
      stored_key AS (${keyRow(key, sql`(SELECT COALESCE(json_agg(written), '[]')::text FROM written)`)})
      SELECT * FROM written`)
    key.stored = true
    return rows
  } catch (error) {
    const holding = await takenBy(prisma, key, error)
    if (holding === undefined) throw error
    return heldRows(key, holding, rowColumns)
  }
}

/**
 * SQLite: the statements in one batch transaction (a single one on its own). With a key, the key's row is the
 * batch's last statement, reading back the rows `returned` names. A taken key breaks its unique index and the
 * batch rolls back (SQLite has one writer, so no other write is in between); the rows the key holds are then
 * the outcome, in place of the statements' results.
 */
export async function writeBatch<const Statements extends ReadonlyArray<Prisma.PrismaPromise<unknown>>, Row> (
  prisma: PrismaClient, key: RequestKey | undefined, statements: Statements, returned: ReadBack<Row>
): Promise<Written<Results<Statements>, Row>> {
  if (key === undefined) {
    const results = statements.length === 1 ? [await statements[0]] : await prisma.$transaction([...statements])
    return { results: results as Results<Statements> }
  }
  if (key.taken !== undefined) return { stored: heldRows(key, key.taken, returned.columns) }
  try {
    const results = await prisma.$transaction([...statements, prisma.$executeRaw(keyRow(key, returned.rows))])
    key.stored = true
    return { results: results.slice(0, statements.length) as Results<Statements> }
  } catch (error) {
    const holding = await takenBy(prisma, key, error)
    if (holding === undefined) throw error
    return { stored: heldRows(key, holding, returned.columns) }
  }
}

export function createIdempotencyKeyStore (prisma: PrismaClient) {
  return {
    /**
     * Stores the answer of a keyed request that wrote nothing (the handler's own 404 or 409), unless the key holds
     * something already (a request with the key got there first): false then, and `key.taken` is what it holds,
     * for the handler to answer from (its create returns the rows held, or throws KeyHeld).
     */
    async storeAnswer (key: RequestKey, answer: StoredAnswer): Promise<boolean> {
      const { subject, operation, key: name } = key.scope
      const stored = await prisma.$executeRaw`
        INSERT INTO "IdempotencyKey" (subject, operation, "key", fingerprint, status, headers, body, "createdAt")
        VALUES (${subject}, ${operation}, ${name}, ${key.fingerprint}, ${answer.status}, ${JSON.stringify(answer.headers)}, ${answer.body}, ${new Date()})
        ON CONFLICT DO NOTHING`
      if (stored > 0) return true
      const holding = await find(prisma, key.scope)
      if (holding === null) throw new Error(`Idempotency-Key ${JSON.stringify(name)} of ${operation} was taken but is not stored`)
      key.taken = holding
      return false
    },

    /**
     * Deletes keys stored before `cutoff`, in id order, SWEEP_BATCH ids at a time, each batch its own short
     * statement, so requests (and on SQLite, other writers) get in between. Ids grow with time, so the expired
     * keys are the first ones; a key not yet expired among them (stored by an instance whose clock runs ahead)
     * is stepped over, and the sweep stops at the first batch with nothing expired. The number deleted.
     */
    async sweep (cutoff: Date): Promise<number> {
      let deleted = 0
      let after = 0
      for (;;) {
        const batch = await queryRows(prisma, sweptColumns, (list) => sql`
          DELETE FROM "IdempotencyKey"
          WHERE id IN (SELECT id FROM "IdempotencyKey" WHERE id > ${after} ORDER BY id LIMIT ${SWEEP_BATCH}) AND "createdAt" < ${cutoff}
          RETURNING ${list}`)
        if (batch.length === 0) return deleted
        deleted += batch.length
        after = Math.max(...batch.map(({ id }) => id))
        await new Promise((resolve) => setImmediate(resolve))
      }
    },
  }
}

export type IdempotencyKeyStore = ReturnType<typeof createIdempotencyKeyStore>

/** Keys are kept this long by default: the IETF draft's suggestion, and IDEMPOTENCY_KEY_TTL_HOURS's default. */
export const DEFAULT_IDEMPOTENCY_KEY_TTL_MS = 24 * 3600_000

/** How often expired keys are swept by default: a key outlives its TTL by at most this. */
export const DEFAULT_SWEEP_INTERVAL_MS = 10 * 60_000

/**
 * Sweeps keys older than `ttlMs` every `intervalMs`, on a timer that keeps no process alive; a sweep that
 * fails (the database away) is logged and the next one tries again. The function returned stops it.
 */
export function sweepExpiredKeys (keys: IdempotencyKeyStore, ttlMs: number, intervalMs: number, log: { warn (message: string): void }): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve()
  const timer = setInterval(() => {
    running = keys.sweep(new Date(Date.now() - ttlMs)).catch((error: unknown) => {
      log.warn(`sweeping expired Idempotency-Keys failed, will retry: ${error instanceof Error ? error.message : String(error)}`)
    })
  }, intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
