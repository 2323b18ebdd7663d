import type { PrismaClient } from '../database.js'
import { createConversationRepository } from './conversations.js'
import { createMessageRepository } from './messages.js'
import { createUserRepository } from './users.js'

export function createRepositories (prisma: PrismaClient) {
  return {
    users: createUserRepository(prisma),
    conversations: createConversationRepository(prisma),
    messages: createMessageRepository(prisma),
  }
}

export type Repositories = ReturnType<typeof createRepositories>
