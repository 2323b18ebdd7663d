// `npm run check:generated` on a git copy of the spec and its generated types: clean, it passes; when
// they part, it fails, shows the diff and says which side moved.
// stores: none
import { execFileSync } from 'node:child_process'
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { runScript, tempDir } from '../helper.js'

const SPEC = 'openapi/trackbot.yaml'
const GENERATED = 'generated/trackbot.ts'
const USER_PROPERTIES = '    User:\n      type: object\n      additionalProperties: false\n      required: [id, name, email, createdAt]\n      properties:\n'

t.test('check:generated tells a clean copy from a spec or generated file that moved', async (t) => {
  const root = tempDir(t)
  for (const path of [SPEC, GENERATED]) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    copyFileSync(join(projectRoot, path), join(root, path))
  }
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', ...args], { cwd: root, encoding: 'utf8' })
  git('init', '--quiet')
  git('add', SPEC, GENERATED)
  git('commit', '--quiet', '-m', 'spec and types')
  // The built script, in the copy; without coverage collection, since its time goes to openapi-typescript, others'
  // code (runScript lays its env over this process's, so toolEnv() cannot take NODE_V8_COVERAGE out; empty, it is off).
  const check = () => runScript('check-generated', [], { NODE_V8_COVERAGE: '' }, root)
  const spec = readFileSync(join(root, SPEC), 'utf8')
  t.ok(spec.includes(USER_PROPERTIES), 'the spec has the User schema this test edits')

  const clean = await check()
  t.equal(clean.code, 0, clean.output)
  t.match(clean.output, `${GENERATED} matches the spec.`, 'a clean copy passes')

  writeFileSync(join(root, SPEC), spec.replace(USER_PROPERTIES, `${USER_PROPERTIES}        nickname:\n          type: string\n          maxLength: 40\n`))
  const specEdited = await check()
  t.equal(specEdited.code, 1, 'a spec that gained a field fails the check')
  t.match(specEdited.output, `${GENERATED} does not match ${SPEC}`, 'and says so')
  t.match(specEdited.output, /^\+ +nickname\?: string;$/m, 'the diff shows the field the spec gained')
  t.match(specEdited.output, `The spec changed: ${SPEC} differs from HEAD and ${GENERATED} was not regenerated`, 'names the spec as the side that moved')

  git('commit', '--quiet', '-am', 'spec gains a field, types forgotten')
  const specCommitted = await check()
  t.equal(specCommitted.code, 1, 'so does the same spec once committed')
  t.match(specCommitted.output, `The spec is newer: ${SPEC} changed in ${git('rev-parse', '--short=7', 'HEAD').trim()}`, 'committed, the spec is still the side that moved')

  git('reset', '--quiet', '--hard', 'HEAD~1')
  appendFileSync(join(root, GENERATED), 'export type HandMade = string\n')
  const handEdited = await check()
  t.equal(handEdited.code, 1, 'a hand-edited generated file fails the check')
  t.match(handEdited.output, /^- *export type HandMade = string$/m, 'the diff shows the hand edit')
  t.match(handEdited.output, `${GENERATED} was edited by hand`, 'names the generated file as the side that moved')
})
