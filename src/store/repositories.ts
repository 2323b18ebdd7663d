import type { Provider } from './migrate/index.js'
import { createConversationRepository, type StoreLimits } from './conversations.js'
import { dialectOf } from './dialect.js'
import { createMessageRepository } from './messages.js'
import { createUserRepository } from './users.js'
import type { Db } from './transaction.js'

/**
 * `limits` are facts of the spec (src/contract/spec.ts, storeLimits): the store enforces them without restating
 * them. Made on a transaction's client (transaction.ts), every query runs in that transaction.
 */
export function createRepositories (prisma: Db, provider: Provider, limits: StoreLimits) {
  const dialect = dialectOf(provider)
  const users = createUserRepository(prisma, dialect)
  const conversations = createConversationRepository(prisma, dialect, users, limits)
  return { users, conversations, messages: createMessageRepository(prisma, dialect, conversations) }
}

export type Repositories = ReturnType<typeof createRepositories>
