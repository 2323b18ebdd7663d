// A user's history stored from an import (export_user_data's lines): every conversation and message written anew in one
// transaction, all or none, with the times and everything else they carry; ids are the store's, and the answer maps
// each line's id to its conversation's new one. Counters are counted again from the messages, as every write keeps them.
import { columns, queryRows } from './columns.js'
import type { PrismaClient } from './database.js'
import { join, sql, type Dialect } from './dialect.js'
import { keyable, nothingWritten, type IdempotencyKey } from './idempotency-keys.js'
import { writeInTransaction, type TransactionClient, type WriteValue } from './keyed-writes.js'
import type { ImportedConversation } from './models.js'
import { databaseErrorKind } from './prisma-errors.js'
import { MESSAGE_COLUMNS, messageFields, storedMessage, toolResultsToResolve, usageOf, type StoredMessage, type ToolResultAt } from './stored-messages.js'

/** One line's conversation: the id the line gave it (null when none) and the new one. */
export interface Imported { from: number | null, id: number }

/** An import's answer when a line's tool_result answers no tool_call before it in its conversation. Nothing was stored. */
export class UnknownToolCallInLine {
  constructor (readonly line: number, readonly at: ToolResultAt) {}
}

/** An import's answer when two lines give the same id. Nothing was stored. */
export class DuplicateLineId {
  constructor (readonly line: number, readonly id: number, readonly first: number) {}
}

/** Rows per INSERT of messages: well under both stores' bound on bound parameters. */
const MESSAGES_PER_INSERT = 500

/**
 * How long an import may hold its transaction: its size is bounded by the body's (NDJSON_BODY_LIMIT_BYTES), and on
 * SQLite every other write waits for it.
 */
const IMPORT_TIMEOUT_MS = 120_000

const idColumns = columns<{ id: number }>({ id: sql`id` })

/** A line's message as the store keeps it: its content is the text of its parts, whatever the line says. */
function storedOf ({ role, parts, model, usage, metadata }: ImportedConversation['messages'][number]): StoredMessage {
  return { ...storedMessage({ role, parts }), model: model ?? null, usage: usage ?? null, metadata: metadata ?? {} }
}

/** What the import answers for what it refused before writing: the first unknown tool call or repeated id, or undefined. */
function refused (lines: readonly ImportedConversation[], stored: StoredMessage[][]): UnknownToolCallInLine | DuplicateLineId | undefined {
  const seen = new Map<number, number>()
  for (const [line, { id }] of lines.entries()) {
    const unknown = toolResultsToResolve(stored[line]!)[0]
    if (unknown !== undefined) return new UnknownToolCallInLine(line, unknown)
    if (id === undefined) continue
    const first = seen.get(id)
    if (first !== undefined) return new DuplicateLineId(line, id, first)
    seen.set(id, line)
  }
  return undefined
}

const latest = (times: readonly Date[]): Date | null => times.length === 0 ? null : new Date(Math.max(...times.map((time) => time.getTime())))

export function createImportRepository (prisma: PrismaClient, dialect: Dialect) {
  const value: WriteValue<Imported[], Imported[]> = { written: (rows) => rows, held: (rows) => rows as Imported[] }
  /** Writes one line's conversation and messages; the new ids of its messages, in the line's order. */
  async function writeLine (client: TransactionClient, userId: number, line: ImportedConversation, messages: StoredMessage[], now: Date) {
    const createdAt = line.createdAt === undefined ? now : new Date(line.createdAt)
    const updatedAt = line.updatedAt === undefined ? now : new Date(line.updatedAt)
    const times = line.messages.map((message) => message.createdAt === undefined ? createdAt : new Date(message.createdAt))
    const [conversation] = await queryRows(client, idColumns, (list) => sql`
      INSERT INTO "Conversation" ("userId", title, metadata, "messageCount", usage, "lastMessageAt", "expiresAt", "createdAt", "updatedAt")
      VALUES (${userId}, ${line.title ?? null}, ${dialect.json(line.metadata ?? {})}, ${messages.length}, ${dialect.json(usageOf(messages))},
        ${latest(times)}, ${line.expiresAt == null ? null : new Date(line.expiresAt)}, ${createdAt}, ${updatedAt})
      RETURNING ${list}`)
    const id = conversation!.id
    const ids: number[] = []
    for (let start = 0; start < messages.length; start += MESSAGES_PER_INSERT) {
      const rows = messages.slice(start, start + MESSAGES_PER_INSERT).map((message, i) => sql`(${id}, ${messageFields(dialect, message)}, ${times[start + i]!})`)
      const inserted = await queryRows(client, idColumns, (list) => sql`INSERT INTO "Message" ("conversationId", ${MESSAGE_COLUMNS}, "createdAt") VALUES ${join(rows)} RETURNING ${list}`)
      // Ids grow in the VALUES' order on both stores; RETURNING promises no order.
      ids.push(...inserted.map((row) => row.id).sort((a, b) => a - b))
    }
    return { id, messageIds: ids }
  }

  return {
    /**
     * The lines stored as new conversations of the user, all or none, in one transaction: the line ids' new ids, in
     * order. Null when the user does not exist; UnknownToolCallInLine or DuplicateLineId when a line is refused. A
     * line's `forkedFrom` is mapped to the new ids when its source is in the import, else null. With an
     * Idempotency-Key, the key's outcome.
     */
    importUser: keyable(async (userId: number, lines: readonly ImportedConversation[], key: IdempotencyKey | undefined) => {
      const stored = lines.map((line) => line.messages.map(storedOf))
      const refusal = refused(lines, stored)
      if (refusal !== undefined) return nothingWritten<Imported[] | UnknownToolCallInLine | DuplicateLineId | null>(key, refusal, value.held)
      const now = new Date()
      try {
        return await writeInTransaction<Imported, Imported[] | UnknownToolCallInLine | DuplicateLineId | null>(prisma, key, async (client) => {
          const imported: Imported[] = []
          // Each line's id: its new conversation id and its messages' old ids to new.
          const byLineId = new Map<number, { id: number, messages: Map<number, number> }>()
          for (const [index, line] of lines.entries()) {
            const { id, messageIds } = await writeLine(client, userId, line, stored[index]!, now)
            imported.push({ from: line.id ?? null, id })
            const messages = new Map(line.messages.flatMap((message, i) => message.id === undefined ? [] : [[message.id, messageIds[i]!] as const]))
            if (line.id !== undefined) byLineId.set(line.id, { id, messages })
          }
          for (const [index, { forkedFrom }] of lines.entries()) {
            const source = forkedFrom == null ? undefined : byLineId.get(forkedFrom.conversationId)
            if (source === undefined) continue
            const messageId = forkedFrom!.messageId === null ? null : source.messages.get(forkedFrom!.messageId) ?? null
            await client.$executeRaw`UPDATE "Conversation" SET "forkedFrom" = ${dialect.json({ conversationId: source.id, messageId })} WHERE id = ${imported[index]!.id}`
          }
          return imported
        }, value, IMPORT_TIMEOUT_MS)
      } catch (error) {
        if (databaseErrorKind(error) === 'foreignKey') return nothingWritten<Imported[] | UnknownToolCallInLine | DuplicateLineId | null>(key, null, value.held)
        throw error
      }
    }),
  }
}
