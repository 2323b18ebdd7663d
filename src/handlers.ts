// One handler per operationId: typed input in, one repository call, typed result out. A create is keyed: its
// write, given the request's Idempotency-Key, and its answer to what the write made (src/contract/idempotency.ts).
import { inChunks } from './contract/chunked-body.js'
import { keyed, type Handlers } from './contract/handler-types.js'
import { decodeCursor, nextPageLink } from './contract/cursor.js'
import { entityTag, noneMatchHolds, versionsMatching } from './contract/etag.js'
import { INVALID_REQUEST, notFound, problem } from './contract/problems.js'
import type { Repositories } from './store/repositories.js'
import { isConversationKey, PRECONDITION_FAILED, TOO_MANY_METADATA_KEYS, type Versioned } from './store/conversations.js'
import { isMessageKey } from './store/messages.js'
import type { ConversationWithMessages, Message, User } from './store/models.js'
import type { Page } from './store/page.js'

const badCursor = (instance: string) => ({
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

const preconditionFailed = (id: number, instance: string) => ({
  status: 412,
  body: problem('preconditionFailed', `Conversation ${id} has changed since the ETag in If-Match; nothing was changed.`, instance),
}) as const

const tagOf = ({ conversation, version }: Versioned) => ({ ETag: entityTag(conversation.id, version) })

/** A page of `owner`'s list; its next cursor is bound to that owner. */
const pageOf = <T>(page: Page<T, readonly number[]>, path: string, limit: number, owner: number) =>
  ({ status: 200, body: page.items, headers: { Link: nextPageLink(path, limit, owner, page.next) } }) as const

export function createHandlers ({ users, conversations, messages }: Repositories, basePath: string): Handlers {
  return {
    create_user: keyed(
      ({ body }, key) => users.create(body, key),
      (user: User | null, _request, { path }) => user === null
        ? { status: 409, body: problem('conflict', 'Another user already has this email.', path) }
        : { status: 201, body: user, headers: { Location: `${basePath}/users/${user.id}` } }),

    async get_user_by_id ({ params }, { path }) {
      const user = await users.findById(params.userId)
      return user === null ? notFound(params, path) : { status: 200, body: user }
    },

    async delete_user ({ params }, { path }) {
      const deleted = await users.delete(params.userId)
      return deleted ? { status: 204 } : notFound(params, path)
    },

    create_conversation: keyed(
      ({ params, body }, key) => conversations.create(params.userId, body ?? {}, key),
      (conversation: ConversationWithMessages | null, { params }, { path }) => conversation === null
        ? notFound(params, path)
        : { status: 201, body: conversation, headers: { Location: `${basePath}/conversations/${conversation.id}` } }),

    async list_conversations ({ params, query }, { path }) {
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, params.userId, isConversationKey)
      if (after === null) return badCursor(path)
      if (query.limit === undefined) {
        const all = await conversations.listAllByUser(params.userId, after)
        return all === null ? notFound(params, path) : { status: 200, body: inChunks(all) }
      }
      const page = await conversations.listByUser(params.userId, { limit: query.limit, after })
      return page === null ? notFound(params, path) : pageOf(page, path, query.limit, params.userId)
    },

    async get_conversation_by_id ({ params, headers }, { path }) {
      const found = await conversations.findById(params.conversationId)
      if (found === null) return notFound(params, path)
      if (noneMatchHolds(headers['If-None-Match'], params.conversationId, found.version)) return { status: 304, headers: tagOf(found) }
      return { status: 200, body: found.conversation, headers: tagOf(found) }
    },

    async update_conversation ({ params, headers, body }, { path }) {
      const updated = await conversations.update(params.conversationId, body, versionsMatching(headers['If-Match'], params.conversationId))
      if (updated === null) return notFound(params, path)
      if (updated === PRECONDITION_FAILED) return preconditionFailed(params.conversationId, path)
      if (updated === TOO_MANY_METADATA_KEYS) return tooManyMetadataKeys(conversations.limits.metadataKeys, path)
      return { status: 200, body: updated.conversation, headers: tagOf(updated) }
    },

    async delete_conversation ({ params, headers }, { path }) {
      const deleted = await conversations.delete(params.conversationId, versionsMatching(headers['If-Match'], params.conversationId))
      if (deleted === PRECONDITION_FAILED) return preconditionFailed(params.conversationId, path)
      return deleted ? { status: 204 } : notFound(params, path)
    },

    create_message: keyed(
      ({ params, body }, key) => messages.create(params.conversationId, body, key),
      (message: Message | null, { params }, { path }) => message === null ? notFound(params, path) : { status: 201, body: message }),

    async get_message ({ params }, { path }) {
      const message = await messages.findById(params.conversationId, params.messageId)
      if (message === null) return notFound(params, path)
      return { status: 200, body: message }
    },

    async delete_message ({ params }, { path }) {
      const deleted = await messages.delete(params.conversationId, params.messageId)
      return deleted ? { status: 204 } : notFound(params, path)
    },

    async list_messages ({ params, query }, { path }) {
      const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, params.conversationId, isMessageKey)
      if (after === null) return badCursor(path)
      if (query.limit === undefined) {
        const all = await messages.listAllByConversation(params.conversationId, after)
        return all === null ? notFound(params, path) : { status: 200, body: inChunks(all) }
      }
      const page = await messages.listByConversation(params.conversationId, { limit: query.limit, after })
      return page === null ? notFound(params, path) : pageOf(page, path, query.limit, params.conversationId)
    },
  }
}
