// Prometheus metrics at GET /metrics (docs/operations.md#metrics lists them): what each request cost, by the
// operation it reached; the answers that refused a request, by why; the runtime's own figures. Outside the
// versioned API like /healthz: never rate limited, shed or behind the API's tokens, since an operator needs it
// most while the server is refusing clients. With METRICS_PORT it is served on a port of its own instead, so it
// need not be exposed with the API.
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { REPLAYED_HEADER } from '../contract/idempotency-headers.js'
import { httpProblem, PROBLEM_CONTENT_TYPE } from '../contract/problems.js'
import { requestPath } from '../contract/routes.js'
import { isUnder } from '../contract/spec.js'
import { databaseErrorKind } from '../store/prisma-errors.js'
import { HEALTH_PATHS } from './health.js'

export const METRICS_PATH = '/metrics'

/** Where /metrics is served when not on the API's port (METRICS_PORT, on the API's HOST). */
export interface MetricsListener { port: number, host: string }

/** Why a request was refused: see REFUSALS. */
type RefusalReason = 'idempotency_key_reused' | 'precondition_failed' | 'rate_limited' | 'load_shed' | 'database_unavailable' | 'unavailable' | 'storage_full'

/**
 * The refusals an operator watches, by status: each of these statuses is one problem type in this API
 * (src/contract/problems.ts), so the status says which. A 503 has several causes; its default is refined by
 * `refusalCauses` where the code that refused knows more.
 */
const REFUSALS: Partial<Record<number, RefusalReason>> = {
  412: 'precondition_failed',
  422: 'idempotency_key_reused',
  429: 'rate_limited',
  503: 'unavailable',
  507: 'storage_full',
}

/** 503s whose cause only the code answering them knows: status and problem type are those of every 503. */
const refusalCauses = new WeakMap<FastifyRequest, RefusalReason>()

/** Marks a request shed under load (src/http/load-shedding.ts), so its 503 is counted as such. */
export function markShed (request: FastifyRequest): void {
  refusalCauses.set(request, 'load_shed')
}

/**
 * OpenTelemetry's recommended boundaries for http.server.request.duration, in seconds: fine below 100 ms,
 * where most operations answer, and up to 10 s, past the 5 s an SQLite write may wait for its lock.
 */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

// OpenTelemetry's http.request.method: any other method is `_OTHER`, so a client cannot grow the label's values.
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'])

/** The route label of a request no route took: never its URL, which a client chooses. */
const UNMATCHED_ROUTE = 'unmatched'

/** A contract version and the path it is served under, for the api_version label. */
export interface ServedVersion { version: string, basePath: string }

interface RouteLabels { http_route: string, api_version: string, operation_id: string }
type RequestLabels = RouteLabels & { http_request_method: string, http_response_status_code: string }

/**
 * The runtime's figures (event-loop lag, heap, GC, CPU, file descriptors) describe the process, not an app: they
 * are collected once per process, into a registry of their own, whatever number of apps it runs (tests run many).
 * Each of prom-client's collectors holds a GC observer and an event-loop monitor for good; one set is enough.
 */
let runtimeRegistry: Registry | undefined

function runtimeMetrics (): Registry {
  if (runtimeRegistry === undefined) {
    runtimeRegistry = new Registry()
    collectDefaultMetrics({ register: runtimeRegistry })
  }
  return runtimeRegistry
}

/** The app's own metrics, in a registry of its own, so several apps in one process never share or clash. */
function createAppMetrics (registry: Registry) {
  const registers = [registry]
  return {
    // OpenTelemetry's http.server.request.duration and http.server.active_requests, in Prometheus' naming.
    duration: new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Time from a request\'s arrival to the end of its response (streamed bodies included), by route template, operationId and status.',
      labelNames: ['http_request_method', 'http_route', 'http_response_status_code', 'api_version', 'operation_id'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    active: new Gauge({
      name: 'http_server_active_requests',
      help: 'Requests received whose response has not ended yet.',
      registers,
    }),
    refusals: new Counter({
      name: 'trackbot_refusals_total',
      help: 'Requests refused, by reason: idempotency_key_reused (422), precondition_failed (412), rate_limited (429), load_shed, database_unavailable and unavailable (503), storage_full (507).',
      labelNames: ['reason'],
      registers,
    }),
    replays: new Counter({
      name: 'trackbot_idempotency_replays_total',
      help: 'Requests answered with the stored answer of an earlier request with the same Idempotency-Key (Idempotent-Replayed: true).',
      labelNames: ['api_version', 'operation_id'],
      registers,
    }),
  }
}

/** `{userId}` as the spec writes it, for fastify's `:userId`: OpenTelemetry's http.route is the template. */
const routeTemplate = (url: string) => url.replace(/:(\w+)/g, '{$1}')

/**
 * Counts every request, and serves the counts at /metrics on the API's port, or on `listener`'s when given.
 * Registered before the routes and before the hooks that answer early (draining, shedding, the opening gate), so it
 * counts the requests those answer too.
 */
export function registerMetrics (fastify: FastifyInstance, versions: readonly ServedVersion[], listener: MetricsListener | undefined): void {
  const registry = new Registry()
  const metrics = createAppMetrics(registry)
  const exposed = Registry.merge([runtimeMetrics(), registry])
  const uncounted = new Set<string>([...HEALTH_PATHS, METRICS_PATH])
  const versionOf = (path: string) => versions.find(({ basePath }) => isUnder(path, basePath))?.version ?? ''

  // A route's labels, made once per route and answer: its config object is the route's own.
  const routes = new WeakMap<object, { route: RouteLabels, byAnswer: Map<string, RequestLabels> }>()
  const labelsOf = (request: FastifyRequest, reply: FastifyReply): RequestLabels => {
    const { url, config } = request.routeOptions
    const method = KNOWN_METHODS.has(request.method) ? request.method : '_OTHER'
    const status = String(reply.statusCode)
    // No route took it: its version is its path's (one of a few, or none), its URL no label.
    if (url === undefined) {
      return { http_route: UNMATCHED_ROUTE, api_version: versionOf(requestPath(request)), operation_id: '', http_request_method: method, http_response_status_code: status }
    }
    let known = routes.get(config)
    if (known === undefined) {
      known = { route: { http_route: routeTemplate(url), api_version: versionOf(url), operation_id: config.operationId ?? '' }, byAnswer: new Map() }
      routes.set(config, known)
    }
    const key = `${method} ${status}`
    let labels = known.byAnswer.get(key)
    if (labels === undefined) {
      labels = { ...known.route, http_request_method: method, http_response_status_code: status }
      known.byAnswer.set(key, labels)
    }
    return labels
  }

  // Until its response ends, however it ends: a client that goes away ends it too, and 'close' is emitted either way.
  const ended = () => { metrics.active.dec() }
  fastify.addHook('onRequest', (_request, reply, done) => {
    metrics.active.inc()
    reply.raw.on('close', ended)
    done()
  })

  // A 503 for the database is an error the error handler answers: its cause is known here, not from the answer,
  // whose status and type are every 503's.
  fastify.addHook('onError', (request, _reply, error, done) => {
    if (databaseErrorKind(error) === 'unavailable') refusalCauses.set(request, 'database_unavailable')
    done()
  })

  // Counted in one place, from the answer as sent.
  fastify.addHook('onResponse', (request, reply, done) => {
    const labels = labelsOf(request, reply)
    metrics.duration.observe(labels, reply.elapsedTime / 1000)
    const reason = REFUSALS[reply.statusCode]
    if (reason !== undefined && !uncounted.has(labels.http_route)) metrics.refusals.inc({ reason: refusalCauses.get(request) ?? reason })
    if (reply.getHeader(REPLAYED_HEADER) === 'true') metrics.replays.inc({ api_version: labels.api_version, operation_id: labels.operation_id })
    done()
  })

  if (listener === undefined) {
    fastify.get(METRICS_PATH, async (_request, reply) => {
      reply.type(exposed.contentType).header('Cache-Control', 'no-store')
      return await exposed.metrics()
    })
    return
  }
  const server = metricsServer(exposed, fastify)
  fastify.addHook('onReady', async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listener.port, listener.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    fastify.log.info(`metrics at http://${listener.host}:${listener.port}${METRICS_PATH}`)
  })
  fastify.addHook('onClose', async () => {
    if (!server.listening) return
    const closed = new Promise((resolve) => server.close(resolve))
    // A scraper keeps its connection open between scrapes; the server should not wait for it to leave.
    server.closeAllConnections()
    await closed
  })
}

/** /metrics alone, on a port of its own: anything else is a problem, as on the API's port. */
function metricsServer (exposed: Registry, fastify: FastifyInstance): Server {
  const problemAnswer = (response: ServerResponse, status: number, detail: string, path: string, headers: Record<string, string> = {}) => {
    const body = JSON.stringify(httpProblem(status, detail, path))
    response.writeHead(status, { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), ...headers })
    response.end(body)
  }
  return createServer((request, response) => {
    const path = requestPath({ url: request.url ?? '/' })
    if (path !== METRICS_PATH) return problemAnswer(response, 404, `This port serves ${METRICS_PATH} only.`, path)
    if (request.method !== 'GET' && request.method !== 'HEAD') return problemAnswer(response, 405, `${request.method} is not allowed here; use GET, HEAD.`, path, { Allow: 'GET, HEAD' })
    exposed.metrics().then((text) => {
      response.writeHead(200, { 'Content-Type': exposed.contentType, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' })
      response.end(request.method === 'HEAD' ? undefined : text)
    }, (error: unknown) => {
      fastify.log.error({ err: error }, 'metrics failed')
      problemAnswer(response, 500, 'The metrics could not be collected; the error is logged.', path)
    })
  })
}
