import { columns, found, perDialect, queryRows } from './columns.js'
import { sql, type Dialect } from './dialect.js'
import type { NewUser, User } from './models.js'
import type { PrismaClient } from './database.js'
import { readBack, writeBatch, writeWith, writtenRows, type RequestKey } from './idempotency-keys.js'
import { databaseErrorKind } from './prisma-errors.js'
import type { Queryable } from './snapshot.js'

/** The columns of a user on one dialect (perDialect: built once). */
const userColumnsOf = perDialect((dialect) => columns<User>({
  id: sql`id`,
  name: sql`name`,
  email: sql`email`,
  // Computed: formatted by the database.
  createdAt: dialect.isoTime(sql`"createdAt"`),
}))

/** SQLite only: what a keyed create's batch stores for its key, the new user (perDialect: built once). */
const sqliteReadBackOf = perDialect((dialect) =>
  readBack({ columns: userColumnsOf(dialect), from: sql`FROM "User" WHERE id = ${dialect.lastId('User')}` }))

/** `key`: a keyed request's Idempotency-Key, which the create stores with its row, or answers from. */
export function createUserRepository (prisma: PrismaClient, dialect: Dialect, key?: RequestKey) {
  const userColumns = userColumnsOf(dialect)

  return {
    /** The new user, or null when another user already has the email. */
    async create (input: NewUser): Promise<User | null> {
      const insert = sql`INSERT INTO "User" (name, email, "createdAt") VALUES (${input.name}, ${input.email ?? null}, ${new Date()})`
      try {
        const [user] = dialect.writesInWith
          ? await writeWith(prisma, key, userColumns, sql`created AS (${insert} RETURNING *)`, sql`created`)
          : await writtenRows(writeBatch(prisma, key, [queryRows(prisma, userColumns, (list) => sql`${insert} RETURNING ${list}`)], sqliteReadBackOf(dialect)))
        return user!
      } catch (error) {
        if (databaseErrorKind(error) === 'unique') return null
        throw error
      }
    },

    async findById (id: number): Promise<User | null> {
      const [user] = await queryRows(prisma, userColumns, (list) => sql`SELECT ${list} FROM "User" WHERE id = ${id}`)
      return user ?? null
    },

    /** On `client` when given: a snapshot's, say. */
    async exists (id: number, client: Queryable = prisma): Promise<boolean> {
      const rows = await queryRows(client, found, (list) => sql`SELECT ${list} FROM "User" WHERE id = ${id}`)
      return rows.length > 0
    },

    /** False when there was no such user. Conversations and messages go by ON DELETE CASCADE, in the same statement. */
    async delete (id: number): Promise<boolean> {
      return await prisma.$executeRaw`DELETE FROM "User" WHERE id = ${id}` > 0
    },
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>
