// The typed client of v2 of the Trackbot API, imported by users as `trackbot/client/v2`: rich messages (content
// parts, tool calls and results, model and usage), create_messages and search_messages. Options and helpers as v1's (client.ts).
import type { Client } from 'openapi-fetch'
import type { components, operations, paths } from '../generated/v2.js'
import { createVersionClient, type TrackbotClientOptions } from './client.js'

export type { components, operations, paths }
export { nextCursor, type TrackbotClientOptions } from './client.js'
export type User = components['schemas']['User']
export type Conversation = components['schemas']['Conversation']
export type Message = components['schemas']['Message']
export type NewMessage = components['schemas']['NewMessage']
export type Part = components['schemas']['Part']
export type Usage = NonNullable<components['schemas']['Usage']>
export type SearchHit = components['schemas']['SearchHit']
export type Problem = components['schemas']['Problem']

export type TrackbotV2Client = Client<paths>

/** A v2 client: `baseUrl` is the v2 API root, e.g. `http://localhost:8080/api/v2`. */
export function createTrackbotV2Client (options: TrackbotClientOptions): TrackbotV2Client {
  return createVersionClient<paths>(options)
}
