// A success body that is a JSON array arriving in chunks (a full list, src/store/chunks.ts): written chunk by
// chunk with the route's own serializer, yielding to the event loop between chunks, so one huge list holds
// neither the loop for its whole serialization nor its whole text in memory, and its bytes are the ones a
// single serialization of the whole array would give.
import { Readable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'

/** A JSON array's items, a chunk at a time; return() ends the reading early (the client went away). */
export class ChunkedArray<T> {
  readonly chunks: AsyncIterator<T[], unknown>

  constructor (chunks: AsyncIterator<T[], unknown>) {
    this.chunks = chunks
  }
}

/** What a handler returns for a list it reads in chunks: the array itself when it came whole (one chunk). */
export const inChunks = <T>(chunks: T[] | AsyncIterator<T[], unknown>): T[] | ChunkedArray<T> =>
  Array.isArray(chunks) ? chunks : new ChunkedArray(chunks)

/**
 * `serialize` writes a whole array, `[a,b]`, with no space between items (fast-json-stringify, as fastify
 * compiles it from the route's response schema): each chunk's text inside its brackets is its items, so
 * the pieces joined by commas, in one pair of brackets, are byte for byte the whole array's text.
 */
async function * arrayText<T> (body: ChunkedArray<T>, serialize: (items: T[]) => string): AsyncGenerator<string> {
  let opened = false
  try {
    for (let chunk = await body.chunks.next(); chunk.done !== true; chunk = await body.chunks.next()) {
      if (chunk.value.length === 0) continue
      const items = serialize(chunk.value).slice(1, -1)
      yield opened ? `,${items}` : `[${items}`
      opened = true
      // Other requests' I/O and timers run between two chunks, however the database and the socket keep up.
      await nextTurn()
    }
  } finally {
    // Ends the reading when the response is abandoned or a chunk failed; a no-op after the last chunk.
    await body.chunks.return?.()
  }
  yield opened ? ']' : '[]'
}

/**
 * The response body; one chunk is read ahead at most. A chunk that fails to be read destroys the stream
 * with its error: fastify then destroys the connection, since the status and the first bytes are already
 * sent, and the client sees a cut-off response rather than a complete-looking array.
 */
export function chunkedArrayStream<T> (body: ChunkedArray<T>, serialize: (items: T[]) => string): Readable {
  return Readable.from(arrayText(body, serialize), { objectMode: true, highWaterMark: 1 })
}
