// Keyset pagination: a cursor is the sort key of the last row served, opaque to clients.

/** Encodes a sort key of safe integers (e.g. [updatedAt ms, id]) as base64url. */
export function encodeCursor (key: readonly number[]): string {
  return Buffer.from(key.join('.')).toString('base64url')
}

/**
 * The key a cursor carries, or null when it is not one this server issued for the list whose sort key
 * `isKey` recognises (each repository states its own, beside the ORDER BY it pages).
 */
export function decodeCursor<K extends readonly number[]> (cursor: string, isKey: (key: readonly number[]) => key is K): K | null {
  const parts = Buffer.from(cursor, 'base64url').toString('latin1').split('.')
  if (!parts.every((part) => /^\d{1,16}$/.test(part))) return null
  const key = parts.map(Number)
  return key.every(Number.isSafeInteger) && isKey(key) ? key : null
}

/** RFC 8288 `Link` header for the next page, or undefined on the last one. */
export function nextPageLink (path: string, limit: number | undefined, next: readonly number[] | null): string | undefined {
  if (next === null || limit === undefined) return undefined
  return `<${path}?limit=${limit}&cursor=${encodeCursor(next)}>; rel="next"`
}
