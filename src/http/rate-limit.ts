// Per-caller request budgets (RATE_LIMIT_PER_MINUTE), counted by token subject, or by client address for
// requests without a valid token; in Redis when REDIS_URL is set, so every instance draws on one budget,
// else in this process. The health endpoints and /metrics are never limited: a probe must see the server as it is.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { HEALTH_PATHS } from './health.js'
import { METRICS_PATH } from './metrics.js'

export interface RateLimitOptions {
  /** Requests per caller per minute. */
  perMinute: number
  /** A Redis shared by every instance; without it each process counts on its own. */
  redisUrl?: string
}

const WINDOW_MS = 60_000

/** Thrown by the plugin when a caller's budget is spent; src/http/error-handler.ts answers it with a 429 problem. */
export class TooManyRequests extends Error {
  readonly statusCode = 429
  constructor (readonly retryAfterS: number) {
    super(`Too many requests; retry in ${retryAfterS} seconds.`)
  }
}

/**
 * A Redis that is down or slow fails open: the request goes on uncounted, and the outage is logged once (and its
 * end). The limit guards the service against a greedy client; it holds no data, so while it cannot count, a 503
 * would turn a Redis outage into an outage of the whole API for every client, which is worse than a minute of
 * uncounted requests. Commands fail at once while disconnected (no offline queue) and after 500 ms when Redis
 * hangs, so a request waits at most that long on it. A command timing out is no client error, so a Redis that
 * hangs would go unlogged: a socket silent that long while a reply is awaited is ended with one, and reconnected.
 */
function connectRedis (RedisClient: typeof Redis, url: string, log: FastifyBaseLogger): Redis {
  const redis = new RedisClient(url, { connectTimeout: 500, commandTimeout: 500, socketTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: false })
  let down = false
  redis.on('error', (error: Error) => {
    if (down) return
    down = true
    log.warn({ err: error }, 'Redis (REDIS_URL) unreachable: rate limits are not enforced until it is back')
  })
  redis.on('ready', () => {
    if (!down) return
    down = false
    log.info('Redis (REDIS_URL) reachable again: rate limits enforced')
  })
  return redis
}

/**
 * Start-up waits this long for Redis's first connection: commands fail at once until it is made (no offline
 * queue), so without the wait the first requests after start would all go uncounted. A Redis that refuses
 * or does not answer by then is an outage like any later one: served uncounted, logged.
 */
const FIRST_CONNECTION_WAIT_MS = 5000

async function firstConnection (redis: Redis): Promise<void> {
  if (redis.status === 'ready') return
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      redis.off('ready', done)
      redis.off('error', done)
      resolve()
    }
    const timer = setTimeout(done, FIRST_CONNECTION_WAIT_MS)
    redis.once('ready', done)
    redis.once('error', done)
  })
}

/** Registered before the API routes, which the plugin hooks as they are added; after src/http/auth.ts's identifying hook. */
export async function registerRateLimit (fastify: FastifyInstance, options: RateLimitOptions | undefined): Promise<void> {
  if (options === undefined) return
  // Loaded only when limits are on: a process without them holds none of the plugin or of ioredis.
  const { default: rateLimit, normalizeIP } = await import('@fastify/rate-limit')
  const redis = options.redisUrl === undefined ? undefined : connectRedis((await import('ioredis')).Redis, options.redisUrl, fastify.log)
  if (redis !== undefined) {
    fastify.addHook('onClose', () => { redis.disconnect() })
    await firstConnection(redis)
  }
  const exempt = new Set<string>([...HEALTH_PATHS, METRICS_PATH])
  await fastify.register(rateLimit, {
    max: options.perMinute,
    timeWindow: WINDOW_MS,
    // The IETF draft's RateLimit-Limit, -Remaining, -Reset, and Retry-After on a 429.
    enableDraftSpec: true,
    allowList: (request) => exempt.has(request.routeOptions.url ?? ''),
    // An address alone is the budget of everyone behind it, so a verified caller is counted as themselves.
    keyGenerator: (request) => request.identity?.subject ?? `ip:${normalizeIP(request.ip)}`,
    redis,
    nameSpace: 'trackbot:rate-limit:',
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new TooManyRequests(Math.max(1, Math.ceil(context.ttl / 1000))),
  })
}
