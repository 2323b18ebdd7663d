import type { PrismaClient } from '../database.js'
import { isUniqueViolation } from './prisma-errors.js'
import { toUser, type NewUser, type User } from './models.js'

export function createUserRepository (prisma: PrismaClient) {
  return {
    /** The new user, or null when another user already has the email. */
    async create (input: NewUser): Promise<User | null> {
      try {
        const row = await prisma.user.create({
          data: { name: input.name, email: input.email ?? null, createdAt: new Date() },
        })
        return toUser(row)
      } catch (error) {
        if (isUniqueViolation(error)) return null
        throw error
      }
    },

    async findById (id: number): Promise<User | null> {
      const row = await prisma.user.findUnique({ where: { id } })
      return row === null ? null : toUser(row)
    },

    /** False when there was no such user. Conversations and messages go by ON DELETE CASCADE, in the same statement. */
    async delete (id: number): Promise<boolean> {
      const { count } = await prisma.user.deleteMany({ where: { id } })
      return count > 0
    },
  }
}

export type UserRepository = ReturnType<typeof createUserRepository>
