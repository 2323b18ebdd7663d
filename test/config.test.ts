// The configuration surface is documented where operators look: .env.example and README's table.
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

t.test('IDEMPOTENCY_KEY_TTL_HOURS is whole hours, 24 by default, up to a year', async (t) => {
  t.equal(loadConfig({}).idempotencyKeyTtlHours, 24)
  t.equal(loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '1' }).idempotencyKeyTtlHours, 1)
  t.equal(loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '8760' }).idempotencyKeyTtlHours, 8760)
  for (const bad of ['0', '-1', '1.5', '8761', 'a day']) t.throws(() => loadConfig({ IDEMPOTENCY_KEY_TTL_HOURS: bad }), /IDEMPOTENCY_KEY_TTL_HOURS must be an integer from 1 to 8760/)
})
