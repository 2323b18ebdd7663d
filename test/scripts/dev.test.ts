// `npm run dev` on a copy of the project: an edit of any contract version's spec regenerates that version's types and
// restarts the server on the new spec, with no other step. It is about the tsx workflow itself, so it runs
// scripts/dev.ts with tsx, not a build.
// stores: none
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, cpSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { projectRoot } from '../../src/project-root.js'
import { exitedWhy, freePort, tempDir, toolEnv, until, waitReady } from '../helper.js'

const USER_PROPERTIES = '    User:\n      type: object\n      additionalProperties: false\n      required: [id, name, email, createdAt]\n      properties:\n'

/** What the copy needs to run: the server's code and files, and the shared dependencies, linked. */
function copyProject (root: string): void {
  for (const dir of ['src', 'prisma', 'openapi']) cpSync(join(projectRoot, dir), join(root, dir), { recursive: true })
  for (const file of ['package.json', 'tsconfig.json', ...CONTRACT_VERSIONS.map((version) => `generated/${version}.ts`), 'scripts/dev.ts']) {
    mkdirSync(join(root, file, '..'), { recursive: true })
    copyFileSync(join(projectRoot, file), join(root, file))
  }
  symlinkSync(join(projectRoot, 'node_modules'), join(root, 'node_modules'))
  // The generated Prisma clients: a folder in a clone, a link in some checkouts; the copy links to wherever they really are.
  symlinkSync(realpathSync(join(projectRoot, 'generated', 'prisma')), join(root, 'generated', 'prisma'))
}

/** Sends `signal` to the dev loop's process group, as a terminal does: the loop and a generate:types it runs. */
function signalGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    // The group has no process left.
  }
}

/**
 * Stops the dev loop as Ctrl-C would, and says how it ended. Ctrl-C reaches the terminal's whole foreground group,
 * so a regeneration still running when it comes ends too, rather than outlive the loop holding this test's pipes.
 */
async function interrupt (child: ChildProcess): Promise<number | null> {
  if (exitedWhy(child) !== undefined) return child.exitCode
  const exited = once(child, 'exit')
  signalGroup(child, 'SIGINT')
  const timer = setTimeout(() => { signalGroup(child, 'SIGKILL') }, 20_000)
  const [code] = await exited
  clearTimeout(timer)
  return code as number | null
}

t.test('an edit of a version\'s spec regenerates generated/<version>.ts and restarts the server on it, each version', async (t) => {
  t.same(CONTRACT_VERSIONS, ['v1', 'v2'], 'the versions this test edits')
  const root = tempDir(t)
  copyProject(root)
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  // Without coverage collection: the loop is tsx, npm and openapi-typescript, others' code.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    cwd: root,
    env: toolEnv({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `file:${join(root, 'dev.db')}`, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a terminal gives a command, for interrupt().
    detached: true,
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  t.teardown(() => interrupt(child))
  await waitReady({ child, origin, output: () => output })

  const served = async (version: string) => ((await (await fetch(`${origin}/api/${version}/openapi.json`)).json()) as any).components.schemas.User.properties
  const types = (version: string) => readFileSync(join(root, 'generated', `${version}.ts`), 'utf8')
  // The loop's own output is the cause of a wait that runs out; its exit ends the wait at once.
  const running = () => {
    const why = exitedWhy(child)
    if (why !== undefined) throw new Error(`${why}:\n${output}`)
  }

  // The newest version first, then the frozen one: each spec file is watched.
  const edited: string[] = []
  for (const version of ['v2', 'v1']) {
    for (const other of CONTRACT_VERSIONS) t.equal('nickname' in await served(other), edited.includes(other), `before ${version}'s edit, ${other} serves its spec as it is`)
    const spec = join(root, 'openapi', `${version}.yaml`)
    const yaml = readFileSync(spec, 'utf8')
    t.ok(yaml.includes(USER_PROPERTIES), `${version}'s spec has the User schema this test edits`)
    const untouched = Object.fromEntries(CONTRACT_VERSIONS.filter((other) => other !== version).map((other) => [other, types(other)]))
    writeFileSync(spec, yaml.replace(USER_PROPERTIES, `${USER_PROPERTIES}        nickname:\n          type: string\n          maxLength: 40\n`))
    edited.push(version)

    await until(`generated/${version}.ts to have the new field`, () => {
      running()
      return /nickname\?: string;/.test(types(version))
    }, { timeoutMs: 90_000, intervalMs: 250, cause: () => output })
    t.pass(`generated/${version}.ts regenerated from the edited spec`)
    await until(`the server to serve ${version}'s edited spec`, async () => {
      running()
      try { return 'nickname' in await served(version) } catch { return false }
    }, { timeoutMs: 90_000, intervalMs: 250, cause: () => output })
    t.pass(`the server restarted on ${version}'s edited spec`)
    for (const [other, before] of Object.entries(untouched)) t.equal(types(other), before, `generated/${other}.ts is still what its spec gives`)
  }

  t.equal(await interrupt(child), 0, `Ctrl-C stops the loop cleanly: ${output}`)
})
