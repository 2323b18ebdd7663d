import { columns, found, queryRows } from './columns.js'
import { sql, type Dialect } from './dialect.js'
import type { NewUser, User } from './models.js'
import type { Db } from './transaction.js'
import { databaseErrorKind } from './prisma-errors.js'
import type { Queryable } from './snapshot.js'

export function createUserRepository (prisma: Db, dialect: Dialect) {
  const userColumns = columns<User>({
    id: sql`id`,
    name: sql`name`,
    email: sql`email`,
    // Computed: formatted by the database.
    createdAt: dialect.isoTime(sql`"createdAt"`),
  })

  return {
    /** The new user, or null when another user already has the email. */
    async create (input: NewUser): Promise<User | null> {
      try {
        const [user] = await queryRows(prisma, userColumns, (list) => sql`
          INSERT INTO "User" (name, email, "createdAt") VALUES (${input.name}, ${input.email ?? null}, ${new Date()})
          RETURNING ${list}`)
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
