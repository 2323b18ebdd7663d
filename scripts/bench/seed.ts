// The benchmark's data: one migrated, seeded database per run, copied for each server so all three start
// from identical rows. Rows go in by direct SQL in big transactions (seeding through the API would take
// minutes), in the storage formats Prisma itself writes, or the servers would misread them.
import { copyFileSync } from 'node:fs'
import Sqlite from 'better-sqlite3'
import pg from 'pg'
import { providerOf, postgresTarget, sqliteFile } from '../../src/store/database-url.js'
import { migrationsDir, readMigrations, type Migration } from '../../src/store/migrate/index.js'
import { migratePostgres } from '../../src/store/migrate/postgres.js'
import { migrateSqlite } from '../../src/store/migrate/sqlite.js'
import { mulberry32 } from '../mulberry32.js'

export type Store = 'sqlite' | 'postgres'

export interface SeedSize {
  users: number
  conversations: number
  messages: number
  bigUser: number
  /** Conversation counts of the users behind the growth figure. */
  growth: number[]
  /** Conversations only the delete scenario touches, so it never deletes an id twice (sized by run.ts). */
  deletePool: number
}

export const FULL_SIZE: SeedSize = { users: 1000, conversations: 10_000, messages: 100_000, bigUser: 10_000, growth: [1000, 10_000, 100_000], deletePool: 0 }
export const SMOKE_SIZE: SeedSize = { users: 50, conversations: 500, messages: 2000, bigUser: 1000, growth: [100, 1000, 10_000], deletePool: 0 }

type Range = [first: number, last: number]

/** Where the seeded rows are, for the scenarios to pick ids from. */
export interface Fixture {
  bigUser: number
  typicalUsers: Range
  typicalConversations: Range
  growthUsers: Array<{ userId: number, conversations: number }>
  deletePool: Range
}

type UserRow = [id: number, name: string, createdAt: number]
export type ConversationRow = [id: number, userId: number, title: string, metadata: string, messageCount: number, createdAt: number, updatedAt: number, lastMessageAt: number | null]
/** `parts`: the message's one text part as JSON, as the rich-messages migration fills it in for rows written before it. */
export type MessageRow = [id: number, conversationId: number, role: string, content: string, parts: string, createdAt: number]
export type Batch = { table: 'User', rows: UserRow[] } | { table: 'Conversation', rows: ConversationRow[] } | { table: 'Message', rows: MessageRow[] }

export const BATCH = 10_000
export const BASE_MS = Date.UTC(2026, 0, 1)
export const DAY_MS = 86_400_000
const MODELS = ['{"model":"gpt-4o"}', '{"model":"claude"}', '{"model":"gpt-4o","locale":"en-GB"}', '{}']

function * chunks<T> (rows: T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += BATCH) yield rows.slice(i, i + BATCH)
}

/** Conversations without messages for one user, newest id most recently updated, as in real use. */
function * emptyConversations (firstId: number, userId: number, count: number): Generator<Batch> {
  const rows: ConversationRow[] = []
  for (let i = 0; i < count; i++) {
    const at = BASE_MS + i * 60_000
    rows.push([firstId + i, userId, `Conversation ${i + 1}`, MODELS[i % MODELS.length]!, 0, at, at, null])
  }
  for (const chunk of chunks(rows)) yield { table: 'Conversation', rows: chunk }
}

/** The typical users' conversations with their messages; messages are spread at random, counts kept exact. */
function * typicalConversations (size: SeedSize, fixture: Fixture, next: () => number): Generator<Batch> {
  const [firstUser, lastUser] = fixture.typicalUsers
  const [firstId] = fixture.typicalConversations
  const counts = new Array<number>(size.conversations).fill(0)
  for (let m = 0; m < size.messages; m++) counts[Math.floor(next() * size.conversations)]!++
  let messageId = 1
  let conversations: ConversationRow[] = []
  let messages: MessageRow[] = []
  for (let i = 0; i < size.conversations; i++) {
    const id = firstId + i
    const userId = firstUser + Math.floor(next() * (lastUser - firstUser + 1))
    const createdAt = BASE_MS + Math.floor(next() * 300 * DAY_MS)
    const count = counts[i]!
    for (let k = 0; k < count; k++) {
      const role = k % 2 === 0 ? 'user' : 'assistant'
      const content = `Message ${k + 1} of conversation ${id}: ${'lorem ipsum '.repeat(1 + Math.floor(next() * 8))}`
      messages.push([messageId++, id, role, content, JSON.stringify([{ type: 'text', text: content }]), createdAt + k * 1000])
    }
    const lastAt = createdAt + Math.max(0, count - 1) * 1000
    conversations.push([id, userId, `Topic ${Math.floor(next() * 1000)}`, MODELS[Math.floor(next() * MODELS.length)]!, count, createdAt, lastAt, count === 0 ? null : lastAt])
    if (conversations.length >= BATCH) {
      yield { table: 'Conversation', rows: conversations }
      conversations = []
    }
    if (messages.length >= BATCH) {
      // Conversations first: messages reference them.
      if (conversations.length > 0) yield { table: 'Conversation', rows: conversations }
      conversations = []
      yield { table: 'Message', rows: messages }
      messages = []
    }
  }
  if (conversations.length > 0) yield { table: 'Conversation', rows: conversations }
  if (messages.length > 0) yield { table: 'Message', rows: messages }
}

/** Ids laid out in ranges: user 1 is the big user, then typical users, growth users, the delete pool's owner. */
export function planFixture (size: SeedSize): Fixture {
  const typicalUsers: Range = [2, size.users]
  const typicalConversations: Range = [1, size.conversations]
  let nextConversation = size.conversations + size.bigUser + 1
  const growthUsers = size.growth.map((conversations, i) => {
    nextConversation += conversations
    return { userId: size.users + 1 + i, conversations }
  })
  return { bigUser: 1, typicalUsers, typicalConversations, growthUsers, deletePool: [nextConversation, nextConversation + size.deletePool - 1] }
}

function * allRows (size: SeedSize, fixture: Fixture): Generator<Batch> {
  const next = mulberry32(9)
  const poolOwner = size.users + size.growth.length + 1
  const users: UserRow[] = []
  for (let id = 1; id <= poolOwner; id++) users.push([id, `Bench user ${id}`, BASE_MS - DAY_MS + id * 1000])
  for (const chunk of chunks(users)) yield { table: 'User', rows: chunk }
  yield * typicalConversations(size, fixture, next)
  let firstId = size.conversations + 1
  yield * emptyConversations(firstId, fixture.bigUser, size.bigUser)
  firstId += size.bigUser
  for (const { userId, conversations } of fixture.growthUsers) {
    yield * emptyConversations(firstId, userId, conversations)
    firstId += conversations
  }
  yield * emptyConversations(fixture.deletePool[0], poolOwner, size.deletePool)
}

/** Prisma's SQLite DateTime text: milliseconds and `+00:00`, not `Z`. */
const sqliteDate = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00')

function seedSqlite (file: string, batches: Iterable<Batch>): void {
  const db = new Sqlite(file)
  try {
    // A throwaway copy source: durability buys nothing here.
    db.pragma('synchronous = OFF')
    const insert = {
      User: db.prepare('INSERT INTO "User" (id, name, email, "createdAt") VALUES (?, ?, NULL, ?)'),
      Conversation: db.prepare('INSERT INTO "Conversation" (id, "userId", title, metadata, "messageCount", "createdAt", "updatedAt", "lastMessageAt") VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      Message: db.prepare('INSERT INTO "Message" (id, "conversationId", role, content, parts, "createdAt") VALUES (?, ?, ?, ?, ?, ?)'),
    }
    // Explicit ids through the AUTOINCREMENT tables leave sqlite_sequence at the max id, as Prisma would.
    db.transaction(() => {
      for (const batch of batches) {
        for (const row of batch.rows) {
          const values: unknown[] = [...row]
          if (batch.table === 'User') values[2] = sqliteDate(row[2] as number)
          if (batch.table === 'Conversation') values.splice(5, 3, sqliteDate(row[5] as number), sqliteDate(row[6] as number), row[7] === null ? null : sqliteDate(row[7] as number))
          if (batch.table === 'Message') values[5] = sqliteDate(row[5] as number)
          insert[batch.table].run(...values)
        }
      }
    })()
  } finally {
    db.close()
  }
}

const PG_INSERT = {
  User: 'INSERT INTO "User" (id, name, "createdAt") SELECT * FROM unnest($1::int[], $2::text[], $3::timestamp[])',
  Conversation: 'INSERT INTO "Conversation" (id, "userId", title, metadata, "messageCount", "createdAt", "updatedAt", "lastMessageAt") SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::jsonb[], $5::int[], $6::timestamp[], $7::timestamp[], $8::timestamp[])',
  Message: 'INSERT INTO "Message" (id, "conversationId", role, content, parts, "createdAt") SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::jsonb[], $6::timestamp[])',
}

/** Rows to columns; dates as ISO text, which a `timestamp` column stores as the UTC wall clock Prisma uses. */
function columnsOf (batch: Batch): unknown[][] {
  const dateColumns = { User: [2], Conversation: [5, 6, 7], Message: [5] }[batch.table]
  const width = batch.rows[0]?.length ?? 0
  return Array.from({ length: width }, (_, c) => batch.rows.map((row) => {
    const value = row[c]
    return dateColumns.includes(c) && value !== null ? new Date(value as number).toISOString() : value
  }))
}

async function seedPostgres (url: string, batches: Iterable<Batch>): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('BEGIN')
    for (const batch of batches) await client.query(PG_INSERT[batch.table], columnsOf(batch))
    for (const table of ['User', 'Conversation', 'Message']) {
      await client.query(`SELECT setval(pg_get_serial_sequence('"${table}"', 'id'), (SELECT MAX(id) FROM "${table}"))`)
    }
    await client.query('COMMIT')
    // Planner statistics now, so no server's run depends on when autovacuum gets to them.
    await client.query('ANALYZE')
  } finally {
    await client.end()
  }
}

const quiet = { info: () => {}, warn: (message: string) => console.warn(message) }

/** This checkout's migrations for the store at `url`. */
export const migrationsFor = (url: string): Migration[] => readMigrations(migrationsDir(providerOf(url)))

/**
 * Applies `migrations` with the project's own runner, as a server would on start: this checkout's, or fewer (the
 * search seed stops before the search migration), or another checkout's (--baseline's, whose server then finds its
 * history complete).
 */
export async function migrate (url: string, migrations: Migration[]): Promise<void> {
  if (providerOf(url) === 'postgres') await migratePostgres(postgresTarget(url).connectionString, migrations, quiet)
  else await migrateSqlite(sqliteFile(url), migrations, quiet)
}

/** Inserts the batches' rows into the migrated database at `url`, in one transaction. */
export async function insertRows (url: string, batches: Iterable<Batch>): Promise<void> {
  if (providerOf(url) === 'sqlite') seedSqlite(sqliteFile(url), batches)
  else await seedPostgres(url, batches)
}

/**
 * Migrates (this checkout's migrations unless `migrations` says otherwise) and fills the database at `url` (a file:
 * URL or a postgresql:// URL of an empty database).
 */
export async function seed (url: string, size: SeedSize, migrations = migrationsFor(url)): Promise<Fixture> {
  await migrate(url, migrations)
  const fixture = planFixture(size)
  await insertRows(url, allRows(size, fixture))
  return fixture
}

/** A fresh copy of a seeded SQLite file (closed, so its WAL is already checkpointed into it). */
export function copySqlite (fromUrl: string, toUrl: string): void {
  copyFileSync(sqliteFile(fromUrl), sqliteFile(toUrl))
}

/** The URL of database `name` on the server an admin URL points at. */
export function postgresUrl (adminUrl: string, name: string): string {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** Runs statements that cannot run in a transaction (CREATE/DROP DATABASE) on the admin database. */
export async function adminQuery (adminUrl: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    for (const statement of statements) await client.query(statement)
  } finally {
    await client.end()
  }
}
