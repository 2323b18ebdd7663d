// One page of a keyset-paginated list: the rows, and the sort key to continue after when more follow.
import { isPositiveInt32 } from '../int32.js'

/** What a page query takes: at most `limit` rows, strictly after the sort key `after`. (A full list is read in chunks: chunks.ts.) */
export interface ListOptions<K> { limit: number, after?: K }

/** An id as the spec's `Id` schema bounds it: a sort key outside it cannot name a row. */
export const isId = isPositiveInt32

/**
 * Milliseconds from 1970 to the end of year 9999: what JavaScript's Date, PostgreSQL's TIMESTAMP(3) and
 * SQLite's ISO text (four-digit years) all represent, so a forged sort key never reaches the database as
 * a time it refuses.
 */
export const isTimestampMs = (value: number): boolean => Number.isInteger(value) && value >= 0 && value <= 253402300799999

/** Rows in id order, the order they were inserted in: what RETURNING does not promise. */
export const byId = (a: { id: number }, b: { id: number }) => a.id - b.id

export interface Page<T, K> {
  items: T[]
  /** Sort key of the last item when more rows follow, else null. */
  next: K | null
}

/** Takes one row more than asked for, so the page knows whether another follows. */
export function toPage<T, K> (rows: T[], limit: number, keyOf: (row: T) => K): Page<T, K> {
  if (rows.length <= limit) return { items: rows, next: null }
  const items = rows.slice(0, limit)
  return { items, next: keyOf(items[items.length - 1] as T) }
}
