// Bearer tokens (RFC 6750) when AUTH_MODE=jwt: every API request (any version's) but the served spec needs a JWT that
// jose verifies, HS256 with our shared secret and/or RS256/ES256 with a key of the identity provider's JWKS.
// What a verified caller may reach is src/contract/access.ts's rule.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { JWTPayload, JWTVerifyGetKey } from 'jose'
import { ADMIN_SCOPE, type Identity } from '../contract/access.js'
import { problem, unavailable } from '../contract/problems.js'
import { sendProblem, sendProblemAnswer } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'
import { isUnder } from '../contract/spec.js'
import { isPositiveInt32 } from '../int32.js'

export interface AuthOptions {
  mode: 'none' | 'jwt'
  /** HS256 key, for a backend of ours that mints tokens. */
  secret?: string
  /** The identity provider's JSON Web Key Set, for RS256/ES256 tokens. */
  jwksUrl?: string
  /** Required `iss`, when set. */
  issuer?: string
  /** Required in `aud`, when set. */
  audience?: string
  /** The claim holding the Trackbot user id (default DEFAULT_USER_CLAIM). */
  userClaim?: string
  /**
   * Least time between two fetches of the JWKS (a token with an unknown `kid` refetches it, so a rotated key is
   * found without a restart); the default, DEFAULT_JWKS_COOLDOWN_MS, bounds what a flood of made-up `kid`s costs the
   * provider.
   */
  jwksCooldownMs?: number
}

/** The claim holding the Trackbot user id unless AUTH_USER_CLAIM says otherwise: the token's subject. */
export const DEFAULT_USER_CLAIM = 'sub'

const DEFAULT_JWKS_COOLDOWN_MS = 30_000

/** Seconds of clock skew tolerated between the token's issuer and us on `exp`, `nbf` and `iat`. */
export const CLOCK_TOLERANCE_S = 30

/** A token that does not verify: the client's to fix, a 401. Anything else thrown means we could not check it. */
class TokenRejected extends Error {}

// jose's codes for tokens that are wrong in themselves; its other errors (the JWKS unreachable, timed out or
// malformed) are the identity provider's, and say nothing about the token.
const TOKEN_ERRORS: Record<string, string> = {
  ERR_JWT_EXPIRED: 'The token has expired.',
  ERR_JOSE_ALG_NOT_ALLOWED: 'The token\'s algorithm is not accepted.',
  ERR_JOSE_NOT_SUPPORTED: 'The token\'s algorithm is not accepted.',
  ERR_JWS_INVALID: 'The token is not a well-formed signed JWT.',
  ERR_JWT_INVALID: 'The token is not a well-formed signed JWT.',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'The token\'s signature does not verify.',
  ERR_JWKS_NO_MATCHING_KEY: 'No key of the identity provider matches the token.',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'No single key of the identity provider matches the token.',
}

function rejection (error: unknown): TokenRejected | undefined {
  if (error instanceof TokenRejected) return error
  const { code, claim } = error as { code?: unknown, claim?: unknown }
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return new TokenRejected(`The token's "${String(claim)}" claim is missing or not accepted.`)
  const detail = typeof code === 'string' ? TOKEN_ERRORS[code] : undefined
  return detail === undefined ? undefined : new TokenRejected(detail)
}

function userIdOf (claim: unknown): number | undefined {
  const id = typeof claim === 'string' && /^[1-9]\d{0,9}$/.test(claim) ? Number(claim) : claim
  return typeof id === 'number' && isPositiveInt32(id) ? id : undefined
}

/** OAuth's `scope` is one space-separated string (RFC 8693 §4.2); some providers send an array. */
function scopesOf (payload: JWTPayload): string[] {
  const { scope } = payload
  if (typeof scope === 'string') return scope.split(' ')
  return Array.isArray(scope) ? scope.filter((item): item is string => typeof item === 'string') : []
}

function identityOf (payload: JWTPayload, userClaim: string): Identity {
  const admin = scopesOf(payload).includes(ADMIN_SCOPE)
  const userId = userIdOf(payload[userClaim])
  if (userId === undefined && !admin) throw new TokenRejected(`The token's "${userClaim}" claim is not a Trackbot user id.`)
  return { userId, admin, subject: userId !== undefined ? `user:${userId}` : `sub:${String(payload.sub)}` }
}

/** Verifies a compact JWT; throws TokenRejected for a bad token, anything else when its keys are out of reach. */
export async function createTokenVerifier (options: AuthOptions): Promise<(token: string) => Promise<Identity>> {
  // Loaded only when tokens are on: jose's memory and start-up time are wasted on a server with AUTH_MODE=none
  // (the default), which never uses it.
  const { createRemoteJWKSet, jwtVerify } = await import('jose')
  // Imported once: given the bytes, jose imports a CryptoKey on every verify, work that is the same for every
  // token and as costly as the verify itself.
  const secret = options.secret === undefined
    ? undefined
    : crypto.subtle.importKey('raw', new TextEncoder().encode(options.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])
  const jwks = options.jwksUrl === undefined
    ? undefined
    : createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: options.jwksCooldownMs ?? DEFAULT_JWKS_COOLDOWN_MS, timeoutDuration: 5000 })
  // Each key for its own algorithms only: an HS256 token is never checked against a provider's public key
  // (the algorithm-confusion attack), an RS256 one never against the secret; `none` is in neither list.
  const algorithms = [...secret === undefined ? [] : ['HS256'], ...jwks === undefined ? [] : ['RS256', 'ES256']]
  if (algorithms.length === 0) throw new Error('AUTH_MODE=jwt needs AUTH_JWT_SECRET or AUTH_JWKS_URL')
  const key: JWTVerifyGetKey = async (header, token) => header.alg === 'HS256' ? await secret! : await jwks!(header, token)
  const userClaim = options.userClaim ?? DEFAULT_USER_CLAIM
  return async function verify (token) {
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: CLOCK_TOLERANCE_S,
        // A token without an expiry would stay valid for ever once leaked.
        requiredClaims: ['exp'],
      })
      return identityOf(payload, userClaim)
    } catch (error) {
      throw rejection(error) ?? error
    }
  }
}

const CHALLENGE = 'Bearer realm="trackbot"'
const BEARER = /^Bearer +(\S+) *$/i

interface Failure { detail: string, tokenSent: boolean }

/**
 * With mode `jwt`, API requests carry a verified identity (FastifyRequest.identity) or get a 401. Verifying
 * happens first (onRequest), refusing later (preParsing, before any body is read): the rate limit, a
 * route-level onRequest hook in between, then counts a caller by their token's subject, and counts requests
 * with bad tokens too, by address.
 */
export async function registerAuthentication (fastify: FastifyInstance, options: AuthOptions, basePaths: readonly string[], publicPaths: readonly string[]): Promise<void> {
  if (options.mode === 'none') return
  const verify = await createTokenVerifier(options)
  const open = new Set(publicPaths)
  const failures = new WeakMap<FastifyRequest, Failure>()
  const needsToken = (path: string) => basePaths.some((basePath) => isUnder(path, basePath)) && !open.has(path)

  fastify.addHook('onRequest', async (request, reply) => {
    if (!needsToken(requestPath(request))) return
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1]
    if (token === undefined) {
      failures.set(request, { detail: 'This API needs an Authorization: Bearer token.', tokenSent: false })
      return
    }
    try {
      request.identity = await verify(token)
    } catch (error) {
      if (error instanceof TokenRejected) {
        failures.set(request, { detail: error.message, tokenSent: true })
        return
      }
      request.log.warn({ err: error }, 'cannot fetch the identity provider\'s keys (AUTH_JWKS_URL)')
      return sendProblemAnswer(reply, unavailable('The server cannot check tokens right now; retry shortly.', requestPath(request)))
    }
  })

  // Not async (src/app.ts says why); answering here, without calling done, ends the request's hooks.
  fastify.addHook('preParsing', (request, reply, _payload, done) => {
    const failure = failures.get(request)
    if (failure === undefined) return done()
    // RFC 6750 §3: error_description may not hold a double quote or a backslash.
    const challenge = failure.tokenSent ? `${CHALLENGE}, error="invalid_token", error_description="${failure.detail.replace(/["\\]/g, "'")}"` : CHALLENGE
    sendProblem(reply, problem('unauthorized', failure.detail, requestPath(request)), { 'WWW-Authenticate': challenge })
  })
}
