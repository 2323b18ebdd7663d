// The one way tests talk to the server: a real app on its own SQLite file, every response checked
// against the spec before a test sees it.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { buildApp, type AppOptions } from '../src/app.js'
import { readSpec, type SpecSource } from '../src/contract/spec.js'
import { providerOf, sqliteFile } from '../src/store/database-url.js'
import type { Provider } from '../src/store/migrate/index.js'
import { contractErrors, type SeenResponse } from './contract.js'

interface Teardown { teardown (fn: () => unknown): void }

export interface Reply<T = any> {
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: T
  text: string
}

export interface RequestOptions {
  body?: unknown
  /** Sent as is, instead of JSON-encoding `body`. */
  payload?: string | Buffer
  headers?: Record<string, string>
  /**
   * The test provokes a 5xx on purpose (a refused write, an unreachable database): return it. Any other
   * 5xx from an app of startApp fails the request, carrying what the app logged about it.
   */
  expectServerError?: boolean
  /** The client's address as the app sees it (inject only), e.g. to tell anonymous callers apart. */
  remoteAddress?: string
}

/** The store this run tests: `TRACKBOT_TEST_STORE=postgres` for PostgreSQL, SQLite otherwise. */
export const store: Provider = process.env.TRACKBOT_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres'

export interface TestApp {
  app: FastifyInstance
  databaseUrl: string
  request<T = any>(method: string, url: string, options?: RequestOptions): Promise<Reply<T>>
}

export function tempDir (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'trackbot-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function encode (options: RequestOptions): { headers: Record<string, string>, payload?: string | Buffer } {
  const headers: Record<string, string> = { ...options.headers }
  if (options.payload !== undefined || options.body === undefined) return { headers, payload: options.payload }
  headers['content-type'] ??= 'application/json'
  return { headers, payload: JSON.stringify(options.body) }
}

/** What an app logged at warn and above, one parsed pino line each, for the failures they explain. */
class ErrorLog {
  private readonly lines: any[] = []
  /** A pino destination: pino writes each line whole, with its newline. */
  readonly stream = { write: (line: string) => { this.lines.push(JSON.parse(line)) } }

  /** The lines about one request (pino's reqId is the X-Request-Id the client sees), readable. */
  about (requestId: unknown): string {
    const lines = this.lines.filter((line) => line.reqId === requestId)
    if (lines.length === 0) return `  the app logged nothing at warn or above for request id ${String(requestId)}`
    // The request's own summary line repeats the error already logged where it was caught.
    const stacks = new Set<string>()
    return lines.map((line) => {
      const error = line.err?.stack ?? line.err?.message
      if (error === undefined || stacks.has(error)) return `  logged: ${line.msg}`
      stacks.add(error)
      return `  logged: ${line.msg}: ${String(error).replaceAll('\n', '\n    ')}`
    }).join('\n')
  }
}

/** Fails unless the response obeys the spec (and, with an error log, is no unexpected 5xx); parses its JSON body. */
function checked<T> (seen: SeenResponse, options: RequestOptions = {}, log?: ErrorLog): Reply<T> {
  const errors = contractErrors(seen)
  const unexpected5xx = log !== undefined && seen.status >= 500 && options.expectServerError !== true
  if (errors.length > 0 || unexpected5xx) {
    const why = [
      ...errors.length > 0 ? [`breaks the spec:\n  ${errors.join('\n  ')}`] : [],
      ...unexpected5xx ? [`is a server error the test did not expect (RequestOptions.expectServerError):\n${log.about(seen.headers['x-request-id'])}`] : [],
    ]
    throw new Error(`${seen.method} ${seen.url} → ${seen.status} ${why.join('\nand ')}\n  body: ${seen.text.slice(0, 500)}`)
  }
  const isJson = /json/.test(String(seen.headers['content-type'] ?? ''))
  return { ...seen, body: isJson && seen.text !== '' ? JSON.parse(seen.text) : undefined }
}

async function inject<T> (app: FastifyInstance, method: string, url: string, options: RequestOptions, log?: ErrorLog): Promise<Reply<T>> {
  const { headers, payload } = encode(options)
  const response = await app.inject({ method: method as 'GET', url, headers, payload, remoteAddress: options.remoteAddress })
  return checked({ method, url, status: response.statusCode, headers: response.headers, text: response.body }, options, log)
}

export async function request<T> (app: FastifyInstance, method: string, url: string, options: RequestOptions = {}): Promise<Reply<T>> {
  return await inject(app, method, url, options)
}

/** The same over a real socket, for a server running in another process. */
export async function httpRequest<T> (origin: string, method: string, url: string, options: RequestOptions = {}): Promise<Reply<T>> {
  const { headers, payload } = encode(options)
  const response = await fetch(origin + url, { method, headers, body: payload })
  const text = await response.text()
  return checked({ method, url, status: response.status, headers: Object.fromEntries(response.headers), text })
}

async function onServer<T> (work: (client: pg.Client) => Promise<T>, url = TEST_DATABASE_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** A new empty database on the store under test; the returned function drops it. */
export async function createDatabase (t: Teardown, provider: Provider = store): Promise<{ url: string, drop: () => Promise<void> }> {
  if (provider === 'sqlite') return { url: `file:${join(tempDir(t), 'trackbot.db')}`, drop: async () => {} }
  const name = `trackbot_test_${randomUUID().replaceAll('-', '')}`
  await onServer((client) => client.query(`CREATE DATABASE "${name}"`))
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => onServer(async (client) => { await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) }) }
}

/** A new empty database for this test, dropped when it ends. */
export async function freshDatabaseUrl (t: Teardown): Promise<string> {
  const { url, drop } = await createDatabase(t)
  t.teardown(drop)
  return url
}

/** Runs SQL straight on a test database, behind the app's back. */
export async function runSql (databaseUrl: string, sql: string): Promise<unknown[]> {
  if (providerOf(databaseUrl) === 'sqlite') {
    const db = new Sqlite(sqliteFile(databaseUrl))
    try {
      const statement = db.prepare(sql)
      return statement.reader ? statement.all() : [statement.run()]
    } finally {
      db.close()
    }
  }
  return await onServer(async (client) => (await client.query(sql)).rows, databaseUrl)
}

/** Every stored row, Idempotency-Key records too (a refused request must not use a key up). */
export async function storedRows (databaseUrl: string): Promise<string> {
  const tables = ['User', 'Conversation', 'Message']
  const rows = await Promise.all([
    ...tables.map((table) => runSql(databaseUrl, `SELECT * FROM "${table}" ORDER BY id`)),
    runSql(databaseUrl, 'SELECT * FROM "IdempotencyKey" ORDER BY id'),
  ])
  return JSON.stringify(rows)
}

/** Every stored row and id counter, to show that a refused request changed nothing. */
export async function snapshot (databaseUrl: string): Promise<string> {
  const tables = ['User', 'Conversation', 'Message']
  const counters = providerOf(databaseUrl) === 'sqlite'
    ? await runSql(databaseUrl, 'SELECT * FROM sqlite_sequence ORDER BY name')
    : await Promise.all(tables.map((table) => runSql(databaseUrl, `SELECT last_value, is_called FROM "${table}_id_seq"`)))
  return JSON.stringify({ rows: await storedRows(databaseUrl), counters })
}

/** The committed spec with `edit` applied to a copy of it, for tests of how the server follows its contract. */
export function specVariant (edit: (document: any) => void): SpecSource {
  const document = structuredClone(readSpec())
  edit(document)
  // JSON is YAML, so the spec served at /openapi.yaml is the document the server runs.
  return { yaml: Buffer.from(JSON.stringify(document)), document }
}

/**
 * Starts the app on `databaseUrl` (default: a fresh database on the store under test) and, when the
 * test ends, closes it and drops the database it made. Its warnings and errors are kept in memory, so
 * an unexpected 5xx fails with the error behind it rather than a bare status.
 */
export async function startApp (t: Teardown, databaseUrl?: string, options: Omit<AppOptions, 'databaseUrl'> = {}): Promise<TestApp> {
  const fresh = databaseUrl === undefined ? await createDatabase(t) : undefined
  const url = databaseUrl ?? fresh!.url
  const log = new ErrorLog()
  const app = await buildApp({ poolSize: 4, logger: { level: 'warn', stream: log.stream }, ...options, databaseUrl: url })
  t.teardown(async () => {
    await app.close()
    await fresh?.drop()
  })
  return {
    app,
    databaseUrl: url,
    request: (method, url, options = {}) => inject(app, method, url, options, log),
  }
}

export const API = '/api/v1'
