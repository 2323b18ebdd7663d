// When the event loop lags (a burst of heavy requests, a long GC), every request already waits that long
// behind it; taking on more only deepens the queue. Past the bound, API requests are turned away at once
// with the API's own 503 problem and Retry-After, so clients and load balancers retry elsewhere or later,
// while the health endpoints keep answering: a lagging process is alive, and /readyz says whether it can serve.
// So does /metrics, which shows why.
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import { unavailable } from '../contract/problems.js'
import { sendProblemAnswer } from '../contract/reply.js'
import { requestPath } from '../contract/routes.js'
import { HEALTH_PATHS } from './health.js'
import { markShed, METRICS_PATH } from './metrics.js'

/** The mean event-loop delay (ms, over each one-second sample) past which requests are shed. */
export const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 1000

/** `maxEventLoopDelayMs` 0 turns shedding off. */
export async function registerLoadShedding (fastify: FastifyInstance, maxEventLoopDelayMs: number): Promise<void> {
  if (maxEventLoopDelayMs === 0) return
  const exempt = new Set<string>([...HEALTH_PATHS, METRICS_PATH])
  await fastify.register(underPressure, {
    maxEventLoopDelay: maxEventLoopDelayMs,
    // Returning without sending lets the request through; the plugin's own body is not our problem shape.
    pressureHandler: async (request, reply) => {
      if (exempt.has(request.routeOptions.url ?? '')) return
      markShed(request)
      sendProblemAnswer(reply, unavailable('The server is overloaded; retry shortly.', requestPath(request)))
    },
  })
}
