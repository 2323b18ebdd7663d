// `npm run dev`: the server, restarted on every edit of its code or of the spec, and the spec's types
// regenerated on every edit of the spec. tsx's own watch does the restarting; the spec is not imported
// (the server reads it at start), so it is named to tsx with --include. This script adds what tsx cannot:
// `npm run generate:types`, so the editor and `npm run typecheck` see the spec being served.
import { spawn, spawnSync } from 'node:child_process'
import { watch } from 'node:fs'
import { join } from 'node:path'
import { CONTRACT_VERSIONS } from '../src/contract/spec.js'
import { projectRoot } from '../src/project-root.js'

const specs = CONTRACT_VERSIONS.map((version) => join('openapi', `${version}.yaml`))
const spec = specs.join(' or ')
const bin = (name: string) => join(projectRoot, 'node_modules', '.bin', name)

let generating: ReturnType<typeof spawn> | undefined
let again = false
let stopping = false

/** One run of generate:types at a time; edits made during a run get one more run after it. */
function generateTypes (): void {
  if (generating !== undefined) {
    again = true
    return
  }
  // npm run, so the command stays in one place (package.json); a spec saved half-written fails here and
  // is regenerated on the next save.
  const child = generating = spawn('npm', ['run', '--silent', 'generate:types'], { cwd: projectRoot, stdio: 'inherit' })
  child.on('exit', (code) => {
    generating = undefined
    // Stopped with the rest (a signal): not a failure of the spec.
    if (stopping) return
    if (code !== 0) console.error(`dev: generate:types failed (exit ${code}); fix ${spec} and save it again`)
    if (again) {
      again = false
      generateTypes()
    }
  })
}

// Before the server starts, so the first type-check of the session already matches the spec.
if (spawnSync('npm', ['run', '--silent', 'generate:types'], { cwd: projectRoot, stdio: 'inherit' }).status !== 0) {
  console.error(`dev: generate:types failed; the server still starts, and the types follow the next save of ${spec}`)
}

// The directory, not the file: editors that save by renaming a new file over the old one would end a
// watch on the file itself. Editors also write in several steps, hence the short settling delay.
let settling: NodeJS.Timeout | undefined
watch(join(projectRoot, 'openapi'), (_event, name) => {
  if (name === null || !specs.includes(join('openapi', name))) return
  clearTimeout(settling)
  settling = setTimeout(generateTypes, 100)
})

// In a process group of its own, so a Ctrl-C reaches the server once, through this script and tsx, rather
// than from the terminal and from tsx both (a second signal makes the server exit at once, and tsx kill it).
const server = spawn(bin('tsx'), ['watch', '--clear-screen=false', ...specs.flatMap((file) => ['--include', file]), join('src', 'server.ts')], {
  cwd: projectRoot,
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true,
})
server.on('exit', (code) => process.exit(code ?? 1))
// tsx watch passes the signal on to the server, which finishes in-flight requests, and then exits itself.
// A regeneration under way stops with it, rather than running on after this script is gone.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping = true
    generating?.kill(signal)
    server.kill(signal)
  })
}
