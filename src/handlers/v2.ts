// v2's handlers: v1's operations over v2's shapes, appending several messages at once, forks, exports and search.
import type { operations } from '../../generated/v2.js'
import { decodeCursor, nextPageLink } from '../contract/cursor.js'
import { keyed, type Handlers } from '../contract/handler-types.js'
import { NdjsonLines } from '../contract/ndjson-body.js'
import { INVALID_REQUEST, notFound, problem } from '../contract/problems.js'
import { NOT_A_MESSAGE_OF_IT } from '../store/conversations.js'
import { DuplicateLineId, UnknownToolCallInLine, type Imported } from '../store/imports.js'
import { isSearchKey } from '../store/search.js'
import type { V2Repositories } from '../store/repositories.js'
import { UnknownToolCall } from '../store/stored-messages.js'
import type { V2Shapes } from '../store/models.js'
import { badCursor, commonHandlers, unknownToolCall } from './common.js'

const notAMessageOf = (conversationId: number, instance: string) => ({
  status: 400,
  body: problem('validation', INVALID_REQUEST, instance, [
    { in: 'body', pointer: '/atMessageId', detail: `is not a message of conversation ${conversationId}` },
  ]),
}) as const

/** An import's line refused after validation: a 400 pointing into it (`/<line index>/…`), naming it by its number. */
function refusedLine (refused: UnknownToolCallInLine | DuplicateLineId, instance: string) {
  const error = refused instanceof UnknownToolCallInLine
    ? { pointer: `/${refused.line}/messages/${refused.at.message}/parts/${refused.at.part}/toolCallId`, detail: 'must name a tool_call of an earlier message of the same conversation' }
    : { pointer: `/${refused.line}/id`, detail: `is the id of line ${refused.first + 1} too` }
  return { status: 400, body: problem('validation', INVALID_REQUEST, instance, [{ in: 'body', pointer: error.pointer, detail: `line ${refused.line + 1}: ${error.detail}` }]) } as const
}

export function createV2Handlers (repositories: V2Repositories, basePath: string): Handlers<operations> {
  const { conversations, messages, search, exports, imports } = repositories
  return {
    ...commonHandlers<V2Shapes>(repositories, basePath),

    create_messages: keyed(
      ({ params, body }, key) => messages.createMany(params.conversationId, body.messages, key),
      (created: Array<V2Shapes['Message']> | UnknownToolCall | null, { params }, { path }) => {
        if (created === null) return notFound(params, path)
        if (created instanceof UnknownToolCall) return unknownToolCall(created, '/messages', path)
        return { status: 201, body: { messages: created } }
      }),

    fork_conversation: keyed(
      ({ params, body }, key) => conversations.fork(params.conversationId, body ?? {}, key),
      (forked: V2Shapes['Conversation'] | typeof NOT_A_MESSAGE_OF_IT | null, { params }, { path }) => {
        if (forked === null) return notFound(params, path)
        if (forked === NOT_A_MESSAGE_OF_IT) return notAMessageOf(params.conversationId, path)
        return { status: 201, body: forked, headers: { Location: `${basePath}/conversations/${forked.id}` } }
      }),

    async export_user_data ({ params }, { path }) {
      const lines = await exports.exportUser(params.userId)
      return lines === null ? notFound(params, path) : { status: 200, body: new NdjsonLines(lines, 'messages') }
    },

    import_user_data: keyed(
      ({ params, body }, key) => imports.importUser(params.userId, body, key),
      (imported: Imported[] | UnknownToolCallInLine | DuplicateLineId | null, { params }, { path }) => {
        if (imported === null) return notFound(params, path)
        if (imported instanceof UnknownToolCallInLine || imported instanceof DuplicateLineId) return refusedLine(imported, path)
        return { status: 201, body: { conversations: imported } }
      }),

    async search_messages ({ params, query }, { path }) {
      const { q, limit, cursor, ...filters } = query
      // Validation applies the spec's default (useDefaults, src/contract/spec.ts): without one, this fails a test.
      if (limit === undefined) throw new Error('search_messages: the spec gives `limit` no default')
      const after = cursor === undefined ? undefined : decodeCursor(cursor, params.userId, isSearchKey)
      if (after === null) return badCursor(path)
      const page = await search.search(params.userId, q, filters, { limit, after })
      if (page === null) return notFound(params, path)
      // The next page's address repeats the search: its words and filters, with the next cursor.
      const next = nextPageLink(path, limit, params.userId, page.next, { q, ...filters })
      return { status: 200, body: page.items, headers: { Link: next } }
    },
  }
}
