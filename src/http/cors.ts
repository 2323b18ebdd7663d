// CORS for browser chat front ends: off unless CORS_ORIGINS lists who may call the API.
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import type { Document } from 'openapi-backend'
import { IDEMPOTENCY_KEY, REPLAYED_HEADER } from '../contract/idempotency-headers.js'
import { specMethods } from '../contract/spec.js'

/**
 * What a front end needs to read off our responses: where a new resource is, the next page, the trace id,
 * when to retry, the conversation's ETag for conditional requests, whether a keyed create was a replay, its
 * rate limit budget, and why a token was refused.
 */
const EXPOSED_HEADERS = ['Location', 'Link', 'X-Request-Id', 'Retry-After', 'ETag', REPLAYED_HEADER, 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'WWW-Authenticate']

/**
 * `origins` is an exact list of allowed origins, or `['*']` for any; empty turns CORS off. A preflight
 * allows the methods the specs have operations for, so a new method in a spec needs no edit here.
 */
export async function registerCors (fastify: FastifyInstance, origins: string[], specs: readonly Document[]): Promise<void> {
  if (origins.length === 0) return
  await fastify.register(cors, {
    origin: origins.includes('*') ? '*' : origins,
    methods: [...new Set(specs.flatMap(specMethods))],
    allowedHeaders: ['Content-Type', 'X-Request-Id', 'If-Match', 'If-None-Match', IDEMPOTENCY_KEY, 'Authorization'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
    // Strict mode answers a bare OPTIONS with a text/plain 400, outside our one error shape; a preflight
    // from an origin not on the list gets no Access-Control-Allow-Origin, and the browser stops there.
    strictPreflight: false,
  })
}
