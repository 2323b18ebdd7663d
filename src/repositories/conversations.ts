import type { PrismaClient } from '../database.js'
import { toPage, type Page } from '../pagination.js'
import { isForeignKeyViolation } from './prisma-errors.js'
import {
  toConversation, toMessage,
  type Conversation, type ConversationWithMessages, type NewConversation,
} from './models.js'

/** Sort key of list_conversations: most recent activity first. */
export type ConversationKey = [updatedAtMs: number, id: number]

export interface ListOptions<K> { limit?: number, after?: K }

const columns = {
  id: true, userId: true, title: true, metadata: true, messageCount: true, createdAt: true, updatedAt: true,
} as const

const newestFirst = [{ updatedAt: 'desc' }, { id: 'desc' }] as const

/**
 * Rows strictly after `key` in newestFirst order, written as `updatedAt <= t AND (updatedAt < t OR id < i)`
 * so the database seeks the (userId, updatedAt, id) index instead of scanning from the top.
 */
function after ([updatedAtMs, id]: ConversationKey) {
  const updatedAt = new Date(updatedAtMs)
  return { updatedAt: { lte: updatedAt }, OR: [{ updatedAt: { lt: updatedAt } }, { id: { lt: id } }] }
}

const keyOf = (conversation: Conversation): ConversationKey => [Date.parse(conversation.updatedAt), conversation.id]

export function createConversationRepository (prisma: PrismaClient) {
  return {
    /** The new conversation with its initial messages (one transaction), or null when the user does not exist. */
    async create (userId: number, input: NewConversation): Promise<ConversationWithMessages | null> {
      const now = new Date()
      const messages = input.messages ?? []
      try {
        const row = await prisma.conversation.create({
          data: {
            userId,
            title: input.title ?? null,
            metadata: input.metadata ?? {},
            messageCount: messages.length,
            createdAt: now,
            updatedAt: now,
            messages: {
              createMany: { data: messages.map(({ role, content }) => ({ role, content, createdAt: now })) },
            },
          },
          include: { messages: { orderBy: { id: 'asc' } } },
        })
        return { ...toConversation(row), messages: row.messages.map(toMessage) }
      } catch (error) {
        if (isForeignKeyViolation(error)) return null
        throw error
      }
    },

    async findById (id: number): Promise<Conversation | null> {
      const row = await prisma.conversation.findUnique({ where: { id }, select: columns })
      return row === null ? null : toConversation(row)
    },

    /** One page of a user's conversations, newest activity first; null when the user does not exist. */
    async listByUser (userId: number, options: ListOptions<ConversationKey>): Promise<Page<Conversation, ConversationKey> | null> {
      const user = await prisma.user.findUnique({
        where: { id: userId },
        select: {
          conversations: {
            where: options.after === undefined ? {} : after(options.after),
            orderBy: [...newestFirst],
            take: options.limit === undefined ? undefined : options.limit + 1,
            select: columns,
          },
        },
      })
      if (user === null) return null
      return toPage(user.conversations.map(toConversation), options.limit, keyOf)
    },

    /** False when there was no such conversation. Its messages go by ON DELETE CASCADE, in the same statement. */
    async delete (id: number): Promise<boolean> {
      const { count } = await prisma.conversation.deleteMany({ where: { id } })
      return count > 0
    },
  }
}

export type ConversationRepository = ReturnType<typeof createConversationRepository>
