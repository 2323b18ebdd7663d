// Concurrent requests that contend for the same rows: only documented answers, and the store stays whole.
import t, { type Test } from 'tap'
import { API, runSql, startApp, until, type Reply } from '../helper.js'

/** What must hold after any interleaving: nothing orphaned, every messageCount equal to its rows. */
async function checkInvariants (t: Test, databaseUrl: string): Promise<void> {
  const [row] = await runSql(databaseUrl, `
    SELECT (SELECT COUNT(*) FROM "Conversation" c WHERE NOT EXISTS (SELECT 1 FROM "User" u WHERE u.id = c."userId")) AS "orphanConversations",
           (SELECT COUNT(*) FROM "Message" m WHERE NOT EXISTS (SELECT 1 FROM "Conversation" c WHERE c.id = m."conversationId")) AS "orphanMessages",
           (SELECT COUNT(*) FROM "Conversation" c
             WHERE c."messageCount" <> (SELECT COUNT(*) FROM "Message" m WHERE m."conversationId" = c.id)) AS "wrongCounts"`) as any[]
  const counts = Object.fromEntries(Object.entries(row).map(([name, value]) => [name, Number(value)]))
  t.same(counts, { orphanConversations: 0, orphanMessages: 0, wrongCounts: 0 }, 'no orphans, counts right')
}

function statuses (replies: Reply[]): Record<number, number> {
  const counts: Record<number, number> = {}
  for (const reply of replies) counts[reply.status] = (counts[reply.status] ?? 0) + 1
  return counts
}

/**
 * Four workers write until their target is gone; the delete goes in once ten writes are acknowledged, so
 * it lands among writes in flight. Each worker must end on a 404: a deleted target takes no more writes.
 */
async function untilDeleted (write: (worker: number, i: number) => Promise<Reply>, remove: () => Promise<Reply>): Promise<{ replies: Reply[], deleted: Reply }> {
  const replies: Reply[] = []
  let failed: unknown
  const worker = async (n: number) => {
    try {
      for (let i = 0; i < 1000; i++) {
        const reply = await write(n, i)
        replies.push(reply)
        if (reply.status !== 201) return
      }
      throw new Error(`worker ${n}: 1000 writes and the target is still there`)
    } catch (error) {
      failed = error
      throw error
    }
  }
  const deleteAmongWrites = async () => {
    await until('ten writes acknowledged, for the delete to land among writes in flight', () => {
      // A write that failed, or found its target gone before any delete, ends the scenario before it began.
      if (failed !== undefined) throw new Error('a worker failed before the delete', { cause: failed })
      const early = replies.find((reply) => reply.status !== 201)
      if (early !== undefined) throw new Error(`a write answered ${early.status} before the delete: ${early.text}`)
      return replies.length >= 10
    }, { intervalMs: 1 })
    return await remove()
  }
  const [deleted] = await Promise.all([deleteAmongWrites(), worker(1), worker(2), worker(3), worker(4)])
  return { replies, deleted }
}

t.test('deleting a conversation while messages are posted to it', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const conversation = await createConversation((await createUser({ name: 'Racer' })).id, { messages: [{ role: 'user', content: 'first' }] })

  const { replies: posts, deleted } = await untilDeleted(
    (worker, i) => request('POST', `${API}/conversations/${conversation.id}/messages`, { body: { role: 'user', content: `w${worker} m${i}` } }),
    () => request('DELETE', `${API}/conversations/${conversation.id}`)
  )

  t.equal(deleted.status, 204)
  const seen = statuses(posts)
  t.same(Object.keys(seen).filter((status) => status !== '201' && status !== '404'), [], `posts answered ${JSON.stringify(seen)}`)
  t.equal((await request('GET', `${API}/conversations/${conversation.id}`)).status, 404)
  t.equal((await request('GET', `${API}/conversations/${conversation.id}/messages`)).status, 404)
  t.same(await runSql(databaseUrl, `SELECT id FROM "Message" WHERE "conversationId" = ${conversation.id}`), [], 'every message went with it')
  await checkInvariants(t, databaseUrl)
})

t.test('deleting a user while conversations are created for them', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const userId = (await createUser({ name: 'Racer' })).id
  const bystander = (await createUser({ name: 'Bystander' })).id
  const bystanderConversation = await createConversation(bystander, { title: 'untouched' })

  const { replies: creates, deleted } = await untilDeleted(
    (worker, i) => request('POST', `${API}/users/${userId}/conversations`, {
      body: { title: `w${worker} c${i}`, messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] },
    }),
    () => request('DELETE', `${API}/users/${userId}`)
  )

  t.equal(deleted.status, 204)
  const seen = statuses(creates)
  t.same(Object.keys(seen).filter((status) => status !== '201' && status !== '404'), [], `creates answered ${JSON.stringify(seen)}`)
  for (const reply of creates.filter((reply) => reply.status === 201)) {
    t.equal((await request('GET', `${API}/conversations/${reply.body.id}`)).status, 404, `conversation ${reply.body.id} went with its user`)
  }
  t.equal((await request('GET', `${API}/users/${userId}/conversations`)).status, 404)
  t.same(await runSql(databaseUrl, `SELECT id FROM "Conversation" WHERE "userId" = ${userId}`), [])
  t.match((await request('GET', `${API}/conversations/${bystanderConversation.id}`)).body, { title: 'untouched' }, 'other users keep theirs')
  await checkInvariants(t, databaseUrl)
})

t.test('100 parallel creates for one user give 100 whole conversations', async (t) => {
  const { request, databaseUrl, createUser } = await startApp(t)
  const userId = (await createUser({ name: 'Racer' })).id
  const creates = await Promise.all(Array.from({ length: 100 }, (_, i) => request('POST', `${API}/users/${userId}/conversations`, {
    body: { title: `parallel ${i}`, messages: [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }] },
  })))
  t.same(statuses(creates), { 201: 100 })
  const ids = new Set(creates.map((reply) => reply.body.id))
  t.equal(ids.size, 100, 'distinct ids')
  for (const reply of creates) {
    t.same(reply.body.messages.map((m: any) => m.content), [`q${reply.body.title.slice(9)}`, `a${reply.body.title.slice(9)}`], 'its own messages, in order')
  }
  const listed = (await request('GET', `${API}/users/${userId}/conversations`)).body
  t.same(new Set(listed.map((c: any) => c.id)), ids, 'the list holds exactly them')
  t.ok(listed.every((c: any) => c.messageCount === 2))
  await checkInvariants(t, databaseUrl)
})

t.test('parallel posts to one conversation are all kept, in id order', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const conversation = await createConversation((await createUser({ name: 'Racer' })).id)
  const posts = await Promise.all(Array.from({ length: 60 }, (_, i) => request('POST', `${API}/conversations/${conversation.id}/messages`, {
    body: { role: i % 2 === 0 ? 'user' : 'assistant', content: `p${i}` },
  })))
  t.same(statuses(posts), { 201: 60 })
  const messages = (await request('GET', `${API}/conversations/${conversation.id}/messages`)).body
  t.equal(messages.length, 60)
  t.same(messages.map((m: any) => m.id), posts.map((reply) => reply.body.id).sort((a, b) => a - b), 'oldest first, every acknowledged id')
  const after = (await request('GET', `${API}/conversations/${conversation.id}`)).body
  t.equal(after.messageCount, 60)
  t.equal(after.updatedAt, messages.map((m: any) => m.createdAt).sort().at(-1), 'updatedAt is the latest message')
  await checkInvariants(t, databaseUrl)
})
