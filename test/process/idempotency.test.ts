// Idempotency-Key across processes: keys held by the database, not by a process. Two instances on one
// PostgreSQL database share them; a server killed with -9 mid-load comes back with every key it answered,
// and retries of every request sent, answered or not, leave each create (and each import) stored exactly once.
import t from 'tap'
import { API, API_V2, runSql, store, testDatabaseUrl, type Reply } from '../helper.js'
import { startInstance } from '../multi-instance.js'
import { loadUntilKilled } from './processes.js'

const count = async (databaseUrl: string, table: string) =>
  Number((await runSql(databaseUrl, `SELECT COUNT(*) AS n FROM "${table}"`) as Array<{ n: unknown }>)[0]!.n)

const keyed = (key: string, body: unknown) => ({ body, headers: { 'idempotency-key': key } })
const answerOf = (reply: Reply) => ({ status: reply.status, text: reply.text, location: reply.headers.location })

t.test('two instances on one database share the keys', { skip: store === 'postgres' ? false : 'PostgreSQL only: several instances share one PostgreSQL database' }, async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const [a, b] = await Promise.all([startInstance(t, databaseUrl), startInstance(t, databaseUrl)])

  const userId = (await a.request('POST', `${API}/users`, keyed('user', { name: 'Shared' }))).body.id
  const replayedUser = await b.request('POST', `${API}/users`, keyed('user', { name: 'Shared' }))
  t.equal(replayedUser.headers['idempotent-replayed'], 'true', 'a key used on one instance is replayed by the other')
  t.equal(replayedUser.body.id, userId)
  t.equal((await b.request('POST', `${API}/users`, keyed('user', { name: 'Other' }))).status, 422, 'and refused there with another body')

  // The same create through both at once, as a client retrying through a load balancer would.
  const body = { title: 'Both', messages: [{ role: 'user', content: 'once' }] }
  const replies = await Promise.all(Array.from({ length: 24 }, (_, i) =>
    (i % 2 === 0 ? a : b).request('POST', `${API}/users/${userId}/conversations`, keyed('burst', body))))
  t.same(new Set(replies.map((reply) => reply.status)), new Set([201]))
  t.equal(new Set(replies.map((reply) => reply.text)).size, 1, 'one answer, byte for byte, from both instances')
  t.equal(replies.filter((reply) => reply.headers['idempotent-replayed'] === undefined).length, 1, 'made once')
  t.equal(await count(databaseUrl, 'Conversation'), 1, 'one conversation stored')
  t.equal(await count(databaseUrl, 'Message'), 1, 'with its message once')
})

t.test('kill -9 mid-load: every retry replays or applies, nothing is stored twice', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const first = await startInstance(t, databaseUrl)
  const userId = (await first.createUser({ name: 'Crash' })).id
  const url = `${API}/users/${userId}/conversations`
  const bodyOf = (key: string) => ({ title: key, messages: [{ role: 'user', content: `from ${key}` }] })

  const sent: string[] = []
  const answered = new Map<string, Reply>()
  await loadUntilKilled(first, {
    workers: 8,
    what: '100 keyed creates answered before the kill',
    killWhen: () => answered.size >= 100,
    write: async (n, i) => {
      const key = `w${n}-${i}`
      sent.push(key)
      const reply = await first.request('POST', url, keyed(key, bodyOf(key)))
      if (reply.status !== 201) throw new Error(`create answered ${reply.status}`)
      answered.set(key, reply)
    },
  })
  t.ok(sent.length > answered.size, `${answered.size} of ${sent.length} creates answered before the kill; the rest were in flight`)

  const second = await startInstance(t, databaseUrl)
  let replayed = 0
  let applied = 0
  for (const key of sent) {
    const retry = await second.request('POST', url, keyed(key, bodyOf(key)))
    const before = answered.get(key)
    if (before !== undefined) {
      t.same(answerOf(retry), answerOf(before), `${key}: an answered create is replayed byte for byte`)
    } else {
      t.equal(retry.status, 201, `${key}: an unanswered create is applied or replayed`)
    }
    if (retry.headers['idempotent-replayed'] === 'true') replayed++
    else applied++
  }
  t.ok(replayed >= answered.size, `${replayed} replayed, ${applied} applied on retry`)
  const titles = await runSql(databaseUrl, 'SELECT title, COUNT(*) AS n FROM "Conversation" GROUP BY title HAVING COUNT(*) > 1')
  t.same(titles, [], 'no create stored twice')
  t.equal(await count(databaseUrl, 'Conversation'), sent.length, 'every create sent is stored, once')
  t.equal(await count(databaseUrl, 'Message'), sent.length, 'with its message, once')
  t.equal(await count(databaseUrl, 'IdempotencyKey'), sent.length, 'and its key')
})

t.test('kill -9 mid-import: every import retried with its key is stored once, all of it', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const first = await startInstance(t, databaseUrl)
  const userId = (await first.createUser({ name: 'Importer' })).id
  const url = `${API_V2}/users/${userId}/import`
  const LINES = 10
  const MESSAGES = 40
  const bodyOf = (key: string) => Array.from({ length: LINES }, (_, line) => ({
    title: `${key}/${line}`,
    messages: Array.from({ length: MESSAGES }, (_, n) => ({ role: 'user', parts: [{ type: 'text', text: `${key}/${line}/${n}` }] })),
  }))
  const sendOf = (key: string) => ({ body: bodyOf(key), headers: { 'content-type': 'application/x-ndjson', 'idempotency-key': key } })

  const sent: string[] = []
  const answered = new Map<string, Reply>()
  await loadUntilKilled(first, {
    workers: 4,
    what: '8 keyed imports answered before the kill',
    killWhen: () => answered.size >= 8,
    write: async (n, i) => {
      const key = `import-${n}-${i}`
      sent.push(key)
      const reply = await first.request('POST', url, sendOf(key))
      if (reply.status !== 201) throw new Error(`import answered ${reply.status}: ${reply.text.slice(0, 200)}`)
      answered.set(key, reply)
    },
  })
  t.ok(sent.length > answered.size, `${answered.size} of ${sent.length} imports answered before the kill; the rest were in flight`)

  const second = await startInstance(t, databaseUrl)
  for (const key of sent) {
    const retry = await second.request('POST', url, sendOf(key))
    const before = answered.get(key)
    if (before !== undefined) t.same(answerOf(retry), answerOf(before), `${key}: an answered import is replayed byte for byte`)
    else t.equal(retry.status, 201, `${key}: an unanswered import is applied or replayed`)
  }
  const titles = await runSql(databaseUrl, 'SELECT title, COUNT(*) AS n FROM "Conversation" GROUP BY title HAVING COUNT(*) > 1')
  t.same(titles, [], 'no line stored twice')
  t.equal(await count(databaseUrl, 'Conversation'), sent.length * LINES, 'every line of every import sent is stored, once')
  t.equal(await count(databaseUrl, 'Message'), sent.length * LINES * MESSAGES, 'with all its messages, once')
  const counted = await runSql(databaseUrl, 'SELECT COUNT(*) AS n FROM "Conversation" c WHERE c."messageCount" <> (SELECT COUNT(*) FROM "Message" m WHERE m."conversationId" = c.id)') as Array<{ n: unknown }>
  t.equal(Number(counted[0]!.n), 0, 'and each conversation counts its messages')
})
