// Which conversations are gone for the API: those whose expiresAt has come and, when RETENTION_DAYS is set, those
// with no activity (updatedAt) for that many days. Every read and write of a conversation holds its condition, so an
// expired conversation is a 404 everywhere at once, long before the sweeper (retention.ts) deletes its rows.
import { raw, sql, type Sql } from './dialect.js'

const DAY_MS = 24 * 60 * 60 * 1000

export interface Expiry {
  /** True of a live conversation, as of now; its columns qualified by `alias` when given. */
  live: (alias?: string) => Sql
  /** True of an expired one, as of `now`: what the sweeper deletes. */
  expired: (now: Date, alias?: string) => Sql
  /** EXISTS a live conversation of that id: for statements on its messages. */
  liveConversation: (conversationId: number | Sql) => Sql
}

/** `retentionDays`: days without activity after which a conversation expires; undefined: never, of itself. */
export function expiryOf (retentionDays: number | undefined): Expiry {
  const column = (alias: string | undefined, name: string) => raw(alias === undefined ? `"${name}"` : `${alias}."${name}"`)
  const cutoff = (now: Date) => new Date(now.getTime() - retentionDays! * DAY_MS)
  const live = (alias?: string) => {
    const now = new Date()
    const expiresAt = column(alias, 'expiresAt')
    const byItself = sql`(${expiresAt} IS NULL OR ${expiresAt} > ${now})`
    return retentionDays === undefined ? byItself : sql`${byItself} AND ${column(alias, 'updatedAt')} > ${cutoff(now)}`
  }
  return {
    live,
    expired (now, alias) {
      const byItself = sql`${column(alias, 'expiresAt')} <= ${now}`
      return retentionDays === undefined ? byItself : sql`(${byItself} OR ${column(alias, 'updatedAt')} <= ${cutoff(now)})`
    },
    liveConversation: (conversationId) => sql`EXISTS (SELECT 1 FROM "Conversation" AS lc WHERE lc.id = ${conversationId} AND ${live('lc')})`,
  }
}
