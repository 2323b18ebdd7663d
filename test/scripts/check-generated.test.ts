// `npm run check:generated` on a git copy of every contract version's spec and generated types: clean, it passes;
// when one version's pair parts, it fails naming that version's files, shows the diff and says which side moved,
// while the other versions still match.
// stores: none
import { execFileSync } from 'node:child_process'
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { projectRoot } from '../../src/project-root.js'
import { runScript, tempDir } from '../helper.js'

const spec = (version: string) => `openapi/${version}.yaml`
const generated = (version: string) => `generated/${version}.ts`
const USER_PROPERTIES = '    User:\n      type: object\n      additionalProperties: false\n      required: [id, name, email, createdAt]\n      properties:\n'
const NICKNAME = '        nickname:\n          type: string\n          maxLength: 40\n'

t.test('check:generated checks every version, and tells a clean copy from a spec or generated file that moved', async (t) => {
  t.same(CONTRACT_VERSIONS, ['v1', 'v2'], 'the versions this test edits')
  const root = tempDir(t)
  const files = CONTRACT_VERSIONS.flatMap((version) => [spec(version), generated(version)])
  for (const path of files) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    copyFileSync(join(projectRoot, path), join(root, path))
  }
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: root, encoding: 'utf8' })
  git('init', '--quiet')
  git('add', ...files)
  git('commit', '--quiet', '-m', 'specs and types')
  // The built script, in the copy; without coverage collection, since its time goes to openapi-typescript, others'
  // code (runScript lays its env over this process's, so toolEnv() cannot take NODE_V8_COVERAGE out; empty, it is off).
  const check = () => runScript('check-generated', [], { NODE_V8_COVERAGE: '' }, root)
  const v2Spec = readFileSync(join(root, spec('v2')), 'utf8')
  t.ok(v2Spec.includes(USER_PROPERTIES), 'v2\'s spec has the User schema this test edits')

  const clean = await check()
  t.equal(clean.code, 0, clean.output)
  for (const version of CONTRACT_VERSIONS) t.match(clean.output, `${generated(version)} matches the spec.`, `a clean copy passes: ${version}`)

  // A drift in v2 alone.
  writeFileSync(join(root, spec('v2')), v2Spec.replace(USER_PROPERTIES, `${USER_PROPERTIES}${NICKNAME}`))
  const specEdited = await check()
  t.equal(specEdited.code, 1, 'v2\'s spec that gained a field fails the check')
  t.match(specEdited.output, `${generated('v2')} does not match ${spec('v2')}`, 'and says so')
  t.match(specEdited.output, /^\+ +nickname\?: string;$/m, 'the diff shows the field the spec gained')
  t.match(specEdited.output, `The spec changed: ${spec('v2')} differs from HEAD and ${generated('v2')} was not regenerated`, 'names v2\'s spec as the side that moved')
  t.match(specEdited.output, `${generated('v1')} matches the spec.`, 'v1 still matches')
  t.notMatch(specEdited.output, `${generated('v1')} does not match`, 'and is not blamed')

  git('commit', '--quiet', '-am', 'v2 spec gains a field, types forgotten')
  const specCommitted = await check()
  t.equal(specCommitted.code, 1, 'so does the same spec once committed')
  t.match(specCommitted.output, `The spec is newer: ${spec('v2')} changed in ${git('rev-parse', '--short=7', 'HEAD').trim()}`, 'committed, v2\'s spec is still the side that moved')

  // Regenerated (as `npm run generate:types` would), the check passes again.
  execFileSync(join(projectRoot, 'node_modules', '.bin', 'openapi-typescript'), [spec('v2'), '-o', generated('v2')], { cwd: root, stdio: 'ignore' })
  const regenerated = await check()
  t.equal(regenerated.code, 0, `regenerated, v2 matches again: ${regenerated.output}`)

  // A drift in v1's generated file alone.
  git('reset', '--quiet', '--hard', 'HEAD~1')
  appendFileSync(join(root, generated('v1')), 'export type HandMade = string\n')
  const handEdited = await check()
  t.equal(handEdited.code, 1, 'a hand-edited generated file fails the check')
  t.match(handEdited.output, /^- *export type HandMade = string$/m, 'the diff shows the hand edit')
  t.match(handEdited.output, `${generated('v1')} was edited by hand`, 'names v1\'s generated file as the side that moved')
  t.match(handEdited.output, `${generated('v2')} matches the spec.`, 'v2 still matches')
})
