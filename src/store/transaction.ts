// Transactions a caller opens around repository calls: while `inTransaction` runs its work, every query the
// repositories issue (through `clientOf`) goes to that transaction, so a caller can make one of their writes
// and a write of its own (an Idempotency-Key record) commit or roll back together, without the repositories'
// signatures or the handlers knowing. Outside one, queries go to the client as before.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Prisma } from '../../generated/prisma/sqlite/client.js'
import type { PrismaClient } from './database.js'
import { TRANSACTION_START_MS } from './database.js'

/** What a statement runs on: the client, or the interactive transaction a caller opened. */
export type Queryable = Pick<PrismaClient, '$queryRaw' | '$executeRaw'>

const ambient = new AsyncLocalStorage<Prisma.TransactionClient>()

/** The transaction this call runs in, if a caller opened one; the client otherwise. */
export function clientOf (prisma: Queryable): Queryable {
  return ambient.getStore() ?? prisma
}

/**
 * Runs `work` in one interactive transaction: committed when it returns, rolled back when it throws. On
 * SQLite it is BEGIN IMMEDIATE (src/store/sqlite-adapter.ts): it holds the one write lock throughout.
 */
export async function inTransaction<T> (prisma: PrismaClient, work: () => Promise<T>): Promise<T> {
  // Long enough to wait out SQLite's busy timeout, as the batch transactions do (database.ts); a create is
  // milliseconds, so the timeout only ends a transaction something went wrong in.
  return await prisma.$transaction((tx) => ambient.run(tx, work), { maxWait: TRANSACTION_START_MS, timeout: 2 * TRANSACTION_START_MS })
}

type Results<P extends readonly unknown[]> = { -readonly [K in keyof P]: Awaited<P[K]> }

/**
 * Statements that must apply together: a batch transaction (one round trip's worth of Prisma work, cheaper
 * than an interactive one), or, inside a caller's transaction, one after another in it, which is atomic already.
 */
export async function atomically<P extends Array<Prisma.PrismaPromise<unknown>>> (prisma: PrismaClient, statements: (client: Queryable) => [...P]): Promise<Results<P>> {
  const tx = ambient.getStore()
  if (tx === undefined) return await prisma.$transaction(statements(prisma)) as Results<P>
  const results: unknown[] = []
  for (const statement of statements(tx)) results.push(await statement)
  return results as Results<P>
}
