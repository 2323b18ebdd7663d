// A message as the store keeps it, whichever version of the contract wrote it: its parts (a message sent as
// `content` is one text part), the text of its text parts as `content` (what v1 and search read), and model,
// usage and metadata, null or empty when not sent. Inserting messages and moving their conversation's counters
// with them is one fact, shared by creating a conversation and appending messages to one.
import { columns } from './columns.js'
import { join, raw, sql, type Dialect, type Sql } from './dialect.js'
import type { NewMessage, Part, Usage } from './models.js'

export interface StoredMessage {
  role: string
  content: string
  parts: Part[]
  model: string | null
  usage: Usage | null
  metadata: Record<string, string>
}

/** A message's text: its text parts, joined by newlines; empty when it has none. */
function textOf (parts: readonly Part[]): string {
  return parts.flatMap((part) => part.type === 'text' ? [part.text] : []).join('\n')
}

export function storedMessage (input: NewMessage): StoredMessage {
  const parts: Part[] = input.parts ?? [{ type: 'text', text: input.content! }]
  return {
    role: input.role,
    content: input.content ?? textOf(parts),
    parts,
    model: input.model ?? null,
    usage: input.usage ?? null,
    metadata: input.metadata ?? {},
  }
}

/** The tokens of some messages, summed. */
export function usageOf (messages: readonly StoredMessage[]): Usage {
  let inputTokens = 0
  let outputTokens = 0
  for (const { usage } of messages) {
    inputTokens += usage?.inputTokens ?? 0
    outputTokens += usage?.outputTokens ?? 0
  }
  return { inputTokens, outputTokens }
}

const NULL_TEXT = sql`CAST(NULL AS text)`

/** The columns of a message `messageFields` gives values of, in its order (its conversation and time aside). */
const MESSAGE_FIELDS = ['role', 'content', 'parts', 'model', 'usage', 'metadata'] as const

/** MESSAGE_FIELDS as a column list, and as the columns of a row source `m` holding them: built once. */
export const MESSAGE_COLUMNS = raw(MESSAGE_FIELDS.join(', '))
export const MESSAGE_COLUMNS_OF_M = raw(MESSAGE_FIELDS.map((field) => `m.${field}`).join(', '))

/** MESSAGE_FIELDS' values of one message, for a row of VALUES. */
export function messageFields (dialect: Dialect, { role, content, parts, model, usage, metadata }: StoredMessage): Sql {
  // What a plain text message leaves unset is written as constants, not bound: a text post binds no more than it did
  // before messages had parts.
  return sql`${role}, ${content}, ${dialect.json(parts)}, ${model === null ? NULL_TEXT : model}, ${usage === null ? dialect.nullJson : dialect.json(usage)}, ${Object.keys(metadata).length === 0 ? dialect.emptyObject : dialect.json(metadata)}`
}

/** `INSERT INTO "Message" …` of `messages`, in their order, written at `createdAt` into the conversation `conversationId` names. */
export function insertMessages (dialect: Dialect, conversationId: Sql, messages: readonly StoredMessage[], createdAt: Date): Sql {
  const rows = messages.map((message) => sql`(${conversationId}, ${messageFields(dialect, message)}, ${createdAt})`)
  return sql`INSERT INTO "Message" ("conversationId", ${MESSAGE_COLUMNS}, "createdAt") VALUES ${join(rows)}`
}

/**
 * The SET list that moves a conversation with `messages` just added at `now`: messageCount, updatedAt and
 * lastMessageAt (only forward, so concurrent writes may commit in any order), usage (left alone when the messages
 * used none, so a plain text post writes no more than it did before usage existed) and version.
 */
export function messagesAdded (dialect: Dialect, messages: readonly StoredMessage[], now: Date): Sql {
  const { inputTokens, outputTokens } = usageOf(messages)
  const usage = inputTokens === 0 && outputTokens === 0 ? sql`` : sql`, usage = ${dialect.addUsage(sql`usage`, sql`${inputTokens}`, sql`${outputTokens}`)}`
  return sql`"messageCount" = "messageCount" + ${messages.length}, "updatedAt" = ${dialect.later(sql`"updatedAt"`, now)},
    "lastMessageAt" = ${dialect.laterOrValue(sql`"lastMessageAt"`, now)}${usage}, version = version + 1`
}

/** Where a tool_result part sits in a request: its message's index in the request, and its own in the message. */
export interface ToolResultAt { message: number, part: number, toolCallId: string }

/**
 * The tool_result parts of `messages` that answer no tool_call earlier in them (an earlier message, or an earlier
 * part of the same one): they must answer one already stored in the conversation.
 */
export function toolResultsToResolve (messages: readonly StoredMessage[]): ToolResultAt[] {
  const calls = new Set<string>()
  const unresolved: ToolResultAt[] = []
  messages.forEach(({ parts }, message) => parts.forEach((part, index) => {
    if (part.type === 'tool_call') calls.add(part.id)
    else if (part.type === 'tool_result' && !calls.has(part.toolCallId)) unresolved.push({ message, part: index, toolCallId: part.toolCallId })
  }))
  return unresolved
}

/** The id of a tool_call part, as `storedToolCalls` selects it (a part is `p.value`). */
export const toolCallColumns = (dialect: Dialect) => columns<{ id: string }>({ id: dialect.jsonText(sql`p.value`, 'id') })

/** The ids among `ids` that name a tool_call part of a stored message of the conversation, as one query. */
export function storedToolCalls (dialect: Dialect, conversationId: number, ids: readonly string[], list: Sql): Sql {
  return sql`
    SELECT DISTINCT ${list} FROM "Message" AS m, ${dialect.jsonElements(sql`m.parts`, 'p')}
    WHERE m."conversationId" = ${conversationId} AND ${dialect.jsonText(sql`p.value`, 'type')} = 'tool_call'
      AND ${dialect.jsonText(sql`p.value`, 'id')} IN (${join([...ids])})`
}

/**
 * A write's answer when a tool_result names a tool call neither the request nor the conversation has: where the
 * first such part is. Nothing was stored.
 */
export class UnknownToolCall {
  constructor (readonly at: ToolResultAt) {}
}
