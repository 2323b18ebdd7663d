// Runs the server as `npm start` does, in its own process on a real port.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'

export { freePort } from '../scripts/free-port.js'

/** Runs a TypeScript entry point (a script under scripts/) to its end, in `cwd`: exit code and everything it printed. */
export async function runScript (script: string, args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null, output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const [code] = await once(child, 'exit')
  return { code: code as number | null, output }
}

export interface Running { child: ChildProcess, origin: string, output: () => string }

export function startServer (env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk) => { output += chunk })
  child.stderr?.on('data', (chunk) => { output += chunk })
  return { child, origin: `http://127.0.0.1:${env.PORT}`, output: () => output }
}

export async function waitReady (origin: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    try {
      if ((await fetch(`${origin}/readyz`)).status === 200) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('server not ready in 30 s')
}

export async function stop (child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  return code as number | null
}
