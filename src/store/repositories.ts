import type { PrismaClient } from './database.js'
import type { Provider } from './migrate/index.js'
import { DEFAULT_CHUNK_OPTIONS, type ChunkOptions } from './chunks.js'
import { createConversationRepository, type StoreLimits } from './conversations.js'
import { dialectOf } from './dialect.js'
import { createMessageRepository } from './messages.js'
import { snapshotsOn } from './snapshot.js'
import { createUserRepository } from './users.js'
import type { RequestKey } from './idempotency-keys.js'

export interface RepositoryOptions {
  /**
   * The client whose transactions are read snapshots, for full lists (Database.reader). Not the repositories'
   * own: on SQLite the writing client would serve snapshots correctly but hold the one writing connection while
   * a list is read.
   */
  reader: PrismaClient
  /** How full lists are chunked (DEFAULT_CHUNK_OPTIONS); tests make chunks small and step between them. */
  chunks?: Partial<ChunkOptions>
  /** A keyed request's Idempotency-Key: its create stores the key with its rows, or answers from what it holds. */
  key?: RequestKey
}

/**
 * `limits` are facts of the spec (src/contract/spec.ts, storeLimits): the store enforces them without restating
 * them. Made with a key (a keyed request's, per request), their creates store it or answer from it.
 */
export function createRepositories (prisma: PrismaClient, provider: Provider, limits: StoreLimits, options: RepositoryOptions) {
  const dialect = dialectOf(provider)
  const chunks = { ...DEFAULT_CHUNK_OPTIONS, ...options.chunks }
  const fullLists = { ...chunks, snapshots: snapshotsOn(options.reader, provider, chunks.snapshotMs) }
  const users = createUserRepository(prisma, dialect, options.key)
  const conversations = createConversationRepository(prisma, dialect, users, limits, fullLists, options.key)
  return { users, conversations, messages: createMessageRepository(prisma, dialect, conversations, fullLists, options.key) }
}

export type Repositories = ReturnType<typeof createRepositories>
