// The typed clients (v1's, and v2's with an agent loop) against a real server on a real port: every operation of
// each version, pagination by Link, errors as typed Problems; every raw response is checked against its version's
// spec on its way to the client. (What the clients refuse to compile: test/contract/client-types.test.ts.)
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { createTrackbotClient, nextCursor, type Problem } from '../src/client.js'
import { createTrackbotV2Client, type Conversation, type Message, type NewMessage, type Part, type SearchHit } from '../src/client-v2.js'
import { projectRoot } from '../src/project-root.js'
import { contractErrors, contracts, type ContractView } from './contract.js'
import { API, API_V2, startApp, store, tempDir, toolEnv, type HttpOptions } from './helper.js'
import { adminToken, secretAuth, userToken } from './tokens.js'

const run = promisify(execFile)

interface Checked { fetch: (request: Request) => Promise<Response>, operationIds: Set<string> }

/** A fetch that fails the call when a response breaks the spec, and records the operations of `contract` it reached. */
function contractCheckedFetch ({ operationIdOf }: ContractView = contracts.v1): Checked {
  const operationIds = new Set<string>()
  async function checkedFetch (request: Request): Promise<Response> {
    const response = await fetch(request)
    const { pathname, search } = new URL(request.url)
    const url = pathname + search
    const errors = contractErrors({
      method: request.method,
      url,
      status: response.status,
      headers: Object.fromEntries(response.headers),
      text: await response.clone().text(),
    })
    if (errors.length > 0) throw new Error(`${request.method} ${url} → ${response.status} breaks the spec:\n  ${errors.join('\n  ')}`)
    const operationId = operationIdOf(request.method, pathname)
    if (operationId !== undefined) operationIds.add(operationId)
    return response
  }
  return { fetch: checkedFetch, operationIds }
}

async function listening (t: Parameters<typeof startApp>[0], options: Omit<HttpOptions, 'transport'> = {}): Promise<string> {
  return (await startApp(t, { ...options, transport: 'http' })).origin
}

// Store-independent tests: they run on the SQLite pass.
const storeIndependent = store === 'postgres' ? 'store-independent: runs on the SQLite pass' : false

function assertNotFound (t: Test, error: Problem | undefined, instance: string): void {
  t.match(error, { type: 'urn:trackbot:problem:not-found', status: 404, instance })
}

t.test('every operation round-trips through the typed client', async (t) => {
  const origin = await listening(t)
  const checked = contractCheckedFetch()
  const client = createTrackbotClient({ baseUrl: `${origin}${API}`, fetch: checked.fetch, headers: { 'X-Request-Id': 'client-test' } })

  const created = await client.POST('/users', { body: { name: 'Ada', email: 'ada@example.com' } })
  t.equal(created.response.status, 201)
  t.equal(created.response.headers.get('x-request-id'), 'client-test', 'default headers are sent')
  const user = created.data!
  t.match(user, { name: 'Ada', email: 'ada@example.com' })
  t.equal(created.response.headers.get('location'), `${API}/users/${user.id}`)

  const fetched = await client.GET('/users/{userId}', { params: { path: { userId: user.id } } })
  t.same(fetched.data, user)

  const first = await client.POST('/users/{userId}/conversations', {
    params: { path: { userId: user.id } },
    body: { title: 'Lisbon', metadata: { model: 'x' }, messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }] },
  })
  t.equal(first.response.status, 201)
  const conversation = first.data!
  t.match(conversation, { userId: user.id, title: 'Lisbon', metadata: { model: 'x' } })
  t.same(conversation.messages.map((message) => [message.role, message.content]), [['user', 'Hi'], ['assistant', 'Hello!']])
  for (const title of ['second', 'third']) {
    const more = await client.POST('/users/{userId}/conversations', { params: { path: { userId: user.id } }, body: { title } })
    t.equal(more.response.status, 201)
  }

  // Follow Link rel="next" until it is gone.
  const pages: string[][] = []
  let cursor: string | undefined
  do {
    const page = await client.GET('/users/{userId}/conversations', { params: { path: { userId: user.id }, query: { limit: 2, cursor } } })
    t.equal(page.response.status, 200)
    pages.push(page.data!.map((item) => item.title ?? ''))
    cursor = nextCursor(page.response)
  } while (cursor !== undefined && pages.length < 5)
  t.same(pages.map((page) => page.length), [2, 1], 'two pages of limit 2')
  t.same(pages.flat().sort(), ['Lisbon', 'second', 'third'])

  const got = await client.GET('/conversations/{conversationId}', { params: { path: { conversationId: conversation.id } } })
  const { messages: initialMessages, ...summary } = conversation
  t.same(got.data, summary, 'a conversation read alone comes without its messages')
  t.equal(initialMessages.length, 2)

  const patched = await client.PATCH('/conversations/{conversationId}', {
    params: { path: { conversationId: conversation.id } },
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: { title: 'Lisbon and Porto', metadata: { model: null, lang: 'pt' } },
  })
  t.equal(patched.response.status, 200)
  t.match(patched.data, { id: conversation.id, title: 'Lisbon and Porto', metadata: { lang: 'pt' } })
  t.same(Object.keys(patched.data!.metadata), ['lang'])

  const message = await client.POST('/conversations/{conversationId}/messages', {
    params: { path: { conversationId: conversation.id } },
    body: { role: 'user', content: 'And Porto?' },
  })
  t.equal(message.response.status, 201)
  t.match(message.data, { conversationId: conversation.id, role: 'user', content: 'And Porto?' })
  const onePath = { path: { conversationId: conversation.id, messageId: message.data!.id } }
  const one = await client.GET('/conversations/{conversationId}/messages/{messageId}', { params: onePath })
  t.same(one.data, message.data)
  const removed = await client.DELETE('/conversations/{conversationId}/messages/{messageId}', { params: onePath })
  t.equal(removed.response.status, 204)
  const removedAgain = await client.DELETE('/conversations/{conversationId}/messages/{messageId}', { params: onePath })
  assertNotFound(t, removedAgain.error, `${API}/conversations/${conversation.id}/messages/${message.data!.id}`)
  const reposted = await client.POST('/conversations/{conversationId}/messages', {
    params: { path: { conversationId: conversation.id } },
    body: { role: 'user', content: 'And Porto?' },
  })
  t.equal(reposted.response.status, 201)
  const messages = await client.GET('/conversations/{conversationId}/messages', { params: { path: { conversationId: conversation.id } } })
  t.same(messages.data!.map((item) => item.content), ['Hi', 'Hello!', 'And Porto?'])
  const firstTwo = await client.GET('/conversations/{conversationId}/messages', { params: { path: { conversationId: conversation.id }, query: { limit: 2 } } })
  const rest = await client.GET('/conversations/{conversationId}/messages', {
    params: { path: { conversationId: conversation.id }, query: { limit: 2, cursor: nextCursor(firstTwo.response) } },
  })
  t.same([...firstTwo.data!, ...rest.data!], messages.data, 'message pages join up')
  t.equal(nextCursor(rest.response), undefined, 'last page has no next link')

  const invalid = await client.POST('/users', { body: { name: '' } })
  t.equal(invalid.response.status, 400)
  t.equal(invalid.data, undefined)
  t.match(invalid.error, { type: 'urn:trackbot:problem:validation-error', status: 400, errors: [{ in: 'body', pointer: '/name' }] })

  const deleted = await client.DELETE('/conversations/{conversationId}', { params: { path: { conversationId: conversation.id } } })
  t.equal(deleted.response.status, 204)
  t.equal(deleted.error, undefined)
  const gone = await client.GET('/conversations/{conversationId}', { params: { path: { conversationId: conversation.id } } })
  t.equal(gone.response.status, 404)
  t.equal(gone.data, undefined)
  assertNotFound(t, gone.error, `${API}/conversations/${conversation.id}`)

  t.equal((await client.DELETE('/users/{userId}', { params: { path: { userId: user.id } } })).response.status, 204)
  const noUser = await client.GET('/users/{userId}', { params: { path: { userId: user.id } } })
  assertNotFound(t, noUser.error, `${API}/users/${user.id}`)

  contracts.v1.assertReachedEveryOperation(t, checked.operationIds)
})

t.test('every v2 operation round-trips through the typed v2 client, an agent loop read back exactly', async (t) => {
  const origin = await listening(t)
  const checked = contractCheckedFetch(contracts.v2)
  const client = createTrackbotV2Client({ baseUrl: `${origin}${API_V2}`, fetch: checked.fetch })

  const created = await client.POST('/users', { body: { name: 'Ada', email: 'ada@example.com' } })
  t.equal(created.response.status, 201)
  const user = created.data!
  t.equal(created.response.headers.get('location'), `${API_V2}/users/${user.id}`)
  t.strictSame((await client.GET('/users/{userId}', { params: { path: { userId: user.id } } })).data, user)

  const started = await client.POST('/users/{userId}/conversations', {
    params: { path: { userId: user.id } },
    body: { title: 'Lisbon', metadata: { app: 'guide' }, messages: [{ role: 'developer', content: 'Answer briefly.' }] },
  })
  t.equal(started.response.status, 201)
  const { messages: [instructions], ...conversation } = started.data!
  t.match(conversation, { userId: user.id, title: 'Lisbon', metadata: { app: 'guide' }, messageCount: 1, usage: { inputTokens: 0, outputTokens: 0 }, lastMessageAt: instructions!.createdAt })
  t.strictSame(instructions!.parts, [{ type: 'text', text: 'Answer briefly.' }], 'a message sent as content is one text part')
  const path = { conversationId: conversation.id }

  // The agent loop: the user's question; the assistant's reasoning and tool call, with its model and usage; the
  // tool's result; the answer, the last two appended at once.
  const question: NewMessage = { role: 'user', content: 'Two days in Lisbon: what should I see?' }
  const call: NewMessage = {
    role: 'assistant',
    parts: [
      { type: 'reasoning', text: 'The weather decides between indoor and outdoor sights.' },
      { type: 'tool_call', id: 'call_7Qk2', name: 'get_weather', arguments: { city: 'Lisbon', days: 2, hourly: false, units: ['C', null], where: { lat: 38.72, lon: -9.14 } } },
    ],
    model: 'gpt-4o',
    usage: { inputTokens: 412, outputTokens: 21 },
    metadata: { step: '1' },
  }
  const result: NewMessage = { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_7Qk2', output: '{"forecast":"sunny","high":24}', isError: false }] }
  const answer: NewMessage = {
    role: 'assistant',
    parts: [{ type: 'text', text: 'Sunny both days.' }, { type: 'text', text: 'Start in Alfama, then tram 28.' }],
    model: 'gpt-4o',
    usage: { inputTokens: 480, outputTokens: 35 },
  }
  const asked = await client.POST('/conversations/{conversationId}/messages', { params: { path }, body: question })
  t.equal(asked.response.status, 201)
  const called = await client.POST('/conversations/{conversationId}/messages', { params: { path }, body: call })
  t.equal(called.response.status, 201)
  const answered = await client.POST('/conversations/{conversationId}/messages/batch', { params: { path }, body: { messages: [result, answer] } })
  t.equal(answered.response.status, 201)
  const loop: Message[] = [asked.data!, called.data!, ...answered.data!.messages]
  t.strictSame(loop.map(({ role, content, parts, model, usage, metadata }) => ({ role, content, parts, model, usage, metadata })), [
    { role: 'user', content: question.content, parts: [{ type: 'text', text: question.content }], model: null, usage: null, metadata: {} },
    { role: 'assistant', content: '', parts: call.parts, model: 'gpt-4o', usage: call.usage, metadata: { step: '1' } },
    { role: 'tool', content: '', parts: result.parts, model: null, usage: null, metadata: {} },
    { role: 'assistant', content: 'Sunny both days.\nStart in Alfama, then tram 28.', parts: answer.parts, model: 'gpt-4o', usage: answer.usage, metadata: {} },
  ], 'each message as sent: its parts, the text of its text parts, model, usage and metadata')
  t.equal(answered.data!.messages[0]!.createdAt, answered.data!.messages[1]!.createdAt, 'messages appended at once are written at one time')

  const messages = await client.GET('/conversations/{conversationId}/messages', { params: { path } })
  t.strictSame(messages.data, [instructions, ...loop], 'the conversation reads back as written')
  // Narrowed on `type`, a part's own fields are typed: a tool call's name and arguments, a result's call id.
  const calls = messages.data!.flatMap((message) => message.parts).flatMap((part: Part) => part.type === 'tool_call' ? [`${part.name}(${String(part.arguments.city)})`] : [])
  const results = messages.data!.flatMap((message) => message.parts).flatMap((part: Part) => part.type === 'tool_result' ? [part.toolCallId] : [])
  t.strictSame([calls, results], [['get_weather(Lisbon)'], ['call_7Qk2']])
  const firstTwo = await client.GET('/conversations/{conversationId}/messages', { params: { path, query: { limit: 2 } } })
  const others = await client.GET('/conversations/{conversationId}/messages', { params: { path, query: { limit: 3, cursor: nextCursor(firstTwo.response) } } })
  t.strictSame([...firstTwo.data!, ...others.data!], messages.data, 'message pages join up')
  t.equal(nextCursor(others.response), undefined, 'last page has no next link')

  const read = await client.GET('/conversations/{conversationId}', { params: { path } })
  t.equal(read.response.status, 200)
  t.match(read.data, { messageCount: 5, usage: { inputTokens: 892, outputTokens: 56 }, lastMessageAt: loop.at(-1)!.createdAt }, 'the conversation counts its messages and their tokens')

  const unanswered = await client.POST('/conversations/{conversationId}/messages/batch', {
    params: { path },
    body: { messages: [question, { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_never_made', output: 'lost' }] }] },
  })
  t.equal(unanswered.response.status, 400)
  t.match(unanswered.error, { type: 'urn:trackbot:problem:validation-error', errors: [{ in: 'body', pointer: '/messages/1/parts/0/toolCallId' }] })
  t.equal((await client.GET('/conversations/{conversationId}', { params: { path } })).data?.messageCount, 5, 'all or none: nothing of a refused batch is stored')

  for (const title of ['second', 'third']) {
    t.equal((await client.POST('/users/{userId}/conversations', { params: { path: { userId: user.id } }, body: { title } })).response.status, 201)
  }
  const pages: string[][] = []
  let cursor: string | undefined
  do {
    const page = await client.GET('/users/{userId}/conversations', { params: { path: { userId: user.id }, query: { limit: 2, cursor } } })
    pages.push(page.data!.map((item) => item.title ?? ''))
    cursor = nextCursor(page.response)
  } while (cursor !== undefined && pages.length < 5)
  t.same(pages.map((page) => page.length), [2, 1], 'two pages of limit 2')
  t.same(pages.flat().sort(), ['Lisbon', 'second', 'third'])

  // Search: the answer's words, in a typed hit with its snippet; pages by the same cursor helper.
  const found = await client.GET('/users/{userId}/search', { params: { path: { userId: user.id }, query: { q: '"tram 28" alf*' } } })
  t.equal(found.response.status, 200)
  const hits: SearchHit[] = found.data!
  t.strictSame(hits.map(({ messageId, role }) => ({ messageId, role })), [{ messageId: answered.data!.messages[1]!.id, role: 'assistant' }])
  t.strictSame(hits[0]!.highlights.map(({ start, end }) => [...hits[0]!.snippet].slice(start, end).join('')), ['Alfama', 'tram', '28'])
  const firstHit = await client.GET('/users/{userId}/search', { params: { path: { userId: user.id }, query: { q: 'lisbon', limit: 1 } } })
  const nextHits = await client.GET('/users/{userId}/search', { params: { path: { userId: user.id }, query: { q: 'lisbon', limit: 1, cursor: nextCursor(firstHit.response) } } })
  t.equal(nextHits.response.status, 200, 'the next page of a search, by its cursor')
  t.notSame(nextHits.data, firstHit.data)

  // Edit and regenerate: a fork at the question, typed as a Conversation with where it came from; then the user's export.
  const forked = await client.POST('/conversations/{conversationId}/fork', { params: { path }, body: { atMessageId: loop[0]!.id, title: 'Lisbon, again' } })
  t.equal(forked.response.status, 201)
  const fork: Conversation = forked.data!
  t.match(fork, { title: 'Lisbon, again', messageCount: 2, forkedFrom: { conversationId: conversation.id, messageId: loop[0]!.id } })
  t.equal(forked.response.headers.get('location'), `${API_V2}/conversations/${fork.id}`)
  const exported = await client.GET('/users/{userId}/export', { params: { path: { userId: user.id } }, parseAs: 'text' })
  t.equal(exported.response.status, 200)
  const lines = (exported.data as unknown as string).trimEnd().split('\n').map((line) => JSON.parse(line) as Conversation & { messages: Message[] })
  t.equal(lines[0]!.id, fork.id, 'the fork, the most recent activity, first')
  t.strictSame(lines[0]!.messages.map((message) => message.parts), [instructions!.parts, loop[0]!.parts])
  // And back into a new user: a line at a time, NDJSON by the request's own serializer.
  const other = (await client.POST('/users', { body: { name: 'Grace' } })).data!
  const imported = await client.POST('/users/{userId}/import', {
    params: { path: { userId: other.id } },
    body: lines[0]!,
    bodySerializer: (line) => `${JSON.stringify(line)}\n`,
    headers: { 'Content-Type': 'application/x-ndjson' },
  })
  t.equal(imported.response.status, 201)
  t.equal(imported.data!.conversations[0]!.from, fork.id, 'the answer maps the line to its new conversation')

  const patched = await client.PATCH('/conversations/{conversationId}', {
    params: { path },
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: { title: 'Lisbon in two days', metadata: { app: null, lang: 'pt' } },
  })
  t.equal(patched.response.status, 200)
  t.match(patched.data, { title: 'Lisbon in two days', metadata: { lang: 'pt' }, messageCount: 5, usage: { inputTokens: 892, outputTokens: 56 } })

  // The tool call goes, and its tokens with it; the newest message is still the answer.
  const callPath = { ...path, messageId: called.data!.id }
  t.strictSame((await client.GET('/conversations/{conversationId}/messages/{messageId}', { params: { path: callPath } })).data, called.data)
  t.equal((await client.DELETE('/conversations/{conversationId}/messages/{messageId}', { params: { path: callPath } })).response.status, 204)
  assertNotFound(t, (await client.DELETE('/conversations/{conversationId}/messages/{messageId}', { params: { path: callPath } })).error, `${API_V2}/conversations/${conversation.id}/messages/${called.data!.id}`)
  t.match((await client.GET('/conversations/{conversationId}', { params: { path } })).data, { messageCount: 4, usage: { inputTokens: 480, outputTokens: 35 }, lastMessageAt: loop.at(-1)!.createdAt })
  // The answer goes: the newest message left is the tool's result, written with it.
  const answerPath = { ...path, messageId: loop.at(-1)!.id }
  t.equal((await client.DELETE('/conversations/{conversationId}/messages/{messageId}', { params: { path: answerPath } })).response.status, 204)
  t.match((await client.GET('/conversations/{conversationId}', { params: { path } })).data, { messageCount: 3, usage: { inputTokens: 0, outputTokens: 0 }, lastMessageAt: loop[2]!.createdAt })

  t.equal((await client.DELETE('/conversations/{conversationId}', { params: { path } })).response.status, 204)
  assertNotFound(t, (await client.GET('/conversations/{conversationId}', { params: { path } })).error, `${API_V2}/conversations/${conversation.id}`)
  t.equal((await client.DELETE('/users/{userId}', { params: { path: { userId: user.id } } })).response.status, 204)
  assertNotFound(t, (await client.GET('/users/{userId}', { params: { path: { userId: user.id } } })).error, `${API_V2}/users/${user.id}`)

  contracts.v2.assertReachedEveryOperation(t, checked.operationIds)
})

t.test('the client sends a token, fixed or fetched before each request', async (t) => {
  const origin = await listening(t, { auth: secretAuth })
  const checked = contractCheckedFetch()
  const anonymous = createTrackbotClient({ baseUrl: `${origin}${API}`, fetch: checked.fetch })
  const refused = await anonymous.POST('/users', { body: { name: 'Ada' } })
  t.equal(refused.response.status, 401)
  t.match(refused.error, { type: 'urn:trackbot:problem:unauthorized', status: 401 })

  const admin = createTrackbotClient({ baseUrl: `${origin}${API}`, fetch: checked.fetch, token: await adminToken() })
  const user = (await admin.POST('/users', { body: { name: 'Ada' } })).data!
  t.equal(typeof user.id, 'number', 'an admin token creates users')

  let calls = 0
  const ada = createTrackbotClient({
    baseUrl: `${origin}${API}`,
    fetch: checked.fetch,
    token: async () => { calls++; return await userToken(user.id) },
  })
  const created = await ada.POST('/users/{userId}/conversations', { params: { path: { userId: user.id } }, body: { title: 'Lisbon' } })
  t.equal(created.response.status, 201)
  t.equal((await ada.GET('/users/{userId}', { params: { path: { userId: user.id } } })).data?.name, 'Ada')
  t.equal(calls, 2, 'the token function is asked before each request')
  const forbidden = await ada.POST('/users', { body: { name: 'Bob' } })
  t.equal(forbidden.response.status, 403)
  t.match(forbidden.error, { type: 'urn:trackbot:problem:insufficient-scope' })
})

t.test('nextCursor reads rel="next" among other links and parameters', { skip: storeIndependent }, async (t) => {
  const withLink = (link: string | null) => {
    const response = new Response(null, { headers: link === null ? {} : { link } })
    return nextCursor(response)
  }
  t.equal(withLink(null), undefined)
  t.equal(withLink('</api/v1/users/1/conversations?limit=2&cursor=abc>; rel="next"'), 'abc')
  t.equal(withLink('</a?cursor=p>; rel="prev", </a?cursor=n%3D>; title="x"; rel="next"'), 'n=')
  t.equal(withLink('</a?cursor=q>; rel="prev next"'), 'q', 'one of several relation types')
  t.equal(withLink('</a?cursor=r>; rel=next'), 'r', 'unquoted')
  t.equal(withLink('</a?cursor=p>; rel="prev"'), undefined)
  t.equal(withLink('</a?cursor=p>; rel="nextpage"'), undefined)
})

t.test('`trackbot/client` and `trackbot/client/v2` resolve through package exports to a build that plain Node runs', { skip: storeIndependent }, async (t) => {
  // A copy of the package as a consumer sees it after `npm run build`: package.json (its exports) and dist/.
  const root = tempDir(t)
  copyFileSync(join(projectRoot, 'package.json'), join(root, 'package.json'))
  symlinkSync(join(projectRoot, 'node_modules'), join(root, 'node_modules'))
  const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  const common = ['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--strict', '--skipLibCheck', '--types', 'node']
  await run(process.execPath, [tsc, ...common, '--rootDir', projectRoot, '--outDir', join(root, 'dist'), '--declaration', join(projectRoot, 'src', 'client.ts'), join(projectRoot, 'src', 'client-v2.ts')], { env: toolEnv() })

  mkdirSync(join(root, 'consumer'))
  writeFileSync(join(root, 'consumer', 'main.ts'), [
    "import { createTrackbotClient, type User } from 'trackbot/client'",
    "import { createTrackbotV2Client, type Part } from 'trackbot/client/v2'",
    'const client = createTrackbotClient({ baseUrl: process.argv[2] as string })',
    "const { data, error } = await client.POST('/users', { body: { name: 'From the package' } })",
    'const user: User | undefined = data',
    "const missing = await client.GET('/users/{userId}', { params: { path: { userId: (user?.id ?? 0) + 1000 } } })",
    'const v2 = createTrackbotV2Client({ baseUrl: process.argv[3] as string })',
    "const conversation = await v2.POST('/users/{userId}/conversations', { params: { path: { userId: user?.id ?? 0 } }, body: { messages: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: {} }] }] } })",
    'const parts: Part[] = conversation.data?.messages[0]?.parts ?? []',
    "const tools = parts.flatMap((part) => part.type === 'tool_call' ? [part.name] : [])",
    'console.log(JSON.stringify({ user, error, missing: missing.error?.type, tools }))',
  ].join('\n'))
  // Type-checked against dist/src/client.d.ts via exports.types, then run with no loader at all.
  const consumer = join(root, 'consumer')
  await run(process.execPath, [tsc, ...common, '--rootDir', consumer, '--outDir', consumer, join(consumer, 'main.ts')], { cwd: root, env: toolEnv() })

  const origin = await listening(t)
  // A copy of the client outside src/: its coverage would count for nothing of ours.
  const { stdout } = await run(process.execPath, [join(root, 'consumer', 'main.js'), `${origin}${API}`, `${origin}${API_V2}`], { cwd: root, env: toolEnv() })
  const result = JSON.parse(stdout)
  t.match(result, { user: { id: Number, name: 'From the package' }, missing: 'urn:trackbot:problem:not-found', tools: ['f'] })
  t.equal(result.error, undefined)
})
