// Configuration from the environment, checked once at start so a bad value fails loudly and early.

export interface Config {
  port: number
  host: string
  databaseUrl: string
  /** PostgreSQL connections per process. */
  poolSize: number
  logLevel: string
}

export class ConfigError extends Error {}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

export const DEFAULT_DATABASE_URL = 'file:./data/trackbot.db'

function port (value: string | undefined): number {
  if (value === undefined || value === '') return 8080
  const number = Number(value)
  if (!/^\d+$/.test(value) || number > 65535) throw new ConfigError(`PORT must be an integer from 0 to 65535, got "${value}"`)
  return number
}

function databaseUrl (value: string | undefined): string {
  if (value === undefined || value === '') return DEFAULT_DATABASE_URL
  if (!/^(file|postgres|postgresql):/.test(value)) {
    throw new ConfigError(`DATABASE_URL must be a file: URL (SQLite, e.g. ${DEFAULT_DATABASE_URL}) or a postgresql:// URL, got "${redact(value)}"`)
  }
  return value
}

/** A URL as it may appear in a message: without its password. */
export function redact (url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
}

function poolSize (value: string | undefined): number {
  if (value === undefined || value === '') return 10
  const number = Number(value)
  if (!/^\d+$/.test(value) || number < 1 || number > 1000) throw new ConfigError(`DATABASE_POOL_SIZE must be an integer from 1 to 1000, got "${value}"`)
  return number
}

function logLevel (value: string | undefined): string {
  if (value === undefined || value === '') return 'info'
  if (!LOG_LEVELS.includes(value)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`)
  return value
}

export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: port(env.PORT),
    host: env.HOST || '0.0.0.0',
    databaseUrl: databaseUrl(env.DATABASE_URL),
    poolSize: poolSize(env.DATABASE_POOL_SIZE),
    logLevel: logLevel(env.LOG_LEVEL),
  }
}
