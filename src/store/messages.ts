import type { PrismaClient } from './database.js'
import { messageColumns, queryRows } from './columns.js'
import type { ConversationRepository } from './conversations.js'
import { empty, limitTo, sql, type Dialect } from './dialect.js'
import type { Message, NewMessage } from './models.js'
import { isId, toPage, type ListOptions, type Page } from './page.js'
import { databaseErrorKind } from './prisma-errors.js'

/** Sort key of list_messages: oldest first, and ids grow with insertion. */
export type MessageKey = [id: number]
export const isMessageKey = (key: readonly number[]): key is MessageKey => key.length === 1 && isId(key[0]!)

const keyOf = (message: Message): MessageKey => [message.id]

export function createMessageRepository (prisma: PrismaClient, dialect: Dialect, conversations: ConversationRepository) {
  const columns = messageColumns(dialect)

  return {
    /**
     * Appends a message and moves its conversation's updatedAt and messageCount, atomically (one statement
     * on PostgreSQL, a batch transaction on SQLite).
     * Null when the conversation does not exist (or is deleted meanwhile): the insert's foreign key refuses it.
     */
    async create (conversationId: number, input: NewMessage): Promise<Message | null> {
      const now = new Date()
      const insert = sql`
        INSERT INTO "Message" ("conversationId", role, content, "createdAt")
        VALUES (${conversationId}, ${input.role}, ${input.content}, ${now})`
      // updatedAt only moves forward (dialect.later), so concurrent posts may commit in any order.
      const touch = sql`
        UPDATE "Conversation" SET "messageCount" = "messageCount" + 1, "updatedAt" = ${dialect.later(sql`"updatedAt"`, now)}
        WHERE id = ${conversationId}`
      try {
        const [message] = dialect.writesInWith
          ? await queryRows(prisma, columns, (list) => sql`WITH message AS (${insert} RETURNING *), touched AS (${touch}) SELECT ${list} FROM message`)
          : (await prisma.$transaction([queryRows(prisma, columns, (list) => sql`${insert} RETURNING ${list}`), prisma.$executeRaw`${touch}`]))[0]
        return message!
      } catch (error) {
        if (databaseErrorKind(error) === 'foreignKey') return null
        throw error
      }
    },

    /** One page of a conversation's messages, oldest first; null when the conversation does not exist. */
    async listByConversation (conversationId: number, options: ListOptions<MessageKey>): Promise<Page<Message, MessageKey> | null> {
      const messages = await queryRows(prisma, columns, (list) => sql`
        SELECT ${list} FROM "Message"
        WHERE "conversationId" = ${conversationId} ${options.after === undefined ? empty : sql`AND id > ${options.after[0]}`}
        ORDER BY id
        ${limitTo(options.limit === undefined ? undefined : options.limit + 1)}`)
      if (messages.length === 0 && !await conversations.exists(conversationId)) return null
      return toPage(messages, options.limit, keyOf)
    },
  }
}
