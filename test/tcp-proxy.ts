// A stand-in for the network between the server and PostgreSQL.
import net from 'node:net'
import { freePort } from '../scripts/free-port.js'

/**
 * A TCP proxy to PostgreSQL on a port of its own, that a test can cut and restore, standing in for a network
 * failure or a database not up yet (`listening: false`: nothing listens on the port until `open`).
 */
export async function cuttableProxy (target: URL, { listening = true } = {}) {
  const sockets = new Set<net.Socket>()
  let server: net.Server | undefined
  const port = await freePort()
  const open = () => new Promise<void>((resolve) => {
    server = net.createServer((client) => {
      const upstream = net.connect(Number(target.port || 5432), target.hostname)
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('error', () => {})
        socket.on('close', () => sockets.delete(socket))
      }
      client.pipe(upstream).pipe(client)
    }).listen(port, '127.0.0.1', resolve)
  })
  const cut = () => new Promise<void>((resolve) => {
    if (server === undefined) return resolve()
    server.close(() => resolve())
    server = undefined
    for (const socket of sockets) socket.destroy()
  })
  if (listening) await open()
  return { port, open, cut }
}
