// `npm run db:copy`: an SQLite deployment moved to PostgreSQL (and back) answers every read the same, and every
// retry with an Idempotency-Key kept gets its first answer.
import { join } from 'node:path'
import t from 'tap'
import { API, createDatabase, snapshot, startApp, store, tempDir, type Reply, type TestApp } from '../helper.js'
import { runScript } from '../server-process.js'

if (store !== 'postgres') {
  t.pass('runs on the PostgreSQL pass: it needs both stores')
} else {
  t.test('copies users, conversations and messages with their ids, timestamps and order', async (t) => {
    const sqliteUrl = `file:${join(tempDir(t), 'source.db')}`
    const source = await startApp(t, sqliteUrl)
    const ids = await fill(source.request)
    // Two keyed creates, one applied and one refused (its 409 kept for the key): a retry after the move must
    // get each first answer again. Metadata keys out of order: PostgreSQL's jsonb would sort them.
    const keyed = [
      { url: `${API}/users/${ids.users[0]}/conversations`, body: { title: 'Keyed', metadata: { zeta: '1', a: '2' }, messages: [{ role: 'user', content: 'once' }] }, key: 'move-1' },
      { url: `${API}/users`, body: { name: 'Twin', email: 'ada@example.com' }, key: 'move-2' },
    ]
    const send = (request: TestApp['request'], { url, body, key }: typeof keyed[number]) => request('POST', url, { body, headers: { 'idempotency-key': key } })
    const firsts: Reply[] = []
    for (const create of keyed) firsts.push(await send(source.request, create))
    t.same(firsts.map((reply) => reply.status), [201, 409])
    const before = await readEverything(source.request, ids.users)
    await source.app.close()
    const replaysOn = async (request: TestApp['request'], where: string) => {
      for (const [i, create] of keyed.entries()) {
        const replay = await send(request, create)
        t.same({ status: replay.status, text: replay.text }, { status: firsts[i]!.status, text: firsts[i]!.text }, `${where}: ${create.key} replays its first answer`)
        t.equal(replay.headers['idempotent-replayed'], 'true')
      }
    }

    const postgres = await createDatabase(t, 'postgres')
    t.teardown(postgres.drop)
    const copy = await dbCopy('--from', sqliteUrl, '--to', postgres.url)
    t.equal(copy.code, 0, copy.output)
    t.match(copy.output, /done: 3 users, 6 conversations, 12 messages, 2 idempotency keys copied and verified/)

    const target = await startApp(t, postgres.url)
    t.same(await readEverything(target.request, ids.users), before, 'every read answers the same on the copy')
    await replaysOn(target.request, 'on PostgreSQL')
    t.same(await readEverything(target.request, ids.users), before, 'and the replays stored nothing')
    for (const id of ids.deletedConversations) {
      t.equal((await target.request('GET', `${API}/conversations/${id}`)).status, 404)
    }
    // Ids carry on past the source's counters, so a deleted id is never handed out again.
    const user = await target.request('POST', `${API}/users`, { body: { name: 'After the move' } })
    t.ok(user.body.id > ids.highestUser, `new user id ${user.body.id} > ${ids.highestUser}`)
    const conversation = await target.request('POST', `${API}/users/${user.body.id}/conversations`, {
      body: { messages: [{ role: 'user', content: 'hello' }] },
    })
    t.ok(conversation.body.id > ids.highestConversation, `new conversation id ${conversation.body.id} > ${ids.highestConversation}`)
    t.ok(conversation.body.messages[0].id > ids.highestMessage)
    t.equal((await target.request('POST', `${API}/users`, { body: { name: 'x', email: 'ada@example.com' } })).status, 409,
      'unique emails are enforced on the copy')

    // And back: PostgreSQL to a new SQLite file gives the same answers again.
    await target.app.close()
    const backUrl = `file:${join(tempDir(t), 'back.db')}`
    const back = await dbCopy('--from', postgres.url, '--to', backUrl)
    t.equal(back.code, 0, back.output)
    const returned = await startApp(t, backUrl)
    t.same(await readEverything(returned.request, ids.users), before)
    await replaysOn(returned.request, 'back on SQLite')
  })

  t.test('refuses a non-empty target unless forced, and leaves it untouched', async (t) => {
    const sqliteUrl = `file:${join(tempDir(t), 'source.db')}`
    const source = await startApp(t, sqliteUrl)
    await fill(source.request)
    await source.app.close()

    const postgres = await createDatabase(t, 'postgres')
    t.teardown(postgres.drop)
    const target = await startApp(t, postgres.url)
    await target.request('POST', `${API}/users`, { body: { name: 'Already here' } })
    await target.app.close()
    const untouched = await snapshot(postgres.url)

    const refused = await dbCopy('--from', sqliteUrl, '--to', postgres.url)
    t.equal(refused.code, 1)
    t.match(refused.output, /the target already holds 1 users, 0 conversations, 0 messages, 0 idempotency keys; pass --force to replace it/)
    t.equal(await snapshot(postgres.url), untouched, 'a refused copy changes nothing')

    const forced = await dbCopy('--from', sqliteUrl, '--to', postgres.url, '--force')
    t.equal(forced.code, 0, forced.output)
    t.match(forced.output, /done: 3 users, 5 conversations, 11 messages, 0 idempotency keys copied and verified/)
  })

  t.test('says what is wrong with its arguments', async (t) => {
    const missing = await dbCopy('--from', `file:${join(tempDir(t), 'nothing-here.db')}`, '--to', 'file:/tmp/unused.db')
    t.equal(missing.code, 1)
    t.match(missing.output, /no SQLite database at/)
    const usage = await dbCopy('--from', 'file:./a.db')
    t.equal(usage.code, 1)
    t.match(usage.output, /usage: npm run db:copy -- --from <database url> --to <database url> \[--force\]/)
  })
}

interface Filled {
  users: number[]
  deletedConversations: number[]
  highestUser: number
  highestConversation: number
  highestMessage: number
}

/** Three users, five conversations, eleven messages, with gaps in every id sequence and at their ends. */
async function fill (request: TestApp['request']): Promise<Filled> {
  const post = async (url: string, body: unknown) => (await request('POST', `${API}${url}`, { body })).body
  const users: any[] = []
  for (const [name, email] of [['Ada', 'ada@example.com'], ['Gone', undefined], ['Grace', undefined], ['Linus', 'l@example.org'], ['Last', undefined]]) {
    users.push(await post('/users', { name, email }))
  }
  const conversations: any[] = []
  const say = (content: string, role = 'user') => ({ role, content })
  conversations.push(await post(`/users/${users[0].id}/conversations`, { title: 'Lisbon', metadata: { model: 'm1', 'ü/~': 'ö' }, messages: [say('hi'), say('hello', 'assistant')] }))
  conversations.push(await post(`/users/${users[0].id}/conversations`, { messages: [say('deleted soon')] }))
  conversations.push(await post(`/users/${users[1].id}/conversations`, { title: 'goes with its user', messages: [say('x')] }))
  conversations.push(await post(`/users/${users[0].id}/conversations`, {}))
  conversations.push(await post(`/users/${users[2].id}/conversations`, { title: null, messages: [say('system prompt', 'system'), say('q'), say('a', 'assistant')] }))
  conversations.push(await post(`/users/${users[3].id}/conversations`, { title: 'Rust', metadata: { lang: 'en' } }))
  conversations.push(await post(`/users/${users[3].id}/conversations`, { title: 'kernel' }))
  conversations.push(await post(`/users/${users[0].id}/conversations`, { title: 'deleted last' }))
  // Later messages move updatedAt, so the list order differs from the creation order.
  await post(`/conversations/${conversations[0].id}/messages`, say('one more'))
  await post(`/conversations/${conversations[5].id}/messages`, say('first'))
  await post(`/conversations/${conversations[5].id}/messages`, say('second', 'assistant'))
  await post(`/conversations/${conversations[3].id}/messages`, say('late'))
  await post(`/conversations/${conversations[6].id}/messages`, say('k1'))
  await post(`/conversations/${conversations[6].id}/messages`, say('k2'))
  const lastMessage = await post(`/conversations/${conversations[7].id}/messages`, say('gone with its conversation'))

  await request('DELETE', `${API}/conversations/${conversations[1].id}`)
  await request('DELETE', `${API}/conversations/${conversations[7].id}`)
  await request('DELETE', `${API}/users/${users[1].id}`)
  await request('DELETE', `${API}/users/${users[4].id}`)
  return {
    users: [users[0].id, users[2].id, users[3].id],
    deletedConversations: [conversations[1].id, conversations[2].id, conversations[7].id],
    highestUser: users[4].id,
    highestConversation: conversations[7].id,
    highestMessage: lastMessage.id,
  }
}

/** Everything a client can read: each user, their conversations and each conversation's messages. */
async function readEverything (request: TestApp['request'], users: number[]): Promise<unknown[]> {
  const seen: unknown[] = []
  for (const userId of users) {
    seen.push((await request('GET', `${API}/users/${userId}`)).body)
    const conversations = (await request('GET', `${API}/users/${userId}/conversations`)).body
    seen.push(conversations)
    for (const conversation of conversations) {
      seen.push((await request('GET', `${API}/conversations/${conversation.id}`)).body)
      seen.push((await request('GET', `${API}/conversations/${conversation.id}/messages`)).body)
    }
  }
  return seen
}

function dbCopy (...args: string[]) {
  return runScript('scripts/db-copy.ts', args)
}
