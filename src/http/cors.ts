// CORS for browser chat front ends: off unless CORS_ORIGINS lists who may call the API.
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'

/** What a front end needs to read off our responses: where a new resource is, the next page, the trace id. */
const EXPOSED_HEADERS = ['Location', 'Link', 'X-Request-Id', 'Retry-After']

/** `origins` is an exact list of allowed origins, or `['*']` for any; empty turns CORS off. */
export async function registerCors (fastify: FastifyInstance, origins: string[]): Promise<void> {
  if (origins.length === 0) return
  await fastify.register(cors, {
    origin: origins.includes('*') ? '*' : origins,
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    allowedHeaders: ['Content-Type', 'X-Request-Id'],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
    // Strict mode answers a bare OPTIONS with a text/plain 400, outside our one error shape; a preflight
    // from an origin not on the list gets no Access-Control-Allow-Origin, and the browser stops there.
    strictPreflight: false,
  })
}
