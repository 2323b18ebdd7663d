import type { PrismaClient } from '../database.js'
import { sql } from './dialect.js'
import { toUser, type NewUser, type User, type UserRow } from './models.js'
import { databaseErrorKind } from './prisma-errors.js'

const columns = sql`id, name, email, "createdAt"`

export function createUserRepository (prisma: PrismaClient) {
  return {
    /** The new user, or null when another user already has the email. */
    async create (input: NewUser): Promise<User | null> {
      try {
        const [row] = await prisma.$queryRaw<UserRow[]>`
          INSERT INTO "User" (name, email, "createdAt") VALUES (${input.name}, ${input.email ?? null}, ${new Date()})
          RETURNING ${columns}`
        return toUser(row!)
      } catch (error) {
        if (databaseErrorKind(error) === 'unique') return null
        throw error
      }
    },

    async findById (id: number): Promise<User | null> {
      const [row] = await prisma.$queryRaw<UserRow[]>`SELECT ${columns} FROM "User" WHERE id = ${id}`
      return row === undefined ? null : toUser(row)
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
