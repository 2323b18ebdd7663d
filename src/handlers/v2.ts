// v2's handlers: v1's operations over v2's shapes, and appending several messages at once.
import type { operations } from '../../generated/v2.js'
import { keyed, type Handlers } from '../contract/handler-types.js'
import { notFound } from '../contract/problems.js'
import type { V2Repositories } from '../store/repositories.js'
import { UnknownToolCall } from '../store/stored-messages.js'
import type { V2Shapes } from '../store/models.js'
import { commonHandlers, unknownToolCall } from './common.js'

export function createV2Handlers (repositories: V2Repositories, basePath: string): Handlers<operations> {
  const { messages } = repositories
  return {
    ...commonHandlers<V2Shapes>(repositories, basePath),

    create_messages: keyed(
      ({ params, body }, key) => messages.createMany(params.conversationId, body.messages, key),
      (created: Array<V2Shapes['Message']> | UnknownToolCall | null, { params }, { path }) => {
        if (created === null) return notFound(params, path)
        if (created instanceof UnknownToolCall) return unknownToolCall(created, '/messages', path)
        return { status: 201, body: { messages: created } }
      }),
  }
}
