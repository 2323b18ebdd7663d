import { empty, join, sql, type Dialect, type Sql } from './dialect.js'
import { columns, messageColumns, perDialect, presenceColumns, queryRows } from './columns.js'
import type { Conversation, ConversationPatch, ConversationWithMessages, Message, NewConversation, NewMessage } from './models.js'
import { isId, isTimestampMs, toPage, type ListOptions, type Page } from './page.js'
import { databaseErrorKind } from './prisma-errors.js'
import type { Queryable } from './read-snapshots.js'
import { readInChunks, type Chunks, type FullLists } from './chunks.js'
import type { UserRepository } from './users.js'
import type { PrismaClient } from './database.js'
import { keyable, nothingWritten, type IdempotencyKey } from './idempotency-keys.js'
import { firstStatementValue, rowsValue, sqliteJsonRows, writeBatch, writeWith, type WriteValue } from './keyed-writes.js'

/** Sort key of list_conversations: most recent activity first. */
export type ConversationKey = [updatedAtMs: number, id: number]
export const isConversationKey = (key: readonly number[]): key is ConversationKey =>
  key.length === 2 && isTimestampMs(key[0]!) && isId(key[1]!)

/**
 * Rows strictly after `key` in (updatedAt DESC, id DESC) order, written as
 * `updatedAt <= t AND (updatedAt < t OR id < i)` so the database seeks the (userId, updatedAt, id) index
 * instead of scanning from the top.
 */
function after (key: ConversationKey | undefined) {
  if (key === undefined) return empty
  const updatedAt = new Date(key[0])
  return sql`AND "updatedAt" <= ${updatedAt} AND ("updatedAt" < ${updatedAt} OR id < ${key[1]})`
}

// ORDER BY names the table's columns: the bare names would mean the formatted output columns, which no
// index covers (test/store/query-plans.test.ts).
const keyOf = (conversation: Conversation): ConversationKey => [Date.parse(conversation.updatedAt), conversation.id]

const byId = (a: { id: number }, b: { id: number }) => a.id - b.id

/** update's answer when the merged metadata would hold more keys than the spec's Metadata allows. */
export const TOO_MANY_METADATA_KEYS = 'tooManyMetadataKeys'

/** A write's answer when If-Match named none of the conversation's current version. */
export const PRECONDITION_FAILED = 'preconditionFailed'

/**
 * A conversation with its version: a counter every write of the row moves by one (update, a message posted
 * or deleted), kept beside the API body, which does not carry it. The ETag is made of it.
 */
export interface Versioned {
  conversation: Conversation
  version: number
}

/**
 * The versions a conditional write may proceed on, as a WHERE condition: the check and the write are then
 * one statement. Undefined: unconditional; an empty list matches no row.
 */
function versionIn (versions: readonly number[] | undefined): Sql {
  if (versions === undefined) return empty
  return versions.length === 0 ? sql`AND 1 = 0` : sql`AND version IN (${join(versions)})`
}

/** Bounds of the contract the store enforces itself, read from the spec by whoever creates the repositories. */
export interface StoreLimits {
  /** The most keys a conversation's metadata holds (Metadata's maxProperties). */
  metadataKeys: number
}

/** The column sets of conversations on one dialect, and what a create makes of its rows (perDialect: built once). */
const conversationColumnsOf = perDialect((dialect) => {
  const conversationColumns = columns<Conversation>({
    id: sql`id`,
    userId: sql`"userId"`,
    title: sql`title`,
    // The bare column, so the driver parses its JSON: jsonb on PostgreSQL, declared JSONB on SQLite
    // (sqlite-adapter.ts). Wrapped in any expression, SQLite would hand back the text.
    metadata: sql`metadata`,
    // Stored: a counter every write of messages keeps in step (messages.create), so reads never count rows.
    messageCount: sql`"messageCount"`,
    // Computed: formatted by the database.
    createdAt: dialect.isoTime(sql`"createdAt"`),
    updatedAt: dialect.isoTime(sql`"updatedAt"`),
  })
  // The API body and, outside it, the version (Versioned).
  const versionedColumns = columns<Conversation & { version: number }>({ ...conversationColumns.map, version: sql`version` })
  const ownerColumns = columns<Pick<Conversation, 'userId'>>({ userId: sql`"userId"` })
  const newMessageColumns = messageColumns(dialect)
  // PostgreSQL's one-statement create, over its `conversation` and `message` CTEs. Computed: the messages,
  // one JSON array of rows in the same columns as every other message, in id (= request) order.
  const createdColumns = columns<ConversationWithMessages>({
    ...conversationColumns.map,
    messages: sql`(SELECT json_agg(m ORDER BY m.id) FROM (SELECT ${newMessageColumns.list} FROM message) AS m)`,
  })
  // What a create makes of its rows, written now or held by its key: the conversation, with the messages it was
  // created with or none.
  const created = {
    alone: rowsValue(conversationColumns, (rows): ConversationWithMessages => ({ ...rows[0]!, messages: [] })),
    withMessages: rowsValue(createdColumns, (rows) => rows[0]!),
  }

  return { conversationColumns, versionedColumns, ownerColumns, newMessageColumns, createdColumns, created }
})

/**
 * SQLite only: the creates' batches, and what their key's INSERT reads back: the new conversation, and with its
 * messages as PostgreSQL's statement returns it (createdColumns), so a key copied between stores replays alike;
 * metadata and messages hold JSON (perDialect: built once).
 */
const sqliteCreateOf = perDialect((dialect) => {
  const { conversationColumns, newMessageColumns, created } = conversationColumnsOf(dialect)
  const createdId = dialect.lastId('Conversation')
  const createdRow = sql`FROM "Conversation" WHERE id = ${createdId}`
  const withMessages: WriteValue<[Conversation[], Message[]], ConversationWithMessages> = {
    // RETURNING promises no order; ids grow in insertion order.
    written: ([[conversation], inserted]) => ({ ...conversation!, messages: inserted.sort(byId) }),
    held: created.withMessages.held,
  }
  return {
    alone: {
      value: firstStatementValue(created.alone),
      keyRows: sqliteJsonRows({ columns: conversationColumns, from: createdRow, json: ['metadata'] }),
    },
    withMessages: {
      value: withMessages,
      keyRows: sqliteJsonRows({
        columns: columns<ConversationWithMessages>({
          ...conversationColumns.map,
          messages: sqliteJsonRows({ columns: newMessageColumns, from: sql`FROM "Message" WHERE "conversationId" = ${createdId} ORDER BY id` }),
        }),
        from: createdRow,
        json: ['metadata', 'messages'],
      }),
    },
  }
})

export function createConversationRepository (prisma: PrismaClient, dialect: Dialect, users: UserRepository, limits: StoreLimits, fullLists: FullLists) {
  const { conversationColumns, versionedColumns, ownerColumns, newMessageColumns, createdColumns, created } = conversationColumnsOf(dialect)
  const versioned = ({ version, ...conversation }: Conversation & { version: number }): Versioned => ({ conversation, version })

  /** At most `limit` of a user's conversations after `key`, newest activity first: a page, or a chunk of the full list. */
  const conversationsAfter = (client: Queryable, userId: number, key: ConversationKey | undefined, limit: number) => queryRows(client, conversationColumns, (list) => sql`
    SELECT ${list} FROM "Conversation"
    WHERE "userId" = ${userId} ${after(key)}
    ORDER BY "Conversation"."updatedAt" DESC, "Conversation".id DESC
    LIMIT ${limit}`)

  // SQLite: a batch transaction, cheaper in Prisma than an interactive one; the messages name their
  // conversation by the id just inserted.
  async function createInBatch (insertConversation: Sql, messages: NewMessage[], now: Date, key: IdempotencyKey | undefined) {
    const conversationId = dialect.lastId('Conversation')
    const values = messages.map(({ role, content }) => sql`(${conversationId}, ${role}, ${content}, ${now})`)
    const { value, keyRows } = sqliteCreateOf(dialect).withMessages
    return await writeBatch(prisma, key, [
      queryRows(prisma, conversationColumns, (list) => sql`${insertConversation} RETURNING ${list}`),
      queryRows(prisma, newMessageColumns, (list) => sql`
        INSERT INTO "Message" ("conversationId", role, content, "createdAt") VALUES ${join(values)}
        RETURNING ${list}`),
    ], keyRows, value)
  }

  // PostgreSQL: one statement, the messages numbered in request order and returned as one JSON array
  // (createdColumns).
  async function createInOneStatement (insertConversation: Sql, messages: NewMessage[], key: IdempotencyKey | undefined) {
    const values = messages.map(({ role, content }, position) => sql`(${role}, ${content}, CAST(${position} AS integer))`)
    return await writeWith(prisma, key, createdColumns, sql`
      conversation AS (${insertConversation} RETURNING *),
      message AS (
        INSERT INTO "Message" ("conversationId", role, content, "createdAt")
        SELECT conversation.id, m.role, m.content, conversation."createdAt"
        FROM conversation, (VALUES ${join(values)}) AS m (role, content, position) ORDER BY m.position
        RETURNING *)`, sql`conversation`, created.withMessages)
  }

  /** A conversation without messages: one statement, in a batch of its own on SQLite only with a key. */
  async function createAlone (insertConversation: Sql, key: IdempotencyKey | undefined) {
    if (dialect.writesInWith) return await writeWith(prisma, key, conversationColumns, sql`conversation AS (${insertConversation} RETURNING *)`, sql`conversation`, created.alone)
    const { value, keyRows } = sqliteCreateOf(dialect).alone
    return await writeBatch(prisma, key, [queryRows(prisma, conversationColumns, (list) => sql`${insertConversation} RETURNING ${list}`)], keyRows, value)
  }

  return {
    /**
     * The new conversation with its initial messages (atomically), or null when the user does not exist. With an
     * Idempotency-Key, the key's outcome (src/store/keyed-writes.ts).
     */
    create: keyable(async (userId: number, input: NewConversation, key: IdempotencyKey | undefined) => {
      const now = new Date()
      const messages = input.messages ?? []
      const insertConversation = sql`
        INSERT INTO "Conversation" ("userId", title, metadata, "messageCount", "createdAt", "updatedAt")
        VALUES (${userId}, ${input.title ?? null}, ${dialect.json(input.metadata ?? {})}, ${messages.length}, ${now}, ${now})`
      try {
        if (messages.length === 0) return await createAlone(insertConversation, key)
        return dialect.writesInWith
          ? await createInOneStatement(insertConversation, messages, key)
          : await createInBatch(insertConversation, messages, now, key)
      } catch (error) {
        if (databaseErrorKind(error) === 'foreignKey') return nothingWritten(key, null, (messages.length === 0 ? created.alone : created.withMessages).held)
        throw error
      }
    }),

    async findById (id: number): Promise<Versioned | null> {
      const [row] = await queryRows(prisma, versionedColumns, (list) => sql`SELECT ${list} FROM "Conversation" WHERE id = ${id}`)
      return row === undefined ? null : versioned(row)
    },

    /** One page of a user's conversations, newest activity first; null when the user does not exist. */
    async listByUser (userId: number, options: ListOptions<ConversationKey>): Promise<Page<Conversation, ConversationKey> | null> {
      const conversations = await conversationsAfter(prisma, userId, options.after, options.limit + 1)
      // An empty page is the one case where the user may not exist at all.
      if (conversations.length === 0 && !await users.exists(userId)) return null
      return toPage(conversations, options.limit, keyOf)
    },

    /** All of a user's conversations after `key` (from the top when undefined), whole or in chunks of one snapshot; null when the user does not exist. */
    async listAllByUser (userId: number, key: ConversationKey | undefined): Promise<Conversation[] | Chunks<Conversation, ConversationKey> | null> {
      return await readInChunks(prisma, fullLists.snapshots, fullLists, {
        read: (client, key, limit) => conversationsAfter(client, userId, key, limit),
        keyOf,
        ownerExists: (client) => users.exists(userId, client),
      }, key)
    },

    limits,

    /**
     * Applies a merge patch in one UPDATE: title replaced when given, metadata merged key by key, updatedAt
     * moved forward. The merge is computed from the row as the UPDATE finds it, under its write lock, so
     * concurrent patches of different keys all land. The key bound is in the WHERE clause: a merge past it
     * updates nothing, and so does a version not in `versions` (If-Match), checked in the same WHERE clause.
     * Null when there is no such conversation.
     */
    async update (id: number, patch: ConversationPatch, versions?: readonly number[]): Promise<Versioned | typeof TOO_MANY_METADATA_KEYS | typeof PRECONDITION_FAILED | null> {
      const merged = dialect.mergePatch(sql`metadata`, patch.metadata ?? {})
      const title = patch.title === undefined ? sql`title` : sql`${patch.title}`
      const [row] = await queryRows(prisma, versionedColumns, (list) => sql`
        UPDATE "Conversation"
        SET title = ${title}, metadata = ${merged}, "updatedAt" = ${dialect.later(sql`"updatedAt"`, new Date())}, version = version + 1
        WHERE id = ${id} AND ${dialect.keyCount(merged)} <= ${limits.metadataKeys} ${versionIn(versions)}
        RETURNING ${list}`)
      if (row !== undefined) return versioned(row)
      // No row updated: there is none, or its version is not one If-Match named, or the merge broke the bound.
      const current = await this.findById(id)
      if (current === null) return null
      return versions !== undefined && !versions.includes(current.version) ? PRECONDITION_FAILED : TOO_MANY_METADATA_KEYS
    },

    /**
     * The user a conversation belongs to, or null when there is none. A conversation never changes owner, so
     * the answer holds for as long as the conversation exists (src/contract/access.ts relies on it).
     */
    async ownerOf (id: number): Promise<number | null> {
      const [row] = await queryRows(prisma, ownerColumns, (list) => sql`SELECT ${list} FROM "Conversation" WHERE id = ${id}`)
      return row === undefined ? null : row.userId
    },

    /** On `client` when given: a snapshot's, say. */
    async exists (id: number, client: Queryable = prisma): Promise<boolean> {
      const rows = await queryRows(client, presenceColumns, (list) => sql`SELECT ${list} FROM "Conversation" WHERE id = ${id}`)
      return rows.length > 0
    },

    /**
     * False when there was no such conversation; PRECONDITION_FAILED when its version is not in `versions`
     * (If-Match), checked in the DELETE's own WHERE clause. Its messages go by ON DELETE CASCADE, in the same statement.
     */
    async delete (id: number, versions?: readonly number[]): Promise<boolean | typeof PRECONDITION_FAILED> {
      if (await prisma.$executeRaw`DELETE FROM "Conversation" WHERE id = ${id} ${versionIn(versions)}` > 0) return true
      return versions !== undefined && await this.exists(id) ? PRECONDITION_FAILED : false
    },
  }
}

export type ConversationRepository = ReturnType<typeof createConversationRepository>
