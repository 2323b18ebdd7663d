import type { PrismaClient } from './database.js'
import type { Provider } from './migrate/index.js'
import { DEFAULT_CHUNK_OPTIONS, type ChunkOptions } from './chunks.js'
import { createConversationRepository, type StoreLimits } from './conversations.js'
import { dialectOf } from './dialect.js'
import { createMessageRepository } from './messages.js'
import { snapshotsOn } from './snapshot.js'
import { createUserRepository } from './users.js'

export interface RepositoryOptions {
  /**
   * The client whose transactions are read snapshots, for full lists (Database.reader); `prisma` by default,
   * which on SQLite serves them correctly but holds the one writing connection while a list is read.
   */
  reader?: PrismaClient
  /** How full lists are chunked (DEFAULT_CHUNK_OPTIONS); tests make chunks small and step between them. */
  chunks?: Partial<ChunkOptions>
}

/** `limits` are facts of the spec (src/contract/spec.ts, storeLimits): the store enforces them without restating them. */
export function createRepositories (prisma: PrismaClient, provider: Provider, limits: StoreLimits, options: RepositoryOptions = {}) {
  const dialect = dialectOf(provider)
  const chunks = { ...DEFAULT_CHUNK_OPTIONS, ...options.chunks }
  const fullLists = { ...chunks, snapshots: snapshotsOn(options.reader ?? prisma, provider, chunks.snapshotMs) }
  const users = createUserRepository(prisma, dialect)
  const conversations = createConversationRepository(prisma, dialect, users, limits, fullLists)
  return { users, conversations, messages: createMessageRepository(prisma, dialect, conversations, fullLists) }
}

export type Repositories = ReturnType<typeof createRepositories>
