// An independent judge of our responses: Stoplight Prism, proxying to the server with --errors, turns any
// response that breaks the spec into an error of its own. A walk through every operation, successes and
// the errors a valid request can meet, must come through untouched.
// The responses' shapes do not depend on the store, and the walk needs a server process of its own:
// stores: sqlite
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { assertReachedEveryOperation, contractErrors, operationIdOf } from '../contract.js'
import { API, exitedWhy, freePort, startApp, toolEnv, until } from '../helper.js'

/** A body is sent as JSON, in `contentType` (application/json unless given). */
interface Step { method: string, path: string, body?: unknown, contentType?: string, status: number }

async function startPrism (t: { teardown: (fn: () => unknown) => void }, upstream: string, port: number): Promise<{ child: ChildProcess, output: () => string }> {
  const child = spawn(join(projectRoot, 'node_modules', '.bin', 'prism'), [
    'proxy', join(projectRoot, 'openapi', 'trackbot.yaml'), upstream, '--errors', '--host', '127.0.0.1', '--port', String(port),
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

t.test('every operation through a Prism proxy with --errors: no response breaks the spec', async (t) => {
  const server = await startApp(t, { transport: 'process', env: { LOG_LEVEL: 'warn' } })
  // Prism matches paths without the server's base path, so it forwards /users to <upstream>/users.
  const prismPort = await freePort()
  const prism = await startPrism(t, `${server.origin}${API}`, prismPort)

  const reached = new Set<string>()
  const send = async (step: Step) => {
    const operationId = operationIdOf(step.method, `${API}${step.path}`)
    if (operationId !== undefined) reached.add(operationId)
    const response = await fetch(`http://127.0.0.1:${prismPort}${step.path}`, {
      method: step.method,
      ...(step.body === undefined ? {} : { body: JSON.stringify(step.body), headers: { 'content-type': step.contentType ?? 'application/json' } }),
    })
    const text = await response.text()
    const headers = Object.fromEntries(response.headers)
    t.equal(response.status, step.status, `${step.method} ${step.path} → ${step.status} ${response.status === step.status ? '' : text}`)
    t.same(contractErrors({ method: step.method, url: `${API}${step.path}`, status: response.status, headers, text }), [], 'and obeys the spec')
    return { body: text === '' ? undefined : JSON.parse(text), headers }
  }

  const user = (await send({ method: 'POST', path: '/users', body: { name: 'Ada Lovelace', email: 'ada@example.com' }, status: 201 })).body
  await send({ method: 'POST', path: '/users', body: { name: 'Impostor', email: 'ada@example.com' }, status: 409 })
  await send({ method: 'GET', path: `/users/${user.id}`, status: 200 })
  await send({ method: 'GET', path: '/users/999999', status: 404 })
  const conversation = (await send({
    method: 'POST',
    path: `/users/${user.id}/conversations`,
    status: 201,
    body: { title: 'Lisbon', metadata: { model: 'm' }, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] },
  })).body
  await send({ method: 'POST', path: `/users/${user.id}/conversations`, body: {}, status: 201 })
  await send({ method: 'POST', path: '/users/999999/conversations', body: {}, status: 404 })
  await send({ method: 'GET', path: `/users/${user.id}/conversations`, status: 200 })
  const firstPage = await send({ method: 'GET', path: `/users/${user.id}/conversations?limit=1`, status: 200 })
  const cursor = /cursor=([\w-]+)/.exec(String(firstPage.headers.link))?.[1]
  t.ok(cursor, 'the first page links to the next')
  await send({ method: 'GET', path: `/users/${user.id}/conversations?limit=1&cursor=${cursor}`, status: 200 })
  await send({ method: 'GET', path: `/users/${user.id}/conversations?limit=1&cursor=bm9wZQ`, status: 400 })
  await send({ method: 'GET', path: '/users/999999/conversations', status: 404 })
  await send({ method: 'GET', path: `/conversations/${conversation.id}`, status: 200 })
  await send({ method: 'GET', path: '/conversations/999999', status: 404 })
  const patch = { title: 'Lisbon, two days', metadata: { model: null, lang: 'pt' } }
  await send({ method: 'PATCH', path: `/conversations/${conversation.id}`, body: patch, contentType: 'application/merge-patch+json', status: 200 })
  await send({ method: 'PATCH', path: `/conversations/${conversation.id}`, body: { title: null }, status: 200 })
  await send({ method: 'PATCH', path: '/conversations/999999', body: patch, contentType: 'application/merge-patch+json', status: 404 })
  await send({ method: 'POST', path: `/conversations/${conversation.id}/messages`, body: { role: 'user', content: 'more' }, status: 201 })
  await send({ method: 'POST', path: '/conversations/999999/messages', body: { role: 'user', content: 'lost' }, status: 404 })
  const posted = conversation.messages[0]
  await send({ method: 'GET', path: `/conversations/${conversation.id}/messages/${posted.id}`, status: 200 })
  await send({ method: 'GET', path: `/conversations/${conversation.id}/messages/999999`, status: 404 })
  await send({ method: 'DELETE', path: `/conversations/${conversation.id}/messages/${posted.id}`, status: 204 })
  await send({ method: 'DELETE', path: `/conversations/${conversation.id}/messages/${posted.id}`, status: 404 })
  await send({ method: 'GET', path: `/conversations/${conversation.id}/messages`, status: 200 })
  await send({ method: 'GET', path: `/conversations/${conversation.id}/messages?limit=2`, status: 200 })
  await send({ method: 'GET', path: '/conversations/999999/messages', status: 404 })
  await send({ method: 'DELETE', path: `/conversations/${conversation.id}`, status: 204 })
  await send({ method: 'DELETE', path: `/conversations/${conversation.id}`, status: 404 })
  await send({ method: 'DELETE', path: `/users/${user.id}`, status: 204 })
  await send({ method: 'DELETE', path: `/users/${user.id}`, status: 404 })

  assertReachedEveryOperation(t, reached)
  t.notMatch(prism.output(), /violation|✖|error /i, 'Prism logged no violation')
  t.equal(await server.stop(), 0)
})
