// search_messages' query language and snippets, the same on both stores (docs/api.md, "Search"). A query is read into
// terms here, in code, and each store is handed only words, never text its own syntax would parse: FTS5 gets each
// word inside a quoted string, PostgreSQL builds its tsquery from the words with its own parser (search_term in the
// migration). Words are split as the stores' tokenizers split them: runs of letters and digits.

/**
 * A word: letters with their combining marks, and decimal digits. Both stores' tokenizers keep these; SQLite's also keeps
 * other numbers (①, ²) and private-use characters, which PostgreSQL's parser drops, so a query treats those as it
 * treats punctuation, and finds the same rows on both.
 */
const WORD_CHAR = '[\\p{L}\\p{M}\\p{Nd}]'
const WORD = new RegExp(`${WORD_CHAR}+`, 'gu')
const IS_WORD_CHAR = new RegExp(`^${WORD_CHAR}$`, 'u')

/** A chunk of a query that ends in a word and then `*`: its last word is a prefix. */
const ENDS_IN_PREFIX = new RegExp(`${WORD_CHAR}\\*+$`, 'u')

/** The shortest prefix searched as one: a prefix of one letter would read every posting of the index. */
export const MIN_PREFIX_LENGTH = 2

/** One term of a query: a word, or the words of a phrase in order; the last one a prefix when `prefix`. */
export interface Term {
  words: string[]
  prefix: boolean
}

const wordsOf = (text: string): string[] => text.match(WORD) ?? []

/** A word as the stores compare it: lower case, without diacritics. */
const fold = (word: string): string => word.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()

function term (text: string, prefix: boolean): Term[] {
  const words = wordsOf(text)
  if (words.length === 0) return []
  const last = fold(words[words.length - 1]!)
  return [{ words, prefix: prefix && [...last].length >= MIN_PREFIX_LENGTH }]
}

/**
 * The terms of `q`: `"quoted phrases"` (with `*` after the closing quote, the last word a prefix), and chunks between
 * spaces, each a word or, when punctuation joins words (`foo-bar`, `example.com`), a phrase of them; a chunk ending in
 * `word*` ends in a prefix. A quote left open is text. What is not a word (punctuation, operators' signs) separates
 * words and is otherwise not searched, so a query of none finds nothing.
 */
export function parseQuery (q: string): Term[] {
  const terms: Term[] = []
  let at = 0
  while (at < q.length) {
    const char = q[at]!
    if (char === '"') {
      const close = q.indexOf('"', at + 1)
      if (close === -1) {
        at += 1
        continue
      }
      const prefix = q[close + 1] === '*'
      terms.push(...term(q.slice(at + 1, close), prefix))
      at = close + (prefix ? 2 : 1)
      continue
    }
    if (/\s/.test(char)) {
      at += 1
      continue
    }
    let end = at
    while (end < q.length && q[end] !== '"' && !/\s/.test(q[end]!)) end += 1
    const chunk = q.slice(at, end)
    terms.push(...term(chunk, ENDS_IN_PREFIX.test(chunk)))
    at = end
  }
  return terms
}

/** How much of a message a snippet shows, in characters (code points), and how far before the first match it starts. */
export const SNIPPET_LENGTH = 240
const SNIPPET_LEAD = 60
const ELLIPSIS = '…'

/** The most highlights one snippet carries (the spec's SearchHit.highlights maxItems). */
const MAX_HIGHLIGHTS = 100

export interface Snippet {
  snippet: string
  /** Code point offsets in `snippet`: start, and end not included. */
  highlights: Array<{ start: number, end: number }>
}

interface Span { start: number, end: number }

/** Where `terms` match in `text`, as UTF-16 spans of whole words, in order. */
function matches (text: string, terms: readonly Term[]): Span[] {
  const words = [...text.matchAll(WORD)].map((match) => ({ start: match.index, end: match.index + match[0].length, folded: fold(match[0]) }))
  const folded = terms.map(({ words: termWords, prefix }) => ({ words: termWords.map(fold), prefix }))
  const spans: Span[] = []
  for (let i = 0; i < words.length; i += 1) {
    let end = -1
    for (const { words: termWords, prefix } of folded) {
      if (i + termWords.length > words.length) continue
      const holds = termWords.every((word, k) => {
        const candidate = words[i + k]!.folded
        return prefix && k === termWords.length - 1 ? candidate.startsWith(word) : candidate === word
      })
      if (holds) end = Math.max(end, i + termWords.length - 1)
    }
    if (end === -1) continue
    // A phrase's words are highlighted one by one.
    for (let k = i; k <= end; k += 1) spans.push({ start: words[k]!.start, end: words[k]!.end })
    i = end
  }
  return spans
}

const codePoints = (text: string, from: number, to: number) => [...text.slice(from, to)].length

/**
 * A plain-text snippet of `text` around the first place `terms` match (its start when none does), at most
 * SNIPPET_LENGTH characters of it with whitespace runs as one space, `…` where it was cut, and the matched words in it.
 */
export function snippetOf (text: string, terms: readonly Term[]): Snippet {
  const first = matches(text, terms)[0]
  const chars = [...text]
  // Code point index of the first match, then a window around it (as much of the text as fits, so a short text is
  // shown whole), narrowed to whole words at both ends.
  let start = first === undefined ? 0 : Math.max(0, Math.min(codePoints(text, 0, first.start) - SNIPPET_LEAD, chars.length - SNIPPET_LENGTH))
  let end = Math.min(chars.length, start + SNIPPET_LENGTH)
  const isWordChar = (i: number) => i >= 0 && i < chars.length && IS_WORD_CHAR.test(chars[i]!)
  while (start < end && isWordChar(start) && isWordChar(start - 1)) start += 1
  let cut = end
  while (cut > start && cut < chars.length && isWordChar(cut) && isWordChar(cut - 1)) cut -= 1
  // One word longer than the window is cut inside it rather than left out.
  if (cut > start) end = cut
  const body = chars.slice(start, end).join('').replace(/\s+/g, ' ').trim()
  const snippet = `${start > 0 ? ELLIPSIS : ''}${body}${end < chars.length ? ELLIPSIS : ''}`
  const highlights = matches(snippet, terms).slice(0, MAX_HIGHLIGHTS).map(({ start: from, end: to }) => ({
    start: codePoints(snippet, 0, from),
    end: codePoints(snippet, 0, to),
  }))
  return { snippet, highlights }
}
