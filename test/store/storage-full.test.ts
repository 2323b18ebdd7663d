// A store without space for a write answers 507 with Retry-After, never a 500; reads go on, /readyz says the
// server cannot write, and all is well again once there is space. SQLite gets a real full disk (a small tmpfs);
// PostgreSQL gets its real disk_full error, raised by a trigger, since filling its disk is not practical here.
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { specOperations } from '../contract.js'
import { API, runSql, startApp, store, storeContents, tempDir, type InProcessApp, type Reply, type TestApp } from '../helper.js'

interface Teardown { teardown (fn: () => unknown): void }

const expectServerError = true

function checkStorageFull (t: Test, reply: Reply<any>, what = ''): void {
  t.equal(reply.status, 507, `${what}${reply.text}`)
  t.equal(reply.headers['retry-after'], '30', `${what}Retry-After`)
  t.match(reply.body, { type: 'urn:trackbot:problem:insufficient-storage', status: 507, detail: /no space left/ }, `${what}the problem`)
  t.notMatch(reply.text, /SQLITE|disk_full|prisma/i, `${what}no driver text`)
}

async function checkReadsWhileFull (t: Test, request: TestApp['request'], conversationId: number): Promise<void> {
  t.equal((await request('GET', `${API}/conversations/${conversationId}`)).status, 200, 'reads still work')
  t.equal((await request('GET', `${API}/conversations/${conversationId}/messages?limit=1`)).status, 200)
  t.equal((await request('GET', '/healthz')).status, 200)
  const ready = await request('GET', '/readyz', { expectServerError })
  t.equal(ready.status, 503, 'not ready: it cannot write')
  t.match(ready.body, { type: 'urn:trackbot:problem:service-unavailable', detail: /no space left/ })
}

/** Mounts a tmpfs of `size` on a new directory, or says why it cannot (mounting needs privileges). */
function smallDisk (t: Teardown, size: string): string | Error {
  const dir = tempDir(t)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    return error as Error
  }
  t.teardown(() => { execFileSync('umount', ['--lazy', dir]) })
  return dir
}

/** Writes to `file` until the disk has no page left: then any write that needs one fails (ENOSPC). */
function fillDisk (file: string): void {
  const fd = openSync(file, 'w')
  try {
    // A write that only partly fits fills the last pages; the next one fails.
    for (const block = Buffer.alloc(64 * 1024); ;) writeSync(fd, block)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  } finally {
    closeSync(fd)
  }
}

interface Ids { user: number, conversation: number, message: number }

/** Every update and delete the spec may answer 507, as a request on `ids`, in an order that can run them all. */
const UPDATES_AND_DELETES: Record<string, (ids: Ids) => { method: string, url: string, body?: unknown }> = {
  update_conversation: (ids) => ({ method: 'PATCH', url: `${API}/conversations/${ids.conversation}`, body: { title: 'renamed', metadata: { model: 'm2' } } }),
  delete_message: (ids) => ({ method: 'DELETE', url: `${API}/conversations/${ids.conversation}/messages/${ids.message}` }),
  delete_conversation: (ids) => ({ method: 'DELETE', url: `${API}/conversations/${ids.conversation}` }),
  delete_user: (ids) => ({ method: 'DELETE', url: `${API}/users/${ids.user}` }),
}

t.test('the 507 tests below cover every update and delete the spec gives a 507', async (t) => {
  const declared = specOperations
    .filter((operation) => ['patch', 'put', 'delete'].includes(operation.method) && operation.responses?.['507'] !== undefined)
    .map((operation) => operation.operationId!)
  t.same(Object.keys(UPDATES_AND_DELETES).sort(), declared.sort(), 'UPDATES_AND_DELETES lists them all')
})

/** A user with a conversation of two messages, each a target of UPDATES_AND_DELETES. */
async function targets (app: InProcessApp): Promise<Ids> {
  const user = await app.createUser({ name: 'Owner' })
  const conversation = await app.createConversation(user.id, { title: 'kept', messages: [{ role: 'user', content: 'one' }, { role: 'assistant', content: 'two' }] })
  return { user: user.id, conversation: conversation.id, message: conversation.messages[0]!.id }
}

/** Every update and delete answers 507 with Retry-After while the store cannot write, and none changes a row or counter. */
async function checkUpdatesAndDeletesRefused (t: Test, app: InProcessApp, ids: Ids): Promise<void> {
  const before = await storeContents(app.databaseUrl)
  for (const [operationId, write] of Object.entries(UPDATES_AND_DELETES)) {
    const { method, url, body } = write(ids)
    const reply = await app.request(method, url, { body, expectServerError })
    checkStorageFull(t, reply, `${operationId}: `)
  }
  t.equal(await storeContents(app.databaseUrl), before, 'none of them changed anything')
  await checkReadsWhileFull(t, app.request, ids.conversation)
}

/** Once there is space, every update and delete succeeds, and the server is ready again. */
async function checkUpdatesAndDeletesResume (t: Test, app: InProcessApp, ids: Ids): Promise<void> {
  for (const [operationId, write] of Object.entries(UPDATES_AND_DELETES)) {
    const { method, url, body } = write(ids)
    const reply = await app.request(method, url, { body })
    t.equal(reply.status, method === 'PATCH' ? 200 : 204, `${operationId} succeeds again`)
  }
  t.equal((await app.request('GET', '/readyz')).status, 200, 'and the server is ready again')
}

const disk = store === 'sqlite' ? smallDisk(t, '2m') : undefined
const sqliteSkip = disk === undefined
  ? 'SQLite only'
  : disk instanceof Error ? `cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${disk.message.split('\n')[0]}` : false

t.test('SQLite on a full disk: 507, reads go on, writes resume once space is freed', { skip: sqliteSkip }, async (t) => {
  const dir = disk as string
  const { request, createUser, createConversation } = await startApp(t, { databaseUrl: `file:${join(dir, 'trackbot.db')}` })
  const user = await createUser({ name: 'Filler' })
  const kept = await createConversation(user.id, { title: 'kept' })
  // Most of the disk goes to a file of ours, so the database fills it in a few writes and deleting it frees space.
  const filler = join(dir, 'filler')
  writeFileSync(filler, Buffer.alloc(1024 * 1024))

  /** Writes `body` to `path` until the store refuses it: how many it took, and the refusal. */
  const fill = async (path: string, body: unknown) => {
    let accepted = 0
    for (let i = 0; i < 200; i++) {
      const reply = await request('POST', path, { body, expectServerError })
      if (reply.status === 507) return { accepted, refused: reply }
      t.equal(reply.status, 201, reply.text.slice(0, 300))
      accepted++
    }
    throw new Error(`the disk never filled (${accepted} writes of ${path})`)
  }
  const big = { messages: Array.from({ length: 8 }, () => ({ role: 'user', content: 'x'.repeat(32768) })) }
  // Big writes are refused first; a smaller one may still fit, until it does not either.
  const conversations = await fill(`${API}/users/${user.id}/conversations`, big)
  checkStorageFull(t, conversations.refused)
  const messages = await fill(`${API}/conversations/${kept.id}/messages`, big.messages[0])
  checkStorageFull(t, messages.refused)
  checkStorageFull(t, await request('POST', `${API}/users/${user.id}/conversations`, { body: big, expectServerError }))
  await checkReadsWhileFull(t, request, kept.id)
  const stored = (await request('GET', `${API}/users/${user.id}/conversations`)).body
  t.equal(stored.length, 1 + conversations.accepted, 'every conversation answered 201 is stored, none refused')
  t.same(stored.map((c: any) => c.messageCount).sort(), [...Array(conversations.accepted).fill(8), messages.accepted].sort(), 'nothing half-stored')

  rmSync(filler)
  t.equal((await request('POST', `${API}/users/${user.id}/conversations`, { body: big })).status, 201, 'writes resume once space is freed')
  t.equal((await request('GET', '/readyz')).status, 200, 'and the server is ready again')
})

t.test('SQLite on a full disk: updates and deletes answer 507 and change nothing, until space is freed', { skip: sqliteSkip }, async (t) => {
  // A disk of its own, mountable since the one above was.
  const dir = smallDisk(t, '2m') as string
  const app = await startApp(t, { databaseUrl: `file:${join(dir, 'trackbot.db')}` })
  const ids = await targets(app)
  // The write-ahead log only grows while the server runs (no checkpoint short of 1000 pages): every write,
  // a delete too, needs a new page of disk, and the filler takes the last one.
  const filler = join(dir, 'filler')
  fillDisk(filler)
  await checkUpdatesAndDeletesRefused(t, app, ids)
  rmSync(filler)
  await checkUpdatesAndDeletesResume(t, app, ids)
})

t.test('PostgreSQL disk_full (SQLSTATE 53100): 507; out_of_memory (53200) stays a 503', { skip: store === 'postgres' ? false : 'PostgreSQL only' }, async (t) => {
  const { request, databaseUrl, createUser, createConversation } = await startApp(t)
  const user = await createUser({ name: 'Filler' })
  const kept = await createConversation(user.id, { title: 'kept' })
  // What PostgreSQL raises when it cannot extend a file, through the real driver, Prisma and error handler.
  const failInserts = async (condition: string) => await runSql(databaseUrl, `
    CREATE OR REPLACE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '${condition}'; END $$;
    CREATE OR REPLACE TRIGGER fail_insert BEFORE INSERT ON "Message" FOR EACH ROW EXECUTE FUNCTION fail_insert()`)
  const message = { role: 'user', content: 'hello' }

  await failInserts('disk_full')
  checkStorageFull(t, await request('POST', `${API}/conversations/${kept.id}/messages`, { body: message, expectServerError }))
  checkStorageFull(t, await request('POST', `${API}/users/${user.id}/conversations`, { body: { messages: [message] }, expectServerError }))
  await checkReadsWhileFull(t, request, kept.id)

  await failInserts('out_of_memory')
  const outOfMemory = await request('POST', `${API}/conversations/${kept.id}/messages`, { body: message, expectServerError })
  t.equal(outOfMemory.status, 503, outOfMemory.text)
  t.equal(outOfMemory.headers['retry-after'], '1')

  await runSql(databaseUrl, 'DROP TRIGGER fail_insert ON "Message"')
  t.equal((await request('POST', `${API}/conversations/${kept.id}/messages`, { body: message })).status, 201)
  t.equal((await request('GET', '/readyz')).status, 200, 'ready again once a write succeeds')
  t.same((await request('GET', `${API}/users/${user.id}/conversations`)).body.map((c: any) => c.messageCount), [1], 'only the accepted message is stored')
})

t.test('PostgreSQL disk_full on updates and deletes: 507, nothing changed, until the disk has space', { skip: store === 'postgres' ? false : 'PostgreSQL only' }, async (t) => {
  const app = await startApp(t)
  const ids = await targets(app)
  // Raised where each write fails part-way: a conversation's UPDATE (a patch, and the count a message delete
  // moves after its DELETE) and a message's DELETE (the cascade of a conversation's or a user's delete).
  await runSql(app.databaseUrl, `
    CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
    CREATE TRIGGER disk_full BEFORE UPDATE ON "Conversation" FOR EACH ROW EXECUTE FUNCTION disk_full();
    CREATE TRIGGER disk_full BEFORE DELETE ON "Message" FOR EACH ROW EXECUTE FUNCTION disk_full()`)
  await checkUpdatesAndDeletesRefused(t, app, ids)
  await runSql(app.databaseUrl, 'DROP TRIGGER disk_full ON "Conversation"; DROP TRIGGER disk_full ON "Message"')
  await checkUpdatesAndDeletesResume(t, app, ids)
})
