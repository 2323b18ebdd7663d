// What a DATABASE_URL names: which store, for SQLite which file, for PostgreSQL whether it goes through
// PgBouncer. The one parser of these URLs; it loads no driver, so src/config.ts can check a URL at start
// and scripts can find a file with it.
import { resolve } from 'node:path'
import type { Provider } from './migrate/index.js'

export function providerOf (databaseUrl: string): Provider {
  return /^postgres(ql)?:/.test(databaseUrl) ? 'postgres' : 'sqlite'
}

/** `file:./data/trackbot.db` → an absolute path, relative paths from the working directory. */
export function sqliteFile (databaseUrl: string): string {
  return resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''))
}

/** A URL as it may appear in a message or a log line: without its password. */
export function redact (url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
}

function queryParams (databaseUrl: string): { base: string, params: string[] } {
  const query = databaseUrl.indexOf('?')
  return query === -1 ? { base: databaseUrl, params: [] } : { base: databaseUrl.slice(0, query), params: databaseUrl.slice(query + 1).split('&') }
}

/** The value of `pgbouncer=` in a URL's query, if it has one. */
export function pgbouncerParam (databaseUrl: string): string | undefined {
  return queryParams(databaseUrl).params.find((param) => param.startsWith('pgbouncer='))?.slice('pgbouncer='.length)
}

/**
 * A PostgreSQL URL as pg takes it, and whether it names a PgBouncer in transaction pooling: `?pgbouncer=true`,
 * Prisma's own convention. The parameter is PgBouncer's and ours, not pg's, so it is taken out; the rest of
 * the query is left byte for byte (re-encoding it could change an `options=` value).
 */
export function postgresTarget (databaseUrl: string): { connectionString: string, pgbouncer: boolean } {
  const { base, params } = queryParams(databaseUrl)
  const kept = params.filter((param) => !param.startsWith('pgbouncer='))
  return { connectionString: base + (kept.length > 0 ? `?${kept.join('&')}` : ''), pgbouncer: pgbouncerParam(databaseUrl) === 'true' }
}
