// Keyset pagination: a cursor is the sort key of the last row served, opaque to clients.

export interface Page<T, K> {
  items: T[]
  /** Sort key of the last item when more rows follow, else null. */
  next: K | null
}

/** Encodes a sort key of safe integers (e.g. [updatedAt ms, id]) as base64url. */
export function encodeCursor (key: readonly number[]): string {
  return Buffer.from(key.join('.')).toString('base64url')
}

/** The key a cursor carries, or null when it is not one this server issued for `arity` values. */
export function decodeCursor (cursor: string, arity: number): number[] | null {
  const parts = Buffer.from(cursor, 'base64url').toString('latin1').split('.')
  if (parts.length !== arity || !parts.every((part) => /^\d{1,16}$/.test(part))) return null
  const key = parts.map(Number)
  return key.every(Number.isSafeInteger) ? key : null
}

/** Takes one row more than asked for, so the page knows whether another follows. */
export function toPage<T, K> (rows: T[], limit: number | undefined, keyOf: (row: T) => K): Page<T, K> {
  if (limit === undefined || rows.length <= limit) return { items: rows, next: null }
  const items = rows.slice(0, limit)
  return { items, next: keyOf(items[items.length - 1] as T) }
}

/** RFC 8288 `Link` header for the next page, or undefined on the last one. */
export function nextPageLink (path: string, limit: number | undefined, next: readonly number[] | null): string | undefined {
  if (next === null || limit === undefined) return undefined
  return `<${path}?limit=${limit}&cursor=${encodeCursor(next)}>; rel="next"`
}
