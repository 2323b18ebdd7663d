// Keyset pagination: a cursor is the owner of the list (the user or the conversation) and the sort key of
// the last row served, opaque to clients.

/** Encodes a list's owner id and a sort key of safe integers (e.g. [updatedAt ms, id]) as base64url. */
export function encodeCursor (owner: number, key: readonly number[]): string {
  return Buffer.from([owner, ...key].join('.')).toString('base64url')
}

/**
 * The key a cursor carries, or null when it is not one this server issued for this owner's list whose sort
 * key `isKey` recognises (each repository states its own, with its bounds, beside the ORDER BY it pages).
 * A cursor of another user's or conversation's list is refused, not reinterpreted.
 */
export function decodeCursor<K extends readonly number[]> (cursor: string, owner: number, isKey: (key: readonly number[]) => key is K): K | null {
  const parts = Buffer.from(cursor, 'base64url').toString('latin1').split('.')
  if (!parts.every((part) => /^\d{1,16}$/.test(part))) return null
  const [cursorOwner, ...key] = parts.map(Number)
  return cursorOwner === owner && key.every(Number.isSafeInteger) && isKey(key) ? key : null
}

/**
 * RFC 8288 `Link` header for the next page of `owner`'s list, or undefined on the last one; `query` holds the list's
 * other query parameters (a search's words and filters), which the next page repeats.
 */
export function nextPageLink (path: string, limit: number, owner: number, next: readonly number[] | null, query: Record<string, string | number> = {}): string | undefined {
  if (next === null) return undefined
  const parameters = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) parameters.set(name, String(value))
  parameters.set('limit', String(limit))
  parameters.set('cursor', encodeCursor(owner, next))
  return `<${path}?${parameters}>; rel="next"`
}
