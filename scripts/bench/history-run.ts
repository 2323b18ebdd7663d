// The history scenario: fork_conversation, export_user_data and import_user_data, on a store of its own seeded through
// the API (scripts/bench/history-seed.ts), ours only: each operation against what users do without it, measured one at
// a time on an idle server. fork_conversation against a client script copying the conversation by hand (the whole list
// of its messages, a new conversation, create_messages a hundred at a time); export_user_data against paging through
// the user's conversations and each one's messages, 100 at a time; import_user_data of that export's lines into a new
// user against writing them by hand (create_conversation for each line, its messages by create_messages a hundred at a
// time). The figures of one operation: the server's CPU (on PostgreSQL with its database backends'), the wall time the
// client waited, the bytes it sent and read, and how much the server's resident memory grew.
import { createHash, type Hash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { components } from '../../generated/v2.js'
import { NDJSON_BODY_LIMIT_BYTES } from '../../src/http/limits.js'
import { call, checkStatus, nextPage, postLines, UnexpectedAnswer, type Answer } from './api-calls.js'
import { progress, type Options, type Run } from './bench.js'
import { backendSeconds, type DatabaseCpu } from './database-cpu.js'
import { BATCH, createUser, HISTORY_FULL_SIZE, HISTORY_SMOKE_SIZE, seedHistory, type HistoryFixture, type HistorySeedSize } from './history-seed.js'
import { settle, startServer, type Started } from './measure.js'
import { rssMb } from './proc.js'
import type { HistoryCost, HistoryMeasure, HistoryResult } from './report.js'
import { assertAlive, stop } from './servers.js'

type Conversation = components['schemas']['Conversation']
type Message = components['schemas']['Message']
type ExportedConversation = components['schemas']['ExportedConversation']
type ImportResult = components['schemas']['ImportResult']

/** Times each way runs: a fork is short, an export and an import run on a fresh server each time (measureExports, measureImports). */
const REPETITIONS = { fork: 5, export: 3, import: 3 }
/** The paging way's `limit`: pages of 100 rows, as a client script would ask for them (the API takes 1 to 1000). */
const PAGE = 100
const api = '/api/v2'

export function historySize (options: Options): HistorySeedSize {
  return options.smoke ? HISTORY_SMOKE_SIZE : HISTORY_FULL_SIZE
}

/** What one run of a way did, as the client saw it: its requests, the bytes of their answers and, for a way that writes, of their bodies. */
interface Done { requests: number, bytes: number, sent?: number }

/**
 * Runs `work` alone on the idle server, and its cost: the CPU the server (and its backends) spent from before it until
 * the server is idle again (its log lines, a collection the work left to do), and the resident memory's growth, the
 * most resident during it (VmHWM, its peak reset first through clear_refs) over what was resident before.
 */
async function measured<T extends Done> (server: Started, work: () => Promise<T>): Promise<{ cost: HistoryCost, done: T }> {
  const pid = server.spawned.child.pid!
  await settle(server)
  const rssBefore = rssMb(pid)
  writeFileSync(`/proc/${pid}/clear_refs`, '5')
  const before = await server.readCpu()
  const started = performance.now()
  const done = await work()
  const wallMs = performance.now() - started
  await settle(server)
  const after = await server.readCpu()
  const rssGrowthMb = rssMb(pid, 'VmHWM') - rssBefore
  assertAlive(server.spawned.child, 'history')
  const databaseCpuMs = before.backends === undefined || after.backends === undefined ? undefined : backendSeconds(before.backends, after.backends) * 1000
  return {
    cost: {
      requests: done.requests,
      bytes: done.bytes,
      ...done.sent === undefined ? {} : { sent: done.sent },
      cpuMs: (after.server - before.server) * 1000,
      ...databaseCpuMs === undefined ? {} : { databaseCpuMs },
      wallMs,
      rssGrowthMb,
    },
    done,
  }
}

/** The fields a copy of a message keeps; a fork keeps its createdAt too, a copy by hand cannot. */
const copied = ({ role, content, parts, model, usage, metadata }: Message) => JSON.stringify({ role, content, parts, model, usage, metadata })

/** The copy's messages against the source's, in order: what differs, if anything. */
async function compareCopy (origin: string, source: Message[], copy: number, withDates: boolean): Promise<string | undefined> {
  const { body: messages } = await call<Message[]>(origin, 'GET', `${api}/conversations/${copy}/messages`, 200)
  if (messages.length !== source.length) return `conversation ${copy} holds ${messages.length} messages, its source ${source.length}`
  const index = messages.findIndex((message, i) => copied(message) !== copied(source[i]!) || (withDates && message.createdAt !== source[i]!.createdAt))
  return index === -1 ? undefined : `conversation ${copy}'s message ${index} is not its source's: ${JSON.stringify(messages[index])} against ${JSON.stringify(source[index])}`
}

async function fork (origin: string, source: number): Promise<Done & { copy: number }> {
  const { body, bytes } = await call<Conversation>(origin, 'POST', `${api}/conversations/${source}/fork`, 201, {})
  return { requests: 1, bytes, copy: body.id }
}

/** A message as a client writes it again: a NewMessage holds content or parts, not both, and the parts hold all of it. */
const newMessage = ({ role, parts, model, usage, metadata }: Message) => ({ role, parts, model, usage, metadata })

/** As a client script copies a conversation without fork_conversation: read it whole, write it back a batch at a time. */
async function handCopy (origin: string, userId: number, source: number): Promise<Done & { copy: number }> {
  const list = await call<Message[]>(origin, 'GET', `${api}/conversations/${source}/messages`, 200)
  const created = await call<Conversation>(origin, 'POST', `${api}/users/${userId}/conversations`, 201, {})
  let [requests, bytes] = [2, list.bytes + created.bytes]
  for (let i = 0; i < list.body.length; i += BATCH) {
    const messages = list.body.slice(i, i + BATCH).map(newMessage)
    const answer = await call(origin, 'POST', `${api}/conversations/${created.body.id}/messages/batch`, 201, { messages })
    requests++
    bytes += answer.bytes
  }
  return { requests, bytes, copy: created.body.id }
}

/**
 * A conversation's canonical form (keys sorted), hashed in list order: the export's lines and the pages must give the
 * same history.
 */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

interface Read extends Done { conversations: number, messages: number, digest: string, mismatch?: string }

function hashConversation (hash: Hash, conversation: Conversation, messages: Message[]): string | undefined {
  hash.update(canonical(conversation)).update(canonical(messages))
  return messages.length === conversation.messageCount ? undefined : `conversation ${conversation.id} has messageCount ${conversation.messageCount} and ${messages.length} messages`
}

/** export_user_data, its body read as a stream as it arrives; its lines are parsed once it has all arrived. */
async function exportUser (origin: string, userId: number): Promise<Done & { chunks: Buffer[], contentType: string | null }> {
  const path = `${api}/users/${userId}/export`
  const response = await fetch(origin + path)
  await checkStatus(response, 'GET', path, 200)
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of response.body!) {
    chunks.push(Buffer.from(chunk))
    bytes += chunk.length
  }
  return { requests: 1, bytes, chunks, contentType: response.headers.get('content-type') }
}

/** An export's lines, without their line ends. */
function linesOf (chunks: Buffer[]): string[] {
  const text = Buffer.concat(chunks).toString('utf8')
  return text === '' ? [] : text.replace(/\n$/, '').split('\n')
}

function readExport ({ requests, bytes, chunks, contentType }: Awaited<ReturnType<typeof exportUser>>): Read {
  const hash = createHash('sha256')
  const lines = linesOf(chunks)
  let [messages, mismatch] = [0, contentType?.startsWith('application/x-ndjson') ? undefined : `the export's content-type is ${contentType}`]
  for (const line of lines) {
    const { messages: items, ...conversation } = JSON.parse(line) as ExportedConversation
    mismatch ??= hashConversation(hash, conversation, items)
    messages += items.length
  }
  return { requests, bytes, conversations: lines.length, messages, digest: hash.digest('hex'), mismatch }
}

/** As a client reads a history without export_user_data: every page of the conversations, and of each one's messages. */
async function pageThrough (origin: string, userId: number): Promise<Read> {
  const hash = createHash('sha256')
  let [requests, bytes, conversations, messages, mismatch] = [0, 0, 0, 0, undefined as string | undefined]
  const page = async <T> (path: string) => {
    const answer = await call<T>(origin, 'GET', path, 200)
    requests++
    bytes += answer.bytes
    return answer
  }
  for (let path: string | undefined = `${api}/users/${userId}/conversations?limit=${PAGE}`; path !== undefined;) {
    const list = await page<Conversation[]>(path)
    for (const conversation of list.body) {
      const items: Message[] = []
      for (let next: string | undefined = `${api}/conversations/${conversation.id}/messages?limit=${PAGE}`; next !== undefined;) {
        const answer = await page<Message[]>(next)
        items.push(...answer.body)
        next = nextPage(answer.headers)
      }
      mismatch ??= hashConversation(hash, conversation, items)
      conversations++
      messages += items.length
    }
    path = nextPage(list.headers)
  }
  return { requests, bytes, conversations, messages, digest: hash.digest('hex'), mismatch }
}

/** A history to write into a user: an export's lines, parsed (as the way by hand writes them) and in import bodies. */
interface History { lines: ExportedConversation[], bodies: string[] }

/**
 * An export's lines in bodies of whole lines within import_user_data's bound (64 MiB): one body, the export as it was
 * read, when it fits. A line past the bound goes alone, and its import's 413 fails the run.
 */
function historyOf (exported: Awaited<ReturnType<typeof exportUser>>): History {
  const lines = linesOf(exported.chunks)
  const bodies: string[][] = []
  let size = 0
  for (const line of lines) {
    const bytes = Buffer.byteLength(line) + 1
    if (bodies.length === 0 || size + bytes > NDJSON_BODY_LIMIT_BYTES) {
      bodies.push([])
      size = 0
    }
    bodies.at(-1)!.push(line)
    size += bytes
  }
  return { lines: lines.map((line) => JSON.parse(line) as ExportedConversation), bodies: bodies.map((body) => body.join('\n') + '\n') }
}

/** What a way that writes a history did: beside its requests, each line's conversation id and the id it was written as. */
interface Written extends Done { sent: number, ids: Map<number, number> }

function tally<T> (written: Written, answer: Answer<T>): Answer<T> {
  written.requests++
  written.bytes += answer.bytes
  written.sent += answer.sent
  return answer
}

/** import_user_data, a body at a time (one, unless the history is past its bound). */
async function importHistory (origin: string, userId: number, history: History): Promise<Written> {
  const written: Written = { requests: 0, bytes: 0, sent: 0, ids: new Map() }
  for (const body of history.bodies) {
    const answer = tally(written, await postLines<ImportResult>(origin, `${api}/users/${userId}/import`, 201, body))
    // An exported line always has its id.
    for (const { from, id } of answer.body.conversations) written.ids.set(from!, id)
  }
  return written
}

/**
 * As a client script writes a history without import_user_data: each line's conversation created, its messages
 * appended a batch at a time, as the hand copy of a fork does. It cannot keep their times.
 */
async function writeByHand (origin: string, userId: number, history: History): Promise<Written> {
  const written: Written = { requests: 0, bytes: 0, sent: 0, ids: new Map() }
  for (const { id, title, metadata, messages } of history.lines) {
    const created = tally(written, await call<Conversation>(origin, 'POST', `${api}/users/${userId}/conversations`, 201, { title, metadata }))
    written.ids.set(id, created.body.id)
    for (let i = 0; i < messages.length; i += BATCH) {
      tally(written, await call(origin, 'POST', `${api}/conversations/${created.body.id}/messages/batch`, 201, { messages: messages.slice(i, i + BATCH).map(newMessage) }))
    }
  }
  return written
}

/**
 * A line as a write of it must give it back, canonical: without what a write makes anew (ids, the user, forkedFrom,
 * which the exported user's history does not use) and, for a way that cannot keep them, the times.
 */
function comparable ({ id: _id, userId: _user, forkedFrom: _forkedFrom, messages, ...conversation }: ExportedConversation, withTimes: boolean): string {
  const { createdAt: _created, updatedAt: _updated, lastMessageAt: _last, ...timeless } = conversation
  return canonical({
    ...withTimes ? conversation : timeless,
    messages: messages.map(({ id: _message, conversationId: _conversation, createdAt, ...message }) => withTimes ? { ...message, createdAt } : message),
  })
}

/**
 * The user's export, read to check what a run wrote. An import of this size holds the event loop for seconds at a time
 * (on SQLite for nearly all of it), and the server then sheds load until its next sample of the loop's lag, a second
 * later: a 503 is retried after its Retry-After, as a client does.
 */
async function exportToCheck (origin: string, userId: number): Promise<ExportedConversation[]> {
  for (let tries = 1; ; tries++) {
    try {
      return linesOf((await exportUser(origin, userId)).chunks).map((line) => JSON.parse(line) as ExportedConversation)
    } catch (error) {
      if (!(error instanceof UnexpectedAnswer) || error.status !== 503 || tries === 3) throw error
      await sleep(Number(error.retryAfter ?? 1) * 1000)
    }
  }
}

/**
 * The user's export against the history written into it, each line against the conversation it was written as (by id,
 * not by place: conversations of one last activity come in either order): what differs, if anything.
 */
async function compareWritten (origin: string, userId: number, history: History, ids: Map<number, number>, withTimes: boolean): Promise<string | undefined> {
  const exported = await exportToCheck(origin, userId)
  if (exported.length !== history.lines.length) return `user ${userId} exports ${exported.length} conversations, not ${history.lines.length}`
  const byId = new Map(exported.map((line) => [line.id, line]))
  for (const [i, line] of history.lines.entries()) {
    const copy = byId.get(ids.get(line.id) ?? -1)
    if (copy === undefined) return `line ${i + 1}'s conversation is not in user ${userId}'s export`
    const [got, wanted] = [comparable(copy, withTimes), comparable(line, withTimes)]
    if (got === wanted) continue
    let at = 0
    while (got[at] === wanted[at]) at++
    const near = (text: string) => text.slice(Math.max(0, at - 100), at + 100)
    return `conversation ${copy.id} is not line ${i + 1}'s: …${near(got)}… against …${near(wanted)}…`
  }
  return undefined
}

const middle = <T> (values: T[], by: (value: T) => number) => [...values].sort((a, b) => by(a) - by(b))[Math.floor((values.length - 1) / 2)]!
const totalCpuMs = (cost: HistoryCost) => cost.cpuMs + (cost.databaseCpuMs ?? 0)

/** The runs' median CPU (the run's with the median of server and database together) and wall time, and the most growth. */
function summary (runs: HistoryCost[]): HistoryMeasure | undefined {
  if (runs.length === 0) return undefined
  const cpu = middle(runs, totalCpuMs)
  return {
    requests: runs[0]!.requests,
    bytes: runs[0]!.bytes,
    ...runs[0]!.sent === undefined ? {} : { sent: runs[0]!.sent },
    cpuMs: cpu.cpuMs,
    ...cpu.databaseCpuMs === undefined ? {} : { databaseCpuMs: cpu.databaseCpuMs },
    wallMs: middle(runs, (run) => run.wallMs).wallMs,
    rssGrowthMb: Math.max(...runs.map((run) => run.rssGrowthMb)),
    runs,
  }
}

interface Context { run: Run, options: Options, url: string, databaseCpu: DatabaseCpu | undefined, failures: string[] }

async function withServer<T> ({ run, options, url, databaseCpu }: Context, use: (server: Started) => Promise<T>): Promise<T> {
  const server = await startServer(run, options, 'ours', url, databaseCpu)
  try {
    return await use(server)
  } catch (error) {
    if (error instanceof UnexpectedAnswer) throw error
    throw new Error(`ours: ${error instanceof Error ? error.message : String(error)}\n${server.spawned.output()}`)
  } finally {
    await stop(server.spawned.child)
  }
}

/** One run of a way, or, when a request got another answer than its own or the result is wrong, a failure and none. */
async function attempt<T> (context: Context, way: string, runOnce: () => Promise<T | string>): Promise<T | undefined> {
  try {
    const result = await runOnce()
    if (typeof result !== 'string') return result
    context.failures.push(`${way}: ${result}`)
  } catch (error) {
    if (!(error instanceof UnexpectedAnswer)) throw error
    context.failures.push(`${way}: ${error.message}`)
  }
  return undefined
}

/**
 * Fork and copy by hand in turn on one server, warmed up by one of each on a short conversation; which goes first
 * alternates, so that neither always runs on the heap the other left.
 */
async function measureForks (context: Context, fixture: HistoryFixture, repetitions: number): Promise<HistoryResult['fork']> {
  const runs = { fork: [] as HistoryCost[], handCopy: [] as HistoryCost[] }
  await withServer(context, async (server) => {
    const origin = server.spawned.origin
    const { body: source } = await call<Message[]>(origin, 'GET', `${api}/conversations/${fixture.forkSource}/messages`, 200)
    const ways = {
      fork: { copy: () => fork(origin, fixture.forkSource), withDates: true },
      handCopy: { copy: () => handCopy(origin, fixture.forkUser, fixture.forkSource), withDates: false },
    }
    await attempt(context, 'warm-up', async () => {
      await fork(origin, fixture.warmUpConversation)
      await handCopy(origin, fixture.warmUpUser, fixture.warmUpConversation)
    })
    for (let i = 0; i < repetitions; i++) {
      for (const name of i % 2 === 0 ? ['fork', 'handCopy'] as const : ['handCopy', 'fork'] as const) {
        const cost = await attempt(context, name, async () => {
          const { cost, done } = await measured(server, ways[name].copy)
          return await compareCopy(origin, source, done.copy, ways[name].withDates) ?? cost
        })
        if (cost !== undefined) runs[name].push(cost)
      }
    }
  })
  return { fork: summary(runs.fork), handCopy: summary(runs.handCopy) }
}

/**
 * Each run of export and of paging on a server of its own, started for it and warmed up by both on a short history: a
 * heap that an earlier run grew would hide how much this one needs.
 */
async function measureExports (context: Context, fixture: HistoryFixture, size: HistorySeedSize, repetitions: number): Promise<HistoryResult['export']> {
  const runs = { export: [] as HistoryCost[], paging: [] as HistoryCost[] }
  const digests = new Set<string>()
  const ways = {
    export: async (origin: string, userId: number) => readExport(await exportUser(origin, userId)),
    paging: pageThrough,
  }
  for (let i = 0; i < repetitions; i++) {
    for (const name of ['export', 'paging'] as const) {
      const cost = await attempt(context, name, () => withServer(context, async (server) => {
        const origin = server.spawned.origin
        await ways.export(origin, fixture.warmUpUser)
        await ways.paging(origin, fixture.warmUpUser)
        const { cost, done } = await measured(server, () => ways[name](origin, fixture.exportUser))
        digests.add(done.digest)
        if (done.mismatch !== undefined) return done.mismatch
        if (done.conversations !== size.exportConversations || done.messages !== size.exportMessages) {
          return `${done.conversations} conversations and ${done.messages} messages, not ${size.exportConversations} and ${size.exportMessages}`
        }
        return cost
      }))
      if (cost !== undefined) runs[name].push(cost)
    }
  }
  if (digests.size > 1) context.failures.push('export and paging: the export\'s lines and the pages do not hold the same history')
  return { export: summary(runs.export), paging: summary(runs.paging) }
}

/**
 * The exported user's history written into a new user by import and by hand, each run on a server of its own (as an
 * export is: a heap an earlier run grew would hide how much this one needs), warmed up by both on the warm-up user's
 * history; which goes first alternates, so that neither always writes into the smaller store. Each result is exported
 * and compared with the history.
 */
async function measureImports (context: Context, fixture: HistoryFixture, repetitions: number): Promise<HistoryResult['import']> {
  const [history, warmUp] = await withServer(context, async (server) => {
    const origin = server.spawned.origin
    return [historyOf(await exportUser(origin, fixture.exportUser)), historyOf(await exportUser(origin, fixture.warmUpUser))]
  })
  const runs = { import: [] as HistoryCost[], handWrite: [] as HistoryCost[] }
  const ways = {
    import: { write: importHistory, withTimes: true },
    handWrite: { write: writeByHand, withTimes: false },
  }
  for (let i = 0; i < repetitions; i++) {
    for (const name of i % 2 === 0 ? ['import', 'handWrite'] as const : ['handWrite', 'import'] as const) {
      const cost = await attempt(context, name, () => withServer(context, async (server) => {
        const origin = server.spawned.origin
        for (const way of Object.values(ways)) await way.write(origin, await createUser(origin, 'Warm-up'), warmUp)
        const userId = await createUser(origin, `Written by ${name}, run ${i + 1}`)
        const { cost, done } = await measured(server, () => ways[name].write(origin, userId, history))
        return await compareWritten(origin, userId, history, done.ids, ways[name].withTimes) ?? cost
      }))
      if (cost !== undefined) runs[name].push(cost)
    }
  }
  return { bodies: history.bodies.length, import: summary(runs.import), handWrite: summary(runs.handWrite) }
}

export async function measureHistory (run: Run, options: Options, databaseCpu: DatabaseCpu | undefined): Promise<HistoryResult | undefined> {
  if (!options.only.includes('ours')) return undefined
  const size = historySize(options)
  const url = options.store === 'sqlite' ? `file:${join(run.dir, 'history.db')}` : await run.createDatabase(`${run.prefix}_history`)
  const context: Context = { run, options, url, databaseCpu, failures: [] }
  progress(options.smoke, `seeding the history store through the API: a conversation of ${size.fork.toLocaleString('en-US')} messages, ` +
    `a user with ${size.exportMessages.toLocaleString('en-US')} in ${size.exportConversations} conversations`)
  // Seeded by a server of its own: the measured ones start with none of its heap.
  const fixture = await withServer(context, (server) => seedHistory(server.spawned.origin, size))
  progress(options.smoke, `history store seeded in ${fixture.seedSeconds.toFixed(0)} s`)
  const [forkRuns, exportRuns, importRuns] = options.smoke ? [1, 1, 1] : [REPETITIONS.fork, REPETITIONS.export, REPETITIONS.import]
  const forks = await measureForks(context, fixture, forkRuns)
  const cpuOf = (measure: HistoryMeasure | undefined) => measure === undefined ? '-' : totalCpuMs(measure).toFixed(0)
  progress(options.smoke, `history: fork ${cpuOf(forks.fork)} ms CPU, by hand ${cpuOf(forks.handCopy)} ms`)
  const exports = await measureExports(context, fixture, size, exportRuns)
  progress(options.smoke, `history: export ${cpuOf(exports.export)} ms CPU, by hand ${cpuOf(exports.paging)} ms`)
  const imports = await measureImports(context, fixture, importRuns)
  progress(options.smoke, `history: import ${cpuOf(imports.import)} ms CPU, by hand ${cpuOf(imports.handWrite)} ms`)
  return {
    forkMessages: size.fork,
    exportUserId: fixture.exportUser,
    exportConversations: size.exportConversations,
    exportMessages: size.exportMessages,
    seedSeconds: fixture.seedSeconds,
    repetitions: { fork: forkRuns, export: exportRuns, import: importRuns },
    pageSize: PAGE,
    batchSize: BATCH,
    fork: forks,
    export: exports,
    import: imports,
    failures: context.failures,
  }
}
