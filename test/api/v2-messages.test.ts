// API v2's messages through raw HTTP: an agent loop (user text, the assistant's reasoning and tool call with model
// and usage, the tool's result, the assistant's answer) stored and read back exactly by get_message, list_messages
// (whole and in pages) and create_messages; the conversation's usage, messageCount, lastMessageAt and updatedAt
// after every post and delete, and under concurrent posts and deletes.
import t, { type Test } from 'tap'
import { API_V2, startApp, until, v2Fixtures, type Reply, type Request, type V2Conversation, type V2Message, type V2NewMessage } from '../helper.js'

/** Waits until the clock that stamps writes (this process's: the app runs in it) is past `time`. */
const clockPast = (time: string) => until(`the clock to pass ${time}`, () => Date.now() > Date.parse(time))

// Every part type a turn of an agent holds, with arguments of every JSON kind, strings beyond ASCII and an
// output that is JSON text.
const AGENT_LOOP: V2NewMessage[] = [
  { role: 'user', content: 'What should I wear in Lisbon tomorrow? 🙂' },
  {
    role: 'assistant',
    parts: [
      { type: 'reasoning', text: 'The weather decides: ask the tool for tomorrow in Lisbon.' },
      {
        type: 'tool_call',
        id: 'call_7Qk2',
        name: 'get_weather',
        arguments: { city: 'Lisbon', days: 1, units: null, hours: [9, 12.5, -3, 0], metric: true, nested: { deep: [{ x: false, y: [] }], empty: {} }, 'clé ü/~': 'é🙂"\\\n' },
      },
    ],
    model: 'gpt-4o-2024-08-06',
    usage: { inputTokens: 412, outputTokens: 21 },
    metadata: { trace: 'run-1', step: '1' },
  },
  { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_7Qk2', output: '{"forecast":"sunny","high":24}', isError: false }] },
  {
    role: 'assistant',
    parts: [{ type: 'text', text: 'Sunny and 24°C.' }, { type: 'text', text: 'Light clothes, and a jacket for the evening.' }],
    model: 'gpt-4o-2024-08-06',
    usage: { inputTokens: 470, outputTokens: 96 },
  },
]

/** What v2 reads back of a message sent as `input`, its id, conversation and time aside. */
function expected (input: V2NewMessage) {
  const parts = input.parts ?? [{ type: 'text' as const, text: input.content! }]
  return {
    role: input.role,
    content: input.content ?? parts.flatMap((part) => part.type === 'text' ? [part.text] : []).join('\n'),
    parts,
    model: input.model ?? null,
    usage: input.usage ?? null,
    metadata: input.metadata ?? {},
  }
}

const withoutIdentity = ({ id: _, conversationId: __, createdAt: ___, ...rest }: V2Message) => rest

const sum = (messages: ReadonlyArray<{ usage?: { inputTokens: number, outputTokens: number } | null }>) => ({
  inputTokens: messages.reduce((total, { usage }) => total + (usage?.inputTokens ?? 0), 0),
  outputTokens: messages.reduce((total, { usage }) => total + (usage?.outputTokens ?? 0), 0),
})

const newest = (messages: readonly V2Message[]) => messages.length === 0 ? null : messages.map((m) => m.createdAt).sort().at(-1)!

async function conversation (request: Request, id: number): Promise<V2Conversation> {
  const reply = await request<V2Conversation>('GET', `${API_V2}/conversations/${id}`)
  if (reply.status !== 200) throw new Error(`GET conversation ${id} → ${reply.status}`)
  return reply.body
}

async function allMessages (request: Request, id: number): Promise<V2Message[]> {
  const reply = await request<V2Message[]>('GET', `${API_V2}/conversations/${id}/messages`)
  if (reply.status !== 200) throw new Error(`GET messages of ${id} → ${reply.status}`)
  return reply.body
}

/** Follows rel="next" links from `url`, returning every page. */
async function pages (t: Test, request: Request, url: string): Promise<V2Message[][]> {
  const found: V2Message[][] = []
  let next: string | undefined = url
  while (next !== undefined) {
    const reply: Reply<V2Message[]> = await request('GET', next)
    t.equal(reply.status, 200)
    found.push(reply.body)
    const link = reply.headers.link as string | undefined
    next = link === undefined ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1]
    if (link !== undefined) t.ok(next, `well-formed Link: ${link}`)
  }
  return found
}

t.test('an agent loop posted one message at a time is stored and read back exactly, the conversation in step after each post', async (t) => {
  const app = await startApp(t, { transport: 'http' })
  const { request } = app
  const v2 = v2Fixtures(request)
  const created = await v2.createConversation((await app.createUser()).id, { title: 'Lisbon' })
  t.strictSame({ messageCount: created.messageCount, usage: created.usage, lastMessageAt: created.lastMessageAt, messages: created.messages },
    { messageCount: 0, usage: { inputTokens: 0, outputTokens: 0 }, lastMessageAt: null, messages: [] })

  const posted: V2Message[] = []
  for (const input of AGENT_LOOP) {
    if (posted.length > 0) await clockPast(posted.at(-1)!.createdAt)
    const reply = await request<V2Message>('POST', `${API_V2}/conversations/${created.id}/messages`, { body: input })
    t.equal(reply.status, 201, `${input.role} message posted`)
    t.equal(reply.body.conversationId, created.id)
    t.strictSame(withoutIdentity(reply.body), expected(input), `the ${input.role} message comes back as sent`)
    posted.push(reply.body)

    const now = await conversation(request, created.id)
    t.strictSame({ messageCount: now.messageCount, usage: now.usage, lastMessageAt: now.lastMessageAt, updatedAt: now.updatedAt },
      { messageCount: posted.length, usage: sum(AGENT_LOOP.slice(0, posted.length)), lastMessageAt: reply.body.createdAt, updatedAt: reply.body.createdAt },
      `after ${posted.length} posts the conversation counts them, sums their usage and is as new as the last`)
  }
  t.equal(posted[1]!.content, '', 'a message of reasoning and a tool call has no text')
  t.equal(posted[3]!.content, 'Sunny and 24°C.\nLight clothes, and a jacket for the evening.', 'text parts joined by a newline')
  t.strictSame((await conversation(request, created.id)).usage, { inputTokens: 882, outputTokens: 117 })

  for (const message of posted) {
    const got = await request<V2Message>('GET', `${API_V2}/conversations/${created.id}/messages/${message.id}`)
    t.equal(got.status, 200)
    t.strictSame(got.body, message, `get_message reads message ${message.id} back exactly`)
  }
  t.strictSame(await allMessages(request, created.id), posted, 'list_messages reads the loop back exactly, in order')
  for (const limit of [1, 3, 4]) {
    const found = await pages(t, request, `${API_V2}/conversations/${created.id}/messages?limit=${limit}`)
    t.equal(found.length, Math.ceil(posted.length / limit))
    t.strictSame(found.flat(), posted, `pages of ${limit} join up to the loop`)
  }
  const listed = await request<V2Conversation[]>('GET', `${API_V2}/users/${created.userId}/conversations`)
  t.strictSame(listed.body, [await conversation(request, created.id)], 'list_conversations shows the same counters')
  const patched = await request<V2Conversation>('PATCH', `${API_V2}/conversations/${created.id}`, { body: { title: 'Lisbon tomorrow', metadata: { agent: 'weather' } } })
  t.equal(patched.status, 200)
  t.strictSame({ messageCount: patched.body.messageCount, usage: patched.body.usage, lastMessageAt: patched.body.lastMessageAt },
    { messageCount: 4, usage: { inputTokens: 882, outputTokens: 117 }, lastMessageAt: posted[3]!.createdAt }, 'a patch leaves the counters alone')
  t.strictSame(await conversation(request, created.id), patched.body)

  // The same loop as one create_messages: the same messages, in order, at one time.
  const other = await v2.createConversation(created.userId)
  const batch = await request<{ messages: V2Message[] }>('POST', `${API_V2}/conversations/${other.id}/messages/batch`, { body: { messages: AGENT_LOOP } })
  t.equal(batch.status, 201)
  t.strictSame(batch.body.messages.map(withoutIdentity), posted.map(withoutIdentity), 'create_messages stores the loop as the single posts did')
  t.ok(batch.body.messages.every((m) => m.conversationId === other.id && m.createdAt === batch.body.messages[0]!.createdAt))
  const ids = batch.body.messages.map((m) => m.id)
  t.strictSame(ids, [...ids].sort((a, b) => a - b), 'ids follow the request order')
  t.strictSame(await allMessages(request, other.id), batch.body.messages)
  const afterBatch = await conversation(request, other.id)
  t.strictSame({ messageCount: afterBatch.messageCount, usage: afterBatch.usage, lastMessageAt: afterBatch.lastMessageAt, updatedAt: afterBatch.updatedAt },
    { messageCount: 4, usage: { inputTokens: 882, outputTokens: 117 }, lastMessageAt: batch.body.messages[0]!.createdAt, updatedAt: batch.body.messages[0]!.createdAt })

  // And as create_conversation's initial messages.
  const whole = await request('POST', `${API_V2}/users/${created.userId}/conversations`, { body: { messages: AGENT_LOOP } })
  t.equal(whole.status, 201)
  t.strictSame(whole.body.messages.map(withoutIdentity), posted.map(withoutIdentity), 'create_conversation stores the loop as the single posts did')
  t.strictSame({ messageCount: whole.body.messageCount, usage: whole.body.usage, lastMessageAt: whole.body.lastMessageAt },
    { messageCount: 4, usage: { inputTokens: 882, outputTokens: 117 }, lastMessageAt: whole.body.createdAt })
  const { messages: _, ...wholeConversation } = whole.body
  t.strictSame(await conversation(request, whole.body.id), wholeConversation)
  t.strictSame(await allMessages(request, whole.body.id), whole.body.messages)
})

t.test('deletes take the message\'s usage off and move lastMessageAt back to the newest message left, null when none', async (t) => {
  const app = await startApp(t, { transport: 'http' })
  const { request } = app
  const v2 = v2Fixtures(request)
  const { id, userId } = await v2.createConversation((await app.createUser()).id)
  const posted: V2Message[] = []
  for (const input of AGENT_LOOP) {
    if (posted.length > 0) await clockPast(posted.at(-1)!.createdAt)
    posted.push(await v2.postMessage(id, input))
  }
  const [question, call, result, answer] = posted as [V2Message, V2Message, V2Message, V2Message]

  const remove = async (message: V2Message, left: V2Message[], what: string) => {
    const before = await conversation(request, id)
    await clockPast(before.updatedAt)
    const deleted = await request('DELETE', `${API_V2}/conversations/${id}/messages/${message.id}`)
    t.equal(deleted.status, 204, what)
    const after = await conversation(request, id)
    t.strictSame({ messageCount: after.messageCount, usage: after.usage, lastMessageAt: after.lastMessageAt },
      { messageCount: left.length, usage: sum(left), lastMessageAt: newest(left) }, `${what}: counters follow`)
    t.ok(after.updatedAt > before.updatedAt, `${what}: updatedAt moves`)
    t.strictSame(await allMessages(request, id), left, `${what}: the rest are untouched`)
    t.equal((await request('GET', `${API_V2}/conversations/${id}/messages/${message.id}`)).status, 404)
    const again = await request('DELETE', `${API_V2}/conversations/${id}/messages/${message.id}`)
    t.equal(again.status, 404, `${what}: deleting it again is a 404`)
    t.strictSame(await conversation(request, id), after, `${what}: and the 404 changed nothing`)
  }
  await remove(call, [question, result, answer], 'the tool call with usage deleted')
  await remove(answer, [question, result], 'the newest message deleted')
  t.equal((await conversation(request, id)).lastMessageAt, result.createdAt, 'lastMessageAt is the tool result\'s time again')
  await remove(result, [question], 'a message without usage deleted')
  await remove(question, [], 'the last message deleted')
  const empty = await conversation(request, id)
  t.strictSame({ usage: empty.usage, lastMessageAt: empty.lastMessageAt }, { usage: { inputTokens: 0, outputTokens: 0 }, lastMessageAt: null })

  // Empty again, it takes messages as a new one does.
  const again = await v2.postMessage(id, AGENT_LOOP[1]!)
  const now = await conversation(request, id)
  t.strictSame({ messageCount: now.messageCount, usage: now.usage, lastMessageAt: now.lastMessageAt }, { messageCount: 1, usage: { inputTokens: 412, outputTokens: 21 }, lastMessageAt: again.createdAt })
  t.equal((await request('GET', `${API_V2}/users/${userId}/conversations`)).body[0].lastMessageAt, again.createdAt)
})

t.test('a conversation\'s usage sums past int32: token counts at their bound, kept as 64-bit sums', async (t) => {
  const app = await startApp(t)
  const v2 = v2Fixtures(app.request)
  const max = 2147483647
  const created = await v2.createConversation((await app.createUser()).id, {
    messages: [{ role: 'assistant', content: 'one', usage: { inputTokens: max, outputTokens: max } }],
  })
  t.strictSame(created.usage, { inputTokens: max, outputTokens: max })
  const [second] = await v2.postMessages(created.id, [
    { role: 'assistant', content: 'two', usage: { inputTokens: max, outputTokens: 0 } },
    { role: 'assistant', content: 'three', usage: { inputTokens: max, outputTokens: 1 } },
  ])
  await v2.postMessage(created.id, { role: 'assistant', content: 'four', usage: { inputTokens: 0, outputTokens: max } })
  t.strictSame((await conversation(app.request, created.id)).usage, { inputTokens: 3 * max, outputTokens: 2 * max + 1 })
  t.equal((await app.request('DELETE', `${API_V2}/conversations/${created.id}/messages/${second!.id}`)).status, 204)
  t.strictSame((await conversation(app.request, created.id)).usage, { inputTokens: 2 * max, outputTokens: 2 * max + 1 })
  t.strictSame((await app.request('GET', `${API_V2}/users/${created.userId}/conversations`)).body[0].usage, { inputTokens: 2 * max, outputTokens: 2 * max + 1 })
})

t.test('concurrent create_message and create_messages with usage: counters exact, lastMessageAt the newest', async (t) => {
  const app = await startApp(t, { transport: 'http' })
  const { request } = app
  const v2 = v2Fixtures(request)
  const { id } = await v2.createConversation((await app.createUser()).id)
  const single = (i: number): V2NewMessage => ({ role: 'assistant', content: `single ${i}`, model: 'm', usage: { inputTokens: 1000 + i, outputTokens: 7 * i + 1 } })
  const turn = (i: number): V2NewMessage[] => [
    { role: 'assistant', parts: [{ type: 'tool_call', id: `call_${i}`, name: 'lookup', arguments: { i } }], usage: { inputTokens: 100 * i + 3, outputTokens: i } },
    { role: 'tool', parts: [{ type: 'tool_result', toolCallId: `call_${i}`, output: String(i) }] },
    { role: 'assistant', content: `answer ${i}`, usage: { inputTokens: 11, outputTokens: 13 * i } },
  ]
  const singles = Array.from({ length: 20 }, (_, i) => single(i))
  const turns = Array.from({ length: 20 }, (_, i) => turn(i))
  const replies = await Promise.all([
    ...singles.map((body) => request('POST', `${API_V2}/conversations/${id}/messages`, { body })),
    ...turns.map((messages) => request('POST', `${API_V2}/conversations/${id}/messages/batch`, { body: { messages } })),
  ])
  t.strictSame(replies.map((reply) => reply.status), replies.map(() => 201))

  const listed = await allMessages(request, id)
  t.equal(listed.length, 80)
  const now = await conversation(request, id)
  const every = [...singles, ...turns.flat()]
  t.strictSame({ messageCount: now.messageCount, usage: now.usage, lastMessageAt: now.lastMessageAt, updatedAt: now.updatedAt },
    { messageCount: 80, usage: sum(every), lastMessageAt: newest(listed), updatedAt: newest(listed) })
  t.strictSame(sum(listed), sum(every), 'every message kept its own usage')
  // Each batch kept its order and stayed whole, whatever the interleaving.
  for (const [i, reply] of replies.slice(20).entries()) {
    t.strictSame(reply.body.messages.map(withoutIdentity), turns[i]!.map(expected))
  }

  // Deletes of half of them racing posts of more: the counters still describe exactly what is left.
  const doomed = listed.filter((_, i) => i % 2 === 0)
  const more = Array.from({ length: 10 }, (_, i) => single(100 + i))
  const mixed = await Promise.all([
    ...doomed.map((message) => request('DELETE', `${API_V2}/conversations/${id}/messages/${message.id}`)),
    ...more.map((body) => request('POST', `${API_V2}/conversations/${id}/messages`, { body })),
  ])
  t.strictSame(mixed.map((reply) => reply.status), [...doomed.map(() => 204), ...more.map(() => 201)])
  const left = await allMessages(request, id)
  t.equal(left.length, 80 - 40 + 10)
  const after = await conversation(request, id)
  t.strictSame({ messageCount: after.messageCount, usage: after.usage, lastMessageAt: after.lastMessageAt },
    { messageCount: left.length, usage: sum(left), lastMessageAt: newest(left) }, 'deletes racing posts leave the counters of what is left')

  // Every message deleted at once, each twice: one 204 per message, and an empty conversation's counters.
  const statuses = await Promise.all(left.flatMap((message) => [1, 2].map(async () =>
    (await request('DELETE', `${API_V2}/conversations/${id}/messages/${message.id}`)).status)))
  t.equal(statuses.filter((status) => status === 204).length, left.length)
  t.equal(statuses.filter((status) => status === 404).length, left.length)
  const empty = await conversation(request, id)
  t.strictSame({ messageCount: empty.messageCount, usage: empty.usage, lastMessageAt: empty.lastMessageAt },
    { messageCount: 0, usage: { inputTokens: 0, outputTokens: 0 }, lastMessageAt: null }, 'concurrent deletes of every message leave no lastMessageAt')
})

t.test('concurrent deletes of the newest messages leave lastMessageAt at the newest one left', async (t) => {
  const app = await startApp(t, { transport: 'http' })
  const { request } = app
  const v2 = v2Fixtures(request)
  const { id } = await v2.createConversation((await app.createUser()).id)
  // Rounds of ten, each round later than the last: deleting a round at once must leave the previous round's time.
  const rounds: V2Message[][] = []
  for (let round = 0; round < 4; round++) {
    if (round > 0) await clockPast(rounds.at(-1)![0]!.createdAt)
    rounds.push(await v2.postMessages(id, Array.from({ length: 10 }, (_, i) => ({ role: 'user' as const, content: `r${round} m${i}`, usage: { inputTokens: 1, outputTokens: round } }))))
  }
  for (let round = 3; round >= 0; round--) {
    const statuses = await Promise.all(rounds[round]!.map(async (message) => (await request('DELETE', `${API_V2}/conversations/${id}/messages/${message.id}`)).status))
    t.strictSame(statuses, statuses.map(() => 204))
    const left = rounds.slice(0, round).flat()
    const now = await conversation(request, id)
    t.strictSame({ messageCount: now.messageCount, usage: now.usage, lastMessageAt: now.lastMessageAt },
      { messageCount: left.length, usage: sum(left), lastMessageAt: round === 0 ? null : rounds[round - 1]![0]!.createdAt }, `round ${round} deleted at once`)
  }
})
