// A store without space for a write answers 507 with Retry-After, never a 500; reads go on, /readyz says the
// server cannot write, and all is well again once there is space. SQLite gets a real full disk (a small tmpfs);
// PostgreSQL gets its real disk_full error, raised by a trigger, since filling its disk is not practical here.
import { execFileSync } from 'node:child_process'
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { contracts } from '../contract.js'
import { scrape } from '../prometheus.js'
import { API, API_V2, runSql, startApp, store, storeContents, tableRows, tempDir, type InProcessApp, type Reply, type TestApp } from '../helper.js'

interface Teardown { teardown (fn: () => unknown): void }

const expectServerError = true

function checkStorageFull (t: Test, reply: Reply<any>, what = ''): void {
  t.equal(reply.status, 507, `${what}${reply.text}`)
  t.equal(reply.headers['retry-after'], '30', `${what}Retry-After`)
  t.match(reply.body, { type: 'urn:trackbot:problem:insufficient-storage', status: 507, detail: /no space left/ }, `${what}the problem`)
  t.notMatch(reply.text, /SQLITE|disk_full|prisma/i, `${what}no driver text`)
}

async function checkReadsWhileFull (t: Test, request: TestApp['request'], conversationId: number): Promise<void> {
  for (const base of [API, API_V2]) {
    t.equal((await request('GET', `${base}/conversations/${conversationId}`)).status, 200, `reads still work (${base})`)
    t.equal((await request('GET', `${base}/conversations/${conversationId}/messages?limit=1`)).status, 200)
  }
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

interface Write { method: string, url: string, body?: unknown, headers?: Record<string, string>, status: number }

/**
 * Every write a version's spec may answer 507, as a request on `ids` under that version's base path, with the
 * status it answers when there is space, in an order that can run them all. A version has those its spec has.
 */
const WRITES: Record<string, (ids: Ids, base: string) => Write> = {
  create_user: (_ids, base) => ({ method: 'POST', url: `${base}/users`, body: { name: 'New' }, status: 201 }),
  create_conversation: (ids, base) => ({ method: 'POST', url: `${base}/users/${ids.user}/conversations`, body: { messages: [{ role: 'user', content: 'first' }] }, status: 201 }),
  create_message: (ids, base) => ({ method: 'POST', url: `${base}/conversations/${ids.conversation}/messages`, body: { role: 'user', content: 'three' }, status: 201 }),
  create_messages: (ids, base) => ({
    method: 'POST',
    url: `${base}/conversations/${ids.conversation}/messages/batch`,
    body: { messages: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'lookup', arguments: { q: 'x' } }], usage: { inputTokens: 3, outputTokens: 1 } }, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'c1', output: 'y' }] }] },
    status: 201,
  }),
  import_user_data: (ids, base) => ({
    method: 'POST',
    url: `${base}/users/${ids.user}/import`,
    body: [{ title: 'imported', messages: [{ role: 'user', parts: [{ type: 'text', text: 'from elsewhere' }] }] }],
    headers: { 'content-type': 'application/x-ndjson' },
    status: 201,
  }),
  fork_conversation: (ids, base) => ({ method: 'POST', url: `${base}/conversations/${ids.conversation}/fork`, body: { title: 'forked' }, status: 201 }),
  update_conversation: (ids, base) => ({ method: 'PATCH', url: `${base}/conversations/${ids.conversation}`, body: { title: 'renamed', metadata: { model: 'm2' } }, status: 200 }),
  delete_message: (ids, base) => ({ method: 'DELETE', url: `${base}/conversations/${ids.conversation}/messages/${ids.message}`, status: 204 }),
  delete_conversation: (ids, base) => ({ method: 'DELETE', url: `${base}/conversations/${ids.conversation}`, status: 204 }),
  delete_user: (ids, base) => ({ method: 'DELETE', url: `${base}/users/${ids.user}`, status: 204 }),
}

/** The operations of `version`'s spec that may answer 507, in WRITES' order (an operation missing there last, so it fails below). */
function writesOf (version: (typeof CONTRACT_VERSIONS)[number]): string[] {
  const order = Object.keys(WRITES)
  return contracts[version].specOperations
    .filter((operation) => operation.responses?.['507'] !== undefined)
    .map((operation) => operation.operationId!)
    .sort((a, b) => (order.includes(a) ? order.indexOf(a) : order.length) - (order.includes(b) ? order.indexOf(b) : order.length))
}

t.test('the 507 tests below cover every write every version\'s spec gives a 507', async (t) => {
  for (const version of CONTRACT_VERSIONS) {
    const declared = writesOf(version)
    t.same(declared.filter((operationId) => WRITES[operationId] === undefined), [], `WRITES has every write of ${version}`)
    t.ok(declared.includes('update_conversation') && declared.includes('delete_user'), `${version}: updates and deletes among them`)
  }
  t.same(Object.keys(WRITES).filter((operationId) => !CONTRACT_VERSIONS.some((version) => writesOf(version).includes(operationId))), [], 'and nothing more')
  t.ok(writesOf('v2').includes('create_messages'), 'v2\'s create_messages among them')
  t.notOk(writesOf('v1').includes('create_messages'), 'and not v1\'s, which has none')
})

/** A user with a conversation of two messages, each a target of UPDATES_AND_DELETES. */
async function targets (app: InProcessApp): Promise<Ids> {
  const user = await app.createUser({ name: 'Owner' })
  const conversation = await app.createConversation(user.id, { title: 'kept', messages: [{ role: 'user', content: 'one' }, { role: 'assistant', content: 'two' }] })
  return { user: user.id, conversation: conversation.id, message: conversation.messages[0]!.id }
}

/**
 * Every write of every version answers 507 with Retry-After while the store cannot write, and none changes a row,
 * nor on SQLite an id counter (a PostgreSQL sequence moves on an insert rolled back, by design: nextval is never undone).
 */
async function checkWritesRefused (t: Test, app: InProcessApp, ids: Ids): Promise<void> {
  const contents = store === 'sqlite' ? storeContents : tableRows
  const before = await contents(app.databaseUrl)
  let refused = 0
  for (const version of CONTRACT_VERSIONS) {
    for (const operationId of writesOf(version)) {
      const { method, url, body, headers } = WRITES[operationId]!(ids, contracts[version].basePath)
      const reply = await app.request(method, url, { body, headers, expectServerError })
      checkStorageFull(t, reply, `${version} ${operationId}: `)
      refused++
    }
  }
  t.equal(await contents(app.databaseUrl), before, 'none of them changed anything')
  await checkReadsWhileFull(t, app.request, ids.conversation)
  t.same((await scrape(app.app)).find('trackbot_refusals_total').map((sample) => [sample.labels.reason, sample.value]), [['storage_full', refused]],
    'each counted in /metrics; /readyz\'s 503 is no refusal')
}

/** Once there is space, every write of every version succeeds (each version's on rows of its own), and the server is ready again. */
async function checkWritesResume (t: Test, app: InProcessApp, ids: Ids): Promise<void> {
  for (const version of CONTRACT_VERSIONS) {
    const rows = version === CONTRACT_VERSIONS[0] ? ids : await targets(app)
    for (const operationId of writesOf(version)) {
      const { method, url, body, headers, status } = WRITES[operationId]!(rows, contracts[version].basePath)
      const reply = await app.request(method, url, { body, headers })
      t.equal(reply.status, status, `${version} ${operationId} succeeds again`)
    }
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
  // v2 writes the same store: as full for it.
  checkStorageFull(t, await request('POST', `${API_V2}/users/${user.id}/conversations`, { body: big, expectServerError }), 'v2 create_conversation: ')
  checkStorageFull(t, await request('POST', `${API_V2}/conversations/${kept.id}/messages`, { body: big.messages[0], expectServerError }), 'v2 create_message: ')
  checkStorageFull(t, await request('POST', `${API_V2}/conversations/${kept.id}/messages/batch`, { body: big, expectServerError }), 'v2 create_messages: ')
  await checkReadsWhileFull(t, request, kept.id)
  const stored = (await request('GET', `${API}/users/${user.id}/conversations`)).body
  t.equal(stored.length, 1 + conversations.accepted, 'every conversation answered 201 is stored, none refused')
  t.same(stored.map((c: any) => c.messageCount).sort(), [...Array(conversations.accepted).fill(8), messages.accepted].sort(), 'nothing half-stored')

  rmSync(filler)
  t.equal((await request('POST', `${API}/users/${user.id}/conversations`, { body: big })).status, 201, 'writes resume once space is freed')
  t.equal((await request('POST', `${API_V2}/conversations/${kept.id}/messages/batch`, { body: { messages: [{ role: 'user', content: 'resumed' }] } })).status, 201, 'through v2 too')
  t.equal((await request('GET', '/readyz')).status, 200, 'and the server is ready again')
})

t.test('SQLite on a full disk: every write of every version answers 507 and changes nothing, until space is freed', { skip: sqliteSkip }, async (t) => {
  // A disk of its own, mountable since the one above was.
  const dir = smallDisk(t, '2m') as string
  const app = await startApp(t, { databaseUrl: `file:${join(dir, 'trackbot.db')}` })
  const ids = await targets(app)
  // The write-ahead log only grows while the server runs (no checkpoint short of 1000 pages): every write,
  // a delete too, needs a new page of disk, and the filler takes the last one.
  const filler = join(dir, 'filler')
  fillDisk(filler)
  await checkWritesRefused(t, app, ids)
  rmSync(filler)
  await checkWritesResume(t, app, ids)
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
  for (const base of [API, API_V2]) {
    checkStorageFull(t, await request('POST', `${base}/conversations/${kept.id}/messages`, { body: message, expectServerError }), `${base}: `)
    checkStorageFull(t, await request('POST', `${base}/users/${user.id}/conversations`, { body: { messages: [message] }, expectServerError }), `${base}: `)
  }
  checkStorageFull(t, await request('POST', `${API_V2}/conversations/${kept.id}/messages/batch`, { body: { messages: [message, message] }, expectServerError }), 'v2 create_messages: ')
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

t.test('PostgreSQL disk_full on every write of every version: 507, nothing changed, until the disk has space', { skip: store === 'postgres' ? false : 'PostgreSQL only' }, async (t) => {
  const app = await startApp(t)
  const ids = await targets(app)
  // Raised where each write fails part-way: a row's INSERT (a create), a conversation's UPDATE (a patch, and the
  // counters a message's post or delete moves) and a message's DELETE (the cascade of a conversation's or a user's delete).
  await runSql(app.databaseUrl, `
    CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
    CREATE TRIGGER disk_full BEFORE INSERT ON "User" FOR EACH ROW EXECUTE FUNCTION disk_full();
    CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON "Conversation" FOR EACH ROW EXECUTE FUNCTION disk_full();
    CREATE TRIGGER disk_full BEFORE INSERT OR DELETE ON "Message" FOR EACH ROW EXECUTE FUNCTION disk_full()`)
  await checkWritesRefused(t, app, ids)
  await runSql(app.databaseUrl, 'DROP TRIGGER disk_full ON "User"; DROP TRIGGER disk_full ON "Conversation"; DROP TRIGGER disk_full ON "Message"')
  await checkWritesResume(t, app, ids)
})
