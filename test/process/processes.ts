// What the process tests share about a server process going away: telling a server the test killed from one
// that died on its own, load that runs until the kill, and a bounded wait for an exit.
import { exited, exitedWhy, until, type ProcessApp } from '../helper.js'

/**
 * The socket errors a client meets when the server process is gone: refused (nothing listens any more), reset,
 * a write to a closed socket, or undici's "other side closed" for a response cut off mid-way.
 */
const GONE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'])

/** The cause's code when `error` is fetch's failure on a connection refused or reset; undefined for any other error. */
export function connectionGone (error: unknown): string | undefined {
  if (!(error instanceof TypeError)) return undefined
  const code = (error.cause as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && GONE_CODES.has(code) ? code : undefined
}

/** A loop of writes, called with the worker's number and its iteration; it throws to fail the test. */
type Write = (worker: number, iteration: number) => Promise<void>

/** Iterations a worker may make before the kill: far more than any test waits for, so only a kill that never comes reaches it. */
const MAX_ITERATIONS = 2000

/**
 * Runs `workers` concurrent loops of `write` against the server and kills it with SIGKILL once `killWhen()`
 * holds. Each worker ends at the first connection refused or reset after the kill; the same before the kill
 * (the server died on its own) fails at once with the server's output, as does any other error, and every
 * wait is bounded. Resolves once the server has died of the kill.
 */
export async function loadUntilKilled (server: ProcessApp, { workers, write, killWhen, what }: { workers: number, write: Write, killWhen: () => boolean, what: string }): Promise<void> {
  let killed = false
  let failed = false
  const worker = async (n: number) => {
    for (let i = 0; i < MAX_ITERATIONS; i++) {
      try {
        await write(n, i)
      } catch (error) {
        const gone = connectionGone(error)
        if (killed && gone !== undefined) return
        failed = true
        if (gone === undefined) throw error
        throw new Error(`worker ${n}: the connection was ${gone === 'ECONNREFUSED' ? 'refused' : `lost (${gone})`} before the test killed the server (${exitedWhy(server.child) ?? 'its exit not seen yet'}):\n${server.output()}`, { cause: error })
      }
    }
    failed = true
    throw new Error(`worker ${n}: ${MAX_ITERATIONS} iterations and the server ${killed ? 'still answers after SIGKILL' : 'was never killed'}:\n${server.output()}`)
  }
  const kill = async () => {
    await until(what, () => {
      const why = exitedWhy(server.child)
      if (why !== undefined) throw new Error(`${why} before the test killed it:\n${server.output()}`)
      // A worker failed: the test has failed already, with its reason.
      return failed || killWhen()
    }, { intervalMs: 5, cause: server.output })
    if (failed) return
    killed = true
    server.child.kill('SIGKILL')
    const { signal } = await exited(server.child, 'the server to die of SIGKILL', server.output)
    if (signal !== 'SIGKILL') throw new Error(`the server ended with ${exitedWhy(server.child)}, not of the kill:\n${server.output()}`)
  }
  await Promise.all([kill(), ...Array.from({ length: workers }, (_, n) => worker(n))])
}
