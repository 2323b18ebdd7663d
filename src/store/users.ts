import { columns, perDialect, presenceColumns, queryRows } from './columns.js'
import { sql, type Dialect } from './dialect.js'
import type { NewUser, User } from './models.js'
import type { PrismaClient } from './database.js'
import { keyable, nothingWritten, type IdempotencyKey } from './idempotency-keys.js'
import { firstStatementValue, rowsValue, sqliteJsonRows, writeBatch, writeWith } from './keyed-writes.js'
import { databaseErrorKind } from './prisma-errors.js'
import type { Queryable } from './read-snapshots.js'

/** The columns of a user on one dialect (perDialect: built once). */
const userColumnsOf = perDialect((dialect) => columns<User>({
  id: sql`id`,
  name: sql`name`,
  email: sql`email`,
  // Computed: formatted by the database.
  createdAt: dialect.isoTime(sql`"createdAt"`),
}))

/** A create's user: its one row, written now or held by its key (perDialect: built once). */
const createdUserOf = perDialect((dialect) => rowsValue(userColumnsOf(dialect), (rows: User[]) => rows[0]!))

/** SQLite only: the create's batch, and what its key's INSERT reads back, the new user (perDialect: built once). */
const sqliteCreateOf = perDialect((dialect) => ({
  value: firstStatementValue(createdUserOf(dialect)),
  keyRows: sqliteJsonRows({ columns: userColumnsOf(dialect), from: sql`FROM "User" WHERE id = ${dialect.lastId('User')}` }),
}))

export function createUserRepository (prisma: PrismaClient, dialect: Dialect) {
  const userColumns = userColumnsOf(dialect)
  const created = createdUserOf(dialect)

  return {
    /**
     * The new user, or null when another user already has the email. With an Idempotency-Key, the key's outcome
     * (src/store/keyed-writes.ts).
     */
    create: keyable(async (input: NewUser, key: IdempotencyKey | undefined) => {
      const insert = sql`INSERT INTO "User" (name, email, "createdAt") VALUES (${input.name}, ${input.email ?? null}, ${new Date()})`
      try {
        if (dialect.writesInWith) return await writeWith(prisma, key, userColumns, sql`created AS (${insert} RETURNING *)`, sql`created`, created)
        const { value, keyRows } = sqliteCreateOf(dialect)
        return await writeBatch(prisma, key, [queryRows(prisma, userColumns, (list) => sql`${insert} RETURNING ${list}`)], keyRows, value)
      } catch (error) {
        if (databaseErrorKind(error) === 'unique') return nothingWritten(key, null, created.held)
        throw error
      }
    }),

    async findById (id: number): Promise<User | null> {
      const [user] = await queryRows(prisma, userColumns, (list) => sql`SELECT ${list} FROM "User" WHERE id = ${id}`)
      return user ?? null
    },

    /** On `client` when given: a snapshot's, say. */
    async exists (id: number, client: Queryable = prisma): Promise<boolean> {
      const rows = await queryRows(client, presenceColumns, (list) => sql`SELECT ${list} FROM "User" WHERE id = ${id}`)
      return rows.length > 0
    },

    /** False when there was no such user. Conversations and messages go by ON DELETE CASCADE, in the same statement. */
    async delete (id: number): Promise<boolean> {
      return await prisma.$executeRaw`DELETE FROM "User" WHERE id = ${id}` > 0
    },
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>
