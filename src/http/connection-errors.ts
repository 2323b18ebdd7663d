// Errors Node's HTTP parser raises before fastify sees a request (a header block over the limit, a
// request not received in time, bytes that are not HTTP) still get the API's problem shape, not fastify's
// default body. There is no request yet, so no route and no request id from the client: a fresh id lets
// the log line and the client's report meet.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { httpProblem, problem, PROBLEM_CONTENT_TYPE } from '../contract/problems.js'
import { sendProblem } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'

interface ConnectionError extends Error { code?: string }

function statusFor (error: ConnectionError): { status: number, detail: string } {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT': return { status: 408, detail: 'The request was not received in time.' }
    case 'HPE_HEADER_OVERFLOW': return { status: 431, detail: 'The request headers are larger than the server accepts (16 KiB).' }
    default: return { status: 400, detail: 'The request is not valid HTTP/1.1.' }
  }
}

export function handleClientError (error: ConnectionError, socket: Socket): void {
  // A reset or an already-destroyed socket has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  if (socket.writable) {
    const { status, detail } = statusFor(error)
    const body = JSON.stringify(httpProblem(status, detail, '/'))
    socket.write([
      `HTTP/1.1 ${status} ${httpProblem(status, '', '').title}`,
      `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      `X-Request-Id: ${randomUUID()}`,
      'Connection: close',
      '',
      body,
    ].join('\r\n'))
  }
  socket.destroy(error)
}

/**
 * Node's other bare answers, made before fastify sees the request: a 417 for an `Expect` other than
 * `100-continue` (Node asks `checkExpectation` listeners first), and a 400 for an HTTP/1.1 request without
 * `Host` (Node's own check has no hook, so app.ts turns it off and the check is made here, as a problem).
 */
export function registerBareAnswers (fastify: FastifyInstance): void {
  fastify.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const body = JSON.stringify(httpProblem(417, 'The server supports no Expect but 100-continue.', request.url ?? '/'))
    response.writeHead(417, {
      'Content-Type': PROBLEM_CONTENT_TYPE,
      'Content-Length': Buffer.byteLength(body),
      'X-Request-Id': randomUUID(),
      // The body the client held back may follow anyway; it is not read.
      Connection: 'close',
    })
    response.end(body)
  })
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.raw.httpVersion !== '1.1' || request.headers.host !== undefined) return done()
    reply.header('Connection', 'close')
    // Answered here: not calling done ends the request's hooks.
    sendProblem(reply, problem('badRequest', 'An HTTP/1.1 request must have a Host header.', requestPath(request)))
  })
}
