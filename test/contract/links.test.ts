// The spec's links, as a stateful client (Schemathesis, a generated SDK's docs) follows them: from each create
// response to every operation on the new resource's id, each one working when followed.
import type { OpenAPIV3 } from 'openapi-types'
import t from 'tap'
import { dereferencedSpec } from '../contract.js'
import { API, startApp } from '../helper.js'
import { fillPath, specOperations, toUrl } from './spec-arbitraries.js'

const operations = new Map(specOperations().map((operation) => [operation.operationId, operation]))
const operation = (operationId: string) => {
  const found = operations.get(operationId)
  if (found === undefined) throw new Error(`no operation ${operationId}`)
  return found
}

function createdResponse (operationId: string): OpenAPIV3.ResponseObject {
  const { path, method } = operation(operationId)
  const item = dereferencedSpec.paths[path] as OpenAPIV3.PathItemObject
  return item[method.toLowerCase() as 'post']!.responses['201'] as OpenAPIV3.ResponseObject
}

const linksOf = (operationId: string) => Object.entries(createdResponse(operationId).links ?? {}) as Array<[string, OpenAPIV3.LinkObject]>

/** `$response.body#/id` read from a response body: the only runtime expression these links use. */
function evaluate (expression: unknown, body: Record<string, unknown>): unknown {
  const match = /^\$response\.body#\/(\w+)$/.exec(String(expression))
  if (match === null) throw new Error(`unexpected runtime expression ${String(expression)}`)
  return body[match[1]!]
}

const creates = ['create_user', 'create_conversation', 'create_message']

t.test('each link names an operation, its path parameter and a field every create response has', async (t) => {
  for (const from of creates) {
    const schema = createdResponse(from).content!['application/json']!.schema as OpenAPIV3.SchemaObject
    for (const [name, link] of linksOf(from)) {
      const target = operation(link.operationId!)
      t.same(Object.keys(link.parameters ?? {}), target.pathParams.map((parameter) => parameter.name), `${from} → ${name}: every path parameter of ${target.operationId}`)
      for (const expression of Object.values(link.parameters ?? {})) {
        const field = /^\$response\.body#\/(\w+)$/.exec(String(expression))?.[1]
        t.ok(field !== undefined && schema.required?.includes(field), `${from} → ${name}: ${String(expression)} is a required field`)
      }
    }
  }
})

t.test('a new user links to every operation on a userId, a new conversation to every one on a conversationId, a new message to every one on a messageId', async (t) => {
  const takingOnly = (name: string) => [...operations.values()]
    .filter((candidate) => candidate.pathParams.length === 1 && candidate.pathParams[0]!.name === name)
    .map((candidate) => candidate.operationId).sort()
  const targets = (from: string) => linksOf(from).map(([, link]) => link.operationId!).sort()
  t.same(targets('create_user'), takingOnly('userId'))
  t.same(targets('create_conversation'), takingOnly('conversationId'))
  const onAMessage = [...operations.values()].filter((candidate) => candidate.pathParams.some((parameter) => parameter.name === 'messageId'))
  t.ok(onAMessage.length > 0)
  for (const target of onAMessage) t.ok(targets('create_message').includes(target.operationId), `a new message links to ${target.operationId}`)
})

t.test('every link, followed from a real create response, leads to that resource and succeeds', async (t) => {
  const { request, createUser, createConversation, postMessage } = await startApp(t)
  // A fresh user, conversation and message for each link, so a delete followed cannot spoil the next link.
  const created = async (from: string): Promise<{ body: Record<string, unknown>, ids: Record<string, number> }> => {
    const user = await createUser()
    if (from === 'create_user') return { body: user, ids: { userId: user.id } }
    const conversation = await createConversation(user.id)
    const ids = { userId: user.id, conversationId: conversation.id }
    if (from === 'create_conversation') return { body: conversation, ids }
    const message = await postMessage(conversation.id)
    return { body: message, ids: { ...ids, messageId: message.id } }
  }
  for (const from of creates) {
    for (const [name, link] of linksOf(from)) {
      const { body, ids } = await created(from)
      const target = operation(link.operationId!)
      const values = Object.fromEntries(Object.entries(link.parameters ?? {}).map(([parameter, expression]) => [parameter, evaluate(expression, body)]))
      t.match(ids, values, `${from} → ${name} leads to the user, conversation or message just made`)
      // Operations that take a body are sent their schema's example, as a tool following the link would.
      const example = target.bodies.find((body) => body.mediaType === 'application/json')?.schema.example
      const reply = await request(target.method, toUrl(API, fillPath(target, values)), example === undefined ? {} : { body: example })
      t.ok(reply.status >= 200 && reply.status < 300, `${from} → ${name}: ${target.method} ${fillPath(target, values)} is ${reply.status}`)
    }
  }
})
