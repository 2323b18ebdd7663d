// v1's operations fuzzed from its spec (fuzz-operations.ts), and every other contract version's in a file of its own.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { projectRoot } from '../../src/project-root.js'
import { fuzzOperations } from './fuzz-operations.js'

fuzzOperations('v1')

t.test('every contract version has its operations fuzzed', async (t) => {
  const dir = join(projectRoot, 'test', 'contract')
  const fuzzed = readdirSync(dir).filter((file) => file.endsWith('.test.ts'))
    .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/^fuzzOperations\('(\w+)'\)$/gm)].map((match) => match[1]))
  t.same(fuzzed.sort(), [...CONTRACT_VERSIONS].sort(), 'one fuzzOperations(version) call per version, in a test file of its own')
})
