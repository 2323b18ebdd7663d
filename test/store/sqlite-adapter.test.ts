// Our SQLite driver adapter (src/store/sqlite-adapter.ts): what Prisma needs of one, and the write the official
// adapter loses. The official one shares one connection between transactions and plain queries; ours must
// keep a plain write out of a transaction that is open at the time, or that transaction's rollback undoes it.
// stores: sqlite
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import type { SqlDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils'
import { PrismaClient } from '../../generated/prisma/sqlite/client.js'
import { sqliteFile } from '../../src/store/database-url.js'
import { SqliteAdapterFactory } from '../../src/store/sqlite-adapter.js'
import { testDatabaseUrl, until } from '../helper.js'

interface Teardown { teardown (fn: () => unknown): void }

/** `factory`'s connections, telling `onPlain` of each query sent outside a transaction as it reaches the adapter. */
function observed (factory: SqlDriverAdapterFactory, onPlain: (query: SqlQuery) => void): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect () {
      const adapter = await factory.connect()
      const queryRaw = adapter.queryRaw.bind(adapter)
      const executeRaw = adapter.executeRaw.bind(adapter)
      adapter.queryRaw = async (query) => {
        onPlain(query)
        return await queryRaw(query)
      }
      adapter.executeRaw = async (query) => {
        onPlain(query)
        return await executeRaw(query)
      }
      return adapter
    },
  }
}

async function clientOn (t: Teardown, ours: boolean, onPlain: (query: SqlQuery) => void = () => {}): Promise<PrismaClient> {
  const file = sqliteFile(await testDatabaseUrl(t))
  const adapter = ours ? new SqliteAdapterFactory({ file, busyTimeoutMs: 5000 }) : new PrismaBetterSqlite3({ url: file })
  const prisma = new PrismaClient({ adapter: observed(adapter, onPlain) })
  t.teardown(() => prisma.$disconnect())
  return prisma
}

interface Interleaving {
  /** The users stored in the end. */
  names: string[]
  /** What happened, in order. */
  steps: string[]
}

/**
 * A transaction writes and stays open; a plain write is issued and reaches the adapter meanwhile; then the
 * transaction rolls back. Each step waits for the previous one to have happened, none for a duration.
 */
async function writeDuringRollback (t: Teardown, ours: boolean): Promise<Interleaving> {
  const steps: string[] = []
  const prisma = await clientOn(t, ours, (query) => {
    if (query.args.includes('outside')) steps.push('the plain write reached the adapter')
  })
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const rollBack = new Error('roll back')
  let transactionError: unknown
  const rolledBack = prisma.$transaction(async (tx) => {
    await tx.user.create({ data: { name: 'inside', createdAt: new Date() } })
    steps.push('the transaction wrote')
    await gate
    throw rollBack
  }).then(() => { throw new Error('the transaction committed') }, (error: unknown) => { transactionError = error })
  const happened = (step: string) => until(step, () => steps.includes(step) || transactionError !== undefined, {
    cause: () => `steps so far: ${JSON.stringify(steps)}; the transaction ended with ${String(transactionError)}`,
  })

  await happened('the transaction wrote')
  const outside = prisma.user.create({ data: { name: 'outside', createdAt: new Date() } })
    .then(() => { steps.push('the plain write answered') })
  await happened('the plain write reached the adapter')
  steps.push('the transaction let go')
  release()
  await rolledBack
  // Any other error than the one thrown to roll back fails here, with its own message.
  if (transactionError !== rollBack) throw transactionError
  await outside
  return { names: (await prisma.user.findMany({ orderBy: { id: 'asc' } })).map((user) => user.name), steps }
}

t.test('a plain write issued while a transaction is open survives its rollback', async (t) => {
  const { names, steps } = await writeDuringRollback(t, true)
  t.same(steps, ['the transaction wrote', 'the plain write reached the adapter', 'the transaction let go', 'the plain write answered'],
    'the plain write waited for the transaction to end')
  t.same(names, ['outside'])
})

t.test('the official adapter alone loses that write (one reason ours exists)', async (t) => {
  const { names, steps } = await writeDuringRollback(t, false)
  t.same(steps.slice(0, 2), ['the transaction wrote', 'the plain write reached the adapter'])
  t.ok(steps.includes('the plain write answered'), 'the plain write was acknowledged')
  t.same(names, [], 'and then undone by the rollback')
})

t.test('transactions still commit, roll back and see their own writes', async (t) => {
  const prisma = await clientOn(t, true)
  await prisma.$transaction(async (tx) => {
    await tx.user.create({ data: { name: 'a', createdAt: new Date() } })
    t.equal(await tx.user.count(), 1)
  })
  await t.rejects(prisma.$transaction([
    prisma.user.create({ data: { name: 'b', createdAt: new Date() } }),
    prisma.user.create({ data: { name: 'a', email: 'x', createdAt: new Date() } }),
    prisma.user.create({ data: { name: 'c', email: 'x', createdAt: new Date() } }),
  ]))
  t.same((await prisma.user.findMany()).map((user) => user.name), ['a'])
})

t.test('a transaction whose COMMIT fails is rolled back, not left open under the next write', async (t) => {
  const prisma = await clientOn(t, true)
  // A deferred foreign key fails at COMMIT, and SQLite keeps the transaction open after that failure.
  await prisma.$executeRawUnsafe('CREATE TABLE "Child" (id INTEGER PRIMARY KEY, "userId" INTEGER REFERENCES "User" (id) DEFERRABLE INITIALLY DEFERRED)')
  await t.rejects(prisma.$transaction([prisma.$executeRaw`INSERT INTO "Child" ("userId") VALUES (999)`, prisma.$executeRaw`SELECT 1`]))
  await prisma.user.create({ data: { name: 'after', createdAt: new Date() } })
  const [file] = (await prisma.$queryRaw<Array<{ file: string }>>`SELECT file FROM pragma_database_list WHERE name = 'main'`).map((row) => row.file)
  const other = new Sqlite(file!, { readonly: true })
  t.teardown(() => other.close())
  t.same(other.prepare('SELECT name FROM "User"').all(), [{ name: 'after' }], 'the next write is committed, seen from another connection')
  t.same(other.prepare('SELECT COUNT(*) AS n FROM "Child"').get(), { n: 0 })
})

t.test('a transaction SQLite rolled back by itself fails with its own error, not the ROLLBACK after it', async (t) => {
  const prisma = await clientOn(t, true)
  // RAISE(ROLLBACK) ends the transaction inside SQLite, as SQLITE_FULL does on a full disk.
  await prisma.$executeRawUnsafe('CREATE TRIGGER "rollsBack" BEFORE INSERT ON "User" WHEN NEW.name = \'no\' BEGIN SELECT RAISE(ROLLBACK, \'rolled back inside\'); END')
  const error = await prisma.$transaction([
    prisma.user.create({ data: { name: 'yes', createdAt: new Date() } }),
    prisma.user.create({ data: { name: 'no', createdAt: new Date() } }),
  ]).catch((error: unknown) => error)
  t.match(String(error), /rolled back inside/)
  t.notMatch(String(error), /no transaction is active/)
  t.same(await prisma.user.findMany(), [], 'and nothing of it is stored')
})

t.test('values round-trip unchanged through the ORM and raw queries', async (t) => {
  const prisma = await clientOn(t, true)
  const createdAt = new Date('2026-02-03T04:05:06.789Z')
  const user = await prisma.user.create({ data: { name: 'Zoë \u{1F600}', email: null, createdAt } })
  const metadata = { nested: { list: [1, 2.5, 'x', null, true] }, big: 2147483647, empty: {} }
  const conversation = await prisma.conversation.create({
    data: { userId: user.id, title: null, metadata, messageCount: 2147483647, createdAt, updatedAt: createdAt },
  })
  t.same(await prisma.conversation.findUnique({ where: { id: conversation.id } }), { ...conversation, metadata })
  t.equal(conversation.messageCount, 2147483647)
  const [raw] = await prisma.$queryRaw<any[]>`SELECT id, title, metadata, "createdAt", "messageCount", 1 AS one, 'a' AS text FROM "Conversation"`
  t.same(raw, { id: conversation.id, title: null, metadata, createdAt, messageCount: 2147483647, one: 1, text: 'a' })
  t.ok(raw.createdAt instanceof Date, 'DateTime columns come back as dates')
  // Stored in the format Prisma's own adapter writes, so either can read what the other wrote.
  const [stored] = await prisma.$queryRaw<any[]>`SELECT '' || "createdAt" AS text FROM "User"`
  t.equal(stored.text, '2026-02-03T04:05:06.789+00:00')
  t.same(await prisma.user.findMany({ where: { createdAt: { lte: createdAt, gt: new Date(createdAt.getTime() - 1) } } }), [user])
})

t.test('constraint violations reach Prisma as its error codes, from the ORM and from raw queries', async (t) => {
  const prisma = await clientOn(t, true)
  const now = new Date()
  await prisma.user.create({ data: { name: 'a', email: 'a@x', createdAt: now } })
  await t.rejects(prisma.user.create({ data: { name: 'b', email: 'a@x', createdAt: now } }), { code: 'P2002' })
  await t.rejects(prisma.conversation.create({ data: { userId: 999, metadata: {}, createdAt: now, updatedAt: now } }), { code: 'P2003' })
  await t.rejects(prisma.$executeRaw`INSERT INTO "User" (name, email, "createdAt") VALUES ('c', 'a@x', ${now})`,
    { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'UniqueConstraintViolation', constraint: { fields: ['email'] } } } } })
  await t.rejects(prisma.$executeRaw`INSERT INTO "Conversation" ("userId", metadata, "createdAt", "updatedAt") VALUES (999, '{}', ${now}, ${now})`,
    { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'ForeignKeyConstraintViolation' } } } })
  await t.rejects(prisma.$executeRaw`INSERT INTO "User" (name, "createdAt") VALUES (NULL, ${now})`,
    { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'NullConstraintViolation' } } } })
  t.equal(await prisma.user.count(), 1, 'nothing refused was stored')
})

t.test('more distinct statements than the cache holds still run right', async (t) => {
  const prisma = await clientOn(t, true)
  for (let i = 0; i < 600; i++) {
    const [row] = await prisma.$queryRawUnsafe<Array<{ n: number }>>(`SELECT ${i} + ? AS n`, 1)
    t.equal(row?.n, i + 1)
  }
  // And the first ones, long evicted, compile again.
  const [row] = await prisma.$queryRawUnsafe<Array<{ n: number }>>('SELECT 0 + ? AS n', 5)
  t.equal(row?.n, 5)
})
