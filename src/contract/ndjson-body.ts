// A success body of newline-delimited JSON (application/x-ndjson) whose lines each end in an array arriving in
// chunks (an export: each conversation, then its messages, src/store/exports.ts). Written piece by piece with the
// route's own serializer for a line, yielding to the event loop between pieces, so neither a long history nor one
// huge conversation is held whole, and each line's bytes are the ones a single serialization of it would give.
import { Readable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { StreamedKey, StreamedLine } from '../store/chunks.js'

/** The lines, in order; return() ends the reading early (the client went away). */
export class NdjsonLines<Line> {
  constructor (readonly lines: AsyncIterator<StreamedLine<Line>, unknown>, readonly streamed: StreamedKey<Line>) {}
}

/**
 * `serialize` writes a whole line's object, its properties in the schema's order (fast-json-stringify), the
 * streamed array last: the head is the line with an empty array up to its `[`, each chunk the same line with the
 * chunk's items between the brackets, and `]}` closes it, so the pieces are byte for byte the whole line.
 */
async function * ndjsonText<Line> (body: NdjsonLines<Line>, serialize: (line: unknown) => string): AsyncGenerator<string> {
  const closing = `"${body.streamed}":[]}`
  try {
    for (let line = await body.lines.next(); line.done !== true; line = await body.lines.next()) {
      const { head, items } = line.value
      const empty = serialize({ ...head, [body.streamed]: [] })
      if (!empty.endsWith(closing)) throw new Error(`an NDJSON line's serializer does not write ${body.streamed} last: ${empty.slice(-80)}`)
      const open = empty.length - 2
      yield empty.slice(0, open)
      let first = true
      for (let chunk = await items.next(); chunk.done !== true; chunk = await items.next()) {
        const array = chunk.value as unknown[]
        if (array.length === 0) continue
        const text = serialize({ ...head, [body.streamed]: array })
        yield first ? text.slice(open, -2) : `,${text.slice(open, -2)}`
        first = false
        await nextTurn()
      }
      yield ']}\n'
    }
  } finally {
    await body.lines.return?.()
  }
}

/**
 * The response body; one piece is read ahead at most. A line that fails to be read destroys the stream with its
 * error: fastify then destroys the connection, and the client sees a cut-off response (no chunked body's end).
 */
export function ndjsonStream<Line> (body: NdjsonLines<Line>, serialize: (line: unknown) => string): Readable {
  return Readable.from(ndjsonText(body, serialize), { objectMode: true, highWaterMark: 1 })
}
