// Writes are all-or-nothing: when the database refuses part of a write, none of it is stored.
import t from 'tap'
import { API, runSql, snapshot, startApp, store } from '../helper.js'

/** Makes the database refuse, with a trigger, any write that `condition` (SQL on NEW) matches. */
async function refuse (databaseUrl: string, table: string, event: 'INSERT' | 'UPDATE', condition: string): Promise<void> {
  if (store === 'sqlite') {
    // Not RAISE(ABORT): SQLite reports that as a constraint failure, which the adapter files as a foreign
    // key violation; a runtime error (integer overflow) stands in for a failure nobody expects.
    await runSql(databaseUrl, `CREATE TRIGGER refuse_${table} BEFORE ${event} ON "${table}" WHEN ${condition} BEGIN SELECT abs(-9223372036854775808); END`)
    return
  }
  await runSql(databaseUrl, `CREATE FUNCTION refuse_${table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`)
  await runSql(databaseUrl, `CREATE TRIGGER refuse_${table} BEFORE ${event} ON "${table}" FOR EACH ROW WHEN (${condition}) EXECUTE FUNCTION refuse_${table}()`)
}

t.test('a conversation whose third initial message is refused is not stored at all', async (t) => {
  const { request, databaseUrl } = await startApp(t)
  const user = (await request('POST', `${API}/users`, { body: { name: 'Ada' } })).body
  await refuse(databaseUrl, 'Message', 'INSERT', 'NEW.content = \'boom\'')
  const before = await snapshot(databaseUrl)
  const reply = await request('POST', `${API}/users/${user.id}/conversations`, {
    body: { title: 'half', messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }, { role: 'user', content: 'boom' }] },
    expectServerError: true,
  })
  t.equal(reply.status, 500)
  const after = JSON.parse(await snapshot(databaseUrl))
  t.same(after.rows, JSON.parse(before).rows, 'no conversation, no messages')
  t.same((await request('GET', `${API}/users/${user.id}/conversations`)).body, [])
})

t.test('a message whose conversation update is refused is not stored either', async (t) => {
  const { request, databaseUrl } = await startApp(t)
  const user = (await request('POST', `${API}/users`, { body: { name: 'Ada' } })).body
  const conversation = (await request('POST', `${API}/users/${user.id}/conversations`, { body: { messages: [{ role: 'user', content: 'one' }] } })).body
  await refuse(databaseUrl, 'Conversation', 'UPDATE', 'NEW."messageCount" > 1')
  const reply = await request('POST', `${API}/conversations/${conversation.id}/messages`, { body: { role: 'user', content: 'two' }, expectServerError: true })
  t.equal(reply.status, 500)
  t.same((await request('GET', `${API}/conversations/${conversation.id}/messages`)).body.map((m: any) => m.content), ['one'])
  const { messages: _, ...stored } = conversation
  t.same((await request('GET', `${API}/conversations/${conversation.id}`)).body, stored, 'count and updatedAt unchanged')
})
