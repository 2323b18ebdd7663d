// v1's operations fuzzed from its spec (fuzz-operations.ts), and every other contract version's in a file of its own.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { projectRoot } from '../../src/project-root.js'
import { fuzzOperations } from './fuzz-operations.js'

fuzzOperations('v1')

t.test('every contract version has its operations fuzzed, in every auth mode, once', async (t) => {
  const dir = join(projectRoot, 'test', 'contract')
  const calls = readdirSync(dir).filter((file) => file.endsWith('.test.ts'))
    .flatMap((file) => [...readFileSync(join(dir, file), 'utf8').matchAll(/^fuzzOperations\('(\w+)'(?:, \[([^\]]*)\])?\)$/gm)])
  // A call without modes fuzzes every one (fuzz-operations.ts).
  const fuzzed = calls.flatMap(([, version, modes]) => (modes === undefined ? ['none', 'jwt'] : modes.split(',').map((mode) => mode.trim().replace(/'/g, ''))).map((mode) => `${version} ${mode}`))
  t.same(fuzzed.sort(), CONTRACT_VERSIONS.flatMap((version) => [`${version} jwt`, `${version} none`]).sort(), 'each version in each auth mode, in test files of their own')
})
