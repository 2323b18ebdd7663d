// The API's shapes, as the generated types give them. The repositories' SQL selects rows in exactly these
// shapes (timestamps formatted by the database), so rows go out as they come in; the column maps
// (columns.ts) are checked against them.
import type { components } from '../../generated/trackbot.js'

type Schemas = components['schemas']
export type User = Schemas['User']
export type Conversation = Schemas['Conversation']
export type Message = Schemas['Message']
export type NewUser = Schemas['CreateUserRequest']
export type NewConversation = Schemas['CreateConversationRequest']
export type NewMessage = Schemas['NewMessage']
export type ConversationWithMessages = Schemas['CreateConversationResponse']
export type ConversationPatch = Schemas['ConversationPatch']
