// The benchmark's floor: plain fastify over better-sqlite3 prepared statements or a `pg` Pool, no
// validation, the same routes and JSON as ours for the benchmarked operations (v1's, and v2's post). Nothing with these
// libraries can be much faster, so ratios to it show what our layers cost.
import Fastify, { type FastifyInstance } from 'fastify'
import Sqlite from 'better-sqlite3'
import pg from 'pg'
import { DEFAULT_DATABASE_URL } from '../../src/config.js'
import { providerOf, sqliteFile } from '../../src/store/database-url.js'

interface ConversationRow { id: number, userId: number, title: string | null, metadata: unknown, messageCount: number, createdAt: unknown, updatedAt: unknown }
interface MessageRow { id: number, conversationId: number, role: string, content: string, createdAt: unknown }
interface NewMessage { role: string, content: string }
interface NewConversation { title?: string | null, metadata?: object, messages?: NewMessage[] }
// v2's message, as post-parts sends it: parts, model and usage; its text is its text parts'.
interface Usage { inputTokens: number, outputTokens: number }
interface Part { type: string, text?: string }
interface RichMessage { role: string, parts: Part[], model?: string | null, usage?: Usage | null }
interface RichMessageRow extends MessageRow { parts: unknown, model: string | null, usage: unknown, metadata: unknown }

/** The data operations behind the routes, one implementation per store. */
interface Store {
  ready (): Promise<void>
  conversation (id: number): Promise<ConversationRow | undefined>
  list (userId: number, take: number | undefined): Promise<ConversationRow[]>
  create (userId: number, input: NewConversation, now: Date): Promise<[ConversationRow, MessageRow[]]>
  post (conversationId: number, input: NewMessage, now: Date): Promise<MessageRow | undefined>
  /** post through v2: the message's parts, model and usage too, and the conversation's usage and lastMessageAt. */
  postRich (conversationId: number, input: RichMessage, now: Date): Promise<RichMessageRow | undefined>
  delete (id: number): Promise<boolean>
}

const CONVERSATION = 'id, "userId", title, metadata, "messageCount", "createdAt", "updatedAt"'
const MESSAGE = 'id, "conversationId", role, content, "createdAt"'
const RICH_MESSAGE = `${MESSAGE}, parts, model, usage, metadata`
const textOf = (parts: Part[]) => parts.flatMap((part) => part.type === 'text' ? [part.text] : []).join('\n')

// Dates leave as ISO `Z` strings whether the driver gave text (SQLite) or a Date (pg).
const iso = (value: unknown) => new Date(value as string).toISOString()
const conversationJson = (row: ConversationRow) => ({
  ...row,
  metadata: typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
})
const messageJson = (row: MessageRow) => ({ ...row, createdAt: iso(row.createdAt) })
const parsed = (value: unknown) => typeof value === 'string' ? JSON.parse(value) : value
const richMessageJson = (row: RichMessageRow) => ({ ...messageJson(row), parts: parsed(row.parts), usage: parsed(row.usage), metadata: parsed(row.metadata) })

function sqliteStore (url: string): Store {
  const db = new Sqlite(sqliteFile(url))
  const stored = (now: Date) => now.toISOString().replace('Z', '+00:00')
  const byId = db.prepare<[number], ConversationRow>(`SELECT ${CONVERSATION} FROM "Conversation" WHERE id = ?`)
  const all = db.prepare<[number], ConversationRow>(`SELECT ${CONVERSATION} FROM "Conversation" WHERE "userId" = ? ORDER BY "updatedAt" DESC, id DESC`)
  const page = db.prepare<[number, number], ConversationRow>(`SELECT ${CONVERSATION} FROM "Conversation" WHERE "userId" = ? ORDER BY "updatedAt" DESC, id DESC LIMIT ?`)
  const insertConversation = db.prepare<unknown[], ConversationRow>(`INSERT INTO "Conversation" ("userId", title, metadata, "messageCount", "createdAt", "updatedAt") VALUES (?, ?, ?, ?, ?, ?) RETURNING ${CONVERSATION}`)
  const insertMessage = db.prepare<unknown[], MessageRow>(`INSERT INTO "Message" ("conversationId", role, content, "createdAt") VALUES (?, ?, ?, ?) RETURNING ${MESSAGE}`)
  const bump = db.prepare<unknown[]>('UPDATE "Conversation" SET "messageCount" = "messageCount" + 1, "updatedAt" = ? WHERE id = ?')
  const remove = db.prepare<[number]>('DELETE FROM "Conversation" WHERE id = ?')
  const insertRichMessage = db.prepare<unknown[], RichMessageRow>(`INSERT INTO "Message" ("conversationId", role, content, parts, model, usage, "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING ${RICH_MESSAGE}`)
  const bumpRich = db.prepare<unknown[]>(`UPDATE "Conversation" SET "messageCount" = "messageCount" + 1, "updatedAt" = ?, "lastMessageAt" = ?,
    usage = json_object('inputTokens', json_extract(usage, '$.inputTokens') + CAST(? AS INTEGER), 'outputTokens', json_extract(usage, '$.outputTokens') + CAST(? AS INTEGER)) WHERE id = ?`)
  const create = db.transaction((userId: number, input: NewConversation, at: string): [ConversationRow, MessageRow[]] => {
    const messages = input.messages ?? []
    const row = insertConversation.get(userId, input.title ?? null, JSON.stringify(input.metadata ?? {}), messages.length, at, at)!
    return [row, messages.map((m) => insertMessage.get(row.id, m.role, m.content, at)!)]
  })
  const post = db.transaction((conversationId: number, input: NewMessage, at: string): MessageRow | undefined => {
    if (bump.run(at, conversationId).changes === 0) return undefined
    return insertMessage.get(conversationId, input.role, input.content, at)
  })
  const postRich = db.transaction((conversationId: number, input: RichMessage, at: string): RichMessageRow | undefined => {
    if (bumpRich.run(at, at, input.usage?.inputTokens ?? 0, input.usage?.outputTokens ?? 0, conversationId).changes === 0) return undefined
    return insertRichMessage.get(conversationId, input.role, textOf(input.parts), JSON.stringify(input.parts), input.model ?? null,
      input.usage == null ? null : JSON.stringify(input.usage), at)
  })
  return {
    ready: async () => { db.prepare('SELECT 1').get() },
    conversation: async (id) => byId.get(id),
    list: async (userId, take) => take === undefined ? all.all(userId) : page.all(userId, take),
    create: async (userId, input, now) => create(userId, input, stored(now)),
    post: async (conversationId, input, now) => post(conversationId, input, stored(now)),
    postRich: async (conversationId, input, now) => postRich(conversationId, input, stored(now)),
    delete: async (id) => remove.run(id).changes > 0,
  }
}

function postgresStore (url: string): Store {
  // `timestamp` columns hold UTC wall-clock time (as Prisma writes them); pg would read them as local time.
  const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => oid === 1114 ? (text: string) => `${text.replace(' ', 'T')}Z` : pg.types.getTypeParser(oid, format) }
  const pool = new pg.Pool({ connectionString: url, max: 10, types: types as pg.CustomTypesConfig })
  const inTransaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK')
      throw error
    } finally {
      client.release()
    }
  }
  const insertMessage = `INSERT INTO "Message" ("conversationId", role, content, "createdAt") VALUES ($1, $2, $3, $4) RETURNING ${MESSAGE}`
  return {
    ready: async () => { await pool.query('SELECT 1') },
    conversation: async (id) => (await pool.query<ConversationRow>(`SELECT ${CONVERSATION} FROM "Conversation" WHERE id = $1`, [id])).rows[0],
    list: async (userId, take) => (await pool.query<ConversationRow>(
      `SELECT ${CONVERSATION} FROM "Conversation" WHERE "userId" = $1 ORDER BY "updatedAt" DESC, id DESC LIMIT $2`, [userId, take ?? null])).rows,
    create: (userId, input, now) => inTransaction(async (client) => {
      const messages = input.messages ?? []
      const { rows: [row] } = await client.query<ConversationRow>(
        `INSERT INTO "Conversation" ("userId", title, metadata, "messageCount", "createdAt", "updatedAt") VALUES ($1, $2, $3, $4, $5, $5) RETURNING ${CONVERSATION}`,
        [userId, input.title ?? null, JSON.stringify(input.metadata ?? {}), messages.length, now.toISOString()])
      const stored: MessageRow[] = []
      for (const m of messages) stored.push((await client.query<MessageRow>(insertMessage, [row!.id, m.role, m.content, now.toISOString()])).rows[0]!)
      return [row!, stored]
    }),
    post: (conversationId, input, now) => inTransaction(async (client) => {
      const { rowCount } = await client.query('UPDATE "Conversation" SET "messageCount" = "messageCount" + 1, "updatedAt" = $1 WHERE id = $2', [now.toISOString(), conversationId])
      if (rowCount === 0) return undefined
      return (await client.query<MessageRow>(insertMessage, [conversationId, input.role, input.content, now.toISOString()])).rows[0]
    }),
    postRich: (conversationId, input, now) => inTransaction(async (client) => {
      const { rowCount } = await client.query(`UPDATE "Conversation" SET "messageCount" = "messageCount" + 1, "updatedAt" = $1, "lastMessageAt" = $1,
        usage = jsonb_build_object('inputTokens', (usage ->> 'inputTokens')::bigint + $2, 'outputTokens', (usage ->> 'outputTokens')::bigint + $3) WHERE id = $4`,
      [now.toISOString(), input.usage?.inputTokens ?? 0, input.usage?.outputTokens ?? 0, conversationId])
      if (rowCount === 0) return undefined
      return (await client.query<RichMessageRow>(`INSERT INTO "Message" ("conversationId", role, content, parts, model, usage, "createdAt") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${RICH_MESSAGE}`,
        [conversationId, input.role, textOf(input.parts), JSON.stringify(input.parts), input.model ?? null, input.usage == null ? null : JSON.stringify(input.usage), now.toISOString()])).rows[0]
    }),
    delete: async (id) => ((await pool.query('DELETE FROM "Conversation" WHERE id = $1', [id])).rowCount ?? 0) > 0,
  }
}

function routes (fastify: FastifyInstance, store: Store): void {
  type Params = { id: string, userId: string }
  type Query = { limit?: string }
  const api = '/api/v1'
  fastify.get('/readyz', async () => { await store.ready(); return { status: 'ready' } })
  fastify.get<{ Params: Params }>(`${api}/conversations/:id`, async (request, reply) => {
    const row = await store.conversation(Number(request.params.id))
    return row === undefined ? reply.code(404).send() : conversationJson(row)
  })
  fastify.get<{ Params: Params, Querystring: Query }>(`${api}/users/:userId/conversations`, async (request) => {
    const limit = request.query.limit === undefined ? undefined : Number(request.query.limit)
    // limit + 1 rows tell whether there is a next page, as ours does.
    const rows = await store.list(Number(request.params.userId), limit === undefined ? undefined : limit + 1)
    return rows.slice(0, limit).map(conversationJson)
  })
  fastify.post<{ Params: Params, Body: NewConversation | undefined }>(`${api}/users/:userId/conversations`, async (request, reply) => {
    const [row, messages] = await store.create(Number(request.params.userId), request.body ?? {}, new Date())
    return reply.code(201).send({ ...conversationJson(row), messages: messages.map(messageJson) })
  })
  fastify.post<{ Params: Params, Body: NewMessage }>(`${api}/conversations/:id/messages`, async (request, reply) => {
    const row = await store.post(Number(request.params.id), request.body, new Date())
    return row === undefined ? reply.code(404).send() : reply.code(201).send(messageJson(row))
  })
  fastify.post<{ Params: Params, Body: RichMessage }>('/api/v2/conversations/:id/messages', async (request, reply) => {
    const row = await store.postRich(Number(request.params.id), request.body, new Date())
    return row === undefined ? reply.code(404).send() : reply.code(201).send(richMessageJson(row))
  })
  fastify.delete<{ Params: Params }>(`${api}/conversations/:id`, async (request, reply) => {
    return reply.code(await store.delete(Number(request.params.id)) ? 204 : 404).send()
  })
}

async function main (): Promise<void> {
  const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL
  const fastify = Fastify()
  routes(fastify, providerOf(url) === 'postgres' ? postgresStore(url) : sqliteStore(url))
  process.on('SIGTERM', () => { fastify.close().then(() => process.exit(0), () => process.exit(1)) })
  await fastify.listen({ port: Number(process.env.PORT ?? 8080), host: process.env.HOST ?? '127.0.0.1' })
}

main().catch((error: unknown) => {
  console.error('floor-server:', error)
  process.exit(1)
})
