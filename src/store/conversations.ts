import { empty, join, sql, type Dialect, type Sql } from './dialect.js'
import { columns, presenceColumns, queryRows, type Columns } from './columns.js'
import type { ConversationPatch, ForkRequest, NewConversation, Shapes } from './models.js'
import { byId, isId, isTimestampMs, toPage, type ListOptions, type Page } from './page.js'
import { databaseErrorKind } from './prisma-errors.js'
import type { Queryable } from './read-snapshots.js'
import { readInChunks, type Chunks, type FullLists } from './chunks.js'
import type { UserRepository } from './users.js'
import type { PrismaClient } from './database.js'
import { keyable, nothingWritten, type IdempotencyKey } from './idempotency-keys.js'
import { firstStatementValue, rowsValue, sqliteJsonRows, writeBatch, writeWith, type WriteValue } from './keyed-writes.js'
import { insertMessages, MESSAGE_COLUMNS, MESSAGE_COLUMNS_OF_M, messageFields, storedMessage, toolResultsToResolve, UnknownToolCall, usageOf, type StoredMessage } from './stored-messages.js'
import type { Expiry } from './expiry.js'
import type { View } from './views.js'

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
export const conversationKeyOf = (conversation: Shapes['Conversation']): ConversationKey => [Date.parse(conversation.updatedAt), conversation.id]

/** update's answer when the merged metadata would hold more keys than the spec's Metadata allows. */
export const TOO_MANY_METADATA_KEYS = 'tooManyMetadataKeys'

/** fork's answer when `atMessageId` names no message of the conversation. */
export const NOT_A_MESSAGE_OF_IT = 'notAMessageOfIt'

/** create's and update's answer when `expiresAt` is not in the future: the conversation would be gone at once. */
export const EXPIRY_PASSED = 'expiryPassed'

/** True when `expiresAt` is given and not after `now`. */
const passed = (expiresAt: string | null | undefined, now: Date) => expiresAt != null && Date.parse(expiresAt) <= now.getTime()

/** A write's answer when If-Match named none of the conversation's current version. */
export const PRECONDITION_FAILED = 'preconditionFailed'

/**
 * A conversation with its version: a counter every write of the row moves by one (update, a message posted
 * or deleted), kept beside the API body, which does not carry it. The ETag is made of it.
 */
export interface Versioned<C = Shapes['Conversation']> {
  conversation: C
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
  /** The longest text v1 reads of a message (v1's MessageContent maxLength). */
  v1ContentLength: number
}

const ownerColumns = columns<{ userId: number }>({ userId: sql`"userId"` })

/** A time the API sent (its Timestamp format), as the store binds it; null stays null. */
const timeOrNull = (time: string | null | undefined): Date | null => time == null ? null : new Date(time)

/**
 * What a create makes of its rows, written now or held by its key: the conversation, with the messages it was created
 * with or none; and on SQLite, its batches' values and what their key's INSERT reads back, the rows PostgreSQL's
 * statement returns (created), so a key copied between stores replays alike. Built once per repository.
 */
function createdValues<S extends Shapes> (dialect: Dialect, view: View<S>) {
  type WithMessages = S['ConversationWithMessages']
  const alone = rowsValue(view.conversation, (rows): WithMessages => ({ ...rows[0]!, messages: [] }) as WithMessages)
  const withMessages = rowsValue(view.created, (rows) => rows[0]!)
  const createdId = dialect.lastId('Conversation')
  const createdRow = sql`FROM "Conversation" WHERE id = ${createdId}`
  const sqliteWithMessages: WriteValue<[Array<S['Conversation']>, Array<S['Message']>], WithMessages> = {
    // RETURNING promises no order; ids grow in insertion order.
    written: ([[conversation], inserted]) => ({ ...conversation!, messages: inserted.sort(byId) }) as WithMessages,
    held: withMessages.held,
  }
  const withMessagesColumns: Columns<WithMessages> = columns({
    ...view.conversation.map,
    messages: sqliteJsonRows({ columns: view.message, from: sql`FROM "Message" WHERE "conversationId" = ${createdId} ORDER BY id` }),
  } as unknown as Columns<WithMessages>['map'], view.created.json)
  return {
    alone,
    withMessages,
    sqlite: {
      alone: { value: firstStatementValue(alone), keyRows: sqliteJsonRows({ columns: view.conversation, from: createdRow }) },
      withMessages: { value: sqliteWithMessages, keyRows: sqliteJsonRows({ columns: withMessagesColumns, from: createdRow }) },
    },
  }
}

export function createConversationRepository<S extends Shapes> (prisma: PrismaClient, dialect: Dialect, users: UserRepository, limits: StoreLimits, fullLists: FullLists, view: View<S>, expiry: Expiry) {
  type Conversation = S['Conversation']
  const { conversation: conversationColumns, versioned: versionedColumns, created: createdColumns } = view
  const created = createdValues(dialect, view)
  const versioned = ({ version, ...conversation }: Conversation & { version: number }): Versioned<Conversation> => ({ conversation: conversation as Conversation, version })

  /** At most `limit` of a user's conversations after `key`, newest activity first: a page, or a chunk of the full list. */
  const conversationsAfter = (client: Queryable, userId: number, key: ConversationKey | undefined, limit: number) => queryRows(client, conversationColumns, (list) => sql`
    SELECT ${list} FROM "Conversation"
    WHERE "userId" = ${userId} AND ${expiry.live()} ${after(key)}
    ORDER BY "Conversation"."updatedAt" DESC, "Conversation".id DESC
    LIMIT ${limit}`)

  // SQLite: a batch transaction, cheaper in Prisma than an interactive one; the messages name their
  // conversation by the id just inserted.
  async function createInBatch (insertConversation: Sql, messages: StoredMessage[], now: Date, key: IdempotencyKey | undefined) {
    const { value, keyRows } = created.sqlite.withMessages
    return await writeBatch(prisma, key, [
      queryRows(prisma, conversationColumns, (list) => sql`${insertConversation} RETURNING ${list}`),
      queryRows(prisma, view.message, (list) => sql`${insertMessages(dialect, dialect.lastId('Conversation'), messages, now)} RETURNING ${list}`),
    ], keyRows, value)
  }

  // PostgreSQL: one statement, the messages numbered in request order and returned as one JSON array
  // (createdColumns).
  async function createInOneStatement (insertConversation: Sql, messages: StoredMessage[], key: IdempotencyKey | undefined) {
    const values = messages.map((message, position) => sql`(CAST(${position} AS integer), ${messageFields(dialect, message)})`)
    return await writeWith(prisma, key, createdColumns, sql`
      conversation AS (${insertConversation} RETURNING *),
      message AS (
        INSERT INTO "Message" ("conversationId", ${MESSAGE_COLUMNS}, "createdAt")
        SELECT conversation.id, ${MESSAGE_COLUMNS_OF_M}, conversation."createdAt"
        FROM conversation, (VALUES ${join(values)}) AS m (position, ${MESSAGE_COLUMNS}) ORDER BY m.position
        RETURNING *)`, sql`conversation`, created.withMessages)
  }

  /** A conversation without messages: one statement, in a batch of its own on SQLite only with a key. */
  async function createAlone (insertConversation: Sql, key: IdempotencyKey | undefined) {
    if (dialect.writesInWith) return await writeWith(prisma, key, conversationColumns, sql`conversation AS (${insertConversation} RETURNING *)`, sql`conversation`, created.alone)
    const { value, keyRows } = created.sqlite.alone
    return await writeBatch(prisma, key, [queryRows(prisma, conversationColumns, (list) => sql`${insertConversation} RETURNING ${list}`)], keyRows, value)
  }

  const forked = rowsValue(conversationColumns, (rows) => rows[0]!)

  /** On `client` when given: a snapshot's, say. */
  async function exists (id: number, client: Queryable = prisma): Promise<boolean> {
    const rows = await queryRows(client, presenceColumns, (list) => sql`SELECT ${list} FROM "Conversation" WHERE id = ${id} AND ${expiry.live()}`)
    return rows.length > 0
  }

  /**
   * The INSERT of a fork of conversation `id` at message `cut` (an SQL expression; NULL when it has none): the
   * source's owner, title (unless `title` is given: null or a title), metadata and expiry; the counters of the messages
   * copied; and where it came from. Every value is read by the statement itself, so what it counts is what the copy
   * copies. The owner is NULL, and the NOT NULL column refuses the row and with it the whole write, when the source
   * does not exist (or has expired) or `guard` does not hold: the write then stores nothing, its key included.
   */
  function insertFork (id: number, cut: Sql, guard: Sql, title: string | null | undefined, now: Date): Sql {
    const source = (column: Sql) => sql`(SELECT ${column} FROM "Conversation" WHERE id = ${id})`
    const copied = sql`FROM "Message" WHERE "conversationId" = ${id} AND id <= ${cut}`
    const sum = (field: 'inputTokens' | 'outputTokens') => sql`COALESCE(sum(${dialect.tokens(sql`usage`, field)}), 0)`
    return sql`
      INSERT INTO "Conversation" ("userId", title, metadata, "messageCount", usage, "lastMessageAt", "forkedFrom", "expiresAt", "createdAt", "updatedAt")
      VALUES ((SELECT "userId" FROM "Conversation" WHERE id = ${id} AND ${expiry.live()} AND ${guard}), ${title === undefined ? source(sql`title`) : title},
        ${source(sql`metadata`)},
        (SELECT count(*) ${copied}),
        (SELECT ${dialect.jsonObject({ inputTokens: sum('inputTokens'), outputTokens: sum('outputTokens') })} ${copied}),
        (SELECT max("createdAt") ${copied}),
        ${dialect.jsonObject({ conversationId: sql`CAST(${id} AS integer)`, messageId: sql`CAST(${cut} AS integer)` })},
        ${source(sql`"expiresAt"`)}, ${now}, ${now})`
  }

  /** The INSERT of the copies of conversation `id`'s messages up to `cut` into the conversation `into` names, in order. */
  function copyMessages (id: number, cut: Sql, into: Sql, from: Sql = empty): Sql {
    return sql`
      INSERT INTO "Message" ("conversationId", ${MESSAGE_COLUMNS}, "createdAt")
      SELECT ${into}, ${MESSAGE_COLUMNS_OF_M}, m."createdAt" FROM "Message" AS m ${from}
      WHERE m."conversationId" = ${id} AND m.id <= ${cut}
      ORDER BY m.id`
  }

  return {
    /**
     * A new conversation of the same user holding copies of conversation `id`'s messages up to and including
     * `atMessageId` (its last message when undefined), atomically: one statement on PostgreSQL, a batch transaction on
     * SQLite, with no round trip per message. Null when the conversation does not exist; NOT_A_MESSAGE_OF_IT when
     * `atMessageId` is not one of its messages. With an Idempotency-Key, the key's outcome.
     */
    fork: keyable(async (id: number, input: ForkRequest, key: IdempotencyKey | undefined) => {
      const now = new Date()
      const at = input.atMessageId
      const cut = at === undefined ? sql`(SELECT max(id) FROM "Message" WHERE "conversationId" = ${id})` : sql`${at}`
      const guard = at === undefined ? sql`1 = 1` : sql`EXISTS (SELECT 1 FROM "Message" WHERE id = ${at} AND "conversationId" = ${id})`
      const insert = insertFork(id, cut, guard, input.title, now)
      try {
        if (dialect.writesInWith) {
          return await writeWith(prisma, key, conversationColumns, sql`
            conversation AS (${insert} RETURNING *),
            message AS (${copyMessages(id, cut, sql`conversation.id`, sql`, conversation`)})`, sql`conversation`, forked)
        }
        return await writeBatch(prisma, key, [
          queryRows(prisma, conversationColumns, (list) => sql`${insert} RETURNING ${list}`),
          prisma.$executeRaw(copyMessages(id, cut, dialect.lastId('Conversation'))),
        ], created.sqlite.alone.keyRows, firstStatementValue(forked))
      } catch (error) {
        if (databaseErrorKind(error) !== 'notNull') throw error
        return nothingWritten<Conversation | typeof NOT_A_MESSAGE_OF_IT | null>(key, await exists(id) ? NOT_A_MESSAGE_OF_IT : null, forked.held)
      }
    }),

    /**
     * The new conversation with its initial messages (atomically), or null when the user does not exist, or
     * UnknownToolCall when a tool_result answers no tool_call before it in the messages, or EXPIRY_PASSED. With an
     * Idempotency-Key, the key's outcome (src/store/keyed-writes.ts).
     */
    create: keyable(async (userId: number, input: NewConversation, key: IdempotencyKey | undefined) => {
      const now = new Date()
      const messages = (input.messages ?? []).map(storedMessage)
      const held = (messages.length === 0 ? created.alone : created.withMessages).held
      type Created = S['ConversationWithMessages'] | UnknownToolCall | typeof EXPIRY_PASSED | null
      if (passed(input.expiresAt, now)) return nothingWritten<Created>(key, EXPIRY_PASSED, held)
      const [unknownCall] = toolResultsToResolve(messages)
      // A new conversation has no messages stored to answer it.
      if (unknownCall !== undefined) return nothingWritten<Created>(key, new UnknownToolCall(unknownCall), held)
      const usage = usageOf(messages)
      const insertConversation = sql`
        INSERT INTO "Conversation" ("userId", title, metadata, "messageCount", usage, "lastMessageAt", "expiresAt", "createdAt", "updatedAt")
        VALUES (${userId}, ${input.title ?? null}, ${dialect.json(input.metadata ?? {})}, ${messages.length}, ${dialect.json(usage)},
          ${messages.length === 0 ? null : now}, ${timeOrNull(input.expiresAt)}, ${now}, ${now})`
      try {
        if (messages.length === 0) return await createAlone(insertConversation, key)
        return dialect.writesInWith
          ? await createInOneStatement(insertConversation, messages, key)
          : await createInBatch(insertConversation, messages, now, key)
      } catch (error) {
        if (databaseErrorKind(error) === 'foreignKey') return nothingWritten(key, null, held)
        throw error
      }
    }),

    async findById (id: number): Promise<Versioned<Conversation> | null> {
      const [row] = await queryRows(prisma, versionedColumns, (list) => sql`SELECT ${list} FROM "Conversation" WHERE id = ${id} AND ${expiry.live()}`)
      return row === undefined ? null : versioned(row)
    },

    /** One page of a user's conversations, newest activity first; null when the user does not exist. */
    async listByUser (userId: number, options: ListOptions<ConversationKey>): Promise<Page<Conversation, ConversationKey> | null> {
      const conversations = await conversationsAfter(prisma, userId, options.after, options.limit + 1)
      // An empty page is the one case where the user may not exist at all.
      if (conversations.length === 0 && !await users.exists(userId)) return null
      return toPage(conversations, options.limit, conversationKeyOf)
    },

    /** All of a user's conversations after `key` (from the top when undefined), whole or in chunks of one snapshot; null when the user does not exist. */
    async listAllByUser (userId: number, key: ConversationKey | undefined): Promise<Conversation[] | Chunks<Conversation, ConversationKey> | null> {
      return await readInChunks(prisma, fullLists.snapshots, fullLists, {
        read: (client, key, limit) => conversationsAfter(client, userId, key, limit),
        keyOf: conversationKeyOf,
        ownerExists: (client) => users.exists(userId, client),
      }, key)
    },

    limits,

    /**
     * Applies a merge patch in one UPDATE: title and expiresAt replaced when given, metadata merged key by key,
     * updatedAt moved forward. The merge is computed from the row as the UPDATE finds it, under its write lock, so
     * concurrent patches of different keys all land. The key bound is in the WHERE clause: a merge past it
     * updates nothing, and so does a version not in `versions` (If-Match), checked in the same WHERE clause.
     * Null when there is no such conversation; EXPIRY_PASSED, checked first, when `expiresAt` is not in the future.
     */
    async update (id: number, patch: ConversationPatch, versions?: readonly number[]): Promise<Versioned<Conversation> | typeof TOO_MANY_METADATA_KEYS | typeof PRECONDITION_FAILED | typeof EXPIRY_PASSED | null> {
      const now = new Date()
      if (passed(patch.expiresAt, now)) return EXPIRY_PASSED
      const merged = dialect.mergePatch(sql`metadata`, patch.metadata ?? {})
      const title = patch.title === undefined ? sql`title` : sql`${patch.title}`
      const expiresAt = patch.expiresAt === undefined ? sql`"expiresAt"` : sql`${timeOrNull(patch.expiresAt)}`
      const [row] = await queryRows(prisma, versionedColumns, (list) => sql`
        UPDATE "Conversation"
        SET title = ${title}, metadata = ${merged}, "expiresAt" = ${expiresAt}, "updatedAt" = ${dialect.later(sql`"updatedAt"`, now)}, version = version + 1
        WHERE id = ${id} AND ${expiry.live()} AND ${dialect.keyCount(merged)} <= ${limits.metadataKeys} ${versionIn(versions)}
        RETURNING ${list}`)
      if (row !== undefined) return versioned(row)
      // No row updated: there is none, or its version is not one If-Match named, or the merge broke the bound.
      const current = await this.findById(id)
      if (current === null) return null
      return versions !== undefined && !versions.includes(current.version) ? PRECONDITION_FAILED : TOO_MANY_METADATA_KEYS
    },

    /**
     * The user a conversation belongs to, or null when there is none (or it has expired). A conversation never changes owner, so
     * the answer holds for as long as the conversation exists (src/contract/access.ts relies on it).
     */
    async ownerOf (id: number): Promise<number | null> {
      const [row] = await queryRows(prisma, ownerColumns, (list) => sql`SELECT ${list} FROM "Conversation" WHERE id = ${id} AND ${expiry.live()}`)
      return row === undefined ? null : row.userId
    },

    exists,

    /** At most `limit` of a user's conversations after `key`, in list order, on `client`: a chunk of an export's snapshot. */
    chunkAfter: conversationsAfter,

    /**
     * False when there was no such conversation; PRECONDITION_FAILED when its version is not in `versions`
     * (If-Match), checked in the DELETE's own WHERE clause. Its messages go by ON DELETE CASCADE, in the same statement.
     */
    async delete (id: number, versions?: readonly number[]): Promise<boolean | typeof PRECONDITION_FAILED> {
      if (await prisma.$executeRaw`DELETE FROM "Conversation" WHERE id = ${id} AND ${expiry.live()} ${versionIn(versions)}` > 0) return true
      return versions !== undefined && await exists(id) ? PRECONDITION_FAILED : false
    },
  }
}

export type ConversationRepository<S extends Shapes = Shapes> = ReturnType<typeof createConversationRepository<S>>
