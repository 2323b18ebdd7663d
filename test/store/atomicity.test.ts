// Writes are all-or-nothing: when the database refuses part of a write, none of it is stored.
import t from 'tap'
import { API, runSql, startApp, store, storeContents, tableRows } from '../helper.js'

/** Makes the database refuse, with a trigger, any write that `condition` (SQL on NEW, or OLD for a delete) matches. */
async function refuse (databaseUrl: string, table: string, event: 'INSERT' | 'UPDATE' | 'DELETE', condition: string): Promise<void> {
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
  const { request, databaseUrl, createUser } = await startApp(t)
  const user = await createUser()
  await refuse(databaseUrl, 'Message', 'INSERT', 'NEW.content = \'boom\'')
  const before = await storeContents(databaseUrl)
  const reply = await request('POST', `${API}/users/${user.id}/conversations`, {
    body: { title: 'half', messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }, { role: 'user', content: 'boom' }] },
    expectServerError: true,
  })
  t.equal(reply.status, 500)
  const after = JSON.parse(await storeContents(databaseUrl))
  t.same(after.rows, JSON.parse(before).rows, 'no conversation, no messages')
  t.same((await request('GET', `${API}/users/${user.id}/conversations`)).body, [])
})

t.test('a message whose conversation update is refused is not stored either', async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const user = await createUser()
  const conversation = await createConversation(user.id, { messages: [{ role: 'user', content: 'one' }] })
  await refuse(databaseUrl, 'Conversation', 'UPDATE', 'NEW."messageCount" > 1')
  const reply = await request('POST', `${API}/conversations/${conversation.id}/messages`, { body: { role: 'user', content: 'two' }, expectServerError: true })
  t.equal(reply.status, 500)
  t.same((await request('GET', `${API}/conversations/${conversation.id}/messages`)).body.map((m: any) => m.content), ['one'])
  const { messages: _, ...stored } = conversation
  t.same((await request('GET', `${API}/conversations/${conversation.id}`)).body, stored, 'count and updatedAt unchanged')
})

// delete_message removes the row and moves the conversation's messageCount, updatedAt and version: on SQLite two
// statements in a transaction (the conversation's UPDATE first, then the DELETE), on PostgreSQL one. Whichever
// half is refused, neither is stored.
for (const [refused, table, condition] of [
  ['the message\'s removal', 'Message', 'OLD.content = \'two\''],
  ['the conversation\'s update', 'Conversation', 'NEW."messageCount" < OLD."messageCount"'],
] as const) {
  t.test(`a message delete whose ${refused} is refused deletes nothing and leaves the conversation as it was`, async (t) => {
    const { request, databaseUrl, createUser, createConversation } = await startApp(t)
    const user = await createUser()
    const conversation = await createConversation(user.id, { messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }] })
    const target = conversation.messages[1]!
    await refuse(databaseUrl, table, table === 'Message' ? 'DELETE' : 'UPDATE', condition)
    const before = await tableRows(databaseUrl)
    const etag = (await request('GET', `${API}/conversations/${conversation.id}`)).headers.etag

    const reply = await request('DELETE', `${API}/conversations/${conversation.id}/messages/${target.id}`, { expectServerError: true })
    t.equal(reply.status, 500)
    t.equal(await tableRows(databaseUrl), before, 'every row as it was: the message kept, messageCount, updatedAt and version unchanged')
    t.same((await request('GET', `${API}/conversations/${conversation.id}/messages/${target.id}`)).body, target, 'the message is still there')
    const read = await request('GET', `${API}/conversations/${conversation.id}`)
    const { messages: _, ...stored } = conversation
    t.same(read.body, stored, 'count and updatedAt unchanged')
    t.equal(read.headers.etag, etag, 'and the version (ETag) too')
  })
}
