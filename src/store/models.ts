// The API's shapes, as the generated types give them. The repositories' SQL selects rows in exactly these
// shapes (timestamps formatted by the database), so rows go out as they come in; the column maps
// (views.ts) are checked against them. One store serves every contract version: what a client writes is the
// newest version's input (an older version's input is a narrower case of it), and what it reads is its
// own version's shapes (Shapes).
import type { components as V1 } from '../../generated/v1.js'
import type { components as V2, operations as V2Operations } from '../../generated/v2.js'

type Schemas = V2['schemas']
export type User = Schemas['User']
export type NewUser = Schemas['CreateUserRequest']
export type NewConversation = Schemas['CreateConversationRequest']
export type NewMessage = Schemas['NewMessage']
export type Part = Schemas['Part']
export type Usage = NonNullable<Schemas['Usage']>
export type ConversationPatch = Schemas['ConversationPatch']
export type ForkRequest = Schemas['ForkConversationRequest']
export type ImportedConversation = Schemas['ImportedConversation']
export type SearchHit = Schemas['SearchHit']
/** search_messages' filters: its query's parameters but the query itself and the page's. */
export type SearchFilters = Omit<V2Operations['search_messages']['parameters']['query'], 'q' | 'limit' | 'cursor'>

/** What one contract version reads back of conversations and messages. */
export interface Shapes {
  Conversation: { id: number, userId: number, updatedAt: string }
  Message: { id: number, conversationId: number }
  ConversationWithMessages: { id: number }
}

export interface V1Shapes {
  Conversation: V1['schemas']['Conversation']
  Message: V1['schemas']['Message']
  ConversationWithMessages: V1['schemas']['CreateConversationResponse']
}

/** A when A and B are assignable both ways (the same properties, of the same types); never otherwise. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? A : never) : never

export interface V2Shapes {
  Conversation: Schemas['Conversation']
  Message: Schemas['Message']
  ConversationWithMessages: Schemas['CreateConversationResponse']
  /** An export's line: exactly a conversation and its messages, so the rows the store reads fill it whole. */
  ExportedConversation: Same<Schemas['ExportedConversation'], Schemas['Conversation'] & { messages: Array<Schemas['Message']> }>
}
