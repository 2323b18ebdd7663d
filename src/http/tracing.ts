// Traces with OpenTelemetry: a server span per API request named by its operationId, Prisma's database spans under it,
// a client's W3C traceparent continued, and the trace id in the request's log lines. src/app.ts imports this file only
// when tracing is on (src/config.ts), so with it off none of OpenTelemetry is loaded and no request pays for it.
// OpenTelemetry's NodeSDK reads the rest of the OTEL_* variables itself: exporter endpoint and protocol, sampler,
// batching, propagators, resource attributes.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { context, diag, DiagLogLevel, propagation, trace, type DiagLogger, type Span } from '@opentelemetry/api'
import { core, NodeSDK, resources } from '@opentelemetry/sdk-node'
import { PrismaInstrumentation } from '@prisma/instrumentation'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import { requestPath } from '../contract/routes.js'
import { projectRoot } from '../project-root.js'

/** A contract version whose requests are traced: its base path, and the version its span names carry. */
export interface TracedApi { version: string, basePath: string }

/**
 * The longest shutdown waits for the last spans to be sent. The exporter retries a collector that is down for up to
 * OTEL_EXPORTER_OTLP_TIMEOUT (10 s by default) per batch; an exit held that long could outlast an orchestrator's grace
 * period and end in a SIGKILL, which loses more than a last batch of spans.
 */
const FLUSH_ON_CLOSE_MS = 5000

// OpenTelemetry's own complaints (a collector refusing spans, a bad setting) go into the server's log, not to a
// console no log shipper reads; OTEL_LOG_LEVEL picks how much, warnings and errors by default.
function diagLogger (log: FastifyBaseLogger): DiagLogger {
  const at = (level: 'warn' | 'info' | 'debug') => (message: string, ...args: unknown[]) => {
    log[level](args.length === 0 ? {} : { args: args.map((arg) => arg instanceof Error ? String(arg) : arg) }, `opentelemetry: ${message}`)
  }
  // An error of OpenTelemetry's is no failure of a request: a warning, as for any other trouble with a dependency.
  return { error: at('warn'), warn: at('warn'), info: at('info'), debug: at('debug'), verbose: at('debug') }
}

function serviceVersion (): string {
  return (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version
}

/**
 * Starts the SDK and instruments `fastify`: call it before any other hook is added, so the request span and its
 * context wrap all of them. Closing the app sends the spans still queued.
 */
export async function registerTracing (fastify: FastifyInstance, apis: readonly TracedApi[]): Promise<void> {
  // Only the API is traced: health probes, /docs and /metrics are polled or static, and their spans would bury
  // the requests worth seeing.
  const prefixes = apis.map(({ version, basePath }) => ({ version, basePath, under: `${basePath}/` }))
  const apiOf = (url: string) => prefixes.find(({ basePath, under }) => url.startsWith(under) || url === basePath || url.startsWith(`${basePath}?`))

  // The span is named by the operation, as an operator knows the API; HTTP's semantic conventions name it by method
  // and route, which stay its attributes. A request no operation took is named by method and route, or method alone.
  const nameRequestSpan = (span: Span, request: FastifyRequest) => {
    const operationId = request.routeOptions.config.operationId
    const version = apiOf(request.url)?.version
    const route = request.routeOptions.url
    if (operationId !== undefined && version !== undefined) {
      span.updateName(`${version} ${operationId}`)
      span.setAttributes({ 'trackbot.api_version': version, 'trackbot.operation_id': operationId })
    } else {
      span.updateName(route === undefined ? request.method : `${request.method} ${route}`)
    }
    // @fastify/otel records the URL with its query, which can hold what a user searched for.
    span.setAttributes({ 'url.path': requestPath(request), 'url.scheme': request.protocol })
  }

  const fastifyInstrumentation = new FastifyOtelInstrumentation({
    ignorePaths: ({ url }) => apiOf(url) === undefined,
    requestHook: nameRequestSpan,
    // A span per hook would outnumber the spans that tell where a request's time went. The handler keeps its span:
    // it runs the handler in the request's context even when the body was read in a stream's callbacks, outside it,
    // so the database spans land under the request's.
    instrumentHooks: false,
    lifecycleHook: (span, { hookName }) => span.updateName(hookName),
  })
  const prismaInstrumentation = new PrismaInstrumentation()
  const sdk = new NodeSDK({
    // The environment's OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are merged over these.
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.name': 'trackbot', 'service.version': serviceVersion() })),
    instrumentations: [fastifyInstrumentation, prismaInstrumentation],
    // Traces only: metrics are Prometheus's (src/http/metrics.ts) and logs are the server's JSON lines.
    metricReaders: [],
    logRecordProcessors: [],
  })
  // After the SDK, which puts a console logger in place when OTEL_LOG_LEVEL is set.
  diag.setLogger(diagLogger(fastify.log), { logLevel: core.diagLogLevelFromString(core.getStringFromEnv('OTEL_LOG_LEVEL')) ?? DiagLogLevel.WARN, suppressOverrideMessage: true })
  sdk.start()

  await fastify.register(fastifyInstrumentation.plugin())
  // Runs right after @fastify/otel's hook, inside the context it made for the request.
  fastify.addHook('onRequest', (request, reply, done) => {
    const span = trace.getSpan(context.active())
    // Not traced: its database reads (a readiness probe's) must not start traces of their own either.
    if (span === undefined) return context.with(core.suppressTracing(context.active()), done)
    const { traceId, spanId } = span.spanContext()
    request.log = reply.log = request.log.child({ traceId, spanId })
    done()
  })

  fastify.addHook('onClose', async () => {
    let timer: NodeJS.Timeout | undefined
    const flushed = sdk.shutdown().then(() => true, (error: unknown) => {
      fastify.log.warn({ err: error }, 'opentelemetry: the last spans could not be sent')
      return true
    })
    const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), FLUSH_ON_CLOSE_MS) })
    if (!await Promise.race([flushed, late])) fastify.log.warn(`opentelemetry: the last spans were not sent within ${FLUSH_ON_CLOSE_MS} ms; dropped`)
    clearTimeout(timer)
    // So that an app assembled after this one in the same process can trace again.
    fastifyInstrumentation.disable()
    prismaInstrumentation.disable()
    trace.disable()
    context.disable()
    propagation.disable()
    diag.disable()
  })
}
