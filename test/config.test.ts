// The configuration surface is documented where operators look: .env.example and README's table.
// stores: none
import { readFileSync } from 'node:fs'
import t from 'tap'
import { loadConfig } from '../src/config.js'

const variablesRead = [...readFileSync('src/config.ts', 'utf8').matchAll(/env\.([A-Z_]+)/g)].map((match) => match[1]!)

function parseEnvFile (text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
}

t.test('.env.example lists every variable, each set to its default', async (t) => {
  const example = parseEnvFile(readFileSync('.env.example', 'utf8'))
  t.same(Object.keys(example).sort(), [...new Set(variablesRead)].sort())
  t.same(loadConfig(example), loadConfig({}), 'the example values are the defaults, and valid')
})

t.test('README documents every variable', async (t) => {
  const readme = readFileSync('README.md', 'utf8')
  for (const variable of new Set(variablesRead)) t.match(readme, `| \`${variable}\` |`, variable)
})

t.test('CORS_ORIGINS takes a list of origins', async (t) => {
  t.same(loadConfig({ CORS_ORIGINS: 'https://chat.example.com, http://localhost:5173' }).corsOrigins, ['https://chat.example.com', 'http://localhost:5173'])
  t.same(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins, ['*'])
  t.same(loadConfig({}).corsOrigins, [])
})

t.test('TRUST_PROXY takes proxy addresses, CIDR ranges and proxy-addr\'s range names; nothing else', async (t) => {
  t.same(loadConfig({}).trustProxy, [])
  t.same(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1, fd00::/8,loopback' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', 'loopback'])
  for (const bad of ['true', '*', '1', '10.0.0.0/33', '::1/129', '10.0.0.1/8/2', 'proxy.example.com', '10.0.0.256']) {
    t.throws(() => loadConfig({ TRUST_PROXY: bad }), /TRUST_PROXY must be a comma-separated list of proxy addresses or CIDR ranges/, bad)
  }
})

t.test('DATABASE_URL may say pgbouncer=true; DATABASE_DIRECT_URL is PostgreSQL only', async (t) => {
  const pooled = 'postgresql://app:secret@pooler:6432/trackbot?pgbouncer=true'
  t.match(loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: 'postgresql://app:secret@db:5432/trackbot' }),
    { databaseUrl: pooled, databaseDirectUrl: 'postgresql://app:secret@db:5432/trackbot' })
  t.throws(() => loadConfig({ DATABASE_URL: 'postgresql://app@pooler/trackbot?pgbouncer=yes' }), /DATABASE_URL's pgbouncer parameter must be true or false, got "yes"/)
  t.throws(() => loadConfig({ DATABASE_DIRECT_URL: 'postgresql://app@db/trackbot' }), /DATABASE_DIRECT_URL is for a PostgreSQL DATABASE_URL only/)
  t.throws(() => loadConfig({ DATABASE_URL: pooled, DATABASE_DIRECT_URL: 'mysql://app:secret@db/trackbot' }), /DATABASE_DIRECT_URL must be a postgresql:\/\/ URL, got "mysql:\/\/app:\*\*\*@db\/trackbot"/)
})

t.test('DATABASE_CONNECT_TIMEOUT_S is whole seconds up to an hour', async (t) => {
  t.equal(loadConfig({ DATABASE_CONNECT_TIMEOUT_S: '0' }).connectTimeoutS, 0)
  t.equal(loadConfig({}).connectTimeoutS, 60)
  for (const bad of ['-1', '1.5', '3601', 'soon']) t.throws(() => loadConfig({ DATABASE_CONNECT_TIMEOUT_S: bad }), /DATABASE_CONNECT_TIMEOUT_S must be an integer from 0 to 3600/)
})

t.test('AUTH_MODE=jwt needs a key; auth settings without it are refused', async (t) => {
  const secret = 's'.repeat(32)
  t.same(loadConfig({}).auth, { mode: 'none' }, 'off by default')
  t.same(loadConfig({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: secret }).auth,
    { mode: 'jwt', secret, jwksUrl: undefined, issuer: undefined, audience: undefined, userClaim: 'sub' })
  t.match(loadConfig({ AUTH_MODE: 'jwt', AUTH_JWKS_URL: 'https://id.example.com/.well-known/jwks.json', AUTH_ISSUER: 'https://id.example.com/', AUTH_AUDIENCE: 'trackbot', AUTH_USER_CLAIM: 'uid' }).auth,
    { mode: 'jwt', secret: undefined, jwksUrl: 'https://id.example.com/.well-known/jwks.json', issuer: 'https://id.example.com/', audience: 'trackbot', userClaim: 'uid' })
  t.throws(() => loadConfig({ AUTH_MODE: 'jwt' }), /AUTH_MODE=jwt needs a key to verify tokens with: AUTH_JWT_SECRET \(HS256\) and\/or AUTH_JWKS_URL/)
  t.throws(() => loadConfig({ AUTH_MODE: 'JWT' }), /AUTH_MODE must be none or jwt, got "JWT"/)
  t.throws(() => loadConfig({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 'short' }), /AUTH_JWT_SECRET must be at least 32 characters, got 5/)
  t.throws(() => loadConfig({ AUTH_MODE: 'jwt', AUTH_JWKS_URL: 'id.example.com/jwks' }), /AUTH_JWKS_URL must be an http:\/\/ or https:\/\/ URL/)
  t.throws(() => loadConfig({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: secret, AUTH_USER_CLAIM: 'user id' }), /AUTH_USER_CLAIM must be a claim name/)
  t.throws(() => loadConfig({ AUTH_JWT_SECRET: secret }), /AUTH_JWT_SECRET is set but AUTH_MODE is none: set AUTH_MODE=jwt to require tokens, or unset it/)
  t.throws(() => loadConfig({ AUTH_MODE: 'none', AUTH_ISSUER: 'x', AUTH_AUDIENCE: 'y' }), /AUTH_ISSUER, AUTH_AUDIENCE are set but AUTH_MODE is none/)
})

t.test('RATE_LIMIT_PER_MINUTE is off when unset; REDIS_URL shares it', async (t) => {
  t.equal(loadConfig({}).rateLimit, undefined, 'no limit by default')
  t.same(loadConfig({ RATE_LIMIT_PER_MINUTE: '600' }).rateLimit, { perMinute: 600, redisUrl: undefined })
  t.same(loadConfig({ RATE_LIMIT_PER_MINUTE: '600', REDIS_URL: 'redis://127.0.0.1:6379' }).rateLimit, { perMinute: 600, redisUrl: 'redis://127.0.0.1:6379' })
  for (const bad of ['0', '-5', '1.5', 'lots', '1000001']) t.throws(() => loadConfig({ RATE_LIMIT_PER_MINUTE: bad }), /RATE_LIMIT_PER_MINUTE must be an integer from 1 to 1000000/)
  t.throws(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }), /REDIS_URL is set but RATE_LIMIT_PER_MINUTE is not/)
  t.throws(() => loadConfig({ RATE_LIMIT_PER_MINUTE: '10', REDIS_URL: 'http://user:pw@redis:6379' }), /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/user:\*\*\*@redis:6379"/)
})

t.test('METRICS_PORT moves /metrics to a port of its own; empty keeps it on PORT', async (t) => {
  t.equal(loadConfig({}).metricsPort, undefined)
  t.equal(loadConfig({ METRICS_PORT: '9464' }).metricsPort, 9464)
  for (const bad of ['0', '65536', '-1', '94.64', 'metrics']) t.throws(() => loadConfig({ METRICS_PORT: bad }), /METRICS_PORT must be an integer from 1 to 65535, or empty to serve \/metrics on PORT/, bad)
  t.throws(() => loadConfig({ METRICS_PORT: '8080' }), /METRICS_PORT must differ from PORT \(8080\)/, 'the default PORT')
  t.throws(() => loadConfig({ PORT: '9000', METRICS_PORT: '9000' }), /METRICS_PORT must differ from PORT \(9000\)/)
})

t.test('IDEMPOTENCY_KEY_TTL_HOURS is whole hours, 24 by default, up to a year', async (t) => {
  t.equal(loadConfig({}).idempotencyKeyTtlHours, 24)
  t.equal(loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '1' }).idempotencyKeyTtlHours, 1)
  t.equal(loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '8760' }).idempotencyKeyTtlHours, 8760)
  for (const bad of ['0', '-1', '1.5', '8761', 'a day']) t.throws(() => loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: bad }), /IDEMPOTENCY_KEY_TTL_HOURS must be an integer from 1 to 8760/)
})

t.test('RETENTION_DAYS is whole days, off by default, up to a hundred years', async (t) => {
  t.equal(loadConfig({}).retentionDays, undefined)
  t.equal(loadConfig({ RETENTION_DAYS: '' }).retentionDays, undefined)
  t.equal(loadConfig({ RETENTION_DAYS: '1' }).retentionDays, 1)
  t.equal(loadConfig({ RETENTION_DAYS: '36500' }).retentionDays, 36500)
  for (const bad of ['0', '-1', '1.5', '36501', 'a week']) t.throws(() => loadConfig({ RETENTION_DAYS: bad }), /RETENTION_DAYS must be an integer from 1 to 36500/)
})

t.test('traces are on with OTEL_TRACES_EXPORTER=otlp only, unless OTEL_SDK_DISABLED=true; their settings are checked when on', async (t) => {
  t.equal(loadConfig({}).tracing, false, 'off by default')
  t.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'none' }).tracing, false)
  t.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing, true)
  t.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' }).tracing, false, 'OTEL_SDK_DISABLED wins')
  t.equal(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'false' }).tracing, true)
  t.throws(() => loadConfig({ OTEL_SDK_DISABLED: 'yes' }), /OTEL_SDK_DISABLED must be true or false, got "yes"/)
  for (const bad of ['zipkin', 'console', 'otlp,console', 'jaeger']) t.throws(() => loadConfig({ OTEL_TRACES_EXPORTER: bad }), /OTEL_TRACES_EXPORTER must be otlp \(traces on\) or none/, bad)

  const on = { OTEL_TRACES_EXPORTER: 'otlp' }
  t.equal(loadConfig({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://collector.example.com/v1/traces', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing, true)
  t.throws(() => loadConfig({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }), /OTEL_EXPORTER_OTLP_PROTOCOL must be http\/protobuf, http\/json, grpc or empty, got "http"/)
  t.throws(() => loadConfig({ ...on, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'json' }), /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be/)
  t.throws(() => loadConfig({ ...on, OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), /OTEL_EXPORTER_OTLP_ENDPOINT must be an http:\/\/ or https:\/\/ URL/)
  t.throws(() => loadConfig({ ...on, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }), /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:\/\/ or https:\/\/ URL/)
  t.throws(() => loadConfig({ ...on, OTEL_TRACES_SAMPLER: 'ratio' }), /OTEL_TRACES_SAMPLER must be one of always_on, always_off, traceidratio, parentbased_always_on/)
  for (const bad of ['1.5', '-0.1', 'half']) t.throws(() => loadConfig({ ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: bad }), /OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1/, bad)
  t.equal(loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http', OTEL_TRACES_SAMPLER: 'ratio' }).tracing, false, 'with traces off, settings another service shares are not this one\'s to refuse')
})
