import type { PrismaClient } from './database.js'
import type { Provider } from './migrate/index.js'
import { createConversationRepository } from './conversations.js'
import { dialectOf } from './dialect.js'
import { createMessageRepository } from './messages.js'
import { createUserRepository } from './users.js'

export function createRepositories (prisma: PrismaClient, provider: Provider) {
  const dialect = dialectOf(provider)
  const users = createUserRepository(prisma, dialect)
  const conversations = createConversationRepository(prisma, dialect, users)
  return { users, conversations, messages: createMessageRepository(prisma, dialect, conversations) }
}

export type Repositories = ReturnType<typeof createRepositories>
