// CI guard: generated/trackbot.ts must be exactly what openapi-typescript makes of the spec now.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const committed = 'generated/trackbot.ts'
const dir = mkdtempSync(join(tmpdir(), 'trackbot-types-'))
try {
  const fresh = join(dir, 'trackbot.ts')
  execFileSync('npx', ['openapi-typescript', 'openapi/trackbot.yaml', '-o', fresh], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (readFileSync(fresh, 'utf8') !== readFileSync(committed, 'utf8')) {
    console.error(`${committed} is out of date with openapi/trackbot.yaml: run \`npm run generate:types\` and commit the result.`)
    process.exit(1)
  }
  console.log(`${committed} matches the spec.`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
