// Bounds on what a client may send, where the app (src/app.ts), config, the error handler and the tests all read them.

/** The largest request body accepted, 1 MiB; past it, a 413 problem. */
export const BODY_LIMIT_BYTES = 1024 * 1024

/** The largest NDJSON request body accepted (an import of a user's history, import_user_data), 64 MiB; past it, a 413. */
export const NDJSON_BODY_LIMIT_BYTES = 64 * 1024 * 1024

/** Longest a client may take to send a whole request (headers and body) unless REQUEST_TIMEOUT_MS says otherwise; past it, a 408. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
