// The Idempotency-Key table: each key's first answer, written in the same transaction as the write it
// answered, so a stored write never lacks its key nor a key its write, whatever crashes between them. The
// table's primary key is what makes a key once-only, across every process sharing the database.
import { columns, queryRows } from './columns.js'
import type { PrismaClient } from './database.js'
import { sql } from './dialect.js'
import { databaseErrorKind } from './prisma-errors.js'
import { inTransaction, type Db } from './transaction.js'

/** An answer as it was sent: status, the result's own headers (Location, ETag), the body's bytes as text. */
export interface StoredAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** Who used a key for what: keys of different operations (and, once requests carry one, subjects) never meet. */
export interface KeyScope {
  /** The authenticated subject; '' while requests are anonymous. */
  subject: string
  operation: string
  key: string
}

export interface KeyedAnswer {
  answer: StoredAnswer
  /** The fingerprint of the request that got this answer first. */
  fingerprint: string
  /** True when the answer was stored by an earlier request with the key, false when this request made it. */
  replayed: boolean
}

/**
 * Thrown out of the transaction by an answer that wrote nothing (the handler's own 404 or 409): the
 * transaction rolls back, which on PostgreSQL it must, since the statement that failed has aborted it.
 */
class NothingWritten extends Error {
  constructor (readonly answer: StoredAnswer) { super('nothing written') }
}

/** Thrown out of the transaction when the key's row is there already: the write rolls back with it. */
const KEY_TAKEN = new Error('Idempotency-Key taken')

/** Expired keys deleted per statement: each DELETE holds its locks (SQLite's one write lock) this briefly. */
const SWEEP_BATCH = 500

export function createIdempotencyKeyStore (prisma: PrismaClient) {
  const keyColumns = columns<{ fingerprint: string, status: number, headers: string, body: string }>({
    fingerprint: sql`fingerprint`, status: sql`status`, headers: sql`headers`, body: sql`body`,
  })
  const where = ({ subject, operation, key }: KeyScope) => sql`subject = ${subject} AND operation = ${operation} AND "key" = ${key}`
  const values = ({ subject, operation, key }: KeyScope, fingerprint: string, { status, headers, body }: StoredAnswer) =>
    sql`(${subject}, ${operation}, ${key}, ${fingerprint}, ${status}, ${JSON.stringify(headers)}, ${body}, ${new Date()})`
  const insert = sql`INSERT INTO "IdempotencyKey" (subject, operation, "key", fingerprint, status, headers, body, "createdAt") VALUES`

  async function find (scope: KeyScope): Promise<KeyedAnswer | null> {
    const [row] = await queryRows(prisma, keyColumns, (list) => sql`SELECT ${list} FROM "IdempotencyKey" WHERE ${where(scope)}`)
    if (row === undefined) return null
    return { answer: { status: row.status, headers: JSON.parse(row.headers), body: row.body }, fingerprint: row.fingerprint, replayed: true }
  }

  /** Stores an answer that wrote nothing, unless the key has one already: false then. */
  async function storeAlone (scope: KeyScope, fingerprint: string, answer: StoredAnswer): Promise<boolean> {
    return await prisma.$executeRaw`${insert} ${values(scope, fingerprint, answer)} ON CONFLICT DO NOTHING` > 0
  }

  /**
   * `produce`'s answer, stored with the key in `produce`'s own transaction; null when the key is taken. The key's
   * row is the transaction's last statement, so it carries the whole answer and costs one INSERT: when the key
   * is taken already, that INSERT breaks the primary key and the write rolls back with it (on PostgreSQL a
   * concurrent request with the key waits on the key's index entry until the first commits, then rolls back).
   */
  async function storedWith (scope: KeyScope, fingerprint: string, produce: (tx: Db) => Promise<StoredAnswer>): Promise<StoredAnswer | null> {
    try {
      return await inTransaction(prisma, async (db) => {
        const answer = await produce(db)
        if (answer.status >= 400) throw new NothingWritten(answer)
        try {
          await db.$executeRaw`${insert} ${values(scope, fingerprint, answer)}`
        } catch (error) {
          throw databaseErrorKind(error) === 'unique' ? KEY_TAKEN : error
        }
        return answer
      })
    } catch (error) {
      if (error instanceof NothingWritten) return await storeAlone(scope, fingerprint, error.answer) ? error.answer : null
      if (error === KEY_TAKEN) return null
      throw error
    }
  }

  return {
    /**
     * The answer to a request under `scope`'s key: the stored one when the key has one, else `produce`'s,
     * stored with the key. `produce` runs on a transaction (tx) that ends by storing the key, so its write commits
     * only with the key: a second request with the key, on any instance, cannot commit its own (on PostgreSQL it
     * waits on the key's unique index until the first commits or rolls back; SQLite has one writer at a time),
     * then replays the first's answer. An answer that wrote nothing (status 400 and
     * up) is stored on its own. Errors `produce` throws (5xx) store nothing: the request may be retried.
     */
    async once (scope: KeyScope, fingerprint: string, produce: (tx: Db) => Promise<StoredAnswer>): Promise<KeyedAnswer> {
      // A key found taken but gone on reading was swept in between (past its TTL): then try afresh, once.
      for (let attempt = 0; ; attempt++) {
        const made = await storedWith(scope, fingerprint, produce)
        if (made !== null) return { answer: made, fingerprint, replayed: false }
        const first = await find(scope)
        if (first !== null) return first
        if (attempt > 0) throw new Error(`Idempotency-Key ${JSON.stringify(scope.key)} of ${scope.operation} was taken but is not stored`)
      }
    },

    /**
     * Deletes keys stored before `cutoff`, SWEEP_BATCH at a time, each batch its own short statement, so
     * requests (and on SQLite, other writers) get in between. The number deleted.
     */
    async sweep (cutoff: Date): Promise<number> {
      let deleted = 0
      for (;;) {
        const batch = await prisma.$executeRaw`
          DELETE FROM "IdempotencyKey" WHERE (subject, operation, "key") IN (
            SELECT subject, operation, "key" FROM "IdempotencyKey" WHERE "createdAt" < ${cutoff} ORDER BY "createdAt" LIMIT ${SWEEP_BATCH})`
        deleted += batch
        if (batch < SWEEP_BATCH) return deleted
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
