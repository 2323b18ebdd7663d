// Who may call which operation when tokens are required (AUTH_MODE=jwt). The rule is read off each operation's
// path parameters, so a new operation in the spec is covered without an edit here: `userId` names the owner
// itself; `conversationId` names a conversation, whose owner is looked up first (it never changes, so the
// look-up cannot race the operation; a conversation deleted in between still gets the operation's own 404).
// An operation with neither acts on no one user's data (create_user) and needs the admin scope.
import type { Operation } from 'openapi-backend'
import type { AnyResult } from './handler-types.js'
import { notFound, problem, type ResourceIds } from './problems.js'

/** The scope that lets a token act on every user, and create users. */
export const ADMIN_SCOPE = 'trackbot:admin'

/** Who a verified token says the caller is (src/http/auth.ts). */
export interface Identity {
  /** The Trackbot user the token acts as; undefined for an admin token that names none. */
  userId: number | undefined
  admin: boolean
  /** Stable per caller, for rate limits: the user id, or the token's `sub`. */
  subject: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by src/http/auth.ts when the server requires tokens and this request carries a valid one. */
    identity?: Identity
  }
}

/** The owner of a conversation, or null when there is none (src/store/conversations.ts, ownerOf). */
export type ConversationOwner = (conversationId: number) => Promise<number | null>

/** Undefined when `identity` may go on to the handler; otherwise the answer to send instead. */
export type AccessCheck = (identity: Identity, params: ResourceIds, instance: string) => Promise<AnyResult | undefined>

const insufficientScope = (instance: string): AnyResult => ({
  status: 403,
  body: problem('insufficientScope', `This operation needs a token with the ${ADMIN_SCOPE} scope.`, instance),
  headers: { 'WWW-Authenticate': `Bearer realm="trackbot", error="insufficient_scope", scope="${ADMIN_SCOPE}"` },
})

const OWNER_PARAMETERS = new Set(['userId', 'conversationId', 'messageId'])

function pathParameterNames (operation: Operation): string[] {
  return (operation.parameters ?? []).flatMap((parameter) => 'in' in parameter && parameter.in === 'path' ? [parameter.name] : [])
}

/**
 * The access check of one operation, compiled at start. A path parameter this rule does not know fails the
 * start: whoever adds one decides whose data it names.
 */
export function compileAccessCheck (operation: Operation, conversationOwner: ConversationOwner): AccessCheck {
  const names = pathParameterNames(operation)
  const unknown = names.filter((name) => !OWNER_PARAMETERS.has(name))
  if (unknown.length > 0) throw new Error(`${operation.operationId}: no access rule for path parameter ${unknown.join(', ')} (src/contract/access.ts)`)
  // Not the caller's answers exactly as not there: the handler's 404, before any handler work.

  if (names.includes('userId')) {
    return async (identity, params, instance) => identity.admin || identity.userId === params.userId ? undefined : notFound(params, instance)
  }
  if (names.includes('conversationId')) {
    return async (identity, params, instance) => {
      if (identity.admin) return undefined
      const owner = await conversationOwner(params.conversationId!)
      return owner !== null && owner === identity.userId ? undefined : notFound(params, instance)
    }
  }
  return async (identity, _params, instance) => identity.admin ? undefined : insufficientScope(instance)
}
