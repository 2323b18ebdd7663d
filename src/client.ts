// A typed client for the Trackbot API: openapi-fetch driven by the types generated from a contract version's
// spec, so a call that does not match the contract does not compile. Imported by users as `trackbot/client` (v1)
// and `trackbot/client/v2` (client-v2.ts).
import createClient, { type Client } from 'openapi-fetch'
import type { components, operations, paths } from '../generated/v1.js'

export type { components, operations, paths }
export type User = components['schemas']['User']
export type Conversation = components['schemas']['Conversation']
export type Message = components['schemas']['Message']
export type Problem = components['schemas']['Problem']

export type TrackbotClient = Client<paths>

export interface TrackbotClientOptions {
  /** The API root, path included: `http://localhost:8080/api/v1` (`/api/v2` for the v2 client). */
  baseUrl: string
  /** A fetch to use instead of the global one, e.g. to add tracing or to record responses. */
  fetch?: (request: Request) => Promise<Response>
  /** Headers sent with every request, e.g. `{ 'X-Request-Id': '…' }`. */
  headers?: Record<string, string>
  /**
   * A bearer token for a server with AUTH_MODE=jwt, or a function giving the current one before each request
   * (for tokens that are refreshed as they expire).
   */
  token?: string | (() => string | Promise<string>)
}

/** A v1 client. */
export function createTrackbotClient (options: TrackbotClientOptions): TrackbotClient {
  return createVersionClient<paths>(options)
}

/** A client of the contract version whose generated `paths` it is given. */
export function createVersionClient<Paths extends object> (options: TrackbotClientOptions): Client<Paths> {
  const client = createClient<Paths>({
    baseUrl: options.baseUrl,
    fetch: options.fetch,
    headers: options.headers,
  })
  const { token } = options
  if (token !== undefined) {
    client.use({
      async onRequest ({ request }) {
        request.headers.set('Authorization', `Bearer ${typeof token === 'string' ? token : await token()}`)
        return request
      },
    })
  }
  return client
}

const LINK_VALUE = /<([^>]*)>((?:\s*;\s*[^;,]+)*)/g

/**
 * The cursor for the next page of a list, read from its `Link: <…>; rel="next"` header (RFC 8288), or
 * undefined on the last page. Pass it back as `query: { limit, cursor }`.
 */
export function nextCursor (response: Response): string | undefined {
  const header = response.headers.get('link')
  if (header === null) return undefined
  for (const [, target, params] of header.matchAll(LINK_VALUE)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params ?? '')
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/)
    if (relations.includes('next')) {
      // Relative to the response's own URL, as RFC 8288 resolves link targets.
      return new URL(target ?? '', response.url || 'http://localhost').searchParams.get('cursor') ?? undefined
    }
  }
  return undefined
}
