// Which database errors mean what, whether Prisma's ORM raised them (a P-code) or a raw query did
// (P2010 wrapping the driver adapter's error kind), or the driver itself on a dead connection.
import { PrismaClientKnownRequestError } from '@prisma/client/runtime/client'
import { ReadSnapshotsBusy } from './read-snapshots.js'

export type DatabaseErrorKind = 'unique' | 'foreignKey' | 'notNull' | 'notFound' | 'unavailable' | 'storageFull'

const BY_PRISMA_CODE: Record<string, DatabaseErrorKind> = {
  P2002: 'unique',
  P2003: 'foreignKey',
  P2011: 'notNull',
  P2025: 'notFound',
  // Unreachable, timed out, connection closed, pool timeout, write conflict or deadlock.
  P1001: 'unavailable',
  P1002: 'unavailable',
  P1008: 'unavailable',
  P1017: 'unavailable',
  P2024: 'unavailable',
  // A transaction not started within its maxWait (every connection busy, or SQLite's write lock held
  // throughout), or used after it expired: a full list's read snapshot, met only once its response has begun
  // (src/store/chunks.ts).
  P2028: 'unavailable',
  P2034: 'unavailable',
}

const BY_ADAPTER_KIND: Record<string, DatabaseErrorKind> = {
  UniqueConstraintViolation: 'unique',
  ForeignKeyConstraintViolation: 'foreignKey',
  NullConstraintViolation: 'notNull',
  // SQLite's SQLITE_BUSY arrives as SocketTimeout.
  SocketTimeout: 'unavailable',
  DatabaseNotReachable: 'unavailable',
  ConnectionClosed: 'unavailable',
  TooManyConnections: 'unavailable',
  TransactionWriteConflict: 'unavailable',
}

// No space left for a write: SQLite's SQLITE_FULL, PostgreSQL's SQLSTATE 53100 disk_full. (Only the disk:
// 53200 out_of_memory passes, so it stays unavailable, below.)
const STORAGE_FULL_CODE = /^(SQLITE_FULL|53100)$/

// Socket errors, and SQLSTATE classes 08 (connection exception), 53 (insufficient resources),
// 57P (operator intervention: shutdown, restart), 40001/40P01 (serialization failure, deadlock).
const UNAVAILABLE_CODE = /^(E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|AI_AGAIN)|08...|53...|57P0[1-3]|40001|40P01)$/

interface AdapterCause { kind?: string, code?: string, originalCode?: string }

function adapterCause (error: PrismaClientKnownRequestError): AdapterCause | undefined {
  const meta = error.meta as { driverAdapterError?: { cause?: AdapterCause } } | undefined
  return meta?.driverAdapterError?.cause
}

function kindOfAdapterError (cause: AdapterCause): DatabaseErrorKind | undefined {
  const kind = cause.kind === undefined ? undefined : BY_ADAPTER_KIND[cause.kind]
  if (kind !== undefined) return kind
  const code = cause.code ?? cause.originalCode
  if (typeof code !== 'string') return undefined
  if (STORAGE_FULL_CODE.test(code)) return 'storageFull'
  return UNAVAILABLE_CODE.test(code) ? 'unavailable' : undefined
}

/**
 * A connection that died while idle in the pool reaches Prisma's caller as the driver's own error,
 * not as a Prisma error code, so it is recognised by its code or pg's fixed message.
 */
function isConnectionLoss (error: Error): boolean {
  const code = (error as { code?: unknown }).code
  return (typeof code === 'string' && UNAVAILABLE_CODE.test(code)) ||
    /^Connection terminated( unexpectedly| due to connection timeout)?$/.test(error.message)
}

/**
 * A driver adapter's error that Prisma passes on unwrapped: one from the COMMIT that ends a batch transaction
 * (SQLite writes a transaction out at COMMIT, so that is where a full disk shows). Known by name, as each
 * adapter package may bring its own copy of the class.
 */
function adapterError (error: Error): AdapterCause | undefined {
  const { cause } = error as { cause?: unknown }
  return error.name === 'DriverAdapterError' && typeof cause === 'object' && cause !== null ? cause as AdapterCause : undefined
}

export function databaseErrorKind (error: unknown): DatabaseErrorKind | undefined {
  if (error instanceof ReadSnapshotsBusy) return 'unavailable'
  if (error instanceof PrismaClientKnownRequestError) {
    const cause = adapterCause(error)
    return BY_PRISMA_CODE[error.code] ?? (cause === undefined ? undefined : kindOfAdapterError(cause))
  }
  if (!(error instanceof Error)) return undefined
  const cause = adapterError(error)
  if (cause !== undefined) return kindOfAdapterError(cause)
  return isConnectionLoss(error) ? 'unavailable' : undefined
}
