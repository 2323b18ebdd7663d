// The retention sweeper: deletes for real what has expired (expiry.ts), which the API already treats as gone. Small
// statements, each its own transaction, so no lock is held long: first the expired conversations' messages, at most
// MESSAGES_PER_STEP at a time (a conversation of 100,000 messages is not one long DELETE), then the conversations left
// without messages. On PostgreSQL each step takes its rows with FOR UPDATE SKIP LOCKED, so several instances sweeping
// at once share the work and never wait on each other or delete a row twice.
import { columns, queryRows } from './columns.js'
import type { PrismaClient } from './database.js'
import { raw, sql, type Sql } from './dialect.js'
import type { Expiry } from './expiry.js'
import type { Provider } from './migrate/index.js'

const MESSAGES_PER_STEP = 1000
const CONVERSATIONS_PER_STEP = 100

/** How often the sweeper looks for expired conversations by default. */
export const DEFAULT_RETENTION_SWEEP_INTERVAL_MS = 60_000

const idColumns = columns<{ id: number }>({ id: sql`id` })

/** What one sweep deleted. */
export interface Swept { conversations: number[], messages: number }

export function createRetentionSweeper (prisma: PrismaClient, provider: Provider, expiry: Expiry) {
  // SQLite has one writer: nothing to skip.
  const lockedBy = (alias: string): Sql => provider === 'postgres' ? raw(`FOR UPDATE OF ${alias} SKIP LOCKED`) : raw('')

  /** Deletes up to MESSAGES_PER_STEP messages of expired conversations; how many it deleted. */
  const messagesStep = (now: Date) => prisma.$executeRaw`
    DELETE FROM "Message" WHERE id IN (
      SELECT m.id FROM "Message" AS m JOIN "Conversation" AS c ON c.id = m."conversationId"
      WHERE ${expiry.expired(now, 'c')}
      LIMIT ${MESSAGES_PER_STEP} ${lockedBy('m')})`

  /** Deletes up to CONVERSATIONS_PER_STEP expired conversations that have no message left; their ids. */
  const conversationsStep = async (now: Date) => (await queryRows(prisma, idColumns, (list) => sql`
    DELETE FROM "Conversation" WHERE id IN (
      SELECT c.id FROM "Conversation" AS c
      WHERE ${expiry.expired(now, 'c')} AND NOT EXISTS (SELECT 1 FROM "Message" AS m WHERE m."conversationId" = c.id)
      LIMIT ${CONVERSATIONS_PER_STEP} ${lockedBy('c')})
    RETURNING ${list}`)).map(({ id }) => id)

  return {
    /** One sweep: every conversation expired by `now`, and its messages, deleted, step by step. */
    async sweep (now = new Date()): Promise<Swept> {
      let messages = 0
      for (let deleted = MESSAGES_PER_STEP; deleted === MESSAGES_PER_STEP;) {
        deleted = await messagesStep(now)
        messages += deleted
      }
      const conversations: number[] = []
      for (let ids = CONVERSATIONS_PER_STEP; ids === CONVERSATIONS_PER_STEP;) {
        const deleted = await conversationsStep(now)
        conversations.push(...deleted)
        ids = deleted.length
      }
      return { conversations, messages }
    },
  }
}

export type RetentionSweeper = ReturnType<typeof createRetentionSweeper>

/**
 * Sweeps every `intervalMs` (the first time at once), logging what each sweep deleted; a failed sweep is logged and
 * tried again next time. The returned function stops it, after the sweep under way.
 */
export function sweepExpiredConversations (sweeper: RetentionSweeper, intervalMs: number, log: { info (message: string): void, warn (message: string): void }): () => Promise<void> {
  let running: Promise<unknown> | undefined
  const sweep = () => {
    // A sweep longer than the interval is not doubled: the next tick finds it still running.
    if (running !== undefined) return
    running = sweeper.sweep().then(({ conversations, messages }) => {
      if (conversations.length > 0 || messages > 0) {
        log.info(`retention: deleted ${conversations.length} expired conversations (${conversations.join(', ')}) and ${messages} of their messages`)
      }
    }, (error: unknown) => {
      log.warn(`retention: sweeping expired conversations failed, will retry: ${error instanceof Error ? error.message : String(error)}`)
    }).finally(() => { running = undefined })
  }
  sweep()
  const timer = setInterval(sweep, intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
