import { once } from 'node:events'
import { createServer } from 'node:net'

// Ports below Linux's ephemeral range (32768-60999), so no outgoing connection takes one between this check and
// the server's bind; each process draws from a block of its own (by pid), so test files running side by side do
// not hand the same port to two servers, one of which would then answer the other's requests.
const FIRST_PORT = 10_000
const BLOCK = 16
const BLOCKS = 1000
let drawn = 0

async function isFree (port: number): Promise<boolean> {
  const server = createServer()
  server.on('error', () => {})
  server.listen(port, '127.0.0.1')
  const [event] = await Promise.race([once(server, 'listening').then(() => ['listening']), once(server, 'error').then(() => ['error'])])
  if (event !== 'listening') return false
  server.close()
  await once(server, 'close')
  return true
}

/** A TCP port on 127.0.0.1 that nothing listens on now (for servers the tests and the benchmark start). */
export async function freePort (): Promise<number> {
  const base = FIRST_PORT + (process.pid % BLOCKS) * BLOCK
  for (let tries = 0; tries < BLOCK; tries++) {
    const port = base + (drawn++ % BLOCK)
    if (await isFree(port)) return port
  }
  throw new Error(`no free port in ${base}-${base + BLOCK - 1}`)
}
