// `npm run dev` on a copy of the project: an edit of the spec regenerates the types and restarts the
// server on the new spec, with no other step. It is about the tsx workflow itself, so it runs scripts/dev.ts with
// tsx, not a build.
// stores: none
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { copyFileSync, cpSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { API, exitedWhy, freePort, tempDir, toolEnv, until, waitReady } from '../helper.js'

const USER_PROPERTIES = '    User:\n      type: object\n      additionalProperties: false\n      required: [id, name, email, createdAt]\n      properties:\n'

/** What the copy needs to run: the server's code and files, and the shared dependencies, linked. */
function copyProject (root: string): void {
  for (const dir of ['src', 'prisma', 'openapi']) cpSync(join(projectRoot, dir), join(root, dir), { recursive: true })
  for (const file of ['package.json', 'tsconfig.json', 'generated/trackbot.ts', 'scripts/dev.ts']) {
    mkdirSync(join(root, file, '..'), { recursive: true })
    copyFileSync(join(projectRoot, file), join(root, file))
  }
  symlinkSync(join(projectRoot, 'node_modules'), join(root, 'node_modules'))
  // The generated Prisma clients: a folder in a clone, a link in some checkouts; the copy links to wherever they really are.
  symlinkSync(realpathSync(join(projectRoot, 'generated', 'prisma')), join(root, 'generated', 'prisma'))
}

/** Stops the dev loop as Ctrl-C would, and says how it ended. */
async function interrupt (child: ChildProcess): Promise<number | null> {
  if (exitedWhy(child) !== undefined) return child.exitCode
  const exited = once(child, 'exit')
  child.kill('SIGINT')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 20_000)
  const [code] = await exited
  clearTimeout(timer)
  return code as number | null
}

t.test('an edit of the spec regenerates generated/trackbot.ts and restarts the server on it', async (t) => {
  const root = tempDir(t)
  copyProject(root)
  const port = await freePort()
  const origin = `http://127.0.0.1:${port}`
  // Without coverage collection: the loop is tsx, npm and openapi-typescript, others' code.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    cwd: root,
    env: toolEnv({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `file:${join(root, 'dev.db')}`, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  t.teardown(() => interrupt(child))
  await waitReady({ child, origin, output: () => output })

  const served = async () => ((await (await fetch(`${origin}${API}/openapi.json`)).json()) as any).components.schemas.User.properties
  t.notOk('nickname' in await served(), 'the server starts on the spec as it is')
  const spec = join(root, 'openapi', 'trackbot.yaml')
  const yaml = readFileSync(spec, 'utf8')
  t.ok(yaml.includes(USER_PROPERTIES), 'the spec has the User schema this test edits')
  writeFileSync(spec, yaml.replace(USER_PROPERTIES, `${USER_PROPERTIES}        nickname:\n          type: string\n          maxLength: 40\n`))

  // The loop's own output is the cause of a wait that runs out; its exit ends the wait at once.
  const running = () => {
    const why = exitedWhy(child)
    if (why !== undefined) throw new Error(`${why}:\n${output}`)
  }
  await until('generated/trackbot.ts to have the new field', () => {
    running()
    return /nickname\?: string;/.test(readFileSync(join(root, 'generated', 'trackbot.ts'), 'utf8'))
  }, { timeoutMs: 90_000, intervalMs: 250, cause: () => output })
  t.pass('generated/trackbot.ts regenerated from the edited spec')
  await until('the server to serve the edited spec', async () => {
    running()
    try { return 'nickname' in await served() } catch { return false }
  }, { timeoutMs: 90_000, intervalMs: 250, cause: () => output })
  t.pass('the server restarted on the edited spec')

  t.equal(await interrupt(child), 0, `Ctrl-C stops the loop cleanly: ${output}`)
})
