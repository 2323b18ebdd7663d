import { messageColumns, perDialect, presenceColumns, queryRows } from './columns.js'
import type { ConversationRepository } from './conversations.js'
import { readInChunks, type Chunks, type FullLists } from './chunks.js'
import type { Queryable } from './read-snapshots.js'
import { empty, sql, type Dialect, type Sql } from './dialect.js'
import type { Message, NewMessage } from './models.js'
import { isId, toPage, type ListOptions, type Page } from './page.js'
import { databaseErrorKind } from './prisma-errors.js'
import type { PrismaClient } from './database.js'
import { keyable, nothingWritten, type IdempotencyKey } from './idempotency-keys.js'
import { firstStatementValue, rowsValue, sqliteJsonRows, writeBatch, writeWith } from './keyed-writes.js'

/** Sort key of list_messages: oldest first, and ids grow with insertion. */
export type MessageKey = [id: number]
export const isMessageKey = (key: readonly number[]): key is MessageKey => key.length === 1 && isId(key[0]!)

const keyOf = (message: Message): MessageKey => [message.id]

/** A post's message: its one row, written now or held by its key (perDialect: built once). */
const postedMessageOf = perDialect((dialect) => rowsValue(messageColumns(dialect), (rows: Message[]) => rows[0]!))

/** SQLite only: the post's batch, and what its key's INSERT reads back, the new message (perDialect: built once). */
const sqlitePostOf = perDialect((dialect) => ({
  value: firstStatementValue(postedMessageOf(dialect)),
  keyRows: sqliteJsonRows({ columns: messageColumns(dialect), from: sql`FROM "Message" WHERE id = ${dialect.lastId('Message')}` }),
}))

export function createMessageRepository (prisma: PrismaClient, dialect: Dialect, conversations: ConversationRepository, fullLists: FullLists) {
  const columns = messageColumns(dialect)
  const posted = postedMessageOf(dialect)

  /** At most `limit` of a conversation's messages after `key`, oldest first: a page, or a chunk of the full list. */
  const messagesAfter = (client: Queryable, conversationId: number, key: MessageKey | undefined, limit: number) => queryRows(client, columns, (list) => sql`
    SELECT ${list} FROM "Message"
    WHERE "conversationId" = ${conversationId} ${key === undefined ? empty : sql`AND id > ${key[0]}`}
    ORDER BY id
    LIMIT ${limit}`)

  return {
    /**
     * Appends a message and moves its conversation's updatedAt, messageCount and version, atomically (one statement
     * on PostgreSQL, a batch transaction on SQLite).
     * Null when the conversation does not exist (or is deleted meanwhile): the insert's foreign key refuses it.
     * With an Idempotency-Key, the key's outcome (src/store/keyed-writes.ts).
     */
    create: keyable(async (conversationId: number, input: NewMessage, key: IdempotencyKey | undefined) => {
      const now = new Date()
      const insert = sql`
        INSERT INTO "Message" ("conversationId", role, content, "createdAt")
        VALUES (${conversationId}, ${input.role}, ${input.content}, ${now})`
      // updatedAt only moves forward (dialect.later), so concurrent posts may commit in any order.
      const touch = sql`
        UPDATE "Conversation" SET "messageCount" = "messageCount" + 1, "updatedAt" = ${dialect.later(sql`"updatedAt"`, now)}, version = version + 1
        WHERE id = ${conversationId}`
      try {
        if (dialect.writesInWith) return await writeWith(prisma, key, columns, sql`message AS (${insert} RETURNING *), touched AS (${touch})`, sql`message`, posted)
        const { value, keyRows } = sqlitePostOf(dialect)
        return await writeBatch(prisma, key, [queryRows(prisma, columns, (list) => sql`${insert} RETURNING ${list}`), prisma.$executeRaw`${touch}`], keyRows, value)
      } catch (error) {
        if (databaseErrorKind(error) === 'foreignKey') return nothingWritten(key, null, posted.held)
        throw error
      }
    }),

    /** The message, when it belongs to that conversation; null otherwise, even when another conversation has it. */
    async findById (conversationId: number, id: number): Promise<Message | null> {
      const [message] = await queryRows(prisma, columns, (list) => sql`
        SELECT ${list} FROM "Message" WHERE id = ${id} AND "conversationId" = ${conversationId}`)
      return message ?? null
    },

    /**
     * Deletes the message and moves its conversation's messageCount down, updatedAt and version forward, atomically
     * (one statement on PostgreSQL, a batch transaction on SQLite). A delete is activity in the conversation,
     * as a post is, so updatedAt moves (the spec says so in delete_message's description).
     * False when that conversation has no such message.
     */
    async delete (conversationId: number, id: number): Promise<boolean> {
      const now = new Date()
      const matching = sql`id = ${id} AND "conversationId" = ${conversationId}`
      const touch = (condition: Sql) => sql`
        UPDATE "Conversation" SET "messageCount" = "messageCount" - 1, "updatedAt" = ${dialect.later(sql`"updatedAt"`, now)}, version = version + 1
        WHERE id = ${conversationId} AND ${condition}`
      if (dialect.writesInWith) {
        // The UPDATE sees the rows the DELETE returns, so it runs only when a message went.
        const deleted = await queryRows(prisma, presenceColumns, (list) => sql`
          WITH message AS (DELETE FROM "Message" WHERE ${matching} RETURNING id),
          touched AS (${touch(sql`EXISTS (SELECT 1 FROM message)`)})
          SELECT ${list} FROM message`)
        return deleted.length > 0
      }
      // SQLite has one writer at a time: inside the transaction, the message the UPDATE finds is the one the DELETE removes.
      const [, deleted] = await prisma.$transaction([
        prisma.$executeRaw`${touch(sql`EXISTS (SELECT 1 FROM "Message" WHERE ${matching})`)}`,
        prisma.$executeRaw`DELETE FROM "Message" WHERE ${matching}`,
      ])
      return deleted > 0
    },

    /** One page of a conversation's messages, oldest first; null when the conversation does not exist. */
    async listByConversation (conversationId: number, options: ListOptions<MessageKey>): Promise<Page<Message, MessageKey> | null> {
      const messages = await messagesAfter(prisma, conversationId, options.after, options.limit + 1)
      if (messages.length === 0 && !await conversations.exists(conversationId)) return null
      return toPage(messages, options.limit, keyOf)
    },

    /** All of a conversation's messages after `key` (from the first when undefined), whole or in chunks of one snapshot; null when it does not exist. */
    async listAllByConversation (conversationId: number, key: MessageKey | undefined): Promise<Message[] | Chunks<Message, MessageKey> | null> {
      return await readInChunks(prisma, fullLists.snapshots, fullLists, {
        read: (client, key, limit) => messagesAfter(client, conversationId, key, limit),
        keyOf,
        ownerExists: (client) => conversations.exists(conversationId, client),
      }, key)
    },
  }
}
