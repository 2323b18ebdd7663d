// Test tokens, minted with jose: HS256 with a shared secret, and RS256/ES256 keys served as a JWKS by a tiny
// HTTP server of the test's own, whose keys a test can rotate.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose'
import type { AuthOptions } from '../src/http/auth.js'
import type { Request } from './helper.js'

interface Teardown { teardown (fn: () => unknown): void }

export const TEST_SECRET = 'test-secret-of-at-least-thirty-two-characters'
export const ISSUER = 'https://id.example.test/'
export const AUDIENCE = 'trackbot-test'

/** Auth options for an app that takes HS256 tokens signed with TEST_SECRET. */
export const secretAuth: AuthOptions = { mode: 'jwt', secret: TEST_SECRET }

export interface MintOptions {
  /** HS256 with this secret (default TEST_SECRET), unless `key` is given. */
  secret?: string
  key?: { privateKey: CryptoKey, alg: string, kid: string }
  /** Seconds from now; negative for an expired token. Default one hour; null: no `exp` at all. */
  expiresIn?: number | null
  issuer?: string
  audience?: string
}

export async function mint (claims: JWTPayload, options: MintOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const jwt = new SignJWT(claims).setIssuedAt(now - 60)
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 3600))
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer)
  if (options.audience !== undefined) jwt.setAudience(options.audience)
  if (options.key !== undefined) return await jwt.setProtectedHeader({ alg: options.key.alg, kid: options.key.kid }).sign(options.key.privateKey)
  return await jwt.setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(options.secret ?? TEST_SECRET))
}

/** A token acting as user `userId`. */
export const userToken = (userId: number, options?: MintOptions) => mint({ sub: String(userId) }, options)

/** A token with the admin scope, acting for no one user. */
export const adminToken = (options?: MintOptions) => mint({ sub: 'backend', scope: 'trackbot:admin' }, options)

/** An `alg: none` token (RFC 7519 §6): no signature at all. */
export function unsecuredToken (claims: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}.`
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** Headers with an admin token of a subject no other test (or earlier run, in a shared Redis) has used. */
export const freshAdmin = async () => bearer(await mint({ sub: `test-${randomUUID()}`, scope: 'trackbot:admin' }))

export interface SigningKey { privateKey: CryptoKey, publicKey: CryptoKey, alg: string, kid: string }

export async function signingKey (alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return { privateKey, publicKey, alg, kid }
}

export interface Jwks {
  url: string
  /** The keys served from now on. */
  serve (keys: SigningKey[]): Promise<void>
  /** How many times the server fetched the set. */
  fetches: number
}

/** A JWKS endpoint on 127.0.0.1, closed when the test ends. */
export async function startJwks (t: Teardown, keys: SigningKey[]): Promise<Jwks> {
  let body = ''
  const jwks: Jwks = {
    url: '',
    fetches: 0,
    async serve (served) {
      const jwk = await Promise.all(served.map(async (key) => ({ ...await exportJWK(key.publicKey), alg: key.alg, kid: key.kid, use: 'sig' })))
      body = JSON.stringify({ keys: jwk })
    },
  }
  const server = createServer((request, response) => {
    jwks.fetches++
    response.writeHead(200, { 'content-type': 'application/json' }).end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  jwks.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  await jwks.serve(keys)
  return jwks
}

/** `request` with a bearer token on every call (none: `request` itself). */
export function withToken (request: Request, token: string | undefined): Request {
  if (token === undefined) return request
  return (method, url, options = {}) => request(method, url, { ...options, headers: { ...bearer(token), ...options.headers } })
}

/**
 * The two ways the fuzzers run every operation: as today, and with tokens required, sending an admin token
 * (which reaches every user's data, so the cases stay what they are).
 */
export const AUTH_MODES = [
  { name: 'AUTH_MODE=none', options: {}, token: async (): Promise<string | undefined> => undefined },
  { name: 'AUTH_MODE=jwt, admin token', options: { auth: secretAuth }, token: async (): Promise<string | undefined> => await adminToken() },
] as const
