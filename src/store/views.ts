// What each contract version reads of the one store: its column sets, one SQL expression per property of its
// schemas, checked against them (columns.ts). v2 reads every column as it is. v1 is frozen, so it reads what v2
// added in terms it knows (docs/api.md, "What v1 shows of v2's messages"): a role it lacks as the nearest it has, a
// message with no text as the bracketed types of its parts, and text longer than its bound cut to it.
import { raw, sql, type Dialect, type Sql } from './dialect.js'
import { columns, type ColumnMap, type Columns } from './columns.js'
import type { Shapes, V1Shapes, V2Shapes } from './models.js'

export interface View<S extends Shapes> {
  conversation: Columns<S['Conversation']>
  /** The conversation and, outside the API body, its version (the ETag's). */
  versioned: Columns<S['Conversation'] & { version: number }>
  message: Columns<S['Message']>
  /**
   * PostgreSQL's one-statement create, over its `conversation` and `message` CTEs: the conversation with its
   * messages as one JSON array of rows in the message columns, in id (= request) order.
   */
  created: Columns<S['ConversationWithMessages']>
}

/** A conversation with its messages is the conversation's properties and `messages`, exactly. */
type WithMessages<S extends Shapes> =
  [Exclude<keyof S['ConversationWithMessages'], keyof S['Conversation'] | 'messages'>, Exclude<keyof S['Conversation'] | 'messages', keyof S['ConversationWithMessages']>] extends [never, never] ? S : never

function viewOf<S extends Shapes> (
  conversation: ColumnMap<S['Conversation']>, conversationJson: ReadonlyArray<keyof S['Conversation'] & string>,
  message: ColumnMap<S['Message']>, messageJson: ReadonlyArray<keyof S['Message'] & string>
): View<WithMessages<S>> {
  const messageColumns = columns(message, messageJson)
  const created = {
    ...conversation,
    messages: sql`(SELECT json_agg(m ORDER BY m.id) FROM (SELECT ${messageColumns.list} FROM message) AS m)`,
  } as unknown as ColumnMap<S['ConversationWithMessages']>
  return {
    conversation: columns(conversation, conversationJson),
    versioned: columns<S['Conversation'] & { version: number }>({ ...conversation, version: sql`version` } as ColumnMap<S['Conversation'] & { version: number }>, conversationJson),
    message: messageColumns,
    created: columns(created, [...conversationJson, 'messages'] as Array<keyof S['ConversationWithMessages'] & string>),
  }
}

// The bare columns, so the driver parses their JSON: jsonb on PostgreSQL, declared JSONB on SQLite
// (sqlite-adapter.ts). Wrapped in any expression, SQLite would hand back the text.
const common = (dialect: Dialect) => ({
  conversation: {
    id: sql`id`,
    userId: sql`"userId"`,
    title: sql`title`,
    metadata: sql`metadata`,
    // Stored: a counter every write of messages keeps in step (stored-messages.ts), so reads never count rows.
    messageCount: sql`"messageCount"`,
    // Computed: formatted by the database.
    createdAt: dialect.isoTime(sql`"createdAt"`),
    updatedAt: dialect.isoTime(sql`"updatedAt"`),
  },
  message: {
    id: sql`id`,
    conversationId: sql`"conversationId"`,
    createdAt: dialect.isoTime(sql`"createdAt"`),
  },
})

export function v2View (dialect: Dialect): View<V2Shapes> {
  const { conversation, message } = common(dialect)
  return viewOf<V2Shapes>(
    { ...conversation, usage: sql`usage`, lastMessageAt: dialect.isoTime(sql`"lastMessageAt"`), forkedFrom: sql`"forkedFrom"`, expiresAt: dialect.isoTime(sql`"expiresAt"`) }, ['metadata', 'usage', 'forkedFrom'],
    { ...message, role: sql`role`, content: sql`content`, parts: sql`parts`, model: sql`model`, usage: sql`usage`, metadata: sql`metadata` },
    ['parts', 'usage', 'metadata']
  )
}

/** v1's role for each role it lacks: a developer's instructions are a system message, a tool's result is user input to the model. */
const V1_ROLES: Record<string, string> = { developer: 'system', tool: 'user' }

/** `contentLength`: v1's MessageContent maxLength (src/contract/spec.ts, storeLimits). */
export function v1View (dialect: Dialect, contentLength: number): View<V1Shapes> {
  if (!Number.isInteger(contentLength) || contentLength < 1) throw new Error(`v1's content length ${contentLength} is not a positive integer`)
  const { conversation, message } = common(dialect)
  const roles: Sql = sql`CASE role ${raw(Object.entries(V1_ROLES).map(([role, v1]) => `WHEN '${role}' THEN '${v1}'`).join(' '))} ELSE role END`
  const content: Sql = sql`CASE WHEN content = '' THEN '[' || ${dialect.joinedTexts(sql`parts`, 'type', ', ')} || ']' ELSE substr(content, 1, ${raw(String(contentLength))}) END`
  return viewOf<V1Shapes>(conversation, ['metadata'], { ...message, role: roles, content }, [])
}
