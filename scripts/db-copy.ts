// `npm run db:copy -- --from <url> --to <url> [--force]`: moves a deployment's data between stores
// (typically the embedded SQLite file to PostgreSQL), keeping ids, timestamps and order, and the Idempotency-Keys
// still kept, so a client retrying a create across the move gets its first answer, not a second copy.
//
// Both databases are brought up to the committed migrations first, as a server start would. The source
// is read inside one transaction (a consistent snapshot even if a server is still writing to it) and the
// target written inside one transaction, so a failed copy leaves the target as it was. Id counters are
// carried over too, so an id the source ever handed out, even one since deleted, is never reused.
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { Prisma } from '../generated/prisma/sqlite/client.js'
import { openDatabase, type Database, type PrismaClient } from '../src/store/database.js'
import { providerOf, redact, sqliteFile } from '../src/store/database-url.js'
import type { Provider } from '../src/store/migrate/index.js'

interface CopyOptions {
  /** Replace whatever the target holds instead of refusing a non-empty target. */
  force?: boolean
  log?: (message: string) => void
}

interface TableCounts { User: number, Conversation: number, Message: number, IdempotencyKey: number }

class CopyRefused extends Error {}

/** Every table, copied in this order (parents first), in id order, with its id counter. */
type Table = keyof TableCounts
type Transaction = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0]

const TABLES: Table[] = ['User', 'Conversation', 'Message', 'IdempotencyKey']
/** What a count of each table's rows is called. */
const NAMES: Record<Table, string> = { User: 'users', Conversation: 'conversations', Message: 'messages', IdempotencyKey: 'idempotency keys' }
const BATCH = 1000
// A copy of a large deployment is one long transaction on each side; Prisma's default is 5 s.
const TRANSACTION = { maxWait: 60_000, timeout: 24 * 60 * 60 * 1000 }

/** Rows of `table` with ids above `afterId`, oldest first, every column as Prisma reads it. */
function readBatch (tx: Transaction, table: Table, afterId: number): Promise<Array<{ id: number }>> {
  const page = { where: { id: { gt: afterId } }, orderBy: { id: 'asc' }, take: BATCH } as const
  switch (table) {
    case 'User': return tx.user.findMany(page)
    case 'Conversation': return tx.conversation.findMany(page)
    case 'Message': return tx.message.findMany(page)
    case 'IdempotencyKey': return tx.idempotencyKey.findMany(page)
  }
}

async function writeBatch (tx: Transaction, table: Table, rows: any[]): Promise<void> {
  switch (table) {
    case 'User': await tx.user.createMany({ data: rows }); return
    case 'Conversation': await tx.conversation.createMany({ data: rows }); return
    // A message's usage is null when unknown: SQL's NULL, which Prisma's ORM takes for a Json column only as DbNull.
    case 'Message': await tx.message.createMany({ data: rows.map((row) => row.usage === null ? { ...row, usage: Prisma.DbNull } : row) }); return
    case 'IdempotencyKey': await tx.idempotencyKey.createMany({ data: rows })
  }
}

async function countRows (tx: Transaction | PrismaClient): Promise<TableCounts> {
  const [User, Conversation, Message, IdempotencyKey] = await Promise.all([tx.user.count(), tx.conversation.count(), tx.message.count(), tx.idempotencyKey.count()])
  return { User, Conversation, Message, IdempotencyKey }
}

/** The highest id `table` has ever handed out: its counter, not just its largest surviving row. */
async function idCounter (tx: Transaction, provider: Provider, table: Table): Promise<number> {
  if (provider === 'postgres') {
    const sequence = `${table}_id_seq`
    const [row] = await tx.$queryRaw<Array<{ last: bigint | number | null }>>`
      SELECT last_value AS last FROM pg_sequences WHERE schemaname = current_schema() AND sequencename = ${sequence}`
    return Number(row?.last ?? 0)
  }
  const [row] = await tx.$queryRaw<Array<{ last: bigint | number | null }>>`
    SELECT seq AS last FROM sqlite_sequence WHERE name = ${table}`
  return Number(row?.last ?? 0)
}

async function setIdCounter (tx: Transaction, provider: Provider, table: Table, last: number): Promise<void> {
  if (provider === 'postgres') {
    // setval alone is never rolled back: a copy failing later would leave the target's counters moved. RESTART
    // gives the sequence new storage in this transaction, which the setval then writes and a rollback drops.
    // is_called = false with value 1 makes an empty table start at 1, as a fresh one does.
    const sequence = `"${table}_id_seq"`
    await tx.$executeRawUnsafe(`ALTER SEQUENCE ${sequence} RESTART`)
    await tx.$queryRaw`SELECT setval(${sequence}::regclass, ${Math.max(last, 1)}, ${last > 0})`
    return
  }
  const updated = await tx.$executeRaw`UPDATE sqlite_sequence SET seq = ${last} WHERE name = ${table}`
  if (updated === 0) await tx.$executeRaw`INSERT INTO sqlite_sequence (name, seq) VALUES (${table}, ${last})`
}

async function emptyTarget (tx: Transaction): Promise<void> {
  // Children first: the cascade would do it, but explicit deletes keep the work visible and bounded.
  await tx.idempotencyKey.deleteMany()
  await tx.message.deleteMany()
  await tx.conversation.deleteMany()
  await tx.user.deleteMany()
}

async function copyTable (read: Transaction, write: Transaction, table: Table, log: (message: string) => void): Promise<number> {
  let copied = 0
  let afterId = 0
  for (;;) {
    const rows = await readBatch(read, table, afterId)
    if (rows.length === 0) break
    await writeBatch(write, table, rows)
    copied += rows.length
    afterId = rows[rows.length - 1]!.id
    if (copied % (BATCH * 50) === 0) log(`  ${table}: ${copied} rows`)
  }
  return copied
}

function sameCounts (a: TableCounts, b: TableCounts): boolean {
  return TABLES.every((table) => a[table] === b[table])
}

function describe (counts: TableCounts): string {
  return TABLES.map((table) => `${counts[table]} ${NAMES[table]}`).join(', ')
}

async function copyBetween (source: Database, target: Database, options: CopyOptions): Promise<TableCounts> {
  const log = options.log ?? (() => {})
  const copied = await source.prisma.$transaction(async (read) => {
    return await target.prisma.$transaction(async (write) => {
      const existing = await countRows(write)
      if (TABLES.some((table) => existing[table] > 0)) {
        if (!options.force) throw new CopyRefused(`the target already holds ${describe(existing)}; pass --force to replace it`)
        log(`replacing the target's ${describe(existing)}`)
        await emptyTarget(write)
      }
      const counts = {} as TableCounts
      for (const table of TABLES) {
        counts[table] = await copyTable(read, write, table, log)
        const counter = await idCounter(read, source.provider, table)
        await setIdCounter(write, target.provider, table, counter)
        log(`${table}: ${counts[table]} rows, next id ${counter + 1}`)
      }
      return counts
    }, TRANSACTION)
    // Serializable: the source is read as one snapshot even while a server still writes to it.
  }, { ...TRANSACTION, isolationLevel: 'Serializable' })

  const sourceCounts = await countRows(source.prisma)
  const targetCounts = await countRows(target.prisma)
  if (!sameCounts(copied, targetCounts)) {
    throw new Error(`verification failed: copied ${describe(copied)} but the target holds ${describe(targetCounts)}`)
  }
  if (!sameCounts(sourceCounts, targetCounts)) {
    log(`note: the source changed during the copy (now ${describe(sourceCounts)}); the target holds the snapshot taken at the start`)
  }
  return targetCounts
}

/** Copies every user, conversation, message and Idempotency-Key from `fromUrl` to `toUrl`; returns the verified row counts. */
async function copyDatabase (fromUrl: string, toUrl: string, options: CopyOptions = {}): Promise<TableCounts> {
  if (fromUrl === toUrl) throw new CopyRefused('--from and --to name the same database')
  if (providerOf(fromUrl) === 'sqlite' && !existsSync(sqliteFile(fromUrl))) {
    throw new CopyRefused(`no SQLite database at ${sqliteFile(fromUrl)}`)
  }
  const quiet = { info: () => {}, warn: options.log ?? (() => {}) }
  const source = await openDatabase(fromUrl, quiet, { poolSize: 1 })
  try {
    const target = await openDatabase(toUrl, quiet, { poolSize: 1 })
    try {
      return await copyBetween(source, target, options)
    } finally {
      await target.close()
    }
  } finally {
    await source.close()
  }
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: { from: { type: 'string' }, to: { type: 'string' }, force: { type: 'boolean', default: false } },
  })
  if (!values.from || !values.to) {
    throw new CopyRefused('usage: npm run db:copy -- --from <database url> --to <database url> [--force]')
  }
  console.log(`copying ${redact(values.from)} → ${redact(values.to)}`)
  const counts = await copyDatabase(values.from, values.to, { force: values.force, log: console.log })
  console.log(`done: ${describe(counts)} copied and verified`)
}

main().catch((error: unknown) => {
  console.error(`db:copy: ${error instanceof CopyRefused ? error.message : error instanceof Error ? error.stack : String(error)}`)
  process.exitCode = 1
})
