// Assembles the server: content types, errors, health, and one route per spec operation.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { registerApiRoutes, type Contract } from './contract/routes.js'
import { handleClientError, registerBareAnswers } from './http/connection-errors.js'
import { registerContentTypes } from './http/content-types.js'
import { registerCors } from './http/cors.js'
import { prepareDatabase } from './store/database.js'
import { registerDraining } from './http/draining.js'
import { registerDocs } from './http/docs.js'
import { handleError, registerErrorHandling } from './http/error-handler.js'
import { registerAuthentication, type AuthOptions } from './http/auth.js'
import { registerRateLimit, type RateLimitOptions } from './http/rate-limit.js'
import { specPaths } from './http/served-spec.js'
import { createV1Handlers } from './handlers/v1.js'
import { createV2Handlers } from './handlers/v2.js'
import { registerHealthRoutes, registerOpeningGate } from './http/health.js'
import { DEFAULT_MAX_EVENT_LOOP_DELAY_MS, registerLoadShedding } from './http/load-shedding.js'
import { BODY_LIMIT_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, NDJSON_BODY_LIMIT_BYTES } from './http/limits.js'
import { registerMetrics, type MetricsListener } from './http/metrics.js'
import { RequestLog } from './http/request-log.js'
import type { ChunkOptions } from './store/chunks.js'
import { createRepositories, fullListsOn } from './store/repositories.js'
import { DEFAULT_RETENTION_SWEEP_INTERVAL_MS, sweepExpiredConversations } from './store/retention.js'
import { createIdempotencyKeyStore, DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS, DEFAULT_SWEEP_INTERVAL_MS, sweepExpiredKeys } from './store/idempotency-keys.js'
import { apiBasePath, committedSpec, CONTRACT_VERSIONS, createOpenApi, storeLimits, type ContractVersion, type SpecSource } from './contract/spec.js'

export interface AppOptions {
  databaseUrl: string
  /** PostgreSQL connections per process (default DEFAULT_POOL_SIZE, src/store/database.ts). */
  poolSize?: number
  /** A direct PostgreSQL URL for migrations, when databaseUrl goes through PgBouncer. */
  databaseDirectUrl?: string
  /** How long opening the database retries an unreachable PostgreSQL (default DEFAULT_CONNECT_TIMEOUT_S, src/store/database.ts). */
  connectTimeoutMs?: number
  logger?: FastifyServerOptions['logger']
  /** Longest a client may take to send a whole request (headers and body) before a 408 (default DEFAULT_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number
  /** Origins allowed to call the API from a browser (CORS); none by default. */
  corsOrigins?: string[]
  /** Reverse proxies whose X-Forwarded-For names the client (addresses, CIDR ranges); none by default. */
  trustProxy?: string[]
  /** Mean event-loop lag (ms) past which API requests get a 503; 0 turns it off (default DEFAULT_MAX_EVENT_LOOP_DELAY_MS). */
  maxEventLoopDelayMs?: number
  /** Bearer tokens: none required by default (mode `none`). */
  auth?: AuthOptions
  /** Per-caller request budgets; none by default. */
  rateLimit?: RateLimitOptions
  /** OpenTelemetry traces (src/http/tracing.ts), set up from the OTEL_* variables; off by default, and then not loaded. */
  tracing?: boolean
  /** Serve /metrics on a listener of its own, opened when the app is ready, instead of on the API's port. */
  metricsListener?: MetricsListener
  /** How long an Idempotency-Key's answer is kept at least (default DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS). */
  idempotencyKeyTtlMs?: number
  /** How often keys past their TTL are swept (default DEFAULT_SWEEP_INTERVAL_MS). */
  idempotencySweepIntervalMs?: number
  /** Days without activity after which a conversation expires (RETENTION_DAYS); never by default. */
  retentionDays?: number
  /** How often expired conversations are deleted (default DEFAULT_RETENTION_SWEEP_INTERVAL_MS). */
  retentionSweepIntervalMs?: number
  /** A contract version's document to serve instead of its committed one, openapi/<version>.yaml (tests pass variants). */
  spec?: SpecSource
  /** @internal How full lists are chunked (src/store/chunks.ts); tests make chunks small and step between them. */
  listChunks?: Partial<ChunkOptions>
}

// A client's X-Request-Id is kept when it is a sane token, so their logs and ours line up.
const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/

function requestId (request: IncomingMessage): string {
  const fromClient = request.headers['x-request-id']
  return typeof fromClient === 'string' && CLIENT_REQUEST_ID.test(fromClient) ? fromClient : randomUUID()
}

export interface App {
  fastify: FastifyInstance
  /**
   * Migrates and connects the store, waiting for a PostgreSQL that is not up yet. Until it is done, /readyz
   * and the API answer 503, so src/server.ts listens first and opens after: /healthz answers meanwhile.
   */
  openDatabase (): Promise<void>
}

/** The app, its store opened: what tests and in-process users want. */
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const { fastify, openDatabase } = await assembleApp(options)
  await openDatabase()
  return fastify
}

/** The app with its store not opened yet. */
export async function assembleApp (options: AppOptions): Promise<App> {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const fastify = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // A slow sender (slowloris) holds a socket at most this long; Node checks the deadline on an interval,
    // so the interval shrinks with the timeout to keep the cut-off close to it.
    requestTimeout: requestTimeoutMs,
    // requireHostHeader: Node's check answers a bare 400; src/http/connection-errors.ts makes it a problem.
    http: { requireHostHeader: false, headersTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeoutMs / 4))) },
    clientErrorHandler: handleClientError,
    genReqId: requestId,
    // Only named proxies: trusting any peer's X-Forwarded-For would let a client choose its own address,
    // and so its own rate-limit budget.
    trustProxy: options.trustProxy !== undefined && options.trustProxy.length > 0 ? options.trustProxy.join(',') : false,
    // Long enough that a 5000-digit id reaches validation (a 400 naming it) instead of the router's 414;
    // the whole URL stays bounded by Node's header size limit.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
    // src/http/draining.ts answers requests that arrive while closing, in the API's problem shape.
    return503OnClosing: false,
    // One line per request instead of fastify's two.
    logController: new RequestLog(),
    // fastify's router answers a malformed percent-encoding before any route or hook: make it a Problem too.
    frameworkErrors: (error, request, reply) => handleError(error, request, reply),
  })

  // Routing, validation, content types, CORS and the docs all work from the contract's documents, one per version.
  const specs = CONTRACT_VERSIONS.map((version) => options.spec?.version === version ? options.spec : committedSpec(version))
  // openapi-backend works on its own copy: the docs serve the document as written.
  const apis = await Promise.all(specs.map(async (spec) => ({ spec, basePath: apiBasePath(spec.document), api: await createOpenApi(structuredClone(spec.document)) })))

  // First: the request's span and its context wrap every hook added after it.
  if (options.tracing === true) {
    const { registerTracing } = await import('./http/tracing.js')
    await registerTracing(fastify, apis.map(({ spec, basePath }) => ({ version: spec.version, basePath })))
  }
  // The request hooks here and in src/http/ take `done` rather than being async: an async hook costs a promise
  // and a turn of the microtask queue on every request, whether or not it has anything to wait for.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id)
    done()
  })
  // Before the hooks that answer requests early, so those requests are counted too.
  registerMetrics(fastify, apis.map(({ spec, basePath }) => ({ version: spec.version, basePath })), options.metricsListener)
  registerBareAnswers(fastify)
  registerDraining(fastify)
  await registerCors(fastify, options.corsOrigins ?? [], specs.map(({ document }) => document))
  registerContentTypes(fastify, apis.map(({ api }) => api))
  registerErrorHandling(fastify)

  const database = await prepareDatabase(options.databaseUrl, {
    poolSize: options.poolSize, directUrl: options.databaseDirectUrl, connectTimeoutMs: options.connectTimeoutMs,
  })
  const keys = createIdempotencyKeyStore(database.prisma)
  let stopSweeping = async () => {}
  let stopRetention = async () => {}
  fastify.addHook('onClose', async () => {
    await Promise.all([stopSweeping(), stopRetention()])
    await database.close()
  })
  registerHealthRoutes(fastify, database)
  registerOpeningGate(fastify, database)
  const auth = options.auth ?? { mode: 'none' }
  const basePaths = apis.map(({ basePath }) => basePath)
  await registerAuthentication(fastify, auth, basePaths, basePaths.flatMap((basePath) => Object.values(specPaths(basePath))))
  // Before the routes, which it hooks as they are added.
  await registerRateLimit(fastify, options.rateLimit)
  // Before the database is opened: a spec the handlers do not match fails here, before any migration runs.
  const limits = storeLimits(Object.fromEntries(specs.map(({ version, document }) => [version, document])) as Record<ContractVersion, SpecSource['document']>)
  const fullLists = fullListsOn(database, options.listChunks)
  const repositories = createRepositories(database.prisma, database.provider, limits, { fullLists, retentionDays: options.retentionDays })
  const handlersOf = {
    v1: (basePath: string) => createV1Handlers(repositories.v1, basePath),
    v2: (basePath: string) => createV2Handlers(repositories.v2, basePath),
  } satisfies Record<ContractVersion, (basePath: string) => object>
  const contracts: Contract[] = apis.map(({ spec, basePath, api }) => ({ api, basePath, handlers: handlersOf[spec.version](basePath) }))
  registerApiRoutes(fastify, contracts, {
    keys,
    bodyLimits: { json: BODY_LIMIT_BYTES, ndjson: NDJSON_BODY_LIMIT_BYTES },
    conversationOwner: auth.mode === 'jwt' ? (id) => repositories.v1.conversations.ownerOf(id) : undefined,
  })
  await registerDocs(fastify, apis.map(({ spec, basePath }) => ({ spec, basePath })))

  const log = { info: (message: string) => fastify.log.info(message), warn: (message: string) => fastify.log.warn(message) }
  // Last: its lag samples start here, so the start-up's own work (compiling the spec's validators)
  // does not count as load and shed the first requests.
  await registerLoadShedding(fastify, options.maxEventLoopDelayMs ?? DEFAULT_MAX_EVENT_LOOP_DELAY_MS)
  const openDatabase = async () => {
    await database.open(log)
    stopSweeping = sweepExpiredKeys(keys, options.idempotencyKeyTtlMs ?? DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS * 3600_000, options.idempotencySweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS, log)
    stopRetention = sweepExpiredConversations(repositories.retention, options.retentionSweepIntervalMs ?? DEFAULT_RETENTION_SWEEP_INTERVAL_MS, log)
  }
  return { fastify, openDatabase }
}
