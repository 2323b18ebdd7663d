// `npm run check:generated`, in CI and by hand: each contract version's generated/<version>.ts must be exactly
// what openapi-typescript makes of its spec, openapi/<version>.yaml, now. When one is not, prints the difference
// and says which side moved, from git: the spec (regenerate) or the generated file (edited by hand).
// Paths are relative to the working directory (npm runs scripts at the package root), so a test can
// run it on a copy of the two files.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CONTRACT_VERSIONS } from '../src/contract/spec.js'
import { projectRoot } from '../src/project-root.js'

function git (...args: string[]): { ok: boolean, status: number | null, out: string } {
  const result = spawnSync('git', args, { encoding: 'utf8' })
  return { ok: result.status === 0, status: result.status, out: (result.stdout ?? '').trim() }
}

/** Which side changed, as git tells it: uncommitted edits first, else the commits that last touched each. */
function whichSideChanged (spec: string, generated: string): string {
  const regenerate = `run \`npm run generate:types\` and commit ${generated}`
  if (!git('rev-parse', '--verify', '--quiet', 'HEAD').ok) return `Not a git checkout with commits, so which side changed is unknown: ${regenerate}.`
  // `git diff --quiet` exits 1 when the file differs from HEAD (staged or not).
  const edited = (path: string) => git('diff', '--quiet', 'HEAD', '--', path).status === 1
  const specEdited = edited(spec)
  const generatedEdited = edited(generated)
  if (specEdited && !generatedEdited) return `The spec changed: ${spec} differs from HEAD and ${generated} was not regenerated: ${regenerate}.`
  if (generatedEdited && !specEdited) {
    return `${generated} was edited by hand: it differs from HEAD and the spec does not. Change ${spec} instead; \`npm run generate:types\` rewrites ${generated}.`
  }
  if (specEdited && generatedEdited) return `Both ${spec} and ${generated} differ from HEAD, and they do not match: ${regenerate} (hand edits to it are lost).`
  const lastCommit = (path: string) => git('log', '-1', '--format=%H', '--', path).out
  const specCommit = lastCommit(spec)
  const generatedCommit = lastCommit(generated)
  const short = (commit: string) => commit.slice(0, 7)
  if (specCommit === generatedCommit) return `Both last changed in ${short(specCommit)}, which committed a ${generated} that does not match its spec: ${regenerate}.`
  if (generatedCommit === '' || git('merge-base', '--is-ancestor', generatedCommit, specCommit).ok) {
    return `The spec is newer: ${spec} changed in ${short(specCommit)}, after ${generated} was last generated (${short(generatedCommit) || 'never'}): ${regenerate}.`
  }
  return `${generated} was changed in ${short(generatedCommit)}, after the spec (${short(specCommit)}), without matching it: edited by hand? Change ${spec} instead and ${regenerate}.`
}

const dir = mkdtempSync(join(tmpdir(), 'trackbot-types-'))
try {
  // Every version's types made at once (each a process of its own, most of it start-up), then checked in order.
  const pairs = CONTRACT_VERSIONS.map((version) => ({ spec: `openapi/${version}.yaml`, generated: `generated/${version}.ts` }))
  const codes = await Promise.all(pairs.map(({ spec, generated }) => make(spec, freshOf(generated))))
  pairs.forEach(({ spec, generated }, i) => check(spec, generated, codes[i]!))
} finally {
  rmSync(dir, { recursive: true, force: true })
}

function freshOf (generated: string): string {
  return join(dir, generated.replace('/', '-'))
}

/** openapi-typescript's exit code, making `fresh` of `spec`. */
async function make (spec: string, fresh: string): Promise<number | null> {
  const child = spawn(join(projectRoot, 'node_modules', '.bin', 'openapi-typescript'), [spec, '-o', fresh], { stdio: ['ignore', 'ignore', 'inherit'] })
  const [code] = await once(child, 'exit') as [number | null]
  return code
}

function check (spec: string, generated: string, made: number | null): void {
  const fresh = freshOf(generated)
  if (made !== 0) {
    console.error(`openapi-typescript could not read ${spec} (above).`)
    process.exitCode = 1
  } else if (readFileSync(fresh, 'utf8') === readFileSync(generated, 'utf8')) {
    console.log(`${generated} matches the spec.`)
  } else {
    // - is the committed file, + what the spec gives now.
    const diff = spawnSync('diff', ['-u', '--label', `${generated} (as it is)`, '--label', `${generated} (from ${spec})`, generated, fresh], { encoding: 'utf8' })
    console.error(`${generated} does not match ${spec}:\n${diff.stdout}`)
    console.error(whichSideChanged(spec, generated))
    process.exitCode = 1
  }
}
