import { presenceColumns, queryRows, type Columns } from './columns.js'
import type { ConversationRepository } from './conversations.js'
import { readInChunks, type Chunks, type FullLists } from './chunks.js'
import type { Queryable } from './read-snapshots.js'
import { empty, sql, type Dialect, type Sql } from './dialect.js'
import type { NewMessage, Shapes } from './models.js'
import { byId, isId, toPage, type ListOptions, type Page } from './page.js'
import { databaseErrorKind } from './prisma-errors.js'
import type { PrismaClient } from './database.js'
import { keyable, nothingWritten, type IdempotencyKey } from './idempotency-keys.js'
import { firstStatementValue, rowsValue, sqliteJsonRows, writeBatch, writeWith, type WriteValue } from './keyed-writes.js'
import { insertMessages, messagesAdded, storedMessage, storedToolCalls, toolCallColumns, toolResultsToResolve, UnknownToolCall, type StoredMessage } from './stored-messages.js'
import type { Expiry } from './expiry.js'
import type { View } from './views.js'

/** Sort key of list_messages: oldest first, and ids grow with insertion. */
export type MessageKey = [id: number]
export const isMessageKey = (key: readonly number[]): key is MessageKey => key.length === 1 && isId(key[0]!)

export const messageKeyOf = (message: Shapes['Message']): MessageKey => [message.id]

export function createMessageRepository<S extends Shapes> (prisma: PrismaClient, dialect: Dialect, conversations: ConversationRepository<S>, fullLists: FullLists, view: View<S>, expiry: Expiry) {
  type Message = S['Message']
  const columns: Columns<Message> = view.message
  // What an append makes of its rows, written now or held by its key: one message (create) or all of them, in order.
  const one = rowsValue(columns, (rows: Message[]) => rows[0]!)
  const all = rowsValue(columns, (rows: Message[]) => rows.sort(byId))
  const toolCalls = toolCallColumns(dialect)

  /** At most `limit` of a conversation's messages after `key`, oldest first: a page, or a chunk of the full list. */
  const messagesAfter = (client: Queryable, conversationId: number, key: MessageKey | undefined, limit: number) => queryRows(client, columns, (list) => sql`
    SELECT ${list} FROM "Message"
    WHERE "conversationId" = ${conversationId} AND ${expiry.liveConversation(conversationId)} ${key === undefined ? empty : sql`AND id > ${key[0]}`}
    ORDER BY id
    LIMIT ${limit}`)

  /**
   * The first tool_result of `messages` that answers a tool_call neither they nor the conversation hold, or undefined.
   * Read before the write, not in it: a call deleted in between leaves a result naming a deleted call, as deleting it
   * a moment later would.
   */
  async function unknownToolCall (conversationId: number, messages: readonly StoredMessage[]): Promise<UnknownToolCall | undefined> {
    const results = toolResultsToResolve(messages)
    if (results.length === 0) return undefined
    const ids = results.map(({ toolCallId }) => toolCallId)
    const stored = new Set((await queryRows(prisma, toolCalls, (list) => storedToolCalls(dialect, conversationId, ids, list))).map(({ id }) => id))
    const unknown = results.find(({ toolCallId }) => !stored.has(toolCallId))
    return unknown === undefined ? undefined : new UnknownToolCall(unknown)
  }

  /**
   * Appends messages and moves their conversation's counters with them (stored-messages.ts, messagesAdded),
   * atomically: one statement on PostgreSQL, a batch transaction on SQLite. Null when the conversation does not
   * exist (or is deleted meanwhile: the insert's foreign key refuses it) or has expired (each row names it by a
   * subquery that finds only a live one: the NOT NULL column refuses NULL). With an Idempotency-Key, the key's outcome
   * (src/store/keyed-writes.ts).
   */
  async function append<T> (conversationId: number, inputs: readonly NewMessage[], key: IdempotencyKey | undefined, value: WriteValue<Message[], T>) {
    const now = new Date()
    const messages = inputs.map(storedMessage)
    const unknown = await unknownToolCall(conversationId, messages)
    if (unknown !== undefined) {
      return nothingWritten<T | UnknownToolCall | null>(key, await conversations.exists(conversationId) ? unknown : null, value.held)
    }
    const insert = insertMessages(dialect, sql`(SELECT id FROM "Conversation" WHERE id = ${conversationId} AND ${expiry.live()})`, messages, now)
    const touch = sql`UPDATE "Conversation" SET ${messagesAdded(dialect, messages, now)} WHERE id = ${conversationId}`
    try {
      if (dialect.writesInWith) return await writeWith<Message, T | UnknownToolCall | null>(prisma, key, columns, sql`message AS (${insert} RETURNING *), touched AS (${touch})`, sql`message ORDER BY id`, value)
      // The rows just inserted are the newest: SQLite has one writer, and AUTOINCREMENT ids only grow.
      const keyRows = sqliteJsonRows({ columns, from: sql`FROM "Message" WHERE id > ${dialect.lastId('Message')} - ${messages.length} ORDER BY id` })
      return await writeBatch<readonly [ReturnType<typeof queryRows<Message>>, ReturnType<typeof prisma.$executeRaw>], T | UnknownToolCall | null>(
        prisma, key, [queryRows(prisma, columns, (list) => sql`${insert} RETURNING ${list}`), prisma.$executeRaw`${touch}`], keyRows, firstStatementValue(value))
    } catch (error) {
      const kind = databaseErrorKind(error)
      if (kind === 'foreignKey' || kind === 'notNull') return nothingWritten<T | UnknownToolCall | null>(key, null, value.held)
      throw error
    }
  }

  return {
    /** One message appended (append); null or UnknownToolCall when it is not. */
    create: keyable(async (conversationId: number, input: NewMessage, key: IdempotencyKey | undefined) => await append(conversationId, [input], key, one)),

    /** Messages appended, all or none, in order (append); null or UnknownToolCall when they are not. */
    createMany: keyable(async (conversationId: number, inputs: readonly NewMessage[], key: IdempotencyKey | undefined) => await append(conversationId, inputs, key, all)),

    /** The message, when it belongs to that conversation; null otherwise, even when another conversation has it. */
    async findById (conversationId: number, id: number): Promise<Message | null> {
      const [message] = await queryRows(prisma, columns, (list) => sql`
        SELECT ${list} FROM "Message" WHERE id = ${id} AND "conversationId" = ${conversationId} AND ${expiry.liveConversation(conversationId)}`)
      return message ?? null
    },

    /**
     * Deletes the message and moves its conversation with it, atomically (a batch transaction): messageCount down,
     * usage less the message's, lastMessageAt back to the newest message left, updatedAt and version forward. A delete is activity in the conversation, as a post is, so updatedAt
     * moves (the spec says so in delete_message's description). False when that conversation has no such message.
     */
    async delete (conversationId: number, id: number): Promise<boolean> {
      const now = new Date()
      const matching = sql`id = ${id} AND "conversationId" = ${conversationId} AND ${expiry.liveConversation(conversationId)}`
      // The message's usage as `deleted` (a row source holding it) has it.
      const touch = (deleted: Sql, condition: Sql) => {
        const less = (field: 'inputTokens' | 'outputTokens') => sql`-(SELECT ${dialect.tokens(sql`d.usage`, field)} FROM ${deleted} AS d)`
        return sql`
          UPDATE "Conversation" SET "messageCount" = "messageCount" - 1, "updatedAt" = ${dialect.later(sql`"updatedAt"`, now)}, version = version + 1,
            usage = ${dialect.addUsage(sql`usage`, less('inputTokens'), less('outputTokens'))},
            "lastMessageAt" = (SELECT max(m."createdAt") FROM "Message" AS m WHERE m."conversationId" = ${conversationId} AND m.id <> ${id})
          WHERE id = ${conversationId} AND ${condition}`
      }
      if (dialect.writesInWith) {
        // The UPDATE sees the rows the DELETE returns, so it runs only when a message went. Its subquery reads the
        // statement's snapshot, so the newest message left is found without the deleted one; the conversation's row
        // is locked first, in a statement of its own, so that snapshot is taken after every other write of the
        // conversation's messages has committed (each one updates that row): concurrent deletes then never leave
        // lastMessageAt at a message one of them removed.
        const [, deleted] = await prisma.$transaction([
          queryRows(prisma, presenceColumns, (list) => sql`SELECT ${list} FROM "Conversation" WHERE id = ${conversationId} FOR UPDATE`),
          queryRows(prisma, presenceColumns, (list) => sql`
            WITH message AS (DELETE FROM "Message" WHERE ${matching} RETURNING id, usage),
            touched AS (${touch(sql`message`, sql`EXISTS (SELECT 1 FROM message)`)})
            SELECT ${list} FROM message`),
        ])
        return deleted.length > 0
      }
      // SQLite has one writer at a time: inside the transaction, the message the UPDATE finds is the one the DELETE removes.
      const [, deleted] = await prisma.$transaction([
        prisma.$executeRaw`${touch(sql`(SELECT usage FROM "Message" WHERE ${matching})`, sql`EXISTS (SELECT 1 FROM "Message" WHERE ${matching})`)}`,
        prisma.$executeRaw`DELETE FROM "Message" WHERE ${matching}`,
      ])
      return deleted > 0
    },

    /** At most `limit` of a conversation's messages after `key`, oldest first, on `client`: a chunk of an export's snapshot. */
    chunkAfter: messagesAfter,

    /** One page of a conversation's messages, oldest first; null when the conversation does not exist. */
    async listByConversation (conversationId: number, options: ListOptions<MessageKey>): Promise<Page<Message, MessageKey> | null> {
      const messages = await messagesAfter(prisma, conversationId, options.after, options.limit + 1)
      if (messages.length === 0 && !await conversations.exists(conversationId)) return null
      return toPage(messages, options.limit, messageKeyOf)
    },

    /** All of a conversation's messages after `key` (from the first when undefined), whole or in chunks of one snapshot; null when it does not exist. */
    async listAllByConversation (conversationId: number, key: MessageKey | undefined): Promise<Message[] | Chunks<Message, MessageKey> | null> {
      return await readInChunks(prisma, fullLists.snapshots, fullLists, {
        read: (client, key, limit) => messagesAfter(client, conversationId, key, limit),
        keyOf: messageKeyOf,
        ownerExists: (client) => conversations.exists(conversationId, client),
      }, key)
    },
  }
}

export type MessageRepository<S extends Shapes = Shapes> = ReturnType<typeof createMessageRepository<S>>
