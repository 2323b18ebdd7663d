// `npm run db:seed`: demo data the API serves like any other, the same for the same seed.
import t from 'tap'
import { API, runScript, runSql, startApp, testDatabaseUrl } from '../helper.js'

function seed (databaseUrl: string, ...args: string[]) {
  return runScript('db-seed', args, { DATABASE_URL: databaseUrl })
}

t.test('fills a database with users, conversations and messages the API serves', async (t) => {
  const databaseUrl = await testDatabaseUrl(t)
  const run = await seed(databaseUrl, '--users', '5', '--conversations', '3', '--seed', '7')
  t.equal(run.code, 0, run.output)
  const [, users, conversations, messages] = run.output.match(/Seeded (\d+) users, (\d+) conversations and (\d+) messages/) ?? []
  t.equal(users, '5')
  t.ok(Number(conversations) >= 5 && Number(conversations) <= 15)

  const { request } = await startApp(t, { databaseUrl })
  let listedMessages = 0
  for (let id = 1; id <= 5; id++) {
    t.equal((await request('GET', `${API}/users/${id}`)).status, 200)
    const listed = await request<any[]>('GET', `${API}/users/${id}/conversations`)
    t.ok(listed.body.length >= 1, `user ${id} has conversations`)
    for (const conversation of listed.body) {
      const page = await request<any[]>('GET', `${API}/conversations/${conversation.id}/messages`)
      t.equal(page.body.length, conversation.messageCount)
      t.equal(page.body.at(-1).role, 'assistant', 'each demo conversation ends with the assistant answering')
      listedMessages += page.body.length
    }
  }
  t.equal(String(listedMessages), messages)

  // The same seed on another database gives the same demo.
  const again = await testDatabaseUrl(t)
  t.equal((await seed(again, '--users', '5', '--conversations', '3', '--seed', '7')).code, 0)
  const contents = (url: string) => runSql(url, 'SELECT c.title, m.role, m.content FROM "Message" m JOIN "Conversation" c ON c.id = m."conversationId" ORDER BY m.id')
  t.same(await contents(again), await contents(databaseUrl))
})

t.test('rejects a bad count with a clear message', async (t) => {
  const run = await seed(await testDatabaseUrl(t), '--users', 'many')
  t.equal(run.code, 1)
  t.match(run.output, /--users must be an integer from 1 to 100000, got "many"/)
})
