// Transactions a caller opens around repository calls: repositories made on a transaction's client run every
// query in it, so a caller can make one of their writes and a write of its own (an Idempotency-Key record)
// commit or roll back together, without the repositories or the handlers changing.
import type { Prisma } from '../../generated/prisma/sqlite/client.js'
import type { PrismaClient } from './database.js'
import { TRANSACTION_START_MS } from './database.js'

/** What repositories run on: the client, or an interactive transaction a caller opened. */
export type Db = PrismaClient | Prisma.TransactionClient

// The clients of open interactive transactions. Prisma's transaction client still has a $transaction (nested
// transactions), which on SQLite would wait for the write lock its own transaction holds: known by identity.
const transactions = new WeakSet<Db>()

/**
 * Runs `work` in one interactive transaction: committed when it returns, rolled back when it throws. On
 * SQLite it is BEGIN IMMEDIATE (src/store/sqlite-adapter.ts): it holds the one write lock throughout.
 */
export async function inTransaction<T> (prisma: PrismaClient, work: (tx: Db) => Promise<T>): Promise<T> {
  // Long enough to wait out SQLite's busy timeout, as the batch transactions do (database.ts); a create is
  // milliseconds, so the timeout only ends a transaction something went wrong in.
  return await prisma.$transaction((tx) => {
    transactions.add(tx)
    return work(tx)
  }, { maxWait: TRANSACTION_START_MS, timeout: 2 * TRANSACTION_START_MS })
}

type Results<P extends readonly unknown[]> = { -readonly [K in keyof P]: Awaited<P[K]> }

/**
 * Statements that must apply together: a batch transaction (cheaper in Prisma than an interactive one), or,
 * on a caller's transaction, one after another in it, which is atomic already.
 */
export async function atomically<P extends Array<Prisma.PrismaPromise<unknown>>> (db: Db, statements: (db: Db) => [...P]): Promise<Results<P>> {
  if (!transactions.has(db)) return await (db as PrismaClient).$transaction(statements(db)) as Results<P>
  const results: unknown[] = []
  for (const statement of statements(db)) results.push(await statement)
  return results as Results<P>
}
