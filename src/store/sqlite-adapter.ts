// Prisma's driver adapter for SQLite, on better-sqlite3: our own, written for Prisma 7.10
// (@prisma/driver-adapter-utils is pinned to it in package.json) and checked by the whole HTTP suite.
//
// Why not the official @prisma/adapter-better-sqlite3 alone:
// - it runs every query on one connection and only serialises transactions against each other, so a
//   plain query issued while a transaction is open runs inside it, and that transaction's rollback
//   silently undoes another request's acknowledged write (test/store/sqlite-adapter.test.ts shows it);
// - it compiles every statement anew on each call and reads every integer as a BigInt, then converts
//   each back: work repeated on every query of the hot paths, where a compiled statement can be reused.
// Here statements are compiled once and kept in a bounded cache, integers are plain numbers (every id
// and count in this schema is 32-bit), and a plain query waits while a transaction holds the connection.
// A statement that meets another connection's write lock waits for it on timers, not inside SQLite (whileBusy).
import Sqlite, { type Database, type Statement } from 'better-sqlite3'
import {
  ColumnTypeEnum, DriverAdapterError,
  type ArgType, type ColumnType, type IsolationLevel, type SqlDriverAdapter, type SqlDriverAdapterFactory,
  type SqlQuery, type SqlResultSet, type Transaction,
} from '@prisma/driver-adapter-utils'

const ADAPTER_NAME = 'trackbot-sqlite'

/** Compiled statements kept per connection; the API issues a few dozen distinct ones. */
const STATEMENT_CACHE_SIZE = 256

/**
 * How long SQLite itself waits for another connection's lock before answering SQLITE_BUSY: not at all.
 * better-sqlite3 is synchronous, so a wait inside SQLite stops the event loop, /healthz and every read with
 * it, for as long as the lock is held, once per write queued behind it; whileBusy waits on timers instead.
 */
const SQLITE_BUSY_TIMEOUT_MS = 0

/** Longest pause between two tries of a statement that met the lock; pauses double from 1 ms up to it. */
const MAX_RETRY_PAUSE_MS = 50

const DECLARED_TYPES: Record<string, ColumnType> = {
  DECIMAL: ColumnTypeEnum.Numeric,
  FLOAT: ColumnTypeEnum.Float,
  DOUBLE: ColumnTypeEnum.Double,
  'DOUBLE PRECISION': ColumnTypeEnum.Double,
  NUMERIC: ColumnTypeEnum.Double,
  REAL: ColumnTypeEnum.Double,
  TINYINT: ColumnTypeEnum.Int32,
  SMALLINT: ColumnTypeEnum.Int32,
  MEDIUMINT: ColumnTypeEnum.Int32,
  INT: ColumnTypeEnum.Int32,
  INTEGER: ColumnTypeEnum.Int32,
  SERIAL: ColumnTypeEnum.Int32,
  INT2: ColumnTypeEnum.Int32,
  BIGINT: ColumnTypeEnum.Int64,
  'UNSIGNED BIG INT': ColumnTypeEnum.Int64,
  INT8: ColumnTypeEnum.Int64,
  DATETIME: ColumnTypeEnum.DateTime,
  TIMESTAMP: ColumnTypeEnum.DateTime,
  TIME: ColumnTypeEnum.Time,
  DATE: ColumnTypeEnum.Date,
  TEXT: ColumnTypeEnum.Text,
  CLOB: ColumnTypeEnum.Text,
  CHARACTER: ColumnTypeEnum.Text,
  VARCHAR: ColumnTypeEnum.Text,
  'VARYING CHARACTER': ColumnTypeEnum.Text,
  NCHAR: ColumnTypeEnum.Text,
  'NATIVE CHARACTER': ColumnTypeEnum.Text,
  NVARCHAR: ColumnTypeEnum.Text,
  BLOB: ColumnTypeEnum.Bytes,
  BOOLEAN: ColumnTypeEnum.Boolean,
  JSONB: ColumnTypeEnum.Json,
}

interface Compiled {
  statement: Statement
  /** Column types from the declared types; null where the column is an expression. */
  declared: Array<ColumnType | null>
  names: string[]
}

/** A type for an expression column (e.g. `SELECT 1`), from the first value in it, as the official adapter does. */
function inferredType (rows: unknown[][], column: number): ColumnType {
  for (const row of rows) {
    const value = row[column]
    if (typeof value === 'string') return ColumnTypeEnum.Text
    if (typeof value === 'number') return ColumnTypeEnum.UnknownNumber
    if (typeof value === 'bigint') return ColumnTypeEnum.Int64
    if (value instanceof Uint8Array) return ColumnTypeEnum.Bytes
  }
  return ColumnTypeEnum.Int32
}

/** Prisma's argument values as SQLite binds them; dates as ISO-8601 text, the format Prisma itself writes. */
function toSqlite (value: unknown, type: ArgType | undefined): unknown {
  if (value === null || value === undefined) return null
  if (typeof value === 'boolean') return value ? 1 : 0
  if (typeof value === 'string') {
    switch (type?.scalarType) {
      case 'int': return Number.parseInt(value, 10)
      case 'float': case 'decimal': return Number.parseFloat(value)
      case 'bigint': return BigInt(value)
      case 'datetime': return new Date(value).toISOString().replace('Z', '+00:00')
      case 'bytes': return Buffer.from(value, 'base64')
    }
    return value
  }
  if (value instanceof Date) return value.toISOString().replace('Z', '+00:00')
  return value
}

function mapError (error: unknown): never {
  const { code, message } = error as { code?: unknown, message?: unknown }
  if (typeof code !== 'string' || typeof message !== 'string') throw error
  const columns = () => message.split('constraint failed: ')[1]?.split(', ')
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const fields = columns()?.map((column) => column.split('.').pop() as string)
    throw new DriverAdapterError({ kind: 'UniqueConstraintViolation', constraint: fields === undefined ? undefined : { fields }, originalCode: code, originalMessage: message })
  }
  if (code === 'SQLITE_CONSTRAINT_NOTNULL') {
    const fields = columns()?.map((column) => column.split('.').pop() as string)
    throw new DriverAdapterError({ kind: 'NullConstraintViolation', constraint: fields === undefined ? undefined : { fields }, originalCode: code, originalMessage: message })
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === 'SQLITE_CONSTRAINT_TRIGGER') {
    throw new DriverAdapterError({ kind: 'ForeignKeyConstraintViolation', constraint: { foreignKey: {} }, originalCode: code, originalMessage: message })
  }
  // Another connection (a migration in another process, the sqlite3 shell) holds the write lock: whileBusy waits and tries again.
  if (code.startsWith('SQLITE_BUSY')) throw new DriverAdapterError({ kind: 'SocketTimeout', originalCode: code, originalMessage: message })
  throw new DriverAdapterError({ kind: 'sqlite', extendedCode: 1, message, originalCode: code, originalMessage: message })
}

// mapError makes SQLITE_BUSY, and nothing else, a SocketTimeout.
const isBusy = (error: unknown): boolean => error instanceof DriverAdapterError && error.cause.kind === 'SocketTimeout'

/**
 * Runs `attempt` until it does not meet another connection's lock, pausing between tries, for `budgetMs` in
 * all; past that the busy error goes up (a 503). Only for work that a busy answer left undone, whole: a
 * statement in autocommit, or BEGIN IMMEDIATE. A statement inside an open transaction is never tried again
 * here: the transaction fails as a whole and Prisma rolls it back.
 */
async function whileBusy<T> (budgetMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = performance.now() + budgetMs
  for (let pause = 1; ; pause = Math.min(2 * pause, MAX_RETRY_PAUSE_MS)) {
    try {
      return await attempt()
    } catch (error) {
      const left = deadline - performance.now()
      if (!isBusy(error) || left <= 0) throw error
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)))
    }
  }
}

/** A better-sqlite3 connection and the statements compiled on it, least recently used dropped first. */
class Connection {
  readonly #db: Database
  readonly #cache = new Map<string, Compiled>()

  constructor (db: Database) {
    this.#db = db
  }

  get inTransaction (): boolean {
    return this.#db.inTransaction
  }

  close (): void {
    this.#db.close()
  }

  get (sql: string): Compiled {
    let compiled = this.#cache.get(sql)
    if (compiled !== undefined) {
      // Re-inserting moves it to the end of the Map's order: the most recently used.
      this.#cache.delete(sql)
    } else {
      const statement = this.#db.prepare(sql)
      const columns = statement.reader ? statement.columns() : []
      if (statement.reader) statement.raw(true)
      compiled = {
        statement,
        declared: columns.map((column) => column.type === null ? null : DECLARED_TYPES[column.type.toUpperCase()] ?? null),
        names: columns.map((column) => column.name),
      }
      if (this.#cache.size >= STATEMENT_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value as string)
    }
    this.#cache.set(sql, compiled)
    return compiled
  }

  query (query: SqlQuery): SqlResultSet {
    try {
      const { statement, declared, names } = this.get(query.sql)
      const args = query.args.map((value, i) => toSqlite(value, query.argTypes[i]))
      if (!statement.reader) {
        statement.run(args)
        return { columnNames: [], columnTypes: [], rows: [] }
      }
      const rows = statement.all(args) as unknown[][]
      const columnTypes = declared.map((type, column) => type ?? inferredType(rows, column))
      return { columnNames: names, columnTypes, rows }
    } catch (error) {
      mapError(error)
    }
  }

  execute (query: SqlQuery): number {
    try {
      return this.get(query.sql).statement.run(query.args.map((value, i) => toSqlite(value, query.argTypes[i]))).changes
    } catch (error) {
      mapError(error)
    }
  }
}

/**
 * Who holds the connection: nobody, or one transaction from BEGIN to COMMIT/ROLLBACK. Queries run
 * synchronously in better-sqlite3, so only a transaction spanning several awaits ever makes others wait.
 */
class ConnectionGate {
  #held = false
  readonly #waiting: Array<() => void> = []

  get held (): boolean {
    return this.#held
  }

  async acquire (): Promise<void> {
    if (!this.#held) {
      this.#held = true
      return
    }
    // Ownership passes straight from release() to the next waiter, so #held stays true meanwhile.
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  release (): void {
    const next = this.#waiting.shift()
    if (next === undefined) this.#held = false
    else next()
  }

  async run<T> (work: () => T): Promise<T> {
    if (!this.#held) return work()
    await this.acquire()
    try {
      return work()
    } finally {
      this.release()
    }
  }
}

class SqliteTransaction implements Transaction {
  readonly provider = 'sqlite' as const
  readonly adapterName = ADAPTER_NAME
  // Prisma sends COMMIT and ROLLBACK itself, through executeRaw.
  readonly options = { usePhantomQuery: false }
  readonly #connection: Connection
  readonly #end: () => void

  constructor (connection: Connection, end: () => void) {
    this.#connection = connection
    this.#end = end
  }

  async queryRaw (query: SqlQuery): Promise<SqlResultSet> {
    return this.#connection.query(query)
  }

  async executeRaw (query: SqlQuery): Promise<number> {
    // SQLite rolls a transaction back by itself when a statement in it fails for want of space (SQLITE_FULL)
    // or on an I/O error; Prisma's ROLLBACK then finds none, and its error must not replace the one that ended it.
    if (query.sql === 'ROLLBACK' && !this.#connection.inTransaction) return 0
    return this.#connection.execute(query)
  }

  async commit (): Promise<void> {
    this.#end()
  }

  async rollback (): Promise<void> {
    // After a COMMIT that failed, Prisma ends the transaction without a ROLLBACK of its own, and SQLite may keep it
    // open (a deferred constraint does): the next plain write would run inside it and never be committed.
    try {
      if (this.#connection.inTransaction) this.#connection.execute({ sql: 'ROLLBACK', args: [], argTypes: [] })
    } finally {
      this.#end()
    }
  }

  async createSavepoint (name: string): Promise<void> {
    this.#connection.execute({ sql: `SAVEPOINT ${name}`, args: [], argTypes: [] })
  }

  async rollbackToSavepoint (name: string): Promise<void> {
    this.#connection.execute({ sql: `ROLLBACK TO ${name}`, args: [], argTypes: [] })
  }

  async releaseSavepoint (name: string): Promise<void> {
    this.#connection.execute({ sql: `RELEASE SAVEPOINT ${name}`, args: [], argTypes: [] })
  }
}

class SqliteAdapter implements SqlDriverAdapter {
  readonly provider = 'sqlite' as const
  readonly adapterName = ADAPTER_NAME
  readonly #db: Database
  readonly #connection: Connection
  readonly #gate = new ConnectionGate()
  readonly #busyTimeoutMs: number

  constructor (db: Database, busyTimeoutMs: number) {
    this.#db = db
    this.#connection = new Connection(db)
    this.#busyTimeoutMs = busyTimeoutMs
  }

  // Each try passes the gate anew, so a transaction opened during a pause keeps its statements to itself.
  queryRaw (query: SqlQuery): Promise<SqlResultSet> {
    return whileBusy(this.#busyTimeoutMs, () => this.#gate.run(() => this.#connection.query(query)))
  }

  executeRaw (query: SqlQuery): Promise<number> {
    return whileBusy(this.#busyTimeoutMs, () => this.#gate.run(() => this.#connection.execute(query)))
  }

  // Not tried again: the statements of a script before the busy one have already run.
  executeScript (script: string): Promise<void> {
    return this.#gate.run(() => {
      try {
        this.#db.exec(script)
      } catch (error) {
        mapError(error)
      }
    })
  }

  async startTransaction (isolationLevel?: IsolationLevel): Promise<Transaction> {
    if (isolationLevel !== undefined && isolationLevel !== 'SERIALIZABLE') {
      throw new DriverAdapterError({ kind: 'InvalidIsolationLevel', level: isolationLevel })
    }
    // IMMEDIATE takes the write lock at BEGIN, where a busy answer can be waited out and tried again, so no
    // statement inside the transaction meets the lock (the API's transactions all write). The gate is
    // let go during each pause, so plain reads go on meanwhile.
    await whileBusy(this.#busyTimeoutMs, async () => {
      await this.#gate.acquire()
      try {
        this.#connection.execute({ sql: 'BEGIN IMMEDIATE', args: [], argTypes: [] })
      } catch (error) {
        this.#gate.release()
        throw error
      }
    })
    return new SqliteTransaction(this.#connection, () => this.#gate.release())
  }

  dispose (): Promise<void> {
    return this.#gate.run(() => { this.#db.close() })
  }
}

/** Idle snapshot connections kept open for the next full list; more are opened when more lists run at once. */
const IDLE_SNAPSHOT_CONNECTIONS = 4

/**
 * Read snapshots, for the full lists read in chunks (src/store/read-snapshots.ts): each transaction on a connection
 * of its own, begun DEFERRED, so it takes no lock. In WAL mode its first read fixes what it sees until it
 * ends, while the writer's connection goes on writing beside it. On the writer's connection the transaction
 * would hold the gate, and so every other request's queries, for as long as the list takes to send.
 */
class SqliteSnapshotAdapter implements SqlDriverAdapter {
  readonly provider = 'sqlite' as const
  readonly adapterName = ADAPTER_NAME
  readonly #file: string
  readonly #idle: Connection[] = []
  #disposed = false

  constructor (file: string) {
    this.#file = file
  }

  #take (): Connection {
    const idle = this.#idle.pop()
    if (idle !== undefined) return idle
    const db = new Sqlite(this.#file, { timeout: SQLITE_BUSY_TIMEOUT_MS })
    // Reads only, whatever a caller sends: no statement on these connections can take the write lock.
    db.pragma('query_only = ON')
    return new Connection(db)
  }

  #give (connection: Connection): void {
    if (this.#disposed || this.#idle.length >= IDLE_SNAPSHOT_CONNECTIONS) connection.close()
    else this.#idle.push(connection)
  }

  async #once<T> (work: (connection: Connection) => T): Promise<T> {
    const connection = this.#take()
    try {
      return work(connection)
    } finally {
      this.#give(connection)
    }
  }

  queryRaw (query: SqlQuery): Promise<SqlResultSet> {
    return this.#once((connection) => connection.query(query))
  }

  executeRaw (query: SqlQuery): Promise<number> {
    return this.#once((connection) => connection.execute(query))
  }

  async executeScript (): Promise<void> {
    throw new Error('the snapshot connections run reads only')
  }

  async startTransaction (isolationLevel?: IsolationLevel): Promise<Transaction> {
    if (isolationLevel !== undefined && isolationLevel !== 'SERIALIZABLE') {
      throw new DriverAdapterError({ kind: 'InvalidIsolationLevel', level: isolationLevel })
    }
    const connection = this.#take()
    try {
      connection.execute({ sql: 'BEGIN DEFERRED', args: [], argTypes: [] })
    } catch (error) {
      this.#give(connection)
      throw error
    }
    return new SqliteTransaction(connection, () => this.#give(connection))
  }

  async dispose (): Promise<void> {
    this.#disposed = true
    for (const connection of this.#idle.splice(0)) connection.close()
  }
}

export interface SqliteAdapterOptions {
  /** Path of the database file. */
  file: string
  /** Milliseconds a statement waits in all, without blocking the event loop, for another connection's lock before failing. */
  busyTimeoutMs: number
  /** Connections for read snapshots only (SqliteSnapshotAdapter) instead of the one that writes. */
  snapshots?: boolean
}

export class SqliteAdapterFactory implements SqlDriverAdapterFactory {
  readonly provider = 'sqlite' as const
  readonly adapterName = ADAPTER_NAME
  readonly #options: SqliteAdapterOptions

  constructor (options: SqliteAdapterOptions) {
    this.#options = options
  }

  async connect (): Promise<SqlDriverAdapter> {
    if (this.#options.snapshots === true) return new SqliteSnapshotAdapter(this.#options.file)
    return new SqliteAdapter(new Sqlite(this.#options.file, { timeout: SQLITE_BUSY_TIMEOUT_MS }), this.#options.busyTimeoutMs)
  }
}
