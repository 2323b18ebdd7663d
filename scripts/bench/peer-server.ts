// The benchmark's peer: what a user would write with the same libraries. Plain fastify routes calling
// Prisma's ORM with its defaults and the official driver adapters, no validation.
import Fastify, { type FastifyInstance } from 'fastify'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../../generated/prisma/sqlite/client.js'
import { PrismaClient as PostgresClient } from '../../generated/prisma/postgres/client.js'
import { DEFAULT_DATABASE_URL } from '../../src/config.js'
import { providerOf, sqliteFile } from '../../src/store/database-url.js'

interface NewMessage { role: string, content: string }
interface NewConversation { title?: string | null, metadata?: object, messages?: NewMessage[] }
type Params = { id: string, userId: string }

function client (url: string): PrismaClient {
  if (providerOf(url) === 'postgres') {
    // Both generated clients come from the same models; typed as one, as src/store/database.ts does.
    return new PostgresClient({ adapter: new PrismaPg({ connectionString: url }) }) as unknown as PrismaClient
  }
  return new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: sqliteFile(url) }) })
}

function routes (fastify: FastifyInstance, prisma: PrismaClient): void {
  const api = '/api/v1'
  fastify.get('/readyz', async () => { await prisma.$queryRaw`SELECT 1`; return { status: 'ready' } })
  fastify.get<{ Params: Params }>(`${api}/conversations/:id`, async (request, reply) => {
    const row = await prisma.conversation.findUnique({ where: { id: Number(request.params.id) } })
    return row ?? reply.code(404).send()
  })
  fastify.get<{ Params: Params, Querystring: { limit?: string } }>(`${api}/users/:userId/conversations`, async (request) => {
    const limit = request.query.limit === undefined ? undefined : Number(request.query.limit)
    const rows = await prisma.conversation.findMany({
      where: { userId: Number(request.params.userId) },
      orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
      take: limit === undefined ? undefined : limit + 1,
    })
    return rows.slice(0, limit)
  })
  fastify.post<{ Params: Params, Body: NewConversation | undefined }>(`${api}/users/:userId/conversations`, async (request, reply) => {
    const { title, metadata, messages = [] } = request.body ?? {}
    const row = await prisma.conversation.create({
      data: { userId: Number(request.params.userId), title, metadata: metadata ?? {}, messageCount: messages.length, messages: { create: messages } },
      include: { messages: true },
    })
    return reply.code(201).send(row)
  })
  fastify.post<{ Params: Params, Body: NewMessage }>(`${api}/conversations/:id/messages`, async (request, reply) => {
    const conversationId = Number(request.params.id)
    const [message] = await prisma.$transaction([
      prisma.message.create({ data: { conversationId, role: request.body.role, content: request.body.content } }),
      prisma.conversation.update({ where: { id: conversationId }, data: { messageCount: { increment: 1 }, updatedAt: new Date() } }),
    ])
    return reply.code(201).send(message)
  })
  fastify.delete<{ Params: Params }>(`${api}/conversations/:id`, async (request, reply) => {
    try {
      await prisma.conversation.delete({ where: { id: Number(request.params.id) } })
      return reply.code(204).send()
    } catch {
      return reply.code(404).send()
    }
  })
}

async function main (): Promise<void> {
  const prisma = client(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL)
  const fastify = Fastify()
  routes(fastify, prisma)
  fastify.addHook('onClose', () => prisma.$disconnect())
  process.on('SIGTERM', () => { fastify.close().then(() => process.exit(0), () => process.exit(1)) })
  await fastify.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? '127.0.0.1' })
}

main().catch((error: unknown) => {
  console.error('peer-server:', error)
  process.exit(1)
})
