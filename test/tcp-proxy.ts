// A stand-in for the network between the server and a service it uses (PostgreSQL, Redis).
import net from 'node:net'
import { freePort } from '../scripts/free-port.js'

/**
 * A TCP proxy to `target` (PostgreSQL unless its URL names another port) on a port of its own, that a test can
 * cut and restore, standing in for a network failure or a database not up yet (`listening: false`: nothing
 * listens on the port until `open`), or hang: a service that accepts connections and then never answers.
 */
export async function cuttableProxy (target: URL, { listening = true } = {}) {
  const sockets = new Set<net.Socket>()
  const pipes = new Set<{ client: net.Socket, upstream: net.Socket }>()
  let server: net.Server | undefined
  let hanging = false
  const port = await freePort()
  const track = (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  }
  const open = () => new Promise<void>((resolve) => {
    server = net.createServer((client) => {
      track(client)
      // Hanging: the connection is accepted, and what the client sends is never read.
      if (hanging) {
        client.pause()
        return
      }
      const upstream = net.connect(Number(target.port || 5432), target.hostname)
      track(upstream)
      const pipe = { client, upstream }
      pipes.add(pipe)
      client.on('close', () => pipes.delete(pipe))
      client.pipe(upstream).pipe(client)
    }).listen(port, '127.0.0.1', resolve)
  })
  const cut = () => new Promise<void>((resolve) => {
    hanging = false
    if (server === undefined) return resolve()
    server.close(() => resolve())
    server = undefined
    for (const socket of sockets) socket.destroy()
  })
  /** From now on nothing goes through, either way, on open connections or new ones; all stay open until `cut`. */
  const hang = () => {
    hanging = true
    for (const { client, upstream } of pipes) {
      client.unpipe(upstream)
      upstream.unpipe(client)
      client.pause()
      upstream.pause()
    }
  }
  if (listening) await open()
  return { port, open, cut, hang }
}
