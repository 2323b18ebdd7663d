// The official adapter shares one connection between transactions and plain queries; ours must keep a
// plain write out of a transaction that is open at the time, or that transaction's rollback undoes it.
import { join } from 'node:path'
import t from 'tap'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaClient } from '../generated/prisma/sqlite/client.js'
import { migrateDatabase } from '../src/database.js'
import { SerializedSqliteAdapterFactory } from '../src/sqlite-adapter.js'
import { store, tempDir } from './helper.js'

const sqliteOnly = { skip: store === 'sqlite' ? false : 'SQLite adapter only' }

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function writeDuringRollback (prisma: PrismaClient): Promise<string[]> {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const rolledBack = prisma.$transaction(async (tx) => {
    await tx.user.create({ data: { name: 'inside', createdAt: new Date() } })
    await gate
    throw new Error('roll back')
  }).catch(() => undefined)
  await sleep(20)
  const outside = prisma.user.create({ data: { name: 'outside', createdAt: new Date() } })
  await sleep(20)
  release()
  await Promise.all([rolledBack, outside])
  return (await prisma.user.findMany({ orderBy: { id: 'asc' } })).map((user) => user.name)
}

async function clientOn (t: { teardown (fn: () => unknown): void }, wrap: boolean): Promise<PrismaClient> {
  const file = join(tempDir(t), 'trackbot.db')
  await migrateDatabase(`file:${file}`, { info: () => {}, warn: () => {} })
  const official = new PrismaBetterSqlite3({ url: file })
  const prisma = new PrismaClient({ adapter: wrap ? new SerializedSqliteAdapterFactory(official) : official })
  t.teardown(() => prisma.$disconnect())
  return prisma
}

t.test('a plain write issued while a transaction is open survives its rollback', sqliteOnly, async (t) => {
  t.same(await writeDuringRollback(await clientOn(t, true)), ['outside'])
})

t.test('the official adapter alone loses that write (why the wrapper exists)', sqliteOnly, async (t) => {
  t.same(await writeDuringRollback(await clientOn(t, false)), [])
})

t.test('transactions still commit, roll back and see their own writes', sqliteOnly, async (t) => {
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
