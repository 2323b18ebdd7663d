// The benchmark's server processes: how each is started (ours exactly as `npm start` starts it, from this checkout
// or from --baseline's), its output to a file, readiness, and stopping it. No server outlives the benchmark.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { projectRoot } from '../../src/project-root.js'
import type { ServerName } from './report.js'

/** How a server process is started: where, node's arguments, and variables its environment gets beside the run's. */
interface Launch { cwd: string, args: string[], env: Record<string, string> }

/**
 * Ours is started exactly as `npm start` starts it: the environment its script sets (the allocator's settings), its
 * node flags and entry point, all read from the package.json of the checkout at `root`.
 */
function npmStart (root: string): Launch {
  const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }
  const words = scripts.start.split(/\s+/)
  const env: Record<string, string> = {}
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0] ?? '')) {
    const [name, ...value] = words.shift()!.split('=')
    env[name!] = value.join('=')
  }
  const [command, ...args] = words
  if (command !== 'node') throw new Error(`${root}/package.json's start script must run node, after any VAR=value, got: ${scripts.start}`)
  return { cwd: root, args, env }
}

/** --baseline's checkout must be built: its server runs from its own dist/. */
export function checkBaseline (dir: string): void {
  const entry = join(dir, 'dist', 'src', 'server.js')
  if (!existsSync(entry)) throw new Error(`--baseline ${dir}: no ${entry}; build that checkout first: (cd ${dir} && npm ci && npm run build)`)
}

// ours-jwt: tokens required, HS256. Its requests carry an admin token, which reaches every row, so each
// scenario does the same work as on ours plus verifying the token (a user's token on a conversation path
// would add the owner look-up, src/contract/access.ts).
const BENCH_SECRET = 'benchmark-secret-of-thirty-two-characters-or-more'
const SERVER_ENV: Partial<Record<ServerName, Record<string, string>>> = {
  'ours-jwt': { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: BENCH_SECRET },
}

/** The headers every request to `server` carries: ours-jwt's token. */
export async function headersFor (server: ServerName): Promise<Record<string, string>> {
  if (SERVER_ENV[server]?.AUTH_MODE !== 'jwt') return {}
  const token = await new SignJWT({ scope: 'trackbot:admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench')
    .setExpirationTime('1d').sign(new TextEncoder().encode(BENCH_SECRET))
  return { authorization: `Bearer ${token}` }
}

/** ours-before is ours as built in --baseline's checkout. */
function launchOf (server: ServerName, baseline: string | undefined): Launch {
  switch (server) {
    case 'floor': return { cwd: projectRoot, args: ['dist/scripts/bench/floor-server.js'], env: {} }
    case 'peer': return { cwd: projectRoot, args: ['dist/scripts/bench/peer-server.js'], env: {} }
    case 'ours-before':
      if (baseline === undefined) throw new Error('ours-before needs --baseline <dir>')
      return npmStart(baseline)
    default: return npmStart(projectRoot)
  }
}

export interface Spawned { child: ChildProcess, origin: string, output: () => string }

const live = new Set<ChildProcess>()
// Last resort on any way out: no server outlives the benchmark.
process.on('exit', () => { for (const child of live) child.kill('SIGKILL') })

/** The last bytes of a file: a failed server's last words. */
function tail (file: string, bytes = 8000): string {
  const fd = openSync(file, 'r')
  try {
    const size = statSync(file).size
    const buffer = Buffer.alloc(Math.min(bytes, size))
    readSync(fd, buffer, 0, buffer.length, size - buffer.length)
    return buffer.toString()
  } finally {
    closeSync(fd)
  }
}

/**
 * With the environment it was given (ours logs each request at its default level), its stdout and stderr
 * to `logFile`: as a log shipper would take them, and nothing of the benchmark's own CPU spent reading them.
 */
export function spawnServer (server: ServerName, baseline: string | undefined, databaseUrl: string, port: number, logFile: string): Spawned {
  const fd = openSync(logFile, 'a')
  const { cwd, args, env } = launchOf(server, baseline)
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, ...SERVER_ENV[server] },
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  live.add(child)
  child.on('exit', () => live.delete(child))
  return { child, origin: `http://127.0.0.1:${port}`, output: () => tail(logFile) }
}

export async function waitReady ({ child, origin, output }: Spawned): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before ready:\n${output()}`)
    try {
      if ((await fetch(`${origin}/readyz`)).status === 200) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`server not ready in 30 s:\n${output()}`)
}

/** A server that died under load would otherwise show up as a scenario of connection errors. */
export function assertAlive (child: ChildProcess, scenario: string): void {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`exited (code ${child.exitCode}, signal ${child.signalCode}) during ${scenario}`)
  }
}

export async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  // A server that hangs on close must not hang the benchmark.
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

export async function stopAll (): Promise<void> {
  for (const child of live) await stop(child)
}
