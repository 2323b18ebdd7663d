// Entity tags of conversations (RFC 9110 §8.8.3) and the If-Match / If-None-Match conditions on them; also the one
// parser of If-None-Match for the other tagged representations (the served spec).
// A conversation's tag is `"<id>.<version>"`: the store moves the version on every write of the row, so the
// tag changes with the body even for two writes within one millisecond, where updatedAt would not.
import { isPositiveInt32 } from '../int32.js'

/** The strong ETag of a conversation at a version. */
export function entityTag (id: number, version: number): string {
  return `"${id}.${version}"`
}

/** The tags a validated If-Match / If-None-Match lists (the spec's EntityTagList), `W/` kept apart; null for `*`. */
function listedTags (header: string): Array<{ weak: boolean, opaque: string }> | null {
  if (header.trim() === '*') return null
  return [...header.matchAll(/(W\/)?"([^"]*)"/g)].map(([, weak, opaque]) => ({ weak: weak !== undefined, opaque: opaque! }))
}

/**
 * If-None-Match holds when `tag`, a current strong tag (quoted), is listed (RFC 9110 §13.1.2, weak comparison: `W/`
 * ignored) or the list is `*`; a GET then answers 304.
 */
export function noneMatches (header: string | undefined, tag: string): boolean {
  if (header === undefined) return false
  const current = tag.slice(1, -1)
  return listedTags(header)?.some(({ opaque }) => opaque === current) ?? true
}

/** If-None-Match on a conversation at a version. */
export function noneMatchHolds (header: string | undefined, id: number, version: number): boolean {
  return noneMatches(header, entityTag(id, version))
}

/**
 * The versions of conversation `id` a write may proceed on, read from If-Match (strong comparison: weak tags
 * never match, and tags of other conversations name none of its versions); undefined when the write is
 * unconditional (no If-Match, or `*`, which any existing conversation meets). An empty list matches no version.
 */
export function versionsMatching (header: string | undefined, id: number): number[] | undefined {
  if (header === undefined) return undefined
  const tags = listedTags(header)
  if (tags === null) return undefined
  const prefix = `${id}.`
  return tags.flatMap(({ weak, opaque }) => {
    if (weak || !opaque.startsWith(prefix)) return []
    const version = opaque.slice(prefix.length)
    // Versions are 32-bit integers in the store: a larger number names none, and never reaches the SQL.
    return /^[1-9]\d{0,9}$/.test(version) && isPositiveInt32(Number(version)) ? [Number(version)] : []
  })
}
