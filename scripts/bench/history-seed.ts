// The history scenario's data (scripts/bench/history-run.ts), written through the API itself as clients write it
// (create_user, create_conversation, create_messages), unlike the other stores' direct SQL: its messages carry parts,
// models, usage and metadata, and a tool call's result must answer a call of the same conversation, all of which the
// server checks and stores in its own formats. Three users: one owns the conversation that is forked, one the history
// that is exported (and imported into users made for each import), one a small history that warms a server up before it
// is measured.
import type { components } from '../../generated/v2.js'
import { mulberry32 } from '../mulberry32.js'
import { call } from './api-calls.js'

type NewMessage = components['schemas']['NewMessage']
type Conversation = components['schemas']['Conversation']

export interface HistorySeedSize {
  /** The forked conversation's messages. */
  fork: number
  /** The exported user's conversations, and their messages between them: as many in each, a whole number. */
  exportConversations: number
  exportMessages: number
}

export const HISTORY_FULL_SIZE: HistorySeedSize = { fork: 10_000, exportConversations: 100, exportMessages: 100_000 }
/** The smoke run's (CI, with every scenario): each way walks more than one page. */
export const HISTORY_SMOKE_SIZE: HistorySeedSize = { fork: 200, exportConversations: 10, exportMessages: 2_000 }

export interface HistoryFixture {
  forkUser: number
  /** The conversation forked and copied. */
  forkSource: number
  exportUser: number
  /** A user with a few short conversations, each operation's warm-up. */
  warmUpUser: number
  warmUpConversation: number
  seedSeconds: number
}

/** create_messages' most per request. */
export const BATCH = 100
/** Conversations written at once: requests in flight while the store writes one (SQLite writes one at a time). */
const CONCURRENCY = 4
const WARM_UP = { conversations: 3, messages: 100 }

const WORDS = ('the a to of and in is for on with that it this can you be as are at from or your by will an more ' +
  'trip train city museum ticket weather day morning evening walk tram castle river market bridge hotel street ' +
  'dinner lunch breakfast view tower garden beach church square station airport bus ferry coffee pastry wine fish ' +
  'budget price hours open closed early late crowded quiet sunny rain cold warm north south old new best first')
  .split(' ')
const CITIES = ['Lisbon', 'Porto', 'Seville', 'Kyoto', 'Oslo', 'Valparaíso', 'Tbilisi', 'Montréal']
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4']

function sentence (next: () => number, [min, max]: [number, number]): string {
  const count = min + Math.floor(next() * (max - min + 1))
  const words = Array.from({ length: count }, () => WORDS[Math.floor(next() * WORDS.length)]!)
  return words.join(' ').replace(/^./, (first) => first.toUpperCase()) + '.'
}

const usage = (next: () => number) => ({ inputTokens: 200 + Math.floor(next() * 4000), outputTokens: 20 + Math.floor(next() * 800) })

/**
 * The `k`-th message of a conversation, in a turn of eight that a chat with an agent goes through: questions, plain
 * answers (most with the model and its usage, one without: an import that knew neither), an answer that calls a tool
 * and the tool's result answering it right after, metadata on some.
 */
function messageAt (k: number, next: () => number): NewMessage {
  const model = MODELS[k % MODELS.length]!
  switch (k % 8) {
    case 0: case 2: return { role: 'user', content: sentence(next, [5, 30]) }
    case 1: return { role: 'assistant', content: sentence(next, [20, 120]), model, usage: usage(next) }
    case 3: return {
      role: 'assistant',
      parts: [
        { type: 'text', text: sentence(next, [4, 12]) },
        { type: 'tool_call', id: `call_${k}`, name: 'get_weather', arguments: { city: CITIES[k % CITIES.length], days: 1 + (k % 5), units: 'metric' } },
      ],
      model,
      usage: usage(next),
    }
    case 4: return {
      role: 'tool',
      parts: [{ type: 'tool_result', toolCallId: `call_${k - 1}`, output: JSON.stringify({ forecast: 'sunny', high: 18 + (k % 10), low: 9 + (k % 5) }) }],
    }
    case 5: return { role: 'assistant', content: sentence(next, [20, 120]), model, usage: usage(next), metadata: { latencyMs: String(300 + (k % 900)) } }
    case 6: return { role: 'user', content: sentence(next, [5, 30]), metadata: { source: 'mobile' } }
    default: return { role: 'assistant', content: sentence(next, [10, 60]) }
  }
}

const api = '/api/v2'

export async function createUser (origin: string, name: string): Promise<number> {
  return (await call<{ id: number }>(origin, 'POST', `${api}/users`, 201, { name })).body.id
}

/**
 * A conversation of `messages` messages, written a batch at a time in order (a tool's result after its call); its text
 * drawn from `seed`, so that the same sizes give the same rows whichever conversations are written at once.
 */
async function conversationOf (origin: string, userId: number, title: string, messages: number, seed: number): Promise<number> {
  const next = mulberry32(seed)
  const { id } = (await call<Conversation>(origin, 'POST', `${api}/users/${userId}/conversations`, 201, { title, metadata: { model: MODELS[0]! } })).body
  for (let k = 0; k < messages; k += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, messages - k) }, (_, i) => messageAt(k + i, next))
    await call(origin, 'POST', `${api}/conversations/${id}/messages/batch`, 201, { messages: batch })
  }
  return id
}

/** `count` conversations of `each` messages, CONCURRENCY of them written at once; their ids in order. */
async function conversationsOf (origin: string, userId: number, count: number, each: number): Promise<number[]> {
  const ids: number[] = []
  let started = 0
  const worker = async () => {
    while (started < count) {
      const n = started++
      ids[n] = await conversationOf(origin, userId, `Chat ${n + 1}`, each, userId * 1_000_000 + n)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker))
  return ids
}

/** Seeds the users through the server at `origin`, on its empty database. */
export async function seedHistory (origin: string, size: HistorySeedSize): Promise<HistoryFixture> {
  const started = performance.now()
  const forkUser = await createUser(origin, 'Fork')
  const forkSource = await conversationOf(origin, forkUser, 'Long chat', size.fork, 1)
  const exportUser = await createUser(origin, 'Export')
  await conversationsOf(origin, exportUser, size.exportConversations, size.exportMessages / size.exportConversations)
  const warmUpUser = await createUser(origin, 'Warm-up')
  const [warmUpConversation] = await conversationsOf(origin, warmUpUser, WARM_UP.conversations, WARM_UP.messages)
  return { forkUser, forkSource, exportUser, warmUpUser, warmUpConversation: warmUpConversation!, seedSeconds: (performance.now() - started) / 1000 }
}
