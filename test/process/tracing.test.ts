// Traces, as an operator turns them on: the built server, the standard OTEL_* variables, and a small OTLP/HTTP
// collector of the test's own taking the exporter's JSON. A client's traceparent is continued by the request's server
// span, named by its operationId, with Prisma's database spans under it and the trace id in its log line; shutdown
// sends the spans still queued, and gives up on a collector that is down. Off (the default), a request carries on and
// nothing is sent.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { API_V2, freePort, startApp, store } from '../helper.js'

interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  attributes: Record<string, unknown>
  resource: Record<string, unknown>
}

interface OtlpAttribute { key: string, value: Record<string, unknown> }

// OTLP's JSON encoding: each value is tagged with its type, 64-bit integers may come as strings.
function attributesOf (list: OtlpAttribute[] = []): Record<string, unknown> {
  return Object.fromEntries(list.map(({ key, value }) => {
    const [type, tagged] = Object.entries(value)[0] ?? []
    return [key, type === 'intValue' ? Number(tagged) : tagged]
  }))
}

/** An OTLP/HTTP collector on a free loopback port: the spans of every JSON export sent to /v1/traces, and how many exports came. */
async function otlpCollector (t: Test): Promise<{ endpoint: string, spans: ReceivedSpan[], exports: () => number }> {
  const spans: ReceivedSpan[] = []
  let exports = 0
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => {
      exports++
      if (request.method !== 'POST' || request.url !== '/v1/traces' || request.headers['content-type'] !== 'application/json') {
        response.writeHead(415).end()
        return
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      for (const { resource, scopeSpans = [] } of body.resourceSpans ?? []) {
        for (const { spans: scoped = [] } of scopeSpans) {
          for (const span of scoped) {
            spans.push({ ...span, parentSpanId: span.parentSpanId ?? '', attributes: attributesOf(span.attributes), resource: attributesOf(resource?.attributes) })
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, exports: () => exports }
}

// The tests set what they turn on; a shell's own OTEL_* settings must not turn on more.
for (const name of Object.keys(process.env)) if (name.startsWith('OTEL_')) delete process.env[name]

const hex = (bytes: number) => randomBytes(bytes).toString('hex')

/** A W3C traceparent of a sampled client span. */
function clientSpan (): { traceId: string, spanId: string, traceparent: string } {
  const traceId = hex(16)
  const spanId = hex(8)
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` }
}

t.test('a request\'s spans reach the collector: the client\'s trace continued by a server span named by its operationId, database spans under it, its trace id logged', async (t) => {
  const collector = await otlpCollector(t)
  const server = await startApp(t, {
    transport: 'process',
    env: {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
      OTEL_SERVICE_NAME: 'trackbot-under-test',
      // Nothing is sent on the batch timer before the test stops the server: the spans arrive with shutdown's flush.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    },
  })
  const probe = clientSpan()
  t.equal((await server.request('GET', '/readyz', { headers: { traceparent: probe.traceparent } })).status, 200)
  const client = clientSpan()
  const created = await server.request('POST', `${API_V2}/users`, { body: { name: 'Traced' }, headers: { traceparent: client.traceparent, 'x-request-id': 'traced-1' } })
  t.equal(created.status, 201)
  t.equal(await server.stop(), 0, 'SIGTERM exits 0')
  const seen = () => collector.spans.map((span) => `${span.traceId} ${span.spanId} <- ${span.parentSpanId || 'root'}: ${span.name}`).join('\n')

  const inTrace = collector.spans.filter((span) => span.traceId === client.traceId)
  const serverSpan = inTrace.find((span) => span.parentSpanId === client.spanId)
  if (serverSpan === undefined) throw new Error(`no span continues the client's ${client.traceparent}; received:\n${seen()}\n${server.output()}`)
  t.match(serverSpan, {
    name: 'v2 create_user',
    kind: 2, // SERVER
    attributes: {
      'http.request.method': 'POST',
      'http.route': `${API_V2}/users`,
      'http.response.status_code': 201,
      'url.path': `${API_V2}/users`,
      'trackbot.operation_id': 'create_user',
      'trackbot.api_version': 'v2',
    },
    resource: { 'service.name': 'trackbot-under-test', 'service.version': String },
  })

  // Prisma's spans hang under the server span, through the handler's.
  const byId = new Map(inTrace.map((span) => [span.spanId, span]))
  const underServerSpan = (span: ReceivedSpan): boolean => {
    for (let parent = byId.get(span.parentSpanId); parent !== undefined; parent = byId.get(parent.parentSpanId)) {
      if (parent === serverSpan) return true
    }
    return false
  }
  const queries = inTrace.filter((span) => span.name === 'prisma:client:db_query' && underServerSpan(span))
  t.ok(queries.length > 0, 'database spans under the server span', { received: seen() })
  t.match(queries[0], { kind: 3, attributes: { 'db.system.name': store === 'postgres' ? 'postgresql' : 'sqlite', 'db.query.text': String } }) // CLIENT
  t.ok(queries.some((span) => /\bINSERT INTO\b[^(]*"User"/i.test(String(span.attributes['db.query.text']))), 'the user\'s INSERT among them', { queries: queries.map((span) => span.attributes['db.query.text']) })

  const logged = server.log.lines.find((line) => line.msg === 'request' && line.reqId === 'traced-1')
  t.match(logged, { operationId: 'create_user', status: 201, traceId: client.traceId, spanId: serverSpan.spanId }, 'the request\'s log line carries its trace and span ids')

  t.same(collector.spans.filter((span) => span.traceId === probe.traceId), [], 'a health probe makes no span')
  // The readiness query of src/store/database.ts, which startApp's wait for /readyz ran many times.
  t.same(collector.spans.filter((span) => String(span.attributes['db.query.text']).includes('rolled_back_at IS NULL')), [], 'nor does its database read')
})

t.test('off by default: a traced client\'s request carries on, nothing is sent, and the SDK is not loaded', async (t) => {
  const collector = await otlpCollector(t)
  // Where spans would go if tracing were on.
  const server = await startApp(t, { transport: 'process', env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '10' } })
  const created = await server.request('POST', `${API_V2}/users`, { body: { name: 'Untraced' }, headers: { traceparent: clientSpan().traceparent, 'x-request-id': 'untraced' } })
  t.equal(created.status, 201)
  t.equal(await server.stop(), 0)
  const logged = server.log.lines.find((line) => line.msg === 'request' && line.reqId === 'untraced')
  t.match(logged, { operationId: 'create_user', status: 201 })
  t.equal(logged.traceId, undefined, 'no trace id logged')
  t.equal(collector.exports(), 0, 'nothing sent')

  // In this process, an app assembled without tracing has loaded none of OpenTelemetry's SDK or instrumentations.
  // (Its API package may be loaded: prom-client's process metrics require it, a no-op facade without an SDK.)
  await startApp(t)
  const loaded = Object.keys(createRequire(import.meta.url).cache)
    .filter((file) => /\/node_modules\/(@opentelemetry\/(?!api\/)|@fastify\/otel\/|@prisma\/instrumentation\/)/.test(file))
  t.same(loaded, [], 'no OpenTelemetry SDK module loaded')
})

t.test('a collector that is down costs requests nothing, and holds shutdown back for a bounded time only', async (t) => {
  const server = await startApp(t, {
    transport: 'process',
    env: {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    },
  })
  const created = await server.request('POST', `${API_V2}/users`, { body: { name: 'Unheard' }, headers: { traceparent: clientSpan().traceparent } })
  t.equal(created.status, 201)
  // The exporter retries a refused connection for up to its 10 s timeout; shutdown gives up before.
  t.equal(await server.stop(), 0, 'exits 0 all the same')
  t.match(server.log.lines.find((line) => /^opentelemetry: /.test(line.msg)), { level: 40, msg: /^opentelemetry: the last spans were not sent within \d+ ms; dropped$/ })
})
