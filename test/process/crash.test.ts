// kill -9 in the middle of writes: after a restart on the same file, every acknowledged write is there,
// no write is half there, and SQLite finds the file sound.
import { join } from 'node:path'
import t from 'tap'
import { API, httpRequest, runSql, store, tempDir } from '../helper.js'
import { freePort, startServer, stop, waitReady } from '../server-process.js'

const WORKERS = 8
const INITIAL = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi' }]

interface Acknowledged { conversations: Map<number, number[]> }

if (store !== 'sqlite') {
  t.pass('the embedded file is what a crash can damage: runs on the SQLite pass')
} else {
  t.test('acknowledged writes survive kill -9, and no conversation is half-created', async (t) => {
    const databaseUrl = `file:${join(tempDir(t), 'crash.db')}`
    const env = { PORT: String(await freePort()), HOST: '127.0.0.1', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }
    const first = startServer(env)
    t.teardown(() => { first.child.kill('SIGKILL') })
    await waitReady(first.origin, first.child)
    const userId = (await httpRequest<any>(first.origin, 'POST', `${API}/users`, { body: { name: 'Crash' } })).body.id

    const acknowledged: Acknowledged = { conversations: new Map() }
    let writes = 0
    const worker = async (n: number) => {
      // Until the process dies under it: a refused connection or a reset ends the worker.
      try {
        for (let i = 0; ; i++) {
          const created = await httpRequest<any>(first.origin, 'POST', `${API}/users/${userId}/conversations`, { body: { title: `w${n} c${i}`, messages: INITIAL } })
          if (created.status !== 201) throw new Error(`create answered ${created.status}`)
          acknowledged.conversations.set(created.body.id, created.body.messages.map((m: any) => m.id))
          writes++
          const posted = await httpRequest<any>(first.origin, 'POST', `${API}/conversations/${created.body.id}/messages`, { body: { role: 'user', content: `w${n} m${i}` } })
          if (posted.status !== 201) throw new Error(`post answered ${posted.status}`)
          acknowledged.conversations.get(created.body.id)!.push(posted.body.id)
          writes++
        }
      } catch (error) {
        if (!(error instanceof TypeError)) throw error // fetch's "fetch failed": the server is gone
      }
    }
    const killMidLoad = async () => {
      while (writes < 200) await new Promise((resolve) => setTimeout(resolve, 5))
      first.child.kill('SIGKILL')
    }
    await Promise.all([killMidLoad(), ...Array.from({ length: WORKERS }, (_, n) => worker(n))])
    t.ok(acknowledged.conversations.size > 0, `${writes} writes acknowledged before the kill`)

    const second = startServer(env)
    t.teardown(() => { second.child.kill('SIGKILL') })
    await waitReady(second.origin, second.child)
    let missing = 0
    for (const [id, messageIds] of acknowledged.conversations) {
      const messages = await httpRequest<any>(second.origin, 'GET', `${API}/conversations/${id}/messages`)
      const stored = messages.status === 200 ? messages.body.map((m: any) => m.id) : []
      if (messageIds.some((messageId) => !stored.includes(messageId))) missing++
    }
    t.equal(missing, 0, `all ${acknowledged.conversations.size} acknowledged conversations are back with every acknowledged message`)
    t.equal(await stop(second.child), 0)

    const partial = await runSql(databaseUrl, `
      SELECT c.id FROM "Conversation" c
       WHERE (SELECT COUNT(*) FROM "Message" m WHERE m."conversationId" = c.id) < ${INITIAL.length}
          OR c."messageCount" <> (SELECT COUNT(*) FROM "Message" m WHERE m."conversationId" = c.id)`)
    t.same(partial, [], 'every stored conversation has its initial messages and a true messageCount')
    t.same(await runSql(databaseUrl, 'PRAGMA integrity_check'), [{ integrity_check: 'ok' }])
    t.same(await runSql(databaseUrl, 'PRAGMA foreign_key_check'), [])
  })
}
