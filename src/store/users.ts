import type { PrismaClient } from './database.js'
import { sql, type Dialect } from './dialect.js'
import type { NewUser, User } from './models.js'
import { databaseErrorKind } from './prisma-errors.js'

export function createUserRepository (prisma: PrismaClient, dialect: Dialect) {
  const columns = sql`id, name, email, ${dialect.isoTime(sql`"createdAt"`)} AS "createdAt"`

  return {
    /** The new user, or null when another user already has the email. */
    async create (input: NewUser): Promise<User | null> {
      try {
        const [user] = await prisma.$queryRaw<User[]>`
          INSERT INTO "User" (name, email, "createdAt") VALUES (${input.name}, ${input.email ?? null}, ${new Date()})
          RETURNING ${columns}`
        return user!
      } catch (error) {
        if (databaseErrorKind(error) === 'unique') return null
        throw error
      }
    },

    async findById (id: number): Promise<User | null> {
      const [user] = await prisma.$queryRaw<User[]>`SELECT ${columns} FROM "User" WHERE id = ${id}`
      return user ?? null
    },

    async exists (id: number): Promise<boolean> {
      const rows = await prisma.$queryRaw<unknown[]>`SELECT 1 AS found FROM "User" WHERE id = ${id}`
      return rows.length > 0
    },

    /** False when there was no such user. Conversations and messages go by ON DELETE CASCADE, in the same statement. */
    async delete (id: number): Promise<boolean> {
      return await prisma.$executeRaw`DELETE FROM "User" WHERE id = ${id}` > 0
    },
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>
