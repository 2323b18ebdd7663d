// A PostgreSQL that is not taking sessions yet: on a port of its own, it answers the first connections'
// startup message with the FATAL ErrorResponse PostgreSQL itself sends while starting up (SQLSTATE 57P03) or
// when it has no connection slot left (53300), then passes every later connection through to the real one.
import net from 'node:net'
import { freePort } from '../helper.js'

// The protocol's request codes in place of a version: SSL and GSS encryption asked for first, answered 'N'
// (not offered) as by a server without them; a cancel request.
const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

/** The ErrorResponse message PostgreSQL sends before closing a connection it refuses. */
function errorResponse (code: string, message: string): Buffer {
  const fields = Buffer.from(['SFATAL', 'VFATAL', `C${code}`, `M${message}`].map((field) => `${field}\0`).join('') + '\0')
  const header = Buffer.alloc(5)
  header.write('E', 0)
  header.writeInt32BE(4 + fields.length, 1)
  return Buffer.concat([header, fields])
}

/**
 * Reads the connection's packets until its startup message, answering encryption requests with 'N', then
 * sends the error and closes. A packet is an Int32 length (itself included), then an Int32 code.
 */
function refuse (socket: net.Socket, error: Buffer, onStartup: () => void): void {
  let buffered = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk])
    while (buffered.length >= 8 && buffered.length >= buffered.readInt32BE(0)) {
      const length = buffered.readInt32BE(0)
      const code = buffered.readInt32BE(4)
      buffered = buffered.subarray(length)
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        socket.write('N')
      } else if (code === CANCEL_REQUEST) {
        socket.end()
        return
      } else {
        onStartup()
        socket.end(error)
        return
      }
    }
  })
}

interface Refusal {
  /** SQLSTATE, e.g. 57P03. */
  code: string
  /** PostgreSQL's own message for it. */
  message: string
}

/**
 * A fake PostgreSQL on a loopback port: connection number k (from 1) is refused with `refusals[k - 1]`
 * once it sends its startup message; connections past the list are proxied to `target`. `refused()` is how
 * many startup messages were answered with an error so far.
 */
export async function refusingPostgres (target: URL, refusals: Refusal[]): Promise<{ port: number, refused: () => number, close: () => Promise<void> }> {
  const port = await freePort()
  const sockets = new Set<net.Socket>()
  const track = (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  }
  let connections = 0
  let refused = 0
  const server = net.createServer((client) => {
    track(client)
    const refusal = refusals[connections++]
    if (refusal !== undefined) {
      refuse(client, errorResponse(refusal.code, refusal.message), () => { refused++ })
      return
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    track(upstream)
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const close = () => new Promise<void>((resolve) => {
    server.close(() => resolve())
    for (const socket of sockets) socket.destroy()
  })
  return { port, refused: () => refused, close }
}
