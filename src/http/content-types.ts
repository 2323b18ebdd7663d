// The API speaks JSON only; everything else is a 415 from fastify.
import type { FastifyInstance } from 'fastify'

export function registerContentTypes (fastify: FastifyInstance): void {
  // fastify's own parser, refusing __proto__ and constructor.prototype keys.
  const parseJson = fastify.getDefaultJsonParser('error', 'error')
  fastify.removeAllContentTypeParsers()
  // An empty body means "no body": create_conversation accepts none, and a required body is then a 400
  // from validation rather than fastify's own empty-body error.
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') {
      done(null, undefined)
      return
    }
    parseJson(request, body as string, done)
  })
}
