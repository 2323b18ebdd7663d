// Prisma's error codes the repositories act on (https://www.prisma.io/docs/orm/reference/error-reference).
import { PrismaClientKnownRequestError } from '@prisma/client/runtime/client'

function hasCode (error: unknown, code: string): boolean {
  return error instanceof PrismaClientKnownRequestError && error.code === code
}

/** A unique constraint refused the write (P2002). */
export const isUniqueViolation = (error: unknown): boolean => hasCode(error, 'P2002')

/** The row a foreign key points at is gone (P2003), e.g. deleted by a concurrent request. */
export const isForeignKeyViolation = (error: unknown): boolean => hasCode(error, 'P2003')

/** The record an update or delete needs does not exist (P2025). */
export const isRecordNotFound = (error: unknown): boolean => hasCode(error, 'P2025')
