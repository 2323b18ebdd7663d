// The multi-instance scenario (test/process/multi-instance.test.ts), in pieces other process tests reuse:
// server processes on one PostgreSQL database, mixed concurrent writes through them, then every
// acknowledged write visible, the same, through each, and the database itself consistent.
import type { Test } from 'tap'
import { migrationsDir, readMigrations } from '../src/store/migrate/index.js'
import { API, runSql, startApp, until, type ProcessApp, type Reply } from './helper.js'

const WORKERS = 8
const ROUNDS = 12

interface Model {
  users: Map<number, { name: string }>
  conversations: Map<number, { userId: number, messages: string[] }>
  deletedConversations: Set<number>
  deletedUsers: Set<number>
}

/** What the load did: the store it should have left, and how often each `METHOD /path status` was answered. */
export interface Load { model: Model, statuses: Map<string, number> }

/** The answers the scenario may get: anything else (a 5xx above all) is a failure. */
export const ALLOWED_STATUSES = /^(POST \/users 201|POST \/users\/:id\/conversations 201|POST \/conversations\/:id\/messages (201|404)|DELETE \/conversations\/:id 204|DELETE \/users\/:id 204)$/

/** A built server process on the database, ready, with a small pool; killed when the test ends. */
export async function startInstance (t: Test, databaseUrl: string, env: Record<string, string> = {}): Promise<ProcessApp> {
  // Load shedding off: these loads check writes and retries, and a busy machine's own lag would shed their requests.
  return await startApp(t, { transport: 'process', databaseUrl, env: { DATABASE_POOL_SIZE: '4', LOG_LEVEL: 'warn', MAX_EVENT_LOOP_DELAY_MS: '0', ...env } })
}

/**
 * Concurrent workers through the instances, alternating per request as a round-robin balancer would;
 * with `race`, then posters on one instance while the other deletes their conversation. A 5xx fails the
 * load with what the instance logged about it, unless `expectServerError` (it is then counted).
 */
export async function runLoad (instances: ProcessApp[], { race = true, expectServerError = false } = {}): Promise<Load> {
  const model: Model = { users: new Map(), conversations: new Map(), deletedConversations: new Set(), deletedUsers: new Set() }
  const statuses = new Map<string, number>()
  const call = async (worker: number, step: number, method: string, url: string, body?: unknown): Promise<Reply> => {
    const reply = await instances[(worker + step) % instances.length]!.request(method, `${API}${url}`, { body, expectServerError })
    const key = `${method} ${url.replace(/\d+/g, ':id')} ${reply.status}`
    statuses.set(key, (statuses.get(key) ?? 0) + 1)
    return reply
  }
  await Promise.all(Array.from({ length: WORKERS }, (_, worker) => runWorker(worker, call, model)))
  if (race) await raceDeleteAgainstPosts(call, model, () => instances.map((instance) => instance.output()).join('\n'))
  return { model, statuses }
}

/** Every answer allowed, every acknowledged write visible through each instance, no orphans, one migration history. */
export async function checkLoad (t: Test, { model, statuses }: Load, instances: ProcessApp[], databaseUrl: string): Promise<void> {
  for (const [key, count] of statuses) t.match(key, ALLOWED_STATUSES, `${count} × ${key}`)
  for (const instance of instances) await checkVisible(t, instance, model)
  const [ids] = await runSql(databaseUrl, `
    SELECT (SELECT COUNT(*) FROM "Conversation" c WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u.id = c."userId")) AS orphan_conversations,
           (SELECT COUNT(*) FROM "Message" m WHERE NOT EXISTS (SELECT 1 FROM "Conversation" c WHERE c.id = m."conversationId")) AS orphan_messages,
           (SELECT COUNT(*) FROM "Conversation" c WHERE c."messageCount" <> (SELECT COUNT(*) FROM "Message" m WHERE m."conversationId" = c.id)) AS wrong_counts,
           (SELECT COUNT(*) FROM "User") AS users, (SELECT COUNT(*) FROM "Conversation") AS conversations,
           (SELECT COUNT(*) FROM _prisma_migrations) AS migrations`) as any[]
  // Instances that start together apply each committed migration once between them.
  const committed = readMigrations(migrationsDir('postgres')).length
  t.same(
    { ...ids },
    {
      orphan_conversations: '0',
      orphan_messages: '0',
      wrong_counts: '0',
      users: String(model.users.size),
      conversations: String(model.conversations.size),
      migrations: String(committed),
    },
    'no orphans, counts right, each migration recorded once'
  )
}

type Call = (worker: number, step: number, method: string, url: string, body?: unknown) => Promise<Reply>

/** Each worker makes a user, conversations and messages, and deletes some of what it made. */
async function runWorker (worker: number, call: Call, model: Model): Promise<void> {
  let step = 0
  const user = (await call(worker, step++, 'POST', '/users', { name: `worker ${worker}` })).body
  model.users.set(user.id, { name: user.name })
  const spare = (await call(worker, step++, 'POST', '/users', { name: `spare ${worker}` })).body
  model.users.set(spare.id, { name: spare.name })
  const spareConversation = (await call(worker, step++, 'POST', `/users/${spare.id}/conversations`, { messages: [{ role: 'user', content: 'gone soon' }] })).body
  model.conversations.set(spareConversation.id, { userId: spare.id, messages: ['gone soon'] })

  for (let round = 0; round < ROUNDS; round++) {
    const content = `w${worker} r${round}`
    const created = (await call(worker, step++, 'POST', `/users/${user.id}/conversations`, {
      title: content, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }],
    })).body
    model.conversations.set(created.id, { userId: user.id, messages: ['be brief', content] })
    const reply = await call(worker, step++, 'POST', `/conversations/${created.id}/messages`, { role: 'assistant', content: `re ${content}` })
    if (reply.status === 201) model.conversations.get(created.id)!.messages.push(`re ${content}`)
    if (round % 3 === 2) {
      await call(worker, step++, 'DELETE', `/conversations/${created.id}`)
      model.conversations.delete(created.id)
      model.deletedConversations.add(created.id)
    }
  }
  await call(worker, step++, 'DELETE', `/users/${spare.id}`)
  model.users.delete(spare.id)
  model.deletedUsers.add(spare.id)
  model.conversations.delete(spareConversation.id)
  model.deletedConversations.add(spareConversation.id)
}

/** Posters on one instance keep writing until the conversation, deleted through the other, is gone. */
async function raceDeleteAgainstPosts (call: Call, model: Model, output: () => string): Promise<void> {
  const user = (await call(0, 0, 'POST', '/users', { name: 'racer' })).body
  model.users.set(user.id, { name: user.name })
  const conversation = (await call(0, 0, 'POST', `/users/${user.id}/conversations`, {})).body
  let acknowledged = 0
  let postersDone = 0
  const poster = async (n: number) => {
    try {
      for (let i = 0; i < 500; i++) {
        const reply = await call(1, 0, 'POST', `/conversations/${conversation.id}/messages`, { role: 'user', content: `p${n} m${i}` })
        if (reply.status === 404) return
        acknowledged++
      }
      throw new Error('the deleted conversation still took messages')
    } finally {
      postersDone++
    }
  }
  const deleter = async () => {
    // Posters that all ended first have failed the load already, with their own reason.
    await until('20 posts acknowledged before the delete', () => acknowledged >= 20 || postersDone === 4, {
      intervalMs: 5, cause: () => `${acknowledged} acknowledged; the instances logged:\n${output()}`,
    })
    await call(0, 0, 'DELETE', `/conversations/${conversation.id}`)
  }
  await Promise.all([poster(1), poster(2), poster(3), poster(4), deleter()])
  model.deletedConversations.add(conversation.id)
}

async function checkVisible (t: Test, { origin, request }: ProcessApp, model: Model): Promise<void> {
  const get = (url: string) => request<any>('GET', `${API}${url}`)
  for (const [id, user] of model.users) {
    t.match((await get(`/users/${id}`)).body, { id, name: user.name })
    const listed = (await get(`/users/${id}/conversations`)).body as Array<{ id: number }>
    const expected = [...model.conversations].filter(([, c]) => c.userId === id).map(([cid]) => cid).sort((a, b) => a - b)
    t.same(listed.map((c) => c.id).sort((a, b) => a - b), expected, `${origin}: user ${id} lists exactly their conversations`)
  }
  for (const [id, conversation] of model.conversations) {
    const messages = (await get(`/conversations/${id}/messages`)).body as Array<{ content: string, id: number }>
    t.same(messages.map((m) => m.content), conversation.messages, `${origin}: conversation ${id} holds every acknowledged message, in order`)
    t.equal((await get(`/conversations/${id}`)).body.messageCount, conversation.messages.length)
  }
  for (const id of model.deletedConversations) t.equal((await get(`/conversations/${id}`)).status, 404)
  for (const id of model.deletedUsers) t.equal((await get(`/users/${id}`)).status, 404)
}
