// `npm run db:migration:new -- --name <snake_case> [--provider sqlite|postgres|all] [--prisma-dir <dir>]`: write the
// next migration for the models in prisma/<provider>/*.prisma (default: every provider, each in its own process), as
// `prisma migrate dev --create-only --name <name>` would. --prisma-dir reads and writes another folder laid out like
// prisma/ instead (default: this repository's prisma/); the tests point it at a scratch copy.
//
// Why not the Prisma CLI: its migration commands download a native schema engine, which these machines
// cannot reach. The same engine ships as WebAssembly inside the `prisma` package; the npm package
// @prisma/schema-engine-wasm has the JavaScript glue that drives it through a driver adapter.
// See docs/prisma-offline.md.
//
// Nothing here touches a real database: the engine gets throwaway databases (in-memory for SQLite,
// created and dropped on the SHADOW_DATABASE_URL server for PostgreSQL), replays the committed
// migrations into a shadow one and diffs that against the current datamodel.
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import pg from 'pg'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
// The binder Prisma's own CLI uses to hand an adapter to the engine: it turns thrown JS errors into
// results the engine understands and keeps the originals in a registry, by id.
import {
  bindMigrationAwareSqlAdapterFactory,
  type ErrorCapturingSqlMigrationAwareDriverAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils'
import * as glue from '@prisma/schema-engine-wasm/schema_engine_bg'
import type { MigrationDirectory, MigrationList, SchemaContainer } from '@prisma/schema-engine-wasm/schema_engine_bg'

const PROVIDERS = ['sqlite', 'postgres'] as const
type Provider = (typeof PROVIDERS)[number]

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const LOCKFILE_NAME = 'migration_lock.toml'
/**
 * Tables the migrations make that no model describes: the search index, which the database itself keeps in step by
 * triggers (docs/decisions.md, "Search: two stores, one query language"), and the queue of batched work migrations
 * leave (src/store/migrate/backfill.ts). Prisma's diff leaves them alone rather than drop them. SQLite's FTS5 table
 * comes with shadow tables of its own.
 */
const EXTERNAL_TABLES: Record<Provider, string[]> = {
  sqlite: ['SearchIndex', 'SearchIndex_config', 'SearchIndex_data', 'SearchIndex_docsize', 'SearchIndex_idx', 'Backfill'],
  postgres: ['public.MessageSearch', 'public.ConversationSearch', 'public.Backfill'],
}

/** A mistake in how the script was called: reported without a stack trace. */
class UsageError extends Error {}

interface Options {
  name: string
  provider: Provider | 'all'
  /** Absolute path of the folder holding <provider>/*.prisma and <provider>/migrations/. */
  prismaDir: string
}

function parseOptions (argv: string[]): Options {
  let values: { name?: string; provider?: string; 'prisma-dir'?: string }
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: { name: { type: 'string' }, provider: { type: 'string', default: 'all' }, 'prisma-dir': { type: 'string' } },
    }))
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { name, provider = 'all' } = values
  if (name === undefined) {
    throw new UsageError('--name is required, e.g. --name add_user_locale')
  }
  // The name becomes part of a directory name that stays in git forever: keep it boring.
  if (!/^[a-z0-9_]+$/.test(name)) {
    throw new UsageError(`--name must be snake_case (only a-z, 0-9 and _), got "${name}"`)
  }
  if (provider !== 'all' && !(PROVIDERS as readonly string[]).includes(provider)) {
    throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')} or all, got "${provider}"`)
  }
  const prismaDir = path.resolve(values['prisma-dir'] ?? path.join(PROJECT_ROOT, 'prisma'))
  return { name, provider: provider as Provider | 'all', prismaDir }
}

/** A path as messages show it: relative inside this repository, absolute elsewhere (a scratch --prisma-dir). */
function shown (file: string): string {
  const relative = path.relative(PROJECT_ROOT, file)
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}

/** Every *.prisma file of prisma/<provider>/ (a multi-file schema; symlinks such as models.prisma are followed). */
async function readSchemaFiles (schemaDir: string): Promise<SchemaContainer[]> {
  const entries = await readdir(schemaDir).catch(() => [])
  const names = entries.filter((name) => name.endsWith('.prisma')).sort()
  if (names.length === 0) throw new UsageError(`no *.prisma files in ${shown(schemaDir)}/`)
  // Paths relative to the prisma folder's parent (prisma/sqlite/models.prisma) keep the engine's
  // validation errors short and readable, and the same for a scratch --prisma-dir.
  const base = path.dirname(path.dirname(schemaDir))
  return Promise.all(
    names.map(async (name) => ({
      path: path.relative(base, path.join(schemaDir, name)),
      content: await readFile(path.join(schemaDir, name), 'utf8'),
    }))
  )
}

/** The committed migrations, loaded the way the Prisma CLI loads them: directories in name order. */
async function listMigrations (migrationsDir: string): Promise<MigrationList> {
  const lockfileContent = await readFile(path.join(migrationsDir, LOCKFILE_NAME), 'utf8').catch(() => null)
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => [])
  const directories = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name)
  const migrationDirectories = await Promise.all(
    directories.sort().map(
      async (name): Promise<MigrationDirectory> => ({
        path: name,
        migrationFile: {
          path: 'migration.sql',
          content: await readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8').then(
            (value) => ({ tag: 'ok' as const, value }),
            (error: Error) => ({ tag: 'error' as const, value: error.message })
          ),
        },
      })
    )
  )
  return {
    baseDir: migrationsDir,
    lockfile: { path: LOCKFILE_NAME, content: lockfileContent },
    shadowDbInitScript: '',
    migrationDirectories,
  }
}

/**
 * better-sqlite3 prepares one statement at a time, but the engine replays each whole migration.sql into
 * the shadow database with a single executeRaw. Those scripts fail to prepare (before anything runs), so
 * they are retried with executeScript, which runs a multi-statement script.
 */
function routeScriptsToExecuteScript (adapter: SqlDriverAdapter): SqlDriverAdapter {
  const executeRaw = adapter.executeRaw.bind(adapter)
  adapter.executeRaw = async (query) => {
    try {
      return await executeRaw(query)
    } catch (error) {
      const isScript = error instanceof RangeError && error.message.includes('more than one statement')
      if (!isScript || query.args.length > 0) throw error
      await adapter.executeScript(query.sql)
      return 0
    }
  }
  return adapter
}

/** SQLite: the "main" database and every shadow database are private in-memory databases. */
function sqliteAdapterFactory (): SqlMigrationAwareDriverAdapterFactory {
  const factory = new PrismaBetterSqlite3({ url: ':memory:' }, { shadowDatabaseUrl: ':memory:' })
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => routeScriptsToExecuteScript(await factory.connect()),
    connectToShadowDb: async () => routeScriptsToExecuteScript(await factory.connectToShadowDb()),
  }
}

/**
 * PostgreSQL: SHADOW_DATABASE_URL names a server, and a database on it from which we may CREATE DATABASE.
 * Each connection the engine asks for (its "main" one and every shadow) gets a fresh scratch database,
 * dropped when disposed, so nothing that exists is touched.
 * PrismaPg's own connectToShadowDb is not used: with a connectionString, pg ignores the `database` it sets
 * for the shadow (which would then be the URL's own database), and it drops the shadow database while its
 * pool is still connected, which PostgreSQL refuses.
 */
function postgresAdapterFactory (): SqlMigrationAwareDriverAdapterFactory {
  // Scratch databases are created and dropped on this server; nothing existing is touched.
  const url = process.env.SHADOW_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres'
  const parsed = new URL(url)
  const server = {
    host: decodeURIComponent(parsed.hostname),
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
  }
  const adminDatabase = decodeURIComponent(parsed.pathname.slice(1)) || 'postgres'

  async function connectToScratchDatabase (): Promise<SqlDriverAdapter> {
    const admin = await new PrismaPg({ ...server, database: adminDatabase }).connect()
    const database = `trackbot_migration_scratch_${randomUUID().replaceAll('-', '')}`
    await admin.executeScript(`CREATE DATABASE "${database}"`)
    const pool = poolReadingCharAsText({ ...server, database })
    const adapter = await new PrismaPg(pool).connect()
    // adapter-pg splits a script at every `;`, inside strings and function bodies too; PostgreSQL runs a whole script
    // sent as one simple query itself, as src/store/migrate/postgres.ts applies migrations.
    adapter.executeScript = async (script) => { await pool.query(script) }
    adapter.dispose = async () => {
      await pool.end()
      await admin.executeScript(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
      await admin.dispose()
    }
    return adapter
  }
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: connectToScratchDatabase,
    connectToShadowDb: connectToScratchDatabase,
  }
}

/**
 * PostgreSQL's catalog uses the one-byte "char" type (pg_class.relkind, pg_constraint.contype, ...), which
 * adapter-pg refuses to map when the engine inspects a schema ("Column type 'char' could not be
 * deserialized"). pg already returns those values as strings: labelling the columns text lets them through.
 */
function poolReadingCharAsText (config: pg.PoolConfig): pg.Pool {
  const CHAR_OID = 18
  const TEXT_OID = 25
  const pool = new pg.Pool(config)
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<pg.QueryResult>
  Object.assign(pool, {
    query: async (...args: unknown[]) => {
      const result = await query(...args)
      for (const field of result.fields ?? []) {
        if (field.dataTypeID === CHAR_OID) field.dataTypeID = TEXT_OID
      }
      return result
    },
  })
  return pool
}

/**
 * Keeps the adapters the engine opens, to dispose of them at the end: the engine never disposes of its
 * "main" connection, and for PostgreSQL disposing is what drops the scratch database.
 */
function trackConnections (factory: SqlMigrationAwareDriverAdapterFactory) {
  const opened: SqlDriverAdapter[] = []
  const remember = async (connect: () => Promise<SqlDriverAdapter>) => {
    const adapter = await connect()
    const dispose = adapter.dispose.bind(adapter)
    let disposed = false
    adapter.dispose = async () => {
      if (disposed) return
      disposed = true
      await dispose()
    }
    opened.push(adapter)
    return adapter
  }
  const tracked: SqlMigrationAwareDriverAdapterFactory = {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: () => remember(() => factory.connect()),
    connectToShadowDb: () => remember(() => factory.connectToShadowDb()),
  }
  const disposeAll = async () => {
    await Promise.allSettled(opened.map((adapter) => adapter.dispose()))
  }
  return { tracked, disposeAll }
}

/** The part of the WebAssembly global used here: @types/node 20 leaves it to the DOM lib, which we don't load. */
interface WasmRuntime {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>
}

/** Instantiates the CLI's own schema_engine_bg.wasm (the exact engine build of the installed `prisma`). */
async function loadSchemaEngineWasm (): Promise<void> {
  const require = createRequire(import.meta.url)
  const wasmPath = path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'schema_engine_bg.wasm')
  const wasm = (globalThis as unknown as { WebAssembly: WasmRuntime }).WebAssembly
  // wasm-bindgen glue: the module imports its JS helpers under the glue file's name.
  const { instance } = await wasm.instantiate(await readFile(wasmPath), { './schema_engine_bg.js': glue })
  glue.__wbg_set_wasm(instance.exports)
  ;(instance.exports.__wbindgen_start as () => void)()
  // Rust panics report their message here before the wasm traps with a bare "unreachable".
  ;(globalThis as Record<string, unknown>).PRISMA_WASM_PANIC_REGISTRY = {
    set_message: (message: string) => console.error(`schema engine panic: ${message}`),
  }
}

/** A failed engine command, already explained: reported without the wasm stack trace. */
class EngineError extends Error {}

type RunEngine = <T>(what: string, command: () => Promise<T>) => Promise<T>

/**
 * Runs engine commands so that a failure says what we were doing. Errors that started in JavaScript (in
 * an adapter) reach us only as "External error id#N": the binder's registry holds the original.
 */
function engineRunner (factory: ErrorCapturingSqlMigrationAwareDriverAdapterFactory): RunEngine {
  return async (what, command) => {
    try {
      return await command()
    } catch (error) {
      const id = /External error id#(\d+)/.exec(String((error as Error | undefined)?.message))?.[1]
      const original = (id !== undefined && factory.errorRegistry.consumeError(Number(id))?.error) || error
      const { code, message } = original as { code?: unknown; message?: unknown }
      const detail = `${typeof code === 'string' ? `${code}: ` : ''}${String(message ?? original)}`
      throw new EngineError(`${what} failed: ${detail}`, { cause: original })
    }
  }
}

interface NewMigration {
  directoryName: string
  script: string
  connectorType: string
}

/**
 * The `prisma migrate dev` sequence, on scratch databases. In the wasm engine createMigration cannot open
 * a shadow database itself: it reuses the schema of the migrations history that devDiagnostic computed
 * through connectToShadowDb, and devDiagnostic only computes (and caches) the full history when the
 * "main" database is up to date with it. So, as `migrate dev` does, the committed migrations are applied
 * to the scratch main database first; this also creates the `_prisma_migrations` table that devDiagnostic
 * requires (through an adapter, a missing one is an error rather than "no history").
 * Returns null when the models match the migrations.
 */
async function createNextMigration (
  engine: glue.SchemaEngine,
  run: RunEngine,
  migrationsList: MigrationList,
  schemaFiles: SchemaContainer[],
  name: string,
  provider: Provider
): Promise<NewMigration | null> {
  const filters = { externalTables: EXTERNAL_TABLES[provider], externalEnums: [] }
  await run('applying the committed migrations to a scratch database', () =>
    engine.applyMigrations({ migrationsList, filters })
  )
  const { action } = await run('replaying the committed migrations into a shadow database', () =>
    engine.devDiagnostic({ migrationsList, filters })
  )
  if (action.tag === 'reset') {
    throw new EngineError(`the committed migrations do not replay cleanly: ${action.reason}`)
  }
  // draft: false is what makes the engine report "no changes" (null) instead of an empty migration.
  const created = await run('diffing the models against the migrations', () =>
    engine.createMigration({ draft: false, migrationName: name, migrationsList, schema: { files: schemaFiles }, filters })
  )
  if (created.migrationScript === null) return null
  return {
    directoryName: created.generatedMigrationName,
    script: created.migrationScript,
    connectorType: created.connectorType,
  }
}

/** Writes the files the Prisma CLI writes, with the same content (migration.sql is the engine's script). */
async function writeMigration (migrationsDir: string, migration: NewMigration, lockfileExists: boolean): Promise<string> {
  const directory = path.join(migrationsDir, migration.directoryName)
  await mkdir(migrationsDir, { recursive: true })
  await mkdir(directory) // fails if it exists: never overwrite a migration
  const file = path.join(directory, 'migration.sql')
  await writeFile(file, migration.script, 'utf8')
  if (!lockfileExists) {
    const lockfile = `# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "${migration.connectorType}"\n`
    await writeFile(path.join(migrationsDir, LOCKFILE_NAME), lockfile, 'utf8')
  }
  return file
}

/** One process per provider: the wasm engine is loaded once per process. */
function runEveryProvider (name: string, prismaDir: string): void {
  for (const provider of PROVIDERS) {
    console.log(`${provider}:`)
    const args = [fileURLToPath(import.meta.url), '--name', name, '--provider', provider, '--prisma-dir', prismaDir]
    const { status } = spawnSync(process.execPath, [...process.execArgv, ...args], { stdio: 'inherit' })
    if (status !== 0) process.exit(status ?? 1)
  }
}

async function main (argv: string[]): Promise<void> {
  const { name, provider, prismaDir } = parseOptions(argv)
  if (provider === 'all') return runEveryProvider(name, prismaDir)
  const schemaDir = path.join(prismaDir, provider)
  const migrationsDir = path.join(schemaDir, 'migrations')
  const schemaFiles = await readSchemaFiles(schemaDir)
  const migrations = await listMigrations(migrationsDir)

  const { tracked, disposeAll } = trackConnections(
    provider === 'sqlite' ? sqliteAdapterFactory() : postgresAdapterFactory()
  )
  const factory = bindMigrationAwareSqlAdapterFactory(tracked)
  await loadSchemaEngineWasm()
  const run = engineRunner(factory)
  const log = process.env.DEBUG ? (line: string) => console.error(line) : () => {}
  try {
    const datamodels = schemaFiles.map((file): [string, string] => [file.path, file.content])
    const engine = await run('starting the schema engine', () => glue.SchemaEngine.new({ datamodels }, log, factory))
    const migration = await createNextMigration(engine, run, migrations, schemaFiles, name, provider)
    if (migration === null) {
      console.log('No schema changes: no migration written.')
      return
    }
    const file = await writeMigration(migrationsDir, migration, migrations.lockfile.content !== null)
    console.log(`Wrote ${shown(file)}`)
    if (migration.script.startsWith('/*\n  Warnings:')) {
      console.log('It may lose data or fail on a non-empty database: read the warnings at the top of the file.')
    }
  } finally {
    await disposeAll()
  }
}

// Exit explicitly either way: the wasm engine leaves a timer running that would keep the process alive.
try {
  await main(process.argv.slice(2))
  process.exit(0)
} catch (error) {
  const expected = error instanceof UsageError || error instanceof EngineError
  console.error(expected ? `db:migration:new: ${(error as Error).message}` : error)
  process.exit(1)
}
