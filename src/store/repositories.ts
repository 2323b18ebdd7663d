import type { PrismaClient } from './database.js'
import type { Provider } from './migrate/index.js'
import { createConversationRepository, type StoreLimits } from './conversations.js'
import { dialectOf } from './dialect.js'
import { createMessageRepository } from './messages.js'
import { createUserRepository } from './users.js'

/** `limits` are facts of the spec (src/contract/spec.ts, storeLimits): the store enforces them without restating them. */
export function createRepositories (prisma: PrismaClient, provider: Provider, limits: StoreLimits) {
  const dialect = dialectOf(provider)
  const users = createUserRepository(prisma, dialect)
  const conversations = createConversationRepository(prisma, dialect, users, limits)
  return { users, conversations, messages: createMessageRepository(prisma, dialect, conversations) }
}

export type Repositories = ReturnType<typeof createRepositories>
