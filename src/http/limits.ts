// Bounds on what a client may send, where the app (src/app.ts), the error handler and the tests all read them.

/** The largest request body accepted, 1 MiB; past it, a 413 problem. */
export const BODY_LIMIT_BYTES = 1024 * 1024
