// The API's shapes, as the generated types give them, and the mapping from stored rows.
import type { components } from '../../generated/trackbot.js'

type Schemas = components['schemas']
export type User = Schemas['User']
export type Conversation = Schemas['Conversation']
export type Message = Schemas['Message']
export type NewUser = Schemas['CreateUserRequest']
export type NewConversation = Schemas['CreateConversationRequest']
export type NewMessage = Schemas['NewMessage']
export type ConversationWithMessages = Schemas['CreateConversationResponse']

export interface UserRow { id: number, name: string, email: string | null, createdAt: Date }
export interface ConversationRow {
  id: number
  userId: number
  title: string | null
  metadata: unknown
  messageCount: number
  createdAt: Date
  updatedAt: Date
}
export interface MessageRow { id: number, conversationId: number, role: string, content: string, createdAt: Date }

export const toUser = (row: UserRow): User => ({
  id: row.id,
  name: row.name,
  email: row.email,
  createdAt: row.createdAt.toISOString(),
})

export const toConversation = (row: ConversationRow): Conversation => ({
  id: row.id,
  userId: row.userId,
  title: row.title,
  // Only ever written from a validated Metadata object.
  metadata: row.metadata as Conversation['metadata'],
  messageCount: row.messageCount,
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
})

export const toMessage = (row: MessageRow): Message => ({
  id: row.id,
  conversationId: row.conversationId,
  // Only ever written from a validated Role.
  role: row.role as Message['role'],
  content: row.content,
  createdAt: row.createdAt.toISOString(),
})
