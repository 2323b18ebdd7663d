// Idempotency-Keys: what a keyed write returns, and the table that holds the keys. A keyed create stores its key
// with the rows it wrote, in its own statement or batch (src/store/keyed-writes.ts); a retry finds the key taken
// and is answered from what it holds, without writing. The table's unique index on (subject, operation, key) is
// what makes a key once-only, across every process sharing the database.
import { columns, queryRows } from './columns.js'
import type { PrismaClient } from './database.js'
import { sql, type Sql } from './dialect.js'
import { databaseErrorKind } from './prisma-errors.js'

/** An answer as it was sent: status, the result's own headers (Location, ETag), the body's bytes as text. */
export interface StoredAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * A keyed request's key: whose it is (the authenticated subject; '' while requests are anonymous) and for which
 * operation, so keys of different callers and operations never meet; the header's value; and the request it
 * binds, as a fingerprint of its method, path and body.
 */
export interface IdempotencyKey {
  readonly subject: string
  readonly operation: string
  readonly value: string
  readonly fingerprint: string
}

/** What a request finds its key holding when an earlier request took it. */
export type KeyHeld<Held> =
  /** What this same request wrote before: the rows, or the value its repository makes of them. Answered again. */
  | { readonly kind: 'rowsHeld', readonly value: Held }
  /** This same request's answer, stored as sent because it wrote nothing (a 404, a 409). Sent again. */
  | { readonly kind: 'answerHeld', readonly answer: StoredAnswer }
  /** The key was taken by another request: another method, path or body. */
  | { readonly kind: 'otherRequest' }

/** A keyed write's outcome; T is what the write returns without a key (`User | null`, say). */
export type Keyed<T> =
  /** Written, and the key stored with the rows, in the same statement or batch. */
  | { readonly kind: 'written', readonly value: T }
  /**
   * Nothing written (`value` says why: null for a 404 or 409) and the key left free: its answer is for the caller to
   * store (storeAnswer). `held` makes the value from rows that another request with the key wrote meanwhile, should
   * storing find them.
   */
  | { readonly kind: 'nothingWritten', readonly value: T, readonly held: (rows: unknown[]) => T }
  | KeyHeld<T>

/** What a write given `key: K` returns: its value without a key, so the unkeyed path unwraps nothing; Keyed with one. */
export type KeyedIf<K extends IdempotencyKey | undefined, T> = K extends IdempotencyKey ? Keyed<T> : T

/** A repository's write that a key may guard, given as its last argument. */
export type KeyableWrite<Args extends unknown[], T> =
  <K extends IdempotencyKey | undefined = undefined>(...args: [...Args, key?: K]) => Promise<KeyedIf<K, T>>

/**
 * `write`, typed as returning Keyed exactly when it is given a key, which its own type cannot say: it returns what
 * writeWith, writeBatch and nothingWritten return, and they hold to it.
 */
export function keyable<Args extends unknown[], T> (write: (...args: [...Args, key: IdempotencyKey | undefined]) => Promise<T | Keyed<T>>): KeyableWrite<Args, T> {
  return write as unknown as KeyableWrite<Args, T>
}

/** The outcome of a write that wrote nothing: `value` itself without a key. */
export function nothingWritten<T> (key: IdempotencyKey | undefined, value: T, held: (rows: unknown[]) => T): T | Keyed<T> {
  return key === undefined ? value : { kind: 'nothingWritten', value, held }
}

/** What a key's row stores: the fingerprint of the request that took it, and the rows it wrote or its answer. */
type StoredKey =
  | { fingerprint: string, rows: unknown[], answer?: undefined }
  | { fingerprint: string, answer: StoredAnswer, rows?: undefined }

/** Expired keys deleted per statement: each DELETE holds its locks (SQLite's one write lock) this briefly. */
const SWEEP_BATCH = 500

const keyColumns = columns<{ fingerprint: string, rows: string | null, status: number | null, headers: string | null, body: string | null }>({
  fingerprint: sql`fingerprint`, rows: sql`"rows"`, status: sql`status`, headers: sql`headers`, body: sql`body`,
})

const sweptColumns = columns<{ id: number }>({ id: sql`id` })

const where = ({ subject, operation, value }: IdempotencyKey) => sql`subject = ${subject} AND operation = ${operation} AND "key" = ${value}`

/** The key's row, holding `rows` (an SQL expression: the rows its write returns, as a JSON array). */
export const keyRow = ({ subject, operation, value, fingerprint }: IdempotencyKey, rows: Sql) => sql`
  INSERT INTO "IdempotencyKey" (subject, operation, "key", fingerprint, "rows", "createdAt")
  SELECT ${subject}, ${operation}, ${value}, ${fingerprint}, ${rows}, ${new Date()}`

async function storedKey (prisma: PrismaClient, key: IdempotencyKey): Promise<StoredKey | null> {
  const [row] = await queryRows(prisma, keyColumns, (list) => sql`SELECT ${list} FROM "IdempotencyKey" WHERE ${where(key)}`)
  if (row === undefined) return null
  if (row.rows !== null) return { fingerprint: row.fingerprint, rows: JSON.parse(row.rows) }
  return { fingerprint: row.fingerprint, answer: { status: row.status!, headers: JSON.parse(row.headers!), body: row.body! } }
}

const OTHER_REQUEST = { kind: 'otherRequest' } as const

/** What a stored key holds for `key`'s request: the one place a key is matched against a request. */
function heldFor (key: IdempotencyKey, stored: StoredKey): KeyHeld<unknown[]> {
  if (stored.fingerprint !== key.fingerprint) return OTHER_REQUEST
  return stored.answer === undefined ? { kind: 'rowsHeld', value: stored.rows } : { kind: 'answerHeld', answer: stored.answer }
}

/**
 * After a keyed write failed: what its key holds, when the failure was a unique index and the key is stored (an
 * earlier request took it, and the write's other unique indexes, a taken email, say, are then beside the point);
 * undefined when the write failed on something else, its own error.
 */
export async function heldAfter (prisma: PrismaClient, key: IdempotencyKey, error: unknown): Promise<KeyHeld<unknown[]> | undefined> {
  if (databaseErrorKind(error) !== 'unique') return undefined
  const stored = await storedKey(prisma, key)
  return stored === null ? undefined : heldFor(key, stored)
}

const ANSWER_STORED = { kind: 'answerStored' } as const

export function createIdempotencyKeyStore (prisma: PrismaClient) {
  return {
    /**
     * Stores the answer of a keyed request that wrote nothing (its own 404 or 409), unless its key holds something
     * already: a request with the key got there first, whose rows, answer or other request are then this one's.
     */
    async storeAnswer (key: IdempotencyKey, answer: StoredAnswer): Promise<typeof ANSWER_STORED | KeyHeld<unknown[]>> {
      const { subject, operation, value, fingerprint } = key
      const stored = await prisma.$executeRaw`
        INSERT INTO "IdempotencyKey" (subject, operation, "key", fingerprint, status, headers, body, "createdAt")
        VALUES (${subject}, ${operation}, ${value}, ${fingerprint}, ${answer.status}, ${JSON.stringify(answer.headers)}, ${answer.body}, ${new Date()})
        ON CONFLICT DO NOTHING`
      if (stored > 0) return ANSWER_STORED
      const taken = await storedKey(prisma, key)
      if (taken === null) throw new Error(`Idempotency-Key ${JSON.stringify(value)} of ${operation} was taken but is not stored`)
      return heldFor(key, taken)
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

/** Keys are kept this long by default (IDEMPOTENCY_KEY_TTL_HOURS): the IETF draft's suggestion. */
export const DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS = 24

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
