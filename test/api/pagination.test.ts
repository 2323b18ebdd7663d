// Pages: `limit` and the cursor of each list's Link header join up to the full list, and a cursor the server
// did not issue for that list is a 400.
import type { OpenAPIV3 } from 'openapi-types'
import t, { type Test } from 'tap'
import { decodeCursor } from '../../src/contract/cursor.js'
import { isConversationKey } from '../../src/store/conversations.js'
import { isMessageKey } from '../../src/store/messages.js'
import { dereferencedSpec } from '../contract.js'
import { API, startApp, type TestApp } from '../helper.js'

/** Follows rel="next" links from `url`, returning every page's items. */
async function walk (t: Test, request: TestApp['request'], url: string): Promise<{ pages: any[][], lastLink: unknown }> {
  const pages: any[][] = []
  let next: string | undefined = url
  let reply
  while (next !== undefined) {
    reply = await request('GET', next)
    t.equal(reply.status, 200)
    pages.push(reply.body)
    const link = reply.headers.link as string | undefined
    next = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1]
    if (link !== undefined) t.ok(next, `well-formed Link: ${link}`)
  }
  return { pages, lastLink: reply?.headers.link }
}

t.test('conversation pages join up to the full list, without duplicates', async (t) => {
  const { request, createUser, createConversation } = await startApp(t)
  const userId = (await createUser()).id
  // Created in one burst, many share an updatedAt, so the id tie-break is exercised.
  await Promise.all(Array.from({ length: 23 }, (_, i) => createConversation(userId, { title: `c${i}` })))
  const full = (await request('GET', `${API}/users/${userId}/conversations`)).body.map((c: any) => c.id)
  t.equal(full.length, 23)

  for (const limit of [1, 5, 10, 23, 1000]) {
    const { pages, lastLink } = await walk(t, request, `${API}/users/${userId}/conversations?limit=${limit}`)
    t.same(pages.flat().map((c) => c.id), full, `limit=${limit} joins up`)
    t.equal(pages.length, Math.max(1, Math.ceil(23 / limit)))
    t.ok(pages.every((page) => page.length <= limit))
    t.equal(lastLink, undefined, 'no Link on the last page')
  }
})

t.test('a conversation bumped between pages is not served twice', async (t) => {
  const { request, createUser, createConversation, postMessage } = await startApp(t)
  const userId = (await createUser()).id
  for (let i = 0; i < 6; i++) await createConversation(userId, { title: `c${i}` })
  const first = await request('GET', `${API}/users/${userId}/conversations?limit=3`)
  const next = /^<([^>]+)>/.exec(first.headers.link as string)?.[1] as string
  // Activity on a conversation already served moves it to the front, outside the remaining pages.
  await postMessage(first.body[2].id, { role: 'user', content: 'bump' })
  const second = await request('GET', next)
  const seen = [...first.body, ...second.body].map((c: any) => c.id)
  t.equal(new Set(seen).size, seen.length)
  t.equal(second.body.length, 3)
})

t.test('message pages join up, oldest first', async (t) => {
  const { request, createUser, createConversation } = await startApp(t)
  const messages = Array.from({ length: 12 }, (_, i) => ({ role: 'user' as const, content: `m${i}` }))
  const conversation = await createConversation((await createUser()).id, { messages })
  for (const limit of [1, 5, 12, 13]) {
    const { pages } = await walk(t, request, `${API}/conversations/${conversation.id}/messages?limit=${limit}`)
    t.same(pages.flat().map((m) => m.content), messages.map((m) => m.content), `limit=${limit}`)
  }
})

t.test('a cursor this server did not issue is a 400 naming the cursor', async (t) => {
  const { request, createUser, createConversation } = await startApp(t)
  const userId = (await createUser()).id
  for (const cursor of ['abc', Buffer.from(`${userId}.2.3.4`).toString('base64url'), Buffer.from('x.y').toString('base64url')]) {
    const reply = await request('GET', `${API}/users/${userId}/conversations?limit=2&cursor=${cursor}`)
    t.equal(reply.status, 400)
    t.match(reply.body.errors, [{ in: 'query', pointer: '/cursor' }])
  }
  const conversationId = (await createConversation(userId)).id
  const reply = await request('GET', `${API}/conversations/${conversationId}/messages?cursor=${Buffer.from(`${conversationId}.2.3`).toString('base64url')}`)
  t.equal(reply.status, 400)
})

t.test('a forged, foreign or garbage cursor is a 400 naming the cursor, never a 5xx', async (t) => {
  const { request, createUser, createConversation } = await startApp(t)
  const ada = (await createUser({ name: 'Ada' })).id
  const bob = (await createUser({ name: 'Bob' })).id
  const messages = [{ role: 'user' as const, content: 'a' }, { role: 'user' as const, content: 'b' }]
  const adas = (await createConversation(ada, { messages })).id
  const bobs = (await createConversation(bob, { messages })).id
  await createConversation(ada)
  const cursorOf = (link: unknown) => /[?&]cursor=([^&>]+)/.exec(link as string)?.[1] as string
  const adasConversationsCursor = cursorOf((await request('GET', `${API}/users/${ada}/conversations?limit=1`)).headers.link)
  const adasMessagesCursor = cursorOf((await request('GET', `${API}/conversations/${adas}/messages?limit=1`)).headers.link)
  // Each is good on its own list, so the refusals below are about the owner.
  t.equal((await request('GET', `${API}/users/${ada}/conversations?limit=1&cursor=${adasConversationsCursor}`)).status, 200)
  t.equal((await request('GET', `${API}/conversations/${adas}/messages?limit=1&cursor=${adasMessagesCursor}`)).status, 200)

  const b64 = (text: string) => Buffer.from(text).toString('base64url')
  const conversations = {
    'another user\'s cursor': adasConversationsCursor,
    'a timestamp past 8.64e15 ms': b64(`${bob}.8640000000000001.1`),
    'a timestamp past year 9999': b64(`${bob}.253402300800000.1`),
    'an id above 2^31-1': b64(`${bob}.1795543897123.2147483648`),
    'an id of 0': b64(`${bob}.1795543897123.0`),
    'a 16-digit id': b64(`${bob}.1795543897123.9007199254740991`),
    'no owner': b64('1795543897123.1'),
    'a message cursor': adasMessagesCursor,
    garbage: 'AAAA_-_-',
    'non-ASCII bytes': Buffer.from([0xff, 0xfe, 0x2e, 0x31]).toString('base64url'),
  }
  for (const [what, cursor] of Object.entries(conversations)) {
    const reply = await request('GET', `${API}/users/${bob}/conversations?limit=1&cursor=${cursor}`)
    t.equal(reply.status, 400, `list_conversations: ${what}`)
    t.match(reply.body.errors, [{ in: 'query', pointer: '/cursor' }])
  }
  const messagesCursors = {
    'another conversation\'s cursor': adasMessagesCursor,
    'an id above 2^31-1': b64(`${bobs}.2147483648`),
    'an id of 0': b64(`${bobs}.0`),
    'a 16-digit id': b64(`${bobs}.9007199254740991`),
    'a conversation cursor': b64(`${bobs}.1795543897123.1`),
    garbage: '____',
  }
  for (const [what, cursor] of Object.entries(messagesCursors)) {
    const reply = await request('GET', `${API}/conversations/${bobs}/messages?limit=1&cursor=${cursor}`)
    t.equal(reply.status, 400, `list_messages: ${what}`)
    t.match(reply.body.errors, [{ in: 'query', pointer: '/cursor' }])
  }
  // The bounds themselves are keys a list may serve.
  t.equal((await request('GET', `${API}/users/${bob}/conversations?limit=1&cursor=${b64(`${bob}.253402300799999.2147483647`)}`)).status, 200)
  t.equal((await request('GET', `${API}/conversations/${bobs}/messages?limit=1&cursor=${b64(`${bobs}.2147483647`)}`)).status, 200)
})

t.test("each list's cursor example in the spec is a cursor the server issues for that list", async (t) => {
  const cursorExample = (path: string): string => {
    const parameters = dereferencedSpec.paths[path]!.get!.parameters as OpenAPIV3.ParameterObject[]
    return parameters.find((parameter) => parameter.name === 'cursor')!.example
  }
  const conversationsCursor = cursorExample('/users/{userId}/conversations')
  const messagesCursor = cursorExample('/conversations/{conversationId}/messages')
  // Both are for the lists of id 1, as the Link example's path says.
  t.ok(decodeCursor(conversationsCursor, 1, isConversationKey), `${conversationsCursor} is a list_conversations cursor of user 1`)
  t.ok(decodeCursor(messagesCursor, 1, isMessageKey), `${messagesCursor} is a list_messages cursor of conversation 1`)
  const linkExample = (dereferencedSpec.components!.schemas!.LinkHeader as OpenAPIV3.SchemaObject).example as string
  t.equal(/[?&]cursor=([^&>]+)/.exec(linkExample)?.[1], conversationsCursor, 'the Link header example carries the same cursor')

  // And the server takes them, as a tool that sends the spec's examples does.
  const { request, createUser, createConversation } = await startApp(t)
  const userId = (await createUser()).id
  const conversationId = (await createConversation(userId)).id
  t.same([userId, conversationId], [1, 1], 'a fresh database numbers from 1')
  t.equal((await request('GET', `${API}/users/${userId}/conversations?limit=1&cursor=${conversationsCursor}`)).status, 200)
  t.equal((await request('GET', `${API}/conversations/${conversationId}/messages?limit=1&cursor=${messagesCursor}`)).status, 200)
})
