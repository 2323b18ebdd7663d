// What the stateful fuzzer's models of each contract version share: how a version's suite is made, and the helpers
// its commands check answers with (test/contract/fuzz-stateful.test.ts runs them).
import fc from 'fast-check'
import type { Request } from '../helper.js'

export type Command<Model extends object> = fc.AsyncCommand<Model, Request>

/** One contract version's model of the API and the commands that drive it. */
export interface StatefulSuite<Model extends object> {
  /** An arbitrary of each command. */
  commands: Array<fc.Arbitrary<Command<Model>>>
  /** One of every command, in an order where each finds what it needs: the walk that shows which operations the commands reach. */
  everyCommand (): Array<Command<Model>>
  /** Reads everything the model knows through the API and compares: every run ends with it. */
  checkAll (): Command<Model>
  emptyModel (): Model
}

// Commands name rows by their position among the live ones, so shrinking keeps sequences meaningful.
export const pick = <T>(items: Iterable<T>, index: number): T | undefined => {
  const list = [...items]
  return list.length === 0 ? undefined : list[index % list.length]
}

export function expectStatus (reply: { status: number, text: string }, status: number, what: string): void {
  if (reply.status !== status) throw new Error(`${what}: wanted ${status}, got ${reply.status} ${reply.text.slice(0, 2000)}`)
}

export function expectEqual (actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: wanted ${JSON.stringify(expected)?.slice(0, 2000)}, got ${JSON.stringify(actual)?.slice(0, 2000)}`)
}

/** Metadata as stored: keys in no particular order. */
export const sortedEntries = (metadata: Record<string, string>) => Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/** A JSON value with every object's keys sorted: stores keep JSON objects' values, not their key order. */
export function canonical (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]))
}

/** Most recent activity first: the order list_conversations promises. */
export function expectMostRecentFirst (conversations: Array<{ id: number, updatedAt: string }>): void {
  const times = conversations.map((c) => `${c.updatedAt} ${String(c.id).padStart(10, '0')}`)
  expectEqual(times, [...times].sort().reverse(), 'most recent activity first')
}

// eslint-disable-next-line no-control-regex -- NUL and lone surrogates are what the spec refuses
export const text = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\u0000\ud800-\udfff]/.test(s))

/** A merge patch: a title to set or clear, and metadata keys to set or remove (from a few, so they meet). */
export interface Patch { title?: string | null, metadata?: Record<string, string | null> }

export const patch: fc.Arbitrary<Patch> = fc.record({
  title: fc.option(text, { nil: null }),
  metadata: fc.dictionary(fc.constantFrom('model', 'lang', 'source'), fc.option(text, { nil: null }), { maxKeys: 3 }),
}, { requiredKeys: [] })

/** A conversation's title and metadata after `patch`. */
export function patched (conversation: { title: string | null, metadata: Record<string, string> }, changes: Patch): void {
  if (changes.title !== undefined) conversation.title = changes.title
  for (const [key, value] of Object.entries(changes.metadata ?? {})) {
    if (value === null) delete conversation.metadata[key]
    else conversation.metadata[key] = value
  }
}
