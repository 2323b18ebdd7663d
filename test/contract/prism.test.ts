// An independent judge of our responses: Stoplight Prism, proxying to the server with --errors, turns any
// response that breaks the spec into an error of its own. For each contract version, a Prism on that version's
// spec and a walk through every operation, successes and the errors a valid request can meet, must come through
// untouched.
// The responses' shapes do not depend on the store, and the walk needs a server process of its own:
// stores: sqlite
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { CONTRACT_VERSIONS, specPath, type ContractVersion } from '../../src/contract/spec.js'
import { projectRoot } from '../../src/project-root.js'
import { contractErrors, contracts, parsedBody } from '../contract.js'
import { exitedWhy, freePort, startApp, toolEnv, until } from '../helper.js'

/** A body is sent as JSON, in `contentType` (application/json unless given). */
/**
 * `direct`: sent to the server itself, not through Prism, which cannot read an NDJSON body (it validates the whole text
 * against the schema of one line, and answers its own 500, or 422 for a request); the answer is still checked against
 * the spec here.
 */
interface Step { method: string, path: string, body?: unknown, contentType?: string, status: number, direct?: true }

/** A step's body as sent: JSON, or NDJSON, a line per item. */
const bodyText = ({ body, contentType }: Step) => contentType === 'application/x-ndjson' ? (body as unknown[]).map((line) => `${JSON.stringify(line)}\n`).join('') : JSON.stringify(body)

type Send = (step: Step) => Promise<{ body: any, text: string, headers: Record<string, string> }>

async function startPrism (t: { teardown: (fn: () => unknown) => void }, version: ContractVersion, upstream: string, port: number): Promise<{ child: ChildProcess, output: () => string }> {
  const child = spawn(join(projectRoot, 'node_modules', '.bin', 'prism'), [
    'proxy', specPath(version), upstream, '--errors', '--host', '127.0.0.1', '--port', String(port),
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: toolEnv() })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  child.stdout!.on('data', (chunk) => { output += chunk })
  child.stderr!.on('data', (chunk) => { output += chunk })
  await until('Prism to listen', () => {
    const why = exitedWhy(child)
    if (why !== undefined) throw new Error(`prism: ${why}:\n${output}`)
    return /Prism is listening/.test(output)
  }, { intervalMs: 100, cause: () => output })
  return { child, output: () => output }
}

/**
 * The start of each version's walk: a user (and one with the same email, refused), a conversation made with `body`
 * and an empty one, their reads and a patch.
 */
async function userAndConversation (t: Test, send: Send, email: string, body: unknown): Promise<{ user: any, conversation: any }> {
  const user = (await send({ method: 'POST', path: '/users', body: { name: 'Ada Lovelace', email }, status: 201 })).body
  await send({ method: 'POST', path: '/users', body: { name: 'Impostor', email }, status: 409 })
  await send({ method: 'GET', path: `/users/${user.id}`, status: 200 })
  await send({ method: 'GET', path: '/users/999999', status: 404 })
  const conversation = (await send({ method: 'POST', path: `/users/${user.id}/conversations`, status: 201, body })).body
  await send({ method: 'POST', path: `/users/${user.id}/conversations`, body: {}, status: 201 })
  await send({ method: 'POST', path: '/users/999999/conversations', body: {}, status: 404 })
  await listConversations(t, send, user.id)
  await send({ method: 'GET', path: `/conversations/${conversation.id}`, status: 200 })
  await send({ method: 'GET', path: '/conversations/999999', status: 404 })
  await patchConversation(send, conversation.id)
  return { user, conversation }
}

/** The walk through v1's operations. */
async function v1Walk (t: Test, send: Send): Promise<void> {
  const { user, conversation } = await userAndConversation(t, send, 'ada@example.com', {
    title: 'Lisbon',
    metadata: { model: 'm' },
    messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }],
  })
  await send({ method: 'POST', path: `/conversations/${conversation.id}/messages`, body: { role: 'user', content: 'more' }, status: 201 })
  await send({ method: 'POST', path: '/conversations/999999/messages', body: { role: 'user', content: 'lost' }, status: 404 })
  await messagesAndDeletes(send, user.id, conversation.id, conversation.messages[0].id)
}

/** The walk through v2's: v1's, with messages made of parts, an agent's turn appended at once, and a tool result answering no call. */
async function v2Walk (t: Test, send: Send): Promise<void> {
  const { user, conversation } = await userAndConversation(t, send, 'ada@example.org', {
    title: 'Lisbon',
    metadata: { model: 'm' },
    messages: [
      { role: 'developer', content: 'Answer briefly.' },
      {
        role: 'user',
        parts: [
          { type: 'text', text: 'What is this, and what does the file say?' },
          { type: 'image', url: 'https://example.com/tram-28.png', mediaType: 'image/png' },
          { type: 'file', url: 'data:text/plain;base64,SGVsbG8=', name: 'note.txt', mediaType: 'text/plain' },
        ],
        metadata: { source: 'web' },
      },
    ],
  })
  const turn = [
    {
      role: 'assistant',
      parts: [
        { type: 'reasoning', text: 'The weather decides.' },
        { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Lisbon', days: 2, hourly: [true, null] } },
      ],
      model: 'gpt-4o',
      usage: { inputTokens: 412, outputTokens: 21 },
    },
    { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', output: '{"forecast":"sunny"}', isError: false }] },
    { role: 'assistant', content: 'Sunny: start in Alfama.', model: 'gpt-4o', usage: { inputTokens: 450, outputTokens: 9 } },
  ]
  await send({ method: 'POST', path: `/conversations/${conversation.id}/messages/batch`, body: { messages: turn }, status: 201 })
  const unanswered = { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_never_made', output: 'lost' }] }
  await send({ method: 'POST', path: `/conversations/${conversation.id}/messages/batch`, body: { messages: [unanswered] }, status: 400 })
  await send({ method: 'POST', path: '/conversations/999999/messages/batch', body: { messages: turn }, status: 404 })
  await send({ method: 'POST', path: `/conversations/${conversation.id}/messages`, body: { role: 'assistant', parts: [{ type: 'refusal', text: 'Not that.' }] }, status: 201 })
  await send({ method: 'POST', path: `/conversations/${conversation.id}/messages`, body: unanswered, status: 400 })
  await send({ method: 'POST', path: '/conversations/999999/messages', body: { role: 'user', content: 'lost' }, status: 404 })
  await search(t, send, user.id)
  await history(t, send, user.id, conversation.id, conversation.messages[0].id)
  await messagesAndDeletes(send, user.id, conversation.id, conversation.messages[1].id)
}

/** Forks (at a message, at the last, at another conversation's message, of a missing conversation) and exports. */
async function history (t: Test, send: Send, userId: number, conversationId: number, firstMessageId: number): Promise<void> {
  const fork = await send({ method: 'POST', path: `/conversations/${conversationId}/fork`, body: { atMessageId: firstMessageId, title: 'Lisbon, again' }, status: 201 })
  t.equal(fork.body.messageCount, 1, 'a fork at the first message holds one')
  await send({ method: 'POST', path: `/conversations/${fork.body.id}/fork`, body: {}, status: 201 })
  await send({ method: 'POST', path: `/conversations/${fork.body.id}/fork`, body: { atMessageId: firstMessageId }, status: 400 })
  await send({ method: 'POST', path: '/conversations/999999/fork', body: {}, status: 404 })
  const exported = await send({ method: 'GET', path: `/users/${userId}/export`, status: 200, direct: true })
  t.ok(exported.body.some((line: { id: number }) => line.id === fork.body.id) && exported.body.every((line: { userId: number }) => line.userId === userId), "the export holds the user's conversations, the fork among them")
  await send({ method: 'GET', path: '/users/999999/export', status: 404 })
  const line = { title: 'imported', messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }] }
  await send({ method: 'POST', path: `/users/${userId}/import`, body: [line], contentType: 'application/x-ndjson', status: 201, direct: true })
  await send({ method: 'POST', path: `/users/${userId}/import`, body: [{ messages: 'none' }], contentType: 'application/x-ndjson', status: 400, direct: true })
}

/** Searches: hits with snippets, a page and the next by its link, hostile words, a bad cursor, a missing user. (Without `q`, Prism answers for the server.) */
async function search (t: Test, send: Send, userId: number): Promise<void> {
  const hits = await send({ method: 'GET', path: `/users/${userId}/search?q=${encodeURIComponent('"start in" alf* sunny OR')}`, status: 200 })
  t.equal(hits.body.length, 0, 'every term, OR a word too')
  const firstPage = await send({ method: 'GET', path: `/users/${userId}/search?q=sunny&limit=1`, status: 200 })
  const next = /^<[^?]+\?([^>]+)>/.exec(String(firstPage.headers.link))?.[1]
  t.ok(next, 'the first page links to the next')
  await send({ method: 'GET', path: `/users/${userId}/search?${next}`, status: 200 })
  await send({ method: 'GET', path: `/users/${userId}/search?q=${encodeURIComponent('NEAR(a b) "x -y:z ^(& | !<->')}`, status: 200 })
  await send({ method: 'GET', path: `/users/${userId}/search?q=x&cursor=bm9wZQ`, status: 400 })
  await send({ method: 'GET', path: '/users/999999/search?q=x', status: 404 })
}

async function listConversations (t: Test, send: Send, userId: number): Promise<void> {
  await send({ method: 'GET', path: `/users/${userId}/conversations`, status: 200 })
  const firstPage = await send({ method: 'GET', path: `/users/${userId}/conversations?limit=1`, status: 200 })
  const cursor = /cursor=([\w-]+)/.exec(String(firstPage.headers.link))?.[1]
  t.ok(cursor, 'the first page links to the next')
  await send({ method: 'GET', path: `/users/${userId}/conversations?limit=1&cursor=${cursor}`, status: 200 })
  await send({ method: 'GET', path: `/users/${userId}/conversations?limit=1&cursor=bm9wZQ`, status: 400 })
  await send({ method: 'GET', path: '/users/999999/conversations', status: 404 })
}

async function patchConversation (send: Send, conversationId: number): Promise<void> {
  const patch = { title: 'Lisbon, two days', metadata: { model: null, lang: 'pt' } }
  await send({ method: 'PATCH', path: `/conversations/${conversationId}`, body: patch, contentType: 'application/merge-patch+json', status: 200 })
  await send({ method: 'PATCH', path: `/conversations/${conversationId}`, body: { title: null }, status: 200 })
  await send({ method: 'PATCH', path: '/conversations/999999', body: patch, contentType: 'application/merge-patch+json', status: 404 })
}

async function messagesAndDeletes (send: Send, userId: number, conversationId: number, messageId: number): Promise<void> {
  await send({ method: 'GET', path: `/conversations/${conversationId}/messages/${messageId}`, status: 200 })
  await send({ method: 'GET', path: `/conversations/${conversationId}/messages/999999`, status: 404 })
  await send({ method: 'GET', path: `/conversations/${conversationId}/messages`, status: 200 })
  await send({ method: 'DELETE', path: `/conversations/${conversationId}/messages/${messageId}`, status: 204 })
  await send({ method: 'DELETE', path: `/conversations/${conversationId}/messages/${messageId}`, status: 404 })
  await send({ method: 'GET', path: `/conversations/${conversationId}/messages`, status: 200 })
  await send({ method: 'GET', path: `/conversations/${conversationId}/messages?limit=2`, status: 200 })
  await send({ method: 'GET', path: '/conversations/999999/messages', status: 404 })
  await send({ method: 'DELETE', path: `/conversations/${conversationId}`, status: 204 })
  await send({ method: 'DELETE', path: `/conversations/${conversationId}`, status: 404 })
  await send({ method: 'DELETE', path: `/users/${userId}`, status: 204 })
  await send({ method: 'DELETE', path: `/users/${userId}`, status: 404 })
}

const walks: Record<ContractVersion, (t: Test, send: Send) => Promise<void>> = { v1: v1Walk, v2: v2Walk }

t.test('every operation of each version through a Prism proxy with --errors: no response breaks the spec', async (t) => {
  const server = await startApp(t, { transport: 'process', env: { LOG_LEVEL: 'warn' } })
  // One Prism per version, started side by side. Prism matches paths without the server's base path, so it forwards
  // /users to <upstream>/users.
  const prisms = await Promise.all(CONTRACT_VERSIONS.map(async (version) => {
    const port = await freePort()
    return { port, ...await startPrism(t, version, `${server.origin}${contracts[version].basePath}`, port) }
  }))
  for (const [i, version] of CONTRACT_VERSIONS.entries()) {
    await t.test(version, async (t) => {
      const { basePath, operationIdOf, assertReachedEveryOperation } = contracts[version]
      const { port: prismPort, output } = prisms[i]!
      const reached = new Set<string>()
      const send: Send = async (step) => {
        const operationId = operationIdOf(step.method, `${basePath}${step.path}`)
        if (operationId !== undefined) reached.add(operationId)
        const response = await fetch(step.direct === true ? `${server.origin}${basePath}${step.path}` : `http://127.0.0.1:${prismPort}${step.path}`, {
          method: step.method,
          ...(step.body === undefined ? {} : { body: bodyText(step), headers: { 'content-type': step.contentType ?? 'application/json' } }),
        })
        const text = await response.text()
        const headers = Object.fromEntries(response.headers)
        t.equal(response.status, step.status, `${step.method} ${step.path} → ${step.status} ${response.status === step.status ? '' : text}`)
        t.same(contractErrors({ method: step.method, url: `${basePath}${step.path}`, status: response.status, headers, text }), [], 'and obeys the spec')
        return { body: parsedBody(headers, text), text, headers }
      }
      await walks[version](t, send)
      assertReachedEveryOperation(t, reached)
      t.notMatch(output(), /violation|✖|error /i, 'Prism logged no violation')
    })
  }
  t.equal(await server.stop(), 0)
})
