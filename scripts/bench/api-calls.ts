// Requests a client script makes to a server under test, through its HTTP API (the history scenario's seeding, and
// what users do instead of a fork, an export or an import), each checked against the status it must answer: an answer
// of any other status throws, so that a figure is never taken from a run that did not do the work.

/** An answer of another status than the request's: the run fails on it. */
export class UnexpectedAnswer extends Error {
  constructor (message: string, readonly status: number, readonly retryAfter: string | null) {
    super(message)
  }
}

export interface Answer<T> {
  body: T
  /** The body's bytes, as received. */
  bytes: number
  /** The request body's bytes, as sent. */
  sent: number
  headers: Headers
}

/** Throws UnexpectedAnswer, with the start of the body (a problem says what was wrong), unless `expected`. */
export async function checkStatus (response: Response, method: string, path: string, expected: number): Promise<void> {
  if (response.status === expected) return
  const text = await response.text().catch(() => '')
  throw new UnexpectedAnswer(`${method} ${path} answered ${response.status}, not ${expected}: ${text.slice(0, 300)}`, response.status, response.headers.get('retry-after'))
}

/** A request (`body`, when given, sent as its text with its media type) and its JSON answer. */
async function send<T> (origin: string, method: 'GET' | 'POST', path: string, expected: number, body?: { type: string, text: string }): Promise<Answer<T>> {
  const response = await fetch(origin + path, {
    method,
    ...body === undefined ? {} : { headers: { 'content-type': body.type }, body: body.text },
  })
  await checkStatus(response, method, path, expected)
  const bytes = Buffer.from(await response.arrayBuffer())
  return { body: JSON.parse(bytes.toString('utf8')) as T, bytes: bytes.length, sent: body === undefined ? 0 : Buffer.byteLength(body.text), headers: response.headers }
}

/** A JSON request (`body`, when given, sent as JSON) and its JSON answer. */
export function call<T> (origin: string, method: 'GET' | 'POST', path: string, expected: number, body?: unknown): Promise<Answer<T>> {
  return send<T>(origin, method, path, expected, body === undefined ? undefined : { type: 'application/json', text: JSON.stringify(body) })
}

/** A POST of NDJSON, `lines` its body as they are, and its JSON answer. */
export function postLines<T> (origin: string, path: string, expected: number, lines: string): Promise<Answer<T>> {
  return send<T>(origin, 'POST', path, expected, { type: 'application/x-ndjson', text: lines })
}

/** The path of a page's `Link: <...>; rel="next"`, or undefined on the last page. */
export function nextPage (headers: Headers): string | undefined {
  return /<([^>]+)>\s*;\s*rel="next"/.exec(headers.get('link') ?? '')?.[1]
}
