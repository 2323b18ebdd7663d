// Configuration from the environment, checked once at start so a bad value fails loudly and early.
import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { isIP } from 'node:net'
import { dirname } from 'node:path'
import { DEFAULT_USER_CLAIM, type AuthOptions } from './http/auth.js'
import { DEFAULT_REQUEST_TIMEOUT_MS } from './http/limits.js'
import type { RateLimitOptions } from './http/rate-limit.js'
import { DEFAULT_MAX_EVENT_LOOP_DELAY_MS } from './http/load-shedding.js'
import { DEFAULT_CONNECT_TIMEOUT_S, DEFAULT_POOL_SIZE } from './store/database.js'
import { DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS } from './store/idempotency-keys.js'
import { pgbouncerParam, providerOf, redact, sqliteFile } from './store/database-url.js'

export interface Config {
  port: number
  host: string
  databaseUrl: string
  /** A direct PostgreSQL URL (a session) for migrations and their lock, when databaseUrl goes through PgBouncer. */
  databaseDirectUrl: string | undefined
  /** How long start-up retries an unreachable PostgreSQL before giving up. */
  connectTimeoutS: number
  /** PostgreSQL connections per process. */
  poolSize: number
  logLevel: string
  /** `json` lines for machines, `pretty` for a developer's terminal (needs the pino-pretty dev dependency). */
  logFormat: 'json' | 'pretty'
  /** Origins allowed to call the API from a browser; empty means CORS is off. */
  corsOrigins: string[]
  /**
   * Addresses of the reverse proxies in front of us, whose X-Forwarded-For names the client (its address is
   * then what rate limits count a caller without a token by); empty: every peer is the client.
   */
  trustProxy: string[]
  /** Longest a client may take to send a whole request. */
  requestTimeoutMs: number
  /** Mean event-loop lag past which API requests are shed with a 503; 0 is off. */
  maxEventLoopDelayMs: number
  /** Bearer tokens required (mode `jwt`) or not (`none`), and how to verify them. */
  auth: AuthOptions
  /** Per-caller request budgets; undefined when off. */
  rateLimit: RateLimitOptions | undefined
  /** How long an Idempotency-Key's answer is kept, at least, before it is swept. */
  idempotencyKeyTtlHours: number
  /** Days without activity after which a conversation expires and is deleted; undefined: never. */
  retentionDays: number | undefined
  /** OpenTelemetry traces on (OTEL_TRACES_EXPORTER=otlp); its SDK reads the other OTEL_* variables itself. */
  tracing: boolean
  /** A port of its own for /metrics, on HOST, so it need not be exposed with the API; undefined: on PORT. */
  metricsPort: number | undefined
}

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export const DEFAULT_DATABASE_URL = 'file:./data/trackbot.db'

function port (value: string | undefined): number {
  if (value === undefined || value === '') return 8080
  const number = Number(value)
  if (!/^\d+$/.test(value) || number > 65535) throw new ConfigError(`PORT must be an integer from 0 to 65535, got "${value}"`)
  return number
}

function databaseUrl (value: string | undefined): string {
  if (value === undefined || value === '') return DEFAULT_DATABASE_URL
  if (!/^(file|postgres|postgresql):/.test(value)) {
    throw new ConfigError(`DATABASE_URL must be a file: URL (SQLite, e.g. ${DEFAULT_DATABASE_URL}) or a postgresql:// URL, got "${redact(value)}"`)
  }
  if (providerOf(value) === 'sqlite') checkWritableDirectory(value)
  checkPgbouncerParam('DATABASE_URL', value)
  return value
}

// A misspelt value would silently keep named prepared statements, which fail behind PgBouncer.
function checkPgbouncerParam (variable: string, url: string): void {
  const pgbouncer = pgbouncerParam(url)
  if (pgbouncer !== undefined && pgbouncer !== 'true' && pgbouncer !== 'false') {
    throw new ConfigError(`${variable}'s pgbouncer parameter must be true or false, got "${pgbouncer}"`)
  }
}

function databaseDirectUrl (value: string | undefined, url: string): string | undefined {
  if (value === undefined || value === '') return undefined
  if (providerOf(url) !== 'postgres') throw new ConfigError('DATABASE_DIRECT_URL is for a PostgreSQL DATABASE_URL only; unset it for SQLite')
  if (providerOf(value) !== 'postgres') throw new ConfigError(`DATABASE_DIRECT_URL must be a postgresql:// URL, got "${redact(value)}"`)
  checkPgbouncerParam('DATABASE_DIRECT_URL', value)
  return value
}

/**
 * The SQLite file's directory (or the nearest existing parent, where it will be created) must be
 * writable: otherwise the first write, not the start, would fail.
 */
function checkWritableDirectory (url: string): void {
  const file = sqliteFile(url)
  let dir = dirname(file)
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
  if (!statSync(dir).isDirectory()) throw new ConfigError(`DATABASE_URL points at ${file}, but ${dir} is not a directory`)
  try {
    // SQLite writes its -wal and -shm files beside the database, so the directory itself must be writable.
    accessSync(dir, constants.W_OK | constants.X_OK)
    if (existsSync(file)) accessSync(file, constants.R_OK | constants.W_OK)
  } catch {
    throw new ConfigError(`DATABASE_URL points at ${file}, but ${existsSync(file) ? 'that file' : `the directory ${dir}`} is not writable by this process`)
  }
}

function poolSize (value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_POOL_SIZE
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 1 || number > 1000) throw new ConfigError(`DATABASE_POOL_SIZE must be an integer from 1 to 1000, got "${value}"`)
  return number
}

function connectTimeoutS (value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_CONNECT_TIMEOUT_S
  const number = Number(value)
  if (!/^\d+$/.test(value) || number > 3600) throw new ConfigError(`DATABASE_CONNECT_TIMEOUT_S must be an integer from 0 to 3600, got "${value}"`)
  return number
}

function logLevel (value: string | undefined): string {
  if (value === undefined || value === '') return 'info'
  if (!LOG_LEVELS.includes(value)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`)
  return value
}

function logFormat (value: string | undefined): Config['logFormat'] {
  if (value === undefined || value === '') return 'json'
  if (value !== 'json' && value !== 'pretty') throw new ConfigError(`LOG_FORMAT must be json or pretty, got "${value}"`)
  return value
}

function corsOrigins (value: string | undefined): string[] {
  const origins = (value ?? '').split(',').map((origin) => origin.trim()).filter((origin) => origin !== '')
  for (const origin of origins) {
    if (origin === '*') continue
    let parsed: URL | undefined
    try { parsed = new URL(origin) } catch {}
    if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(`CORS_ORIGINS must be a comma-separated list of origins like https://chat.example.com (scheme, host, optional port, no path) or *, got "${origin}"`)
    }
  }
  return origins
}

// proxy-addr's names for address ranges (fastify's trustProxy hands the list to it).
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal']

function trustProxy (value: string | undefined): string[] {
  const entries = (value ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  for (const entry of entries) {
    if (PROXY_RANGE_NAMES.includes(entry)) continue
    const [address = '', prefix, ...rest] = entry.split('/')
    const version = isIP(address)
    const bits = version === 4 ? 32 : 128
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits)
    if (version === 0 || !prefixOk || rest.length > 0) {
      throw new ConfigError(`TRUST_PROXY must be a comma-separated list of proxy addresses or CIDR ranges (e.g. 10.0.0.0/8,::1) or ${PROXY_RANGE_NAMES.join(', ')}, got "${entry}"`)
    }
  }
  return entries
}

function requestTimeoutMs (value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_REQUEST_TIMEOUT_MS
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 100 || number > 3_600_000) throw new ConfigError(`REQUEST_TIMEOUT_MS must be an integer from 100 to 3600000, got "${value}"`)
  return number
}

function maxEventLoopDelayMs (value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_MAX_EVENT_LOOP_DELAY_MS
  const number = Number(value)
  if (!/^\d+$/.test(value) || number > 3_600_000) throw new ConfigError(`MAX_EVENT_LOOP_DELAY_MS must be an integer from 0 (off) to 3600000, got "${value}"`)
  return number
}

const set = (value: string | undefined): value is string => value !== undefined && value !== ''

// HS256's key is as strong as the secret: RFC 7518 §3.2 asks for at least the hash's 256 bits.
const MIN_SECRET_LENGTH = 32

function httpUrl (variable: string, value: string): string {
  let parsed: URL | undefined
  try { parsed = new URL(value) } catch {}
  if (parsed === undefined || !/^https?:$/.test(parsed.protocol)) throw new ConfigError(`${variable} must be an http:// or https:// URL, got "${value}"`)
  return value
}

function auth (env: NodeJS.ProcessEnv): AuthOptions {
  const mode = env.AUTH_MODE || 'none'
  if (mode !== 'none' && mode !== 'jwt') throw new ConfigError(`AUTH_MODE must be none or jwt, got "${mode}"`)
  const settings = ['AUTH_JWT_SECRET', 'AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_USER_CLAIM'] as const
  if (mode === 'none') {
    // Keys configured but not required would leave the API open to someone who believes it is closed.
    const stray = settings.filter((variable) => set(env[variable]))
    if (stray.length > 0) throw new ConfigError(`${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} set but AUTH_MODE is none: set AUTH_MODE=jwt to require tokens, or unset ${stray.length === 1 ? 'it' : 'them'}`)
    return { mode }
  }
  const secret = env.AUTH_JWT_SECRET
  const jwksUrl = env.AUTH_JWKS_URL
  if (!set(secret) && !set(jwksUrl)) throw new ConfigError('AUTH_MODE=jwt needs a key to verify tokens with: AUTH_JWT_SECRET (HS256) and/or AUTH_JWKS_URL (RS256/ES256)')
  if (set(secret) && secret.length < MIN_SECRET_LENGTH) throw new ConfigError(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_LENGTH} characters, got ${secret.length}`)
  const userClaim = env.AUTH_USER_CLAIM || DEFAULT_USER_CLAIM
  if (!/^[\w.:-]{1,100}$/.test(userClaim)) throw new ConfigError(`AUTH_USER_CLAIM must be a claim name (letters, digits, _ . : -), got "${userClaim}"`)
  return {
    mode,
    secret: set(secret) ? secret : undefined,
    jwksUrl: set(jwksUrl) ? httpUrl('AUTH_JWKS_URL', jwksUrl) : undefined,
    issuer: env.AUTH_ISSUER || undefined,
    audience: env.AUTH_AUDIENCE || undefined,
    userClaim,
  }
}

function rateLimit (env: NodeJS.ProcessEnv): RateLimitOptions | undefined {
  const value = env.RATE_LIMIT_PER_MINUTE
  const redisUrl = env.REDIS_URL
  if (!set(value)) {
    if (set(redisUrl)) throw new ConfigError('REDIS_URL is set but RATE_LIMIT_PER_MINUTE is not: Redis holds the rate limits\' counts only; set both or neither')
    return undefined
  }
  const perMinute = Number(value)
  if (!/^\d+$/.test(value) || perMinute < 1 || perMinute > 1_000_000) throw new ConfigError(`RATE_LIMIT_PER_MINUTE must be an integer from 1 to 1000000, or empty for no limit, got "${value}"`)
  if (set(redisUrl) && !/^rediss?:\/\/[^/]/.test(redisUrl)) throw new ConfigError(`REDIS_URL must be a redis:// or rediss:// URL, got "${redact(redisUrl)}"`)
  return { perMinute, redisUrl: set(redisUrl) ? redisUrl : undefined }
}

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc']
const TRACE_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']

/**
 * Traces are on with OTEL_TRACES_EXPORTER=otlp, unless OTEL_SDK_DISABLED=true. OpenTelemetry's SDK reads the OTEL_*
 * variables itself (src/http/tracing.ts) and falls back to its defaults on a value it does not know; the ones that
 * decide where spans go and which are kept are checked here, so a typo fails the start instead of losing traces.
 * Only when tracing is on: a platform may set them for every service it runs.
 */
function tracing (env: NodeJS.ProcessEnv): boolean {
  const disabled = (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase()
  if (disabled !== '' && disabled !== 'true' && disabled !== 'false') throw new ConfigError(`OTEL_SDK_DISABLED must be true or false, got "${env.OTEL_SDK_DISABLED}"`)
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim()
  if (exporter !== '' && exporter !== 'none' && exporter !== 'otlp') throw new ConfigError(`OTEL_TRACES_EXPORTER must be otlp (traces on) or none (off, the default), got "${exporter}"`)
  if (exporter !== 'otlp' || disabled === 'true') return false
  const protocols = { OTEL_EXPORTER_OTLP_PROTOCOL: env.OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL }
  for (const [variable, value] of Object.entries(protocols)) {
    if (set(value) && !OTLP_PROTOCOLS.includes(value.trim())) throw new ConfigError(`${variable} must be ${OTLP_PROTOCOLS.join(', ')} or empty, got "${value}"`)
  }
  if (set(env.OTEL_EXPORTER_OTLP_ENDPOINT)) httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', env.OTEL_EXPORTER_OTLP_ENDPOINT.trim())
  if (set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.trim())
  const sampler = (env.OTEL_TRACES_SAMPLER ?? '').trim()
  if (sampler !== '' && !TRACE_SAMPLERS.includes(sampler)) throw new ConfigError(`OTEL_TRACES_SAMPLER must be one of ${TRACE_SAMPLERS.join(', ')}, got "${sampler}"`)
  const ratio = (env.OTEL_TRACES_SAMPLER_ARG ?? '').trim()
  if (sampler.endsWith('traceidratio') && ratio !== '' && !(Number(ratio) >= 0 && Number(ratio) <= 1)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1 (the share of traces kept), got "${ratio}"`)
  }
  return true
}

function idempotencyKeyTtlHours (value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 1 || number > 8760) throw new ConfigError(`IDEMPOTENCY_KEY_TTL_HOURS must be an integer from 1 to 8760 (a year), got "${value}"`)
  return number
}

function retentionDays (value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 1 || number > 36500) throw new ConfigError(`RETENTION_DAYS must be an integer from 1 to 36500 (a hundred years), or empty to keep conversations until deleted, got "${value}"`)
  return number
}

function metricsPort (value: string | undefined, apiPort: number): number | undefined {
  if (value === undefined || value === '') return undefined
  const number = Number(value)
  // 0 would pick a port no scraper could be told of.
  if (!/^\d+$/.test(value) || number < 1 || number > 65535) throw new ConfigError(`METRICS_PORT must be an integer from 1 to 65535, or empty to serve /metrics on PORT, got "${value}"`)
  if (number === apiPort) throw new ConfigError(`METRICS_PORT must differ from PORT (${apiPort}); leave it empty to serve /metrics on PORT`)
  return number
}

export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const url = databaseUrl(env.DATABASE_URL)
  const apiPort = port(env.PORT)
  return {
    port: apiPort,
    host: env.HOST || '0.0.0.0',
    databaseUrl: url,
    databaseDirectUrl: databaseDirectUrl(env.DATABASE_DIRECT_URL, url),
    connectTimeoutS: connectTimeoutS(env.DATABASE_CONNECT_TIMEOUT_S),
    poolSize: poolSize(env.DATABASE_POOL_SIZE),
    logLevel: logLevel(env.LOG_LEVEL),
    logFormat: logFormat(env.LOG_FORMAT),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    trustProxy: trustProxy(env.TRUST_PROXY),
    requestTimeoutMs: requestTimeoutMs(env.REQUEST_TIMEOUT_MS),
    maxEventLoopDelayMs: maxEventLoopDelayMs(env.MAX_EVENT_LOOP_DELAY_MS),
    auth: auth(env),
    rateLimit: rateLimit(env),
    idempotencyKeyTtlHours: idempotencyKeyTtlHours(env.IDEMPOTENCY_KEY_TTL_HOURS),
    retentionDays: retentionDays(env.RETENTION_DAYS),
    tracing: tracing(env),
    metricsPort: metricsPort(env.METRICS_PORT, apiPort),
  }
}
