// `npm start`: the Trackbot server on PORT/HOST, closing cleanly on SIGTERM or SIGINT.
import { assembleApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { DatabaseUnreachable } from './store/database.js'

async function main (): Promise<void> {
  const config = loadConfig()
  const { fastify: app, openDatabase } = await assembleApp({
    databaseUrl: config.databaseUrl,
    databaseDirectUrl: config.databaseDirectUrl,
    connectTimeoutMs: config.connectTimeoutS * 1000,
    poolSize: config.poolSize,
    logger: {
      level: config.logLevel,
      ...(config.logFormat === 'pretty' ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    },
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    requestTimeoutMs: config.requestTimeoutMs,
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    auth: config.auth,
    rateLimit: config.rateLimit,
    tracing: config.tracing,
    metricsListener: config.metricsPort === undefined ? undefined : { port: config.metricsPort, host: config.host },
    idempotencyKeyTtlMs: config.idempotencyKeyTtlHours * 3600_000,
    retentionDays: config.retentionDays,
  })

  let closing = false
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.warn(`${signal} again: exiting now`)
      process.exit(1)
    }
    closing = true
    app.log.info(`${signal}: finishing in-flight requests, then exiting`)
    app.close().then(() => process.exit(0), (error: unknown) => {
      app.log.error({ err: error }, 'error while closing')
      process.exit(1)
    })
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)

  // Listening first: /healthz answers while a PostgreSQL starting alongside is waited for.
  await app.listen({ port: config.port, host: config.host })
  try {
    await openDatabase()
  } catch (error) {
    if (closing) return
    throw error
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`trackbot: bad configuration: ${error.message}`)
  } else if (error instanceof DatabaseUnreachable) {
    console.error(`trackbot: failed to start: ${error.message}`)
  } else {
    console.error('trackbot: failed to start:', error)
  }
  process.exit(1)
})
