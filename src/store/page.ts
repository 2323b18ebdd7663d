// One page of a keyset-paginated list: the rows, and the sort key to continue after when more follow.

/** What a list query takes: at most `limit` rows, strictly after the sort key `after`. */
export interface ListOptions<K> { limit?: number, after?: K }

export interface Page<T, K> {
  items: T[]
  /** Sort key of the last item when more rows follow, else null. */
  next: K | null
}

/** Takes one row more than asked for, so the page knows whether another follows. */
export function toPage<T, K> (rows: T[], limit: number | undefined, keyOf: (row: T) => K): Page<T, K> {
  if (limit === undefined || rows.length <= limit) return { items: rows, next: null }
  const items = rows.slice(0, limit)
  return { items, next: keyOf(items[items.length - 1] as T) }
}
