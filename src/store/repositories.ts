import type { PrismaClient } from './database.js'
import type { Provider } from './migrate/index.js'
import { DEFAULT_CHUNK_OPTIONS, type ChunkOptions } from './chunks.js'
import { createConversationRepository, type StoreLimits } from './conversations.js'
import { dialectOf } from './dialect.js'
import { createMessageRepository } from './messages.js'
import { snapshotsOn } from './snapshot.js'
import { createUserRepository } from './users.js'
import type { Db } from './transaction.js'

export interface RepositoryOptions {
  /**
   * The client whose transactions are read snapshots, for full lists (Database.reader). Not the repositories'
   * own: that may be a transaction's (a keyed create's), and on SQLite the writing client would serve snapshots
   * correctly but hold the one writing connection while a list is read.
   */
  reader: PrismaClient
  /** How full lists are chunked (DEFAULT_CHUNK_OPTIONS); tests make chunks small and step between them. */
  chunks?: Partial<ChunkOptions>
}

/**
 * `limits` are facts of the spec (src/contract/spec.ts, storeLimits): the store enforces them without restating
 * them. Made on a transaction's client (transaction.ts), every query runs in that transaction.
 */
export function createRepositories (prisma: Db, provider: Provider, limits: StoreLimits, options: RepositoryOptions) {
  const dialect = dialectOf(provider)
  const chunks = { ...DEFAULT_CHUNK_OPTIONS, ...options.chunks }
  const fullLists = { ...chunks, snapshots: snapshotsOn(options.reader, provider, chunks.snapshotMs) }
  const users = createUserRepository(prisma, dialect)
  const conversations = createConversationRepository(prisma, dialect, users, limits, fullLists)
  return { users, conversations, messages: createMessageRepository(prisma, dialect, conversations, fullLists) }
}

export type Repositories = ReturnType<typeof createRepositories>
