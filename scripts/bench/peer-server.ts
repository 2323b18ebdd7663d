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
// v2's message, as post-parts sends it: parts, model and usage; its text is its text parts'.
interface Usage { inputTokens: number, outputTokens: number }
interface Part { type: string, text?: string }
interface RichMessage { role: string, parts: Part[], model?: string | null, usage?: Usage | null }
type Params = { id: string, userId: string }

/**
 * Adds a message's tokens to its conversation's usage: Prisma's ORM has no update of a JSON field's members, so
 * it is raw SQL in the ORM's batch transaction, as a user would write it.
 */
const ADD_USAGE = {
  sqlite: (prisma: PrismaClient, id: number, { inputTokens, outputTokens }: Usage) => prisma.$executeRaw`
    UPDATE "Conversation" SET usage = json_object('inputTokens', json_extract(usage, '$.inputTokens') + ${inputTokens}, 'outputTokens', json_extract(usage, '$.outputTokens') + ${outputTokens}) WHERE id = ${id}`,
  postgres: (prisma: PrismaClient, id: number, { inputTokens, outputTokens }: Usage) => prisma.$executeRaw`
    UPDATE "Conversation" SET usage = jsonb_build_object('inputTokens', (usage ->> 'inputTokens')::bigint + ${inputTokens}, 'outputTokens', (usage ->> 'outputTokens')::bigint + ${outputTokens}) WHERE id = ${id}`,
}

function client (url: string): PrismaClient {
  if (providerOf(url) === 'postgres') {
    // Both generated clients come from the same models; typed as one, as src/store/database.ts does.
    return new PostgresClient({ adapter: new PrismaPg({ connectionString: url }) }) as unknown as PrismaClient
  }
  return new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: sqliteFile(url) }) })
}

/**
 * The search scenario's baseline: what Open WebUI does, a LIKE '%term%' scan of the user's messages. A quoted phrase is
 * one term, other words each one, a prefix's `*` dropped; every term must be in the text.
 */
const likeTerms = (q: string): string[] => [...q.matchAll(/"([^"]*)"|(\S+)/g)]
  .map(([, phrase, word]) => (phrase ?? word!.replace(/\*+$/, '')).trim())
  .filter((term) => term !== '')

/** Prisma's `contains` is LIKE, which on SQLite ignores case (ASCII); PostgreSQL's needs `mode` for ILIKE. */
const CONTAINS = {
  sqlite: (term: string) => ({ contains: term }),
  postgres: (term: string) => ({ contains: term, mode: 'insensitive' }) as { contains: string },
}

function routes (fastify: FastifyInstance, prisma: PrismaClient, addUsage: typeof ADD_USAGE['sqlite'], contains: typeof CONTAINS['sqlite']): void {
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
  fastify.post<{ Params: Params, Body: RichMessage }>('/api/v2/conversations/:id/messages', async (request, reply) => {
    const conversationId = Number(request.params.id)
    const { role, parts, model = null, usage = null } = request.body
    const now = new Date()
    const content = parts.flatMap((part) => part.type === 'text' ? [part.text] : []).join('\n')
    const [message] = await prisma.$transaction([
      prisma.message.create({ data: { conversationId, role, content, parts: parts as object[], model, usage: usage === null ? undefined : { ...usage } } }),
      prisma.conversation.update({ where: { id: conversationId }, data: { messageCount: { increment: 1 }, updatedAt: now, lastMessageAt: now } }),
      ...usage === null ? [] : [addUsage(prisma, conversationId, usage)],
    ])
    return reply.code(201).send(message)
  })
  // The newest `limit` messages of the user's that hold every term, with their conversation's title.
  fastify.get<{ Params: Params, Querystring: { q?: string, limit?: string } }>('/api/v2/users/:userId/search', async (request) => {
    return await prisma.message.findMany({
      where: { conversation: { userId: Number(request.params.userId) }, AND: likeTerms(request.query.q ?? '').map((term) => ({ content: contains(term) })) },
      include: { conversation: { select: { title: true } } },
      orderBy: { createdAt: 'desc' },
      take: Number(request.query.limit ?? 20),
    })
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
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL
  const prisma = client(url)
  const fastify = Fastify()
  routes(fastify, prisma, ADD_USAGE[providerOf(url)], CONTAINS[providerOf(url)])
  fastify.addHook('onClose', () => prisma.$disconnect())
  process.on('SIGTERM', () => { fastify.close().then(() => process.exit(0), () => process.exit(1)) })
  await fastify.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? '127.0.0.1' })
}

main().catch((error: unknown) => {
  console.error('peer-server:', error)
  process.exit(1)
})
