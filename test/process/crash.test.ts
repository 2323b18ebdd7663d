// kill -9 in the middle of writes: after a restart on the same file, every acknowledged write is there,
// no write is half there, and SQLite finds the file sound. The embedded file is what a crash can damage:
// stores: sqlite
import t from 'tap'
import { API, runSql, startApp, testDatabaseUrl } from '../helper.js'
import { loadUntilKilled } from './processes.js'

const WORKERS = 8
const INITIAL = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi' }]

t.test('acknowledged writes survive kill -9, and no conversation is half-created', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  // Load shedding off: a busy machine's own lag would shed the writers' requests.
  const env = { LOG_LEVEL: 'warn', MAX_EVENT_LOOP_DELAY_MS: '0' }
  const first = await startApp(t, { transport: 'process', databaseUrl, env })
  const userId = (await first.createUser({ name: 'Crash' })).id

  const acknowledged = new Map<number, number[]>()
  let writes = 0
  await loadUntilKilled(first, {
    workers: WORKERS,
    what: '200 writes acknowledged before the kill',
    killWhen: () => writes >= 200,
    write: async (n, i) => {
      const created = await first.request('POST', `${API}/users/${userId}/conversations`, { body: { title: `w${n} c${i}`, messages: INITIAL } })
      if (created.status !== 201) throw new Error(`create answered ${created.status}`)
      acknowledged.set(created.body.id, created.body.messages.map((m: any) => m.id))
      writes++
      const posted = await first.request('POST', `${API}/conversations/${created.body.id}/messages`, { body: { role: 'user', content: `w${n} m${i}` } })
      if (posted.status !== 201) throw new Error(`post answered ${posted.status}`)
      acknowledged.get(created.body.id)!.push(posted.body.id)
      writes++
    },
  })
  t.ok(acknowledged.size > 0, `${writes} writes acknowledged before the kill`)

  const second = await startApp(t, { transport: 'process', databaseUrl, env })
  let missing = 0
  for (const [id, messageIds] of acknowledged) {
    const messages = await second.request('GET', `${API}/conversations/${id}/messages`)
    const stored = messages.status === 200 ? messages.body.map((m: any) => m.id) : []
    if (messageIds.some((messageId) => !stored.includes(messageId))) missing++
  }
  t.equal(missing, 0, `all ${acknowledged.size} acknowledged conversations are back with every acknowledged message`)
  t.equal(await second.stop(), 0)

  const partial = await runSql(databaseUrl, `
    SELECT c.id FROM "Conversation" c
     WHERE (SELECT COUNT(*) FROM "Message" m WHERE m."conversationId" = c.id) < ${INITIAL.length}
        OR c."messageCount" <> (SELECT COUNT(*) FROM "Message" m WHERE m."conversationId" = c.id)`)
  t.same(partial, [], 'every stored conversation has its initial messages and a true messageCount')
  t.same(await runSql(databaseUrl, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }])
  t.same(await runSql(databaseUrl, 'PRAGMA foreign_key_check'), [])
})
