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
