// Request bodies are parsed in the media types the spec declares, all of them JSON; any other is a 415 from
// fastify, and a spec declaring one the server cannot parse does not start.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { errorCodes } from 'fastify'
import type { OpenAPIBackend } from 'openapi-backend'
import { requestMediaTypes } from '../contract/request-validation.js'

/** application/json, and any type with the +json structured suffix (RFC 6839), e.g. application/merge-patch+json (RFC 7396). */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json$/

/** A request whose headers say it has no body, whatever its Content-Type (axios sends one with an empty POST). */
function hasNoBody (request: FastifyRequest): boolean {
  const length = request.headers['content-length']
  return request.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')
}

export function registerContentTypes (fastify: FastifyInstance, api: OpenAPIBackend): void {
  // fastify's own parser, refusing __proto__ and constructor.prototype keys.
  const parseJson = fastify.getDefaultJsonParser('error', 'error')
  fastify.removeAllContentTypeParsers()
  for (const [mediaType, operationIds] of requestMediaTypes(api)) {
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new Error(`the spec declares request bodies in ${mediaType} (${operationIds.join(', ')}), which the server cannot parse: it parses application/json and +json media types only`)
    }
    // An empty body means "no body": create_conversation accepts none, and a required body is then a 400
    // from validation rather than fastify's own empty-body error.
    fastify.addContentTypeParser(mediaType, { parseAs: 'string' }, (request, body, done) => {
      if (body === '') {
        done(null, undefined)
        return
      }
      parseJson(request, body as string, done)
    })
  }
  // Every other media type: no body at all is no body, as fastify treats a request without Content-Type.
  // A body is a 415, and is not read; fastify closes the connection after it. Unknown paths go on to their 404.
  fastify.addContentTypeParser('*', (request, _payload, done) => {
    if (hasNoBody(request) || request.is404) {
      done(null, undefined)
      return
    }
    done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined)
  })
}
