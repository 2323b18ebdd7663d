// A full list (no `limit`) read in chunks of bounded size, all from one read snapshot: a huge list then costs
// memory and event-loop time one chunk at a time, and no write between two chunks can move a row past the
// reader (skipped) or back into its way (served twice), as activity does in lists sorted by it.
import type { OpenReadSnapshot, Queryable } from './read-snapshots.js'

export interface ChunkOptions {
  /** Rows per chunk: per query, and per piece of the response written before yielding to the event loop. */
  size: number
  /** Longest a snapshot is held, from the first chunk; a list not read by then is cut off (read-snapshots.ts). */
  snapshotMs: number
  /** Longest a list waits for a snapshot while as many as may be open are (Database.snapshotLimit); then a 503. */
  snapshotWaitMs: number
  /** Runs between two chunk reads: for tests that interleave writes with a list deterministically. */
  betweenChunks?: () => Promise<void>
}

/** How full lists are read: in chunks, from the snapshots `snapshots` opens. */
export interface FullLists extends ChunkOptions {
  snapshots: OpenReadSnapshot
}

/**
 * 500 rows keep each chunk's query and serialization in the low milliseconds; 30 s is far more than a list
 * of a million rows takes to read, and short enough that a stalled client pins no old row versions for long;
 * 10 s of waiting lets a burst of full lists take turns rather than fail.
 */
export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { size: 500, snapshotMs: 30_000, snapshotWaitMs: 10_000 }

/** The property of Line that is an array. */
export type StreamedKey<Line> = { [K in keyof Line]-?: Line[K] extends unknown[] ? K : never }[keyof Line] & string

/** An object whose array arrives in chunks (an export's conversation and its messages): the rest of it, then the items. */
export interface StreamedLine<Line> {
  head: Omit<Line, StreamedKey<Line>>
  items: AsyncIterator<Line[StreamedKey<Line>], unknown>
}

/** How one list reads a chunk on the snapshot: at most `limit` rows strictly after the sort key `after`. */
export interface ChunkedQuery<T, K> {
  read (client: Queryable, after: K | undefined, limit: number): Promise<T[]>
  keyOf (row: T): K
  /** Whether the list's owner exists: asked, on the same snapshot, only when the list is empty. */
  ownerExists (client: Queryable): Promise<boolean>
}

/**
 * The chunks of one list, in order, then done. Its snapshot ends when the last chunk has been read, when a
 * read fails, or on return() (the response was abandoned): whichever comes first.
 */
export class Chunks<T, K> implements AsyncIterableIterator<T[]> {
  readonly #options: ChunkOptions
  readonly #query: ChunkedQuery<T, K>
  readonly #end: () => Promise<void>
  readonly #client: Queryable
  // The first chunk, read before the answer's status was chosen.
  #first: T[] | undefined
  #last: T[]
  #ended = false

  constructor (options: ChunkOptions, query: ChunkedQuery<T, K>, client: Queryable, end: () => Promise<void>, first: T[]) {
    this.#options = options
    this.#query = query
    this.#client = client
    this.#end = end
    this.#first = first
    this.#last = first
    if (first.length < options.size) void this.#finish()
  }

  [Symbol.asyncIterator] (): this {
    return this
  }

  async next (): Promise<IteratorResult<T[], undefined>> {
    const first = this.#first
    if (first !== undefined) {
      this.#first = undefined
      return { value: first, done: false }
    }
    if (this.#ended) return { value: undefined, done: true }
    try {
      await this.#options.betweenChunks?.()
      const chunk = await this.#query.read(this.#client, this.#query.keyOf(this.#last.at(-1)!), this.#options.size)
      this.#last = chunk
      if (chunk.length < this.#options.size) await this.#finish()
      return chunk.length === 0 ? { value: undefined, done: true } : { value: chunk, done: false }
    } catch (error) {
      await this.#finish()
      throw error
    }
  }

  async return (): Promise<IteratorResult<T[], undefined>> {
    this.#first = undefined
    await this.#finish()
    return { value: undefined, done: true }
  }

  async #finish (): Promise<void> {
    if (this.#ended) return
    this.#ended = true
    await this.#end()
  }
}

/**
 * The list after `after` (from the top when undefined): the whole of it when it fits in one chunk, as most
 * lists do (one plain query on `direct` is a consistent read by itself, with no snapshot to open and end);
 * else in chunks of one snapshot, the first read again in it and read before returning, so that a failure to
 * read at all is still an ordinary error answer. Null when the owner does not exist.
 */
export async function readInChunks<T, K> (direct: Queryable, open: OpenReadSnapshot, options: ChunkOptions, query: ChunkedQuery<T, K>, after: K | undefined): Promise<T[] | Chunks<T, K> | null> {
  const whole = await query.read(direct, after, options.size)
  if (whole.length < options.size) return whole.length === 0 && !await query.ownerExists(direct) ? null : whole
  const snapshot = await open()
  try {
    const first = await query.read(snapshot.client, after, options.size)
    if (first.length === 0 && !await query.ownerExists(snapshot.client)) {
      await snapshot.end()
      return null
    }
    return new Chunks(options, query, snapshot.client, snapshot.end, first)
  } catch (error) {
    await snapshot.end()
    throw error
  }
}
