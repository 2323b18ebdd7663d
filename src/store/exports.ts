// A user's history as export_user_data streams it: each of their conversations, in list order, with its messages,
// oldest first, every row read from one snapshot (read-snapshots.ts) a chunk at a time, so the export is one state
// of the store and the server holds one chunk of rows at a time, whatever the history's size.
import type { FullLists, StreamedLine } from './chunks.js'
import { conversationKeyOf, type ConversationKey, type ConversationRepository } from './conversations.js'
import { messageKeyOf, type MessageKey, type MessageRepository } from './messages.js'
import type { V2Shapes } from './models.js'
import type { ReadSnapshot } from './read-snapshots.js'
import type { UserRepository } from './users.js'

/** One line of an export: a conversation, and its messages a chunk at a time (read while the line is written). */
export type ExportedLine = StreamedLine<V2Shapes['ExportedConversation']>

export function createExportRepository (users: UserRepository, conversations: ConversationRepository<V2Shapes>, messages: MessageRepository<V2Shapes>, fullLists: FullLists) {
  const { size } = fullLists

  /** The rows `read` gives after each key in turn, a chunk at a time, until one comes short. */
  async function * chunksOf<T, K> (read: (after: K | undefined) => Promise<T[]>, keyOf: (row: T) => K): AsyncGenerator<T[]> {
    for (let key: K | undefined; ;) {
      const chunk = await read(key)
      if (chunk.length > 0) yield chunk
      if (chunk.length < size) return
      key = keyOf(chunk.at(-1)!)
    }
  }

  /** The lines, then the snapshot's end: after the last, on a failed read, or on return() (the client went away). */
  async function * linesOf (snapshot: ReadSnapshot, userId: number): AsyncGenerator<ExportedLine> {
    const { client } = snapshot
    const conversationChunks = chunksOf(async (key: ConversationKey | undefined) => {
      await fullLists.betweenChunks?.()
      return await conversations.chunkAfter(client, userId, key, size)
    }, conversationKeyOf)
    try {
      for await (const chunk of conversationChunks) {
        for (const conversation of chunk) {
          const items = chunksOf((key: MessageKey | undefined) => messages.chunkAfter(client, conversation.id, key, size), messageKeyOf)
          yield { head: conversation, items }
          // The writer reads every message before asking for the next line; this ends an abandoned one.
          await items.return(undefined)
        }
      }
    } finally {
      await snapshot.end()
    }
  }

  return {
    /** The user's history from one snapshot, as lines to stream; null when the user does not exist. */
    async exportUser (userId: number): Promise<AsyncGenerator<ExportedLine> | null> {
      const snapshot = await fullLists.snapshots()
      try {
        if (await users.exists(userId, snapshot.client)) return linesOf(snapshot, userId)
      } catch (error) {
        await snapshot.end()
        throw error
      }
      await snapshot.end()
      return null
    },
  }
}
