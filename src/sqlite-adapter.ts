// The official better-sqlite3 adapter runs every query on one connection and only serialises
// transactions against each other: a plain query issued while a transaction is open runs inside it,
// so that transaction's rollback would silently undo another request's acknowledged write. This
// wrapper makes plain queries wait for the open transaction to end.
import type {
  IsolationLevel, SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, SqlResultSet, Transaction,
} from '@prisma/driver-adapter-utils'

class Mutex {
  #tail: Promise<void> = Promise.resolve()

  /** Resolves, in call order, to a function that lets the next holder in. */
  acquire (): Promise<() => void> {
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    const previous = this.#tail
    this.#tail = previous.then(() => held)
    return previous.then(() => release)
  }

  async run<T> (work: () => Promise<T>): Promise<T> {
    const release = await this.acquire()
    try {
      return await work()
    } finally {
      release()
    }
  }
}

function releasingOnEnd (transaction: Transaction, release: () => void): Transaction {
  const end = (finish: () => Promise<void>) => async () => {
    try {
      await finish()
    } finally {
      release()
    }
  }
  return Object.assign(Object.create(transaction) as Transaction, {
    commit: end(() => transaction.commit()),
    rollback: end(() => transaction.rollback()),
  })
}

class SerializedAdapter implements SqlDriverAdapter {
  readonly #inner: SqlDriverAdapter
  readonly #mutex = new Mutex()
  readonly provider
  readonly adapterName

  constructor (inner: SqlDriverAdapter) {
    this.#inner = inner
    this.provider = inner.provider
    this.adapterName = inner.adapterName
  }

  queryRaw (query: SqlQuery): Promise<SqlResultSet> {
    return this.#mutex.run(() => this.#inner.queryRaw(query))
  }

  executeRaw (query: SqlQuery): Promise<number> {
    return this.#mutex.run(() => this.#inner.executeRaw(query))
  }

  executeScript (script: string): Promise<void> {
    return this.#mutex.run(() => this.#inner.executeScript(script))
  }

  async startTransaction (isolationLevel?: IsolationLevel): Promise<Transaction> {
    const release = await this.#mutex.acquire()
    try {
      return releasingOnEnd(await this.#inner.startTransaction(isolationLevel), release)
    } catch (error) {
      release()
      throw error
    }
  }

  dispose (): Promise<void> {
    return this.#mutex.run(() => this.#inner.dispose())
  }
}

export class SerializedSqliteAdapterFactory implements SqlDriverAdapterFactory {
  readonly #inner: SqlDriverAdapterFactory
  readonly provider
  readonly adapterName

  constructor (inner: SqlDriverAdapterFactory) {
    this.#inner = inner
    this.provider = inner.provider
    this.adapterName = inner.adapterName
  }

  async connect (): Promise<SqlDriverAdapter> {
    return new SerializedAdapter(await this.#inner.connect())
  }
}
