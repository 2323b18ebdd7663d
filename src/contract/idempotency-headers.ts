// The names of Idempotency-Key's headers, apart from src/contract/idempotency.ts so that the handler types, CORS and
// the replies can name them without depending on how keyed requests are answered.

/** The request header a retry-safe create takes (the IETF httpapi draft "The Idempotency-Key HTTP Header Field"). */
export const IDEMPOTENCY_KEY = 'Idempotency-Key'

/** What a replayed answer carries beside the first answer's own headers (Stripe's name for it). */
export const REPLAYED_HEADER = 'Idempotent-Replayed'
