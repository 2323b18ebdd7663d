import type { PrismaClient } from '../database.js'
import { toPage, type Page } from '../pagination.js'
import { isForeignKeyViolation, isRecordNotFound } from './prisma-errors.js'
import type { ListOptions } from './conversations.js'
import { toMessage, type Message, type NewMessage } from './models.js'

/** Sort key of list_messages: oldest first, and ids grow with insertion. */
export type MessageKey = [id: number]

const keyOf = (message: Message): MessageKey => [message.id]

export function createMessageRepository (prisma: PrismaClient) {
  return {
    /**
     * Appends a message and moves its conversation's updatedAt and messageCount, in one transaction.
     * Null when the conversation does not exist (or is deleted meanwhile).
     */
    async create (conversationId: number, input: NewMessage): Promise<Message | null> {
      const now = new Date()
      try {
        const [row] = await prisma.$transaction([
          prisma.message.create({ data: { conversationId, role: input.role, content: input.content, createdAt: now } }),
          prisma.conversation.update({
            where: { id: conversationId },
            data: { messageCount: { increment: 1 }, updatedAt: now },
            select: { id: true },
          }),
        ])
        return toMessage(row)
      } catch (error) {
        if (isForeignKeyViolation(error) || isRecordNotFound(error)) return null
        throw error
      }
    },

    /** One page of a conversation's messages, oldest first; null when the conversation does not exist. */
    async listByConversation (conversationId: number, options: ListOptions<MessageKey>): Promise<Page<Message, MessageKey> | null> {
      const conversation = await prisma.conversation.findUnique({
        where: { id: conversationId },
        select: {
          messages: {
            where: options.after === undefined ? {} : { id: { gt: options.after[0] } },
            orderBy: { id: 'asc' },
            take: options.limit === undefined ? undefined : options.limit + 1,
          },
        },
      })
      if (conversation === null) return null
      return toPage(conversation.messages.map(toMessage), options.limit, keyOf)
    },
  }
}

export type MessageRepository = ReturnType<typeof createMessageRepository>
