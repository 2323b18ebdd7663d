import type { Database, PrismaClient } from './database.js'
import type { Provider } from './migrate/index.js'
import { DEFAULT_CHUNK_OPTIONS, type ChunkOptions, type FullLists } from './chunks.js'
import { createConversationRepository, type StoreLimits } from './conversations.js'
import { dialectOf, type Dialect } from './dialect.js'
import { createExportRepository } from './exports.js'
import { expiryOf, type Expiry } from './expiry.js'
import { createImportRepository } from './imports.js'
import { createMessageRepository } from './messages.js'
import type { Shapes } from './models.js'
import { readSnapshotsOn } from './read-snapshots.js'
import { createRetentionSweeper } from './retention.js'
import { createSearchRepository } from './search.js'
import { createUserRepository, type UserRepository } from './users.js'
import { v1View, v2View, type View } from './views.js'

export interface RepositoryOptions {
  /** How full lists are read (fullListsOn): one for the process, so its snapshots are counted together. */
  fullLists: FullLists
  /** Days without activity after which a conversation expires (RETENTION_DAYS); undefined: never, of itself. */
  retentionDays?: number
}

/**
 * How full lists are read, once per process: chunked (DEFAULT_CHUNK_OPTIONS; tests make chunks small and step
 * between them) from snapshots of `database.reader`, not the repositories' own client (on SQLite that would
 * serve snapshots correctly but hold the one writing connection while a list is read), at most
 * `database.snapshotLimit` at once, others waiting their turn.
 */
export function fullListsOn (database: Pick<Database, 'reader' | 'provider' | 'snapshotLimit'>, chunks: Partial<ChunkOptions> = {}): FullLists {
  const options = { ...DEFAULT_CHUNK_OPTIONS, ...chunks }
  const bounds = { timeoutMs: options.snapshotMs, limit: database.snapshotLimit, waitMs: options.snapshotWaitMs }
  return { ...options, snapshots: readSnapshotsOn(database.reader, database.provider, bounds) }
}

/** One contract version's repositories of conversations and messages: the same store, read in its view. */
function viewRepositories<S extends Shapes> (prisma: PrismaClient, dialect: Dialect, users: UserRepository, limits: StoreLimits, fullLists: FullLists, view: View<S>, expiry: Expiry) {
  const conversations = createConversationRepository(prisma, dialect, users, limits, fullLists, view, expiry)
  return { users, conversations, messages: createMessageRepository(prisma, dialect, conversations, fullLists, view, expiry) }
}

/**
 * Once per process: users, and each contract version's repositories. `limits` are facts of the spec
 * (src/contract/spec.ts, storeLimits): the store enforces them without restating them.
 */
export function createRepositories (prisma: PrismaClient, provider: Provider, limits: StoreLimits, { fullLists, retentionDays }: RepositoryOptions) {
  const dialect = dialectOf(provider)
  const expiry = expiryOf(retentionDays)
  const users = createUserRepository(prisma, dialect)
  const v2 = viewRepositories(prisma, dialect, users, limits, fullLists, v2View(dialect), expiry)
  return {
    v1: viewRepositories(prisma, dialect, users, limits, fullLists, v1View(dialect, limits.v1ContentLength), expiry),
    v2: {
      ...v2,
      search: createSearchRepository(prisma, dialect, provider, users, expiry),
      exports: createExportRepository(users, v2.conversations, v2.messages, fullLists),
      imports: createImportRepository(prisma, dialect),
    },
    retention: createRetentionSweeper(prisma, provider, expiry),
  }
}

export type Repositories = ReturnType<typeof createRepositories>
export type ViewRepositories<S extends Shapes> = ReturnType<typeof viewRepositories<S>>
export type V1Repositories = Repositories['v1']
export type V2Repositories = Repositories['v2']
