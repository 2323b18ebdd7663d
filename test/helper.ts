// The one way tests reach the server: an app under test by transport (in-process inject, a real socket, or
// the built server in its own process), each answer checked against the spec and any 5xx a test did not ask
// for failing with what the app logged about it; databases from pre-migrated templates; fixture builders; one
// bounded poll.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Sqlite from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { freePort } from '../scripts/free-port.js'
import type { components } from '../generated/v1.js'
import type { components as V2Components } from '../generated/v2.js'
import { buildApp, type AppOptions } from '../src/app.js'
import { readSpec, type ContractVersion, type SpecSource } from '../src/contract/spec.js'
import { projectRoot } from '../src/project-root.js'
import { providerOf, sqliteFile } from '../src/store/database-url.js'
import type { Provider } from '../src/store/migrate/index.js'
import { contractErrors, parsedBody, type SeenResponse } from './contract.js'
import { declaredStores, TEMPLATE_ENV } from './stores.js'

export { freePort }

interface Teardown { teardown (fn: () => unknown): void }

export const API = '/api/v1'
export const API_V2 = '/api/v2'

/** The store this run tests: `TRACKBOT_TEST_STORE=postgres` for PostgreSQL, SQLite otherwise. */
export const store: Provider = process.env.TRACKBOT_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite'

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres'

// A file declares the stores it runs on (test/stores.ts); one run on a store it did not declare is a mistake
// of the runner or of the declaration, and would test nothing or the wrong thing.
const testFile = process.argv[1] ?? ''
const declared = testFile.endsWith('.test.ts') ? declaredStores(readFileSync(testFile, 'utf8')) : undefined
if (declared !== undefined && declared !== 'none' && !declared.includes(store)) {
  throw new Error(`${relative(projectRoot, testFile)} declares stores: ${declared.join(', ')}, but this run is on ${store}`)
}

// ---------------------------------------------------------------------------------------------------------
// Bounded waiting

/**
 * Polls `check` until it returns something other than undefined or false, and returns that. Past `timeoutMs`
 * it fails saying what was awaited and, from `cause`, what it saw instead; a machine busy enough to need the
 * whole bound still passes, since nothing here measures time.
 */
export async function until<T> (what: string, check: () => T | undefined | false | Promise<T | undefined | false>, { timeoutMs = 60_000, intervalMs = 20, cause }: { timeoutMs?: number, intervalMs?: number, cause?: () => string } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}${cause === undefined ? '' : `:\n${cause()}`}`)
    await sleep(intervalMs)
  }
}

/**
 * The environment for a process that runs others' code (tsc, Prism, a code generator): this one's, without the
 * coverage collection npm test turns on, which would slow it and measure nothing of ours.
 */
export function toolEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_V8_COVERAGE: _, ...env } = process.env
  return { ...env, ...extra }
}

export function tempDir (t: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'trackbot-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// ---------------------------------------------------------------------------------------------------------
// Databases

// One small pool per database the tests reach behind the app's back, instead of a connection per statement;
// idle clients do not keep a test process alive.
const pools = new Map<string, pg.Pool>()

function poolFor (url: string): pg.Pool {
  let pool = pools.get(url)
  if (pool === undefined) {
    pool = new pg.Pool({ connectionString: url, max: 2, idleTimeoutMillis: 1000, allowExitOnIdle: true })
    // A database dropped WITH (FORCE) under an idle client ends it; the next query opens another.
    pool.on('error', () => {})
    pools.set(url, pool)
  }
  return pool
}

async function endPool (url: string): Promise<void> {
  const pool = pools.get(url)
  pools.delete(url)
  await pool?.end()
}

function databaseUrlNamed (name: string): string {
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${name}`
  return url.toString()
}

async function dropPostgres (name: string): Promise<void> {
  await endPool(databaseUrlNamed(name))
  await poolFor(TEST_DATABASE_URL).query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
}

export interface DatabaseChoice {
  /** The store (default: the one this run tests). */
  provider?: Provider
  /** Migrated (the default: a copy of the run's template when there is one), or empty, for tests of migrating. */
  migrated?: boolean
}

/** A new database on the store under test, migrated unless asked otherwise; the returned function drops it. */
export async function createTestDatabase (t: Teardown, { provider = store, migrated = true }: DatabaseChoice = {}): Promise<{ url: string, drop: () => Promise<void> }> {
  const template = migrated ? process.env[TEMPLATE_ENV[provider]] : undefined
  if (provider === 'sqlite') {
    const file = join(tempDir(t), 'trackbot.db')
    if (template !== undefined) copyFileSync(template, file)
    const url = `file:${file}`
    if (migrated && template === undefined) await migrate(url)
    return { url, drop: async () => {} }
  }
  const name = `trackbot_test_${randomUUID().replaceAll('-', '')}`
  await poolFor(TEST_DATABASE_URL).query(`CREATE DATABASE "${name}"${template === undefined ? '' : ` TEMPLATE "${template}"`}`)
  const url = databaseUrlNamed(name)
  if (migrated && template === undefined) await migrate(url)
  return { url, drop: () => dropPostgres(name) }
}

async function migrate (databaseUrl: string): Promise<void> {
  const { migrateDatabase } = await import('../src/store/database.js')
  await migrateDatabase(databaseUrl, { info: () => {}, warn: () => {} })
}

/** A new database for this test (migrated unless asked otherwise), dropped when it ends. */
export async function testDatabaseUrl (t: Teardown, choice: DatabaseChoice = {}): Promise<string> {
  const { url, drop } = await createTestDatabase(t, choice)
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
  return (await poolFor(databaseUrl).query(sql)).rows
}

/** Every table the data model has (prisma/models.prisma), so a new one is in every "changed nothing" check. */
export const modelTables = [...readFileSync(join(projectRoot, 'prisma', 'models.prisma'), 'utf8').matchAll(/^model (\w+) \{/gm)].map((match) => match[1]!)

/** Every stored row of every table, Idempotency-Key records too (a refused request must not use a key up). */
export async function tableRows (databaseUrl: string): Promise<string> {
  const selects = modelTables.map((table) => `SELECT * FROM "${table}" ORDER BY id`)
  return JSON.stringify(await queries(databaseUrl, selects))
}

/**
 * The search index's tables, which triggers write beside the models' tables (the `*_search` migrations), and how to
 * read their entries: a write refused after reaching them would show in storeContents.
 */
export const searchIndexTables: Record<Provider, Record<string, string>> = {
  sqlite: { SearchIndex: 'SELECT rowid FROM "SearchIndex" ORDER BY rowid' },
  postgres: { MessageSearch: 'SELECT * FROM "MessageSearch" ORDER BY 1', ConversationSearch: 'SELECT * FROM "ConversationSearch" ORDER BY 1' },
}

/** Every stored row and id counter, and the search index's entries, to show that a refused request changed nothing. */
export async function storeContents (databaseUrl: string): Promise<string> {
  const provider = providerOf(databaseUrl)
  const counters = provider === 'sqlite'
    ? 'SELECT * FROM sqlite_sequence ORDER BY name'
    : 'SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename'
  const selects = modelTables.map((table) => `SELECT * FROM "${table}" ORDER BY id`)
  const [counted, ...rows] = await queries(databaseUrl, [counters, ...selects, ...Object.values(searchIndexTables[provider])])
  return JSON.stringify({ rows, counters: counted })
}

/** The rows of each query, in one round trip on PostgreSQL. */
async function queries (databaseUrl: string, sqls: string[]): Promise<unknown[][]> {
  if (providerOf(databaseUrl) === 'sqlite') {
    const db = new Sqlite(sqliteFile(databaseUrl), { readonly: true })
    try {
      return sqls.map((sql) => db.prepare(sql).all())
    } finally {
      db.close()
    }
  }
  const results = await poolFor(databaseUrl).query(sqls.join(';\n')) as unknown as pg.QueryResult[]
  return results.map((result) => result.rows)
}

/** The committed spec with `edit` applied to a copy of it, for tests of how the server follows its contract. */
export function specVariant (edit: (document: any) => void, version: ContractVersion = 'v1'): SpecSource {
  const document = structuredClone(readSpec(version))
  edit(document)
  // JSON is YAML, so the spec served at /openapi.yaml is the document the server runs.
  return { version, yaml: Buffer.from(JSON.stringify(document)), document }
}

// ---------------------------------------------------------------------------------------------------------
// Logs

/** What an app logged, one parsed pino line each: the cause of a failure, or what a test expects logged. */
export class LogCapture {
  readonly lines: any[] = []
  private text = ''

  /** A pino destination: pino writes each line whole, with its newline. */
  readonly stream = { write: (line: string) => { this.add(line) } }

  /** Takes a process's output as it comes; lines that are not JSON (a crash's stack) are kept as text. */
  add (chunk: string): void {
    this.text += chunk
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue
      try {
        this.lines.push(JSON.parse(line))
      } catch {
        this.lines.push({ msg: line })
      }
    }
  }

  /** Everything logged, as written. */
  output (): string {
    return this.text
  }

  /** Waits, bounded, for a line matching `pattern` (its msg or, for text, the line) and returns it. */
  async waitFor (pattern: RegExp, what = `a log line matching ${pattern}`, exited?: () => string | undefined): Promise<any> {
    return await until(what, () => {
      const why = exited?.()
      if (why !== undefined) throw new Error(`${why} before ${what}:\n${this.text}`)
      return this.lines.find((line) => pattern.test(String(line.msg)))
    }, { cause: () => this.text })
  }

  /** The lines about one request (pino's reqId is the X-Request-Id the client sees), readable. */
  about (requestId: unknown): string {
    const lines = this.lines.filter((line) => line.reqId === requestId && line.level >= 40)
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

// ---------------------------------------------------------------------------------------------------------
// Requests

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
   * 5xx from an app under test fails the request, carrying what the app logged about it.
   */
  expectServerError?: boolean
  /** The client's address as the app sees it (inject only), e.g. to tell anonymous callers apart. */
  remoteAddress?: string
}

export type Request = <T = any>(method: string, url: string, options?: RequestOptions) => Promise<Reply<T>>

function encode (options: RequestOptions): { headers: Record<string, string>, payload?: string | Buffer } {
  const headers: Record<string, string> = { ...options.headers }
  if (options.payload !== undefined || options.body === undefined) return { headers, payload: options.payload }
  headers['content-type'] ??= 'application/json'
  // NDJSON: a line per item of an array body, one line for any other value.
  if (headers['content-type'].startsWith('application/x-ndjson')) {
    const lines = Array.isArray(options.body) ? options.body : [options.body]
    return { headers, payload: lines.map((line) => `${JSON.stringify(line)}\n`).join('') }
  }
  return { headers, payload: JSON.stringify(options.body) }
}

/** Fails unless the response obeys the spec (and, with a log, is no unexpected 5xx); parses its JSON body. */
function checked<T> (seen: SeenResponse, options: RequestOptions = {}, log?: LogCapture): Reply<T> {
  const errors = contractErrors(seen)
  const unexpected5xx = log !== undefined && seen.status >= 500 && options.expectServerError !== true
  if (errors.length > 0 || unexpected5xx) {
    const why = [
      ...errors.length > 0 ? [`breaks the spec:\n  ${errors.join('\n  ')}`] : [],
      ...unexpected5xx ? [`is a server error the test did not expect (RequestOptions.expectServerError):\n${log.about(seen.headers['x-request-id'])}`] : [],
    ]
    throw new Error(`${seen.method} ${seen.url} → ${seen.status} ${why.join('\nand ')}\n  body: ${seen.text.slice(0, 500)}`)
  }
  return { ...seen, body: parsedBody(seen.headers, seen.text) as T }
}

function injector (app: FastifyInstance, log?: LogCapture): Request {
  return async (method, url, options = {}) => {
    const { headers, payload } = encode(options)
    const response = await app.inject({ method: method as 'GET', url, headers, payload, remoteAddress: options.remoteAddress })
    return checked({ method, url, status: response.statusCode, headers: response.headers, text: response.body }, options, log)
  }
}

/** Requests over a real socket to `origin`; with the server's log, an unexpected 5xx fails with its cause. */
export function httpClient (origin: string, log?: LogCapture): Request {
  return async (method, url, options = {}) => {
    const { headers, payload } = encode(options)
    const response = await fetch(origin + url, { method, headers, body: payload })
    const text = await response.text()
    return checked({ method, url, status: response.status, headers: Object.fromEntries(response.headers), text }, options, log)
  }
}

/** One request over a real socket, to a server the test does not hold the log of. */
export async function httpRequest<T = any> (origin: string, method: string, url: string, options: RequestOptions = {}): Promise<Reply<T>> {
  return await httpClient(origin)(method, url, options)
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures

type Schemas = components['schemas']
export type User = Schemas['User']
export type CreatedConversation = Schemas['CreateConversationResponse']
export type Message = Schemas['Message']

export interface Fixtures {
  /** A new user (201), by default named Ada. */
  createUser (body?: Schemas['CreateUserRequest'], headers?: Record<string, string>): Promise<User>
  /** A new conversation of `userId` (201), empty by default. */
  createConversation (userId: number, body?: Schemas['CreateConversationRequest'], headers?: Record<string, string>): Promise<CreatedConversation>
  /** A message posted to `conversationId` (201), a user's "hello" by default. */
  postMessage (conversationId: number, body?: Schemas['NewMessage'], headers?: Record<string, string>): Promise<Message>
}

/** The fixture builders over any transport: each fails unless the write answers 201. */
export function fixtures (request: Request): Fixtures {
  const created = async <T>(url: string, body: unknown, headers?: Record<string, string>): Promise<T> => {
    const reply = await request<T>('POST', `${API}${url}`, { body, ...headers === undefined ? {} : { headers } })
    if (reply.status !== 201) throw new Error(`POST ${API}${url} → ${reply.status}, not 201: ${reply.text.slice(0, 500)}`)
    return reply.body
  }
  return {
    createUser: (body = { name: 'Ada' }, headers) => created('/users', body, headers),
    createConversation: (userId, body = {}, headers) => created(`/users/${userId}/conversations`, body, headers),
    postMessage: (conversationId, body = { role: 'user', content: 'hello' }, headers) => created(`/conversations/${conversationId}/messages`, body, headers),
  }
}

type V2Schemas = V2Components['schemas']
export type V2Conversation = V2Schemas['Conversation']
export type V2CreatedConversation = V2Schemas['CreateConversationResponse']
export type V2Message = V2Schemas['Message']
export type V2NewMessage = V2Schemas['NewMessage']

export interface V2Fixtures {
  /** A new conversation of `userId` through v2 (201), empty by default. */
  createConversation (userId: number, body?: V2Schemas['CreateConversationRequest'], headers?: Record<string, string>): Promise<V2CreatedConversation>
  /** A message posted through v2 (201), a user's "hello" by default. */
  postMessage (conversationId: number, body?: V2NewMessage, headers?: Record<string, string>): Promise<V2Message>
  /** Messages appended through v2's create_messages (201). */
  postMessages (conversationId: number, messages: V2NewMessage[], headers?: Record<string, string>): Promise<V2Message[]>
  /** A fork of `conversationId` (201), at its last message by default. */
  fork (conversationId: number, body?: V2Schemas['ForkConversationRequest'], headers?: Record<string, string>): Promise<V2Conversation>
}

/** The v2 fixture builders over any transport: each fails unless the write answers 201. */
export function v2Fixtures (request: Request): V2Fixtures {
  const created = async <T>(url: string, body: unknown, headers?: Record<string, string>): Promise<T> => {
    const reply = await request<T>('POST', `${API_V2}${url}`, { body, ...headers === undefined ? {} : { headers } })
    if (reply.status !== 201) throw new Error(`POST ${API_V2}${url} → ${reply.status}, not 201: ${reply.text.slice(0, 500)}`)
    return reply.body
  }
  return {
    createConversation: (userId, body = {}, headers) => created(`/users/${userId}/conversations`, body, headers),
    postMessage: (conversationId, body = { role: 'user', content: 'hello' }, headers) => created(`/conversations/${conversationId}/messages`, body, headers),
    postMessages: async (conversationId, messages, headers) =>
      (await created<{ messages: V2Message[] }>(`/conversations/${conversationId}/messages/batch`, { messages }, headers)).messages,
    fork: (conversationId, body = {}, headers) => created(`/conversations/${conversationId}/fork`, body, headers),
  }
}

// ---------------------------------------------------------------------------------------------------------
// Apps under test

export interface TestApp extends Fixtures {
  databaseUrl: string
  request: Request
  /** What the app logged at warn and above (at `logLevel`, for a process). */
  log: LogCapture
}

export interface InProcessApp extends TestApp {
  app: FastifyInstance
}

export interface HttpApp extends InProcessApp {
  origin: string
}

export interface ProcessApp extends TestApp {
  child: ChildProcess
  origin: string
  env: Record<string, string>
  /** Everything the process printed. */
  output (): string
  /** SIGTERM, then its exit code once it has exited. */
  stop (): Promise<number | null>
}

interface Common {
  /** The database to use; default a new migrated one on the store under test, dropped when the test ends. */
  databaseUrl?: string
}

interface InProcess extends Common, Omit<AppOptions, 'databaseUrl' | 'logger'> {
  /** What the app logs into `log` (default warn): a test that expects an info line asks for info. */
  logLevel?: 'warn' | 'info' | 'debug'
}
export type InjectOptions = InProcess & { transport?: 'inject' }
export type HttpOptions = InProcess & { transport: 'http' }
export interface ProcessOptions extends Common {
  transport: 'process'
  /** The server's environment beyond PORT, HOST and DATABASE_URL (LOG_LEVEL defaults to info). */
  env?: Record<string, string>
  /** Resolve once /readyz answers 200 (the default), or as soon as the process is spawned. */
  ready?: boolean
}

/**
 * An app under test, by transport: `inject` (the default) calls the app in this process; `http` listens on a
 * loopback port; `process` spawns the built server (`dist/src/server.js`, what `npm start` runs). Every
 * answer is checked against the spec, and a 5xx the test did not ask for fails with what the app logged.
 * Everything it made is closed or dropped when the test ends.
 */
export async function startApp (t: Teardown, options?: InjectOptions): Promise<InProcessApp>
export async function startApp (t: Teardown, options: HttpOptions): Promise<HttpApp>
export async function startApp (t: Teardown, options: ProcessOptions): Promise<ProcessApp>
export async function startApp (t: Teardown, options: InjectOptions | HttpOptions | ProcessOptions = {}): Promise<InProcessApp | ProcessApp> {
  const databaseUrl = options.databaseUrl ?? await testDatabaseUrl(t)
  if (options.transport === 'process') return await startProcess(t, databaseUrl, options)
  const { transport, databaseUrl: _, logLevel = 'warn', ...appOptions } = options
  const log = new LogCapture()
  const app = await buildApp({
    poolSize: 4,
    // Shedding answers 503 whenever the machine is busy; its own test turns it on.
    maxEventLoopDelayMs: 0,
    logger: { level: logLevel, stream: log.stream },
    ...appOptions,
    databaseUrl,
  })
  t.teardown(() => app.close())
  if (transport !== 'http') {
    const request = injector(app, log)
    return { app, databaseUrl, log, request, ...fixtures(request) }
  }
  const origin = await app.listen({ port: 0, host: '127.0.0.1' })
  const request = httpClient(origin, log)
  const answer: HttpApp = { app, origin, databaseUrl, log, request, ...fixtures(request) }
  return answer
}

const SERVER = join(projectRoot, 'dist', 'src', 'server.js')

/** Fails at once when a built file the process tests run is older than its source, rather than test old code. */
function assertBuilt (): void {
  const sources = ['src', 'scripts'].flatMap((dir) => readdirSync(join(projectRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts')).map((file) => join(dir, file)))
  for (const source of sources) {
    const built = statSync(join(projectRoot, 'dist', source.replace(/\.ts$/, '.js')), { throwIfNoEntry: false })
    if (built === undefined || built.mtimeMs < statSync(join(projectRoot, source)).mtimeMs) {
      throw new Error(`dist/ is missing or older than ${source}: run \`npm run build\` (npm test does)`)
    }
  }
}

async function startProcess (t: Teardown, databaseUrl: string, options: ProcessOptions): Promise<ProcessApp> {
  assertBuilt()
  const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'info', ...options.env }
  const child = spawn(process.execPath, [SERVER], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  const log = new LogCapture()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => log.add(chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => log.add(chunk))
  const origin = `http://${env.HOST}:${env.PORT}`
  const request = httpClient(origin, log)
  const running: ProcessApp = {
    child,
    origin,
    env,
    databaseUrl,
    log,
    request,
    output: () => log.output(),
    stop: () => stopProcess(child, () => log.output()),
    ...fixtures(request),
  }
  if (options.ready !== false) await waitReady(running)
  return running
}

/** Why the process is no longer there to wait for, or undefined while it runs. */
export function exitedWhy (child: ChildProcess): string | undefined {
  if (child.exitCode !== null) return `the server exited with ${child.exitCode}`
  if (child.signalCode !== null) return `the server was killed by ${child.signalCode}`
  return undefined
}

/** Waits, bounded, for /readyz to answer 200; fails at once, with its output, if the process exits. */
export async function waitReady (server: Pick<ProcessApp, 'child' | 'origin' | 'output'>): Promise<void> {
  await until(`${server.origin}/readyz to answer 200`, async () => {
    const why = exitedWhy(server.child)
    if (why !== undefined) throw new Error(`${why} before it was ready:\n${server.output()}`)
    try {
      return (await fetch(`${server.origin}/readyz`)).status === 200
    } catch {
      return false
    }
  }, { intervalMs: 50, cause: server.output })
}

/**
 * Waits, bounded, for the process to exit and its output to be all read (its pipes can close after the exit);
 * fails with its output if it does not.
 */
export async function exited (child: ChildProcess, what: string, output: () => string): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  const drained = () => [child.stdout, child.stderr].every((stream) => stream === null || stream.closed)
  await until(what, () => exitedWhy(child) !== undefined && drained(), { cause: output })
  return { code: child.exitCode, signal: child.signalCode }
}

async function stopProcess (child: ChildProcess, output: () => string): Promise<number | null> {
  if (exitedWhy(child) === undefined) child.kill('SIGTERM')
  return (await exited(child, 'the server to exit after SIGTERM', output)).code
}

/**
 * Runs a built script (`dist/scripts/<name>.js`, what its `npm run` command runs) to its end, in `cwd`:
 * exit code and everything it printed.
 */
export async function runScript (name: string, args: string[], env: Record<string, string> = {}, cwd?: string): Promise<{ code: number | null, output: string }> {
  assertBuilt()
  const child = spawn(process.execPath, [join(projectRoot, 'dist', 'scripts', `${name}.js`), ...args], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  child.stderr.on('data', (chunk) => { output += chunk })
  const [code] = await once(child, 'exit')
  return { code: code as number | null, output }
}
