// The handlers every contract version has, written once over the version's view of the store (its shapes): typed
// input in, one repository call, typed result out. Each version's file (v1.ts, v2.ts) spreads them into its own
// Handlers, where the compiler checks them against that version's operations. A create is keyed: its write, given
// the request's Idempotency-Key, and its answer to what the write made (src/contract/idempotency.ts).
import { inChunks } from '../contract/chunked-body.js'
import { keyed, type HandlerContext } from '../contract/handler-types.js'
import { decodeCursor, nextPageLink } from '../contract/cursor.js'
import { entityTag, noneMatchHolds, versionsMatching } from '../contract/etag.js'
import { INVALID_REQUEST, notFound, problem } from '../contract/problems.js'
import { EXPIRY_PASSED, isConversationKey, PRECONDITION_FAILED, TOO_MANY_METADATA_KEYS, type Versioned } from '../store/conversations.js'
import { isMessageKey } from '../store/messages.js'
import type { ConversationPatch, NewConversation, NewMessage, Shapes, User } from '../store/models.js'
import type { Page } from '../store/page.js'
import type { ViewRepositories } from '../store/repositories.js'
import { UnknownToolCall } from '../store/stored-messages.js'

export const badCursor = (instance: string) => ({
  status: 400,
  body: problem('validation', 'The cursor was not issued by this list.', instance, [
    { in: 'query', pointer: '/cursor', detail: 'is not a cursor this server issued' },
  ]),
}) as const

// The schema bounds the patch; only the merge with what is stored can break Metadata's key bound.
const tooManyMetadataKeys = (limit: number, instance: string) => ({
  status: 400,
  body: problem('validation', INVALID_REQUEST, instance, [
    { in: 'body', pointer: '/metadata', detail: `must NOT have more than ${limit} properties once merged with the stored metadata` },
  ]),
}) as const

// The schema says what a time is; only the clock says whether it has passed.
const expiryPassed = (instance: string) => ({
  status: 400,
  body: problem('validation', INVALID_REQUEST, instance, [{ in: 'body', pointer: '/expiresAt', detail: 'must be in the future' }]),
}) as const

/**
 * A tool_result answering no tool call the conversation or the request holds: a 400 naming the part, where
 * `messagesAt` is the pointer of the body's list of messages ('' when the body is one message).
 */
export const unknownToolCall = ({ at }: UnknownToolCall, messagesAt: string, instance: string) => ({
  status: 400,
  body: problem('validation', INVALID_REQUEST, instance, [{
    in: 'body',
    pointer: `${messagesAt === '' ? '' : `${messagesAt}/${at.message}`}/parts/${at.part}/toolCallId`,
    detail: 'must name a tool_call of an earlier message of the conversation, or earlier in this request',
  }]),
}) as const

const preconditionFailed = (id: number, instance: string) => ({
  status: 412,
  body: problem('preconditionFailed', `Conversation ${id} has changed since the ETag in If-Match; nothing was changed.`, instance),
}) as const

const tagOf = ({ conversation, version }: Versioned<{ id: number }>) => ({ ETag: entityTag(conversation.id, version) })

/** A page of `owner`'s list; its next cursor is bound to that owner. */
const pageOf = <T>(page: Page<T, readonly number[]>, path: string, limit: number, owner: number) =>
  ({ status: 200, body: page.items, headers: { Link: nextPageLink(path, limit, owner, page.next) } }) as const

interface ConversationPath { params: { conversationId: number } }
interface ListQuery { query: { limit?: number, cursor?: string } }

export function commonHandlers<S extends Shapes> ({ users, conversations, messages }: ViewRepositories<S>, basePath: string) {
  return {
    create_user: keyed(
      ({ body }: { body: { name: string, email?: string | null } }, key) => users.create(body, key),
      (user: User | null, _request, { path }: HandlerContext) => user === null
        ? { status: 409, body: problem('conflict', 'Another user already has this email.', path) } as const
        : { status: 201, body: user, headers: { Location: `${basePath}/users/${user.id}` } } as const),

    async get_user_by_id ({ params }: { params: { userId: number } }, { path }: HandlerContext) {
      const user = await users.findById(params.userId)
      return user === null ? notFound(params, path) : { status: 200, body: user } as const
    },

    async delete_user ({ params }: { params: { userId: number } }, { path }: HandlerContext) {
      const deleted = await users.delete(params.userId)
      return deleted ? { status: 204 } as const : notFound(params, path)
    },

    create_conversation: keyed(
      ({ params, body }: { params: { userId: number }, body?: NewConversation }, key) => conversations.create(params.userId, body ?? {}, key),
      (conversation: S['ConversationWithMessages'] | UnknownToolCall | typeof EXPIRY_PASSED | null, { params }, { path }: HandlerContext) => {
        if (conversation === null) return notFound(params, path)
        if (conversation === EXPIRY_PASSED) return expiryPassed(path)
        if (conversation instanceof UnknownToolCall) return unknownToolCall(conversation, '/messages', path)
        return { status: 201, body: conversation, headers: { Location: `${basePath}/conversations/${conversation.id}` } } as const
      }),

    async list_conversations ({ params, query }: { params: { userId: number } } & ListQuery, { path }: HandlerContext) {
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, params.userId, isConversationKey)
      if (after === null) return badCursor(path)
      if (query.limit === undefined) {
        const all = await conversations.listAllByUser(params.userId, after)
        return all === null ? notFound(params, path) : { status: 200, body: inChunks(all) } as const
      }
      const page = await conversations.listByUser(params.userId, { limit: query.limit, after })
      return page === null ? notFound(params, path) : pageOf<S['Conversation']>(page, path, query.limit, params.userId)
    },

    async get_conversation_by_id ({ params, headers }: ConversationPath & { headers: { 'If-None-Match'?: string } }, { path }: HandlerContext) {
      const found = await conversations.findById(params.conversationId)
      if (found === null) return notFound(params, path)
      if (noneMatchHolds(headers['If-None-Match'], params.conversationId, found.version)) return { status: 304, headers: tagOf(found) } as const
      return { status: 200, body: found.conversation, headers: tagOf(found) } as const
    },

    async update_conversation ({ params, headers, body }: ConversationPath & { headers: { 'If-Match'?: string }, body: ConversationPatch }, { path }: HandlerContext) {
      const updated = await conversations.update(params.conversationId, body, versionsMatching(headers['If-Match'], params.conversationId))
      if (updated === null) return notFound(params, path)
      if (updated === PRECONDITION_FAILED) return preconditionFailed(params.conversationId, path)
      if (updated === TOO_MANY_METADATA_KEYS) return tooManyMetadataKeys(conversations.limits.metadataKeys, path)
      if (updated === EXPIRY_PASSED) return expiryPassed(path)
      return { status: 200, body: updated.conversation, headers: tagOf(updated) } as const
    },

    async delete_conversation ({ params, headers }: ConversationPath & { headers: { 'If-Match'?: string } }, { path }: HandlerContext) {
      const deleted = await conversations.delete(params.conversationId, versionsMatching(headers['If-Match'], params.conversationId))
      if (deleted === PRECONDITION_FAILED) return preconditionFailed(params.conversationId, path)
      return deleted ? { status: 204 } as const : notFound(params, path)
    },

    create_message: keyed(
      ({ params, body }: ConversationPath & { body: NewMessage }, key) => messages.create(params.conversationId, body, key),
      (message: S['Message'] | UnknownToolCall | null, { params }, { path }: HandlerContext) => {
        if (message === null) return notFound(params, path)
        if (message instanceof UnknownToolCall) return unknownToolCall(message, '', path)
        return { status: 201, body: message } as const
      }),

    async get_message ({ params }: { params: { conversationId: number, messageId: number } }, { path }: HandlerContext) {
      const message = await messages.findById(params.conversationId, params.messageId)
      if (message === null) return notFound(params, path)
      return { status: 200, body: message } as const
    },

    async delete_message ({ params }: { params: { conversationId: number, messageId: number } }, { path }: HandlerContext) {
      const deleted = await messages.delete(params.conversationId, params.messageId)
      return deleted ? { status: 204 } as const : notFound(params, path)
    },

    async list_messages ({ params, query }: ConversationPath & ListQuery, { path }: HandlerContext) {
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, params.conversationId, isMessageKey)
      if (after === null) return badCursor(path)
      if (query.limit === undefined) {
        const all = await messages.listAllByConversation(params.conversationId, after)
        return all === null ? notFound(params, path) : { status: 200, body: inChunks(all) } as const
      }
      const page = await messages.listByConversation(params.conversationId, { limit: query.limit, after })
      return page === null ? notFound(params, path) : pageOf<S['Message']>(page, path, query.limit, params.conversationId)
    },
  }
}
