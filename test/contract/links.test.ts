// Each contract version's links, as a stateful client (Schemathesis, a generated SDK's docs) follows them: from each
// create response to every operation on the new resource's id, each one working when followed.
import type { OpenAPIV3 } from 'openapi-types'
import t from 'tap'
import { CONTRACT_VERSIONS } from '../../src/contract/spec.js'
import { contracts, requiredQuery } from '../contract.js'
import { startApp, type Request } from '../helper.js'
import { fillPath, specOperations, toUrl, type SpecOperation } from './spec-arbitraries.js'

/** `$response.body#/messages/0/id`: the only runtime expressions these links use, a JSON pointer into the body. */
const RESPONSE_BODY = /^\$response\.body#((?:\/[\w-]+)+)$/

function pointerOf (expression: unknown): string[] {
  const match = RESPONSE_BODY.exec(String(expression))
  if (match === null) throw new Error(`unexpected runtime expression ${String(expression)}`)
  return match[1]!.slice(1).split('/')
}

/** The value an expression names in a response body. */
const evaluate = (expression: unknown, body: unknown): unknown =>
  pointerOf(expression).reduce<unknown>((node, token) => (node as Record<string, unknown> | undefined)?.[token], body)

/** Whether every body the schema allows has a value where `tokens` point: required properties, and items an array must have. */
function alwaysHas (schema: OpenAPIV3.SchemaObject, tokens: string[]): boolean {
  if (tokens.length === 0) return true
  const [token, ...rest] = tokens as [string, ...string[]]
  if (schema.type === 'array') return /^\d+$/.test(token) && Number(token) < (schema.minItems ?? 0) && alwaysHas(schema.items as OpenAPIV3.SchemaObject, rest)
  const property = schema.properties?.[token] as OpenAPIV3.SchemaObject | undefined
  return property !== undefined && schema.required?.includes(token) === true && alwaysHas(property, rest)
}

/** The rows a test makes to follow links from, by the create that makes them: ids made so far in, the create's body out. */
type Maker = (request: Request, basePath: string, ids: Record<string, number>) => Promise<unknown>

async function created (request: Request, url: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  const reply = await request('POST', url, { body, headers })
  if (reply.status !== 201) throw new Error(`POST ${url} → ${reply.status}, not 201: ${reply.text}`)
  return reply.body
}

const makers: Record<string, Maker> = {
  create_user: (request, basePath) => created(request, `${basePath}/users`, { name: 'Ada' }),
  create_conversation: (request, basePath, { userId }) => created(request, `${basePath}/users/${userId}/conversations`, { messages: [{ role: 'user', content: 'hi' }] }),
  create_message: (request, basePath, { conversationId }) => created(request, `${basePath}/conversations/${conversationId}/messages`, { role: 'user', content: 'hello' }),
  create_messages: (request, basePath, { conversationId }) =>
    created(request, `${basePath}/conversations/${conversationId}/messages/batch`, { messages: [{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi!' }] }),
  fork_conversation: (request, basePath, { conversationId }) => created(request, `${basePath}/conversations/${conversationId}/fork`, {}),
  import_user_data: (request, basePath, { userId }) => created(request, `${basePath}/users/${userId}/import`, [{ title: 'imported', messages: [{ role: 'user', parts: [{ type: 'text', text: 'hi' }] }] }], { 'content-type': 'application/x-ndjson' }),
}

for (const version of CONTRACT_VERSIONS) {
  const { basePath, dereferencedSpec } = contracts[version]
  const operations = new Map(specOperations(version).map((operation) => [operation.operationId, operation]))
  const operation = (operationId: string): SpecOperation => {
    const found = operations.get(operationId)
    if (found === undefined) throw new Error(`${version} has no operation ${operationId}`)
    return found
  }
  const createdResponse = ({ path, method }: SpecOperation): OpenAPIV3.ResponseObject | undefined =>
    (dereferencedSpec.paths[path] as OpenAPIV3.PathItemObject)[method.toLowerCase() as 'post']!.responses['201'] as OpenAPIV3.ResponseObject | undefined
  // Every operation answering 201 creates something, and links to what may be done with it.
  const creates = [...operations.values()].filter((candidate) => createdResponse(candidate) !== undefined).map((candidate) => candidate.operationId)
  const linksOf = (operationId: string) => Object.entries(createdResponse(operation(operationId))!.links ?? {}) as Array<[string, OpenAPIV3.LinkObject]>
  /** The path parameter naming what a create makes: the one its links fill from an `id` of the response. */
  const madeBy = (operationId: string): string[] => [...new Set(linksOf(operationId).flatMap(([, link]) =>
    Object.entries(link.parameters ?? {}).flatMap(([parameter, expression]) => pointerOf(expression).at(-1) === 'id' ? [parameter] : [])))]

  t.test(`${version}: each link names an operation, its path parameters and fields every create response has`, async (t) => {
    t.ok(creates.length > 0, `${version} has creates`)
    for (const from of creates) {
      t.ok(linksOf(from).length > 0, `${from} has links`)
      const schema = createdResponse(operation(from))!.content!['application/json']!.schema as OpenAPIV3.SchemaObject
      for (const [name, link] of linksOf(from)) {
        const target = operation(link.operationId!)
        t.same(Object.keys(link.parameters ?? {}).sort(), target.pathParams.map((parameter) => parameter.name).sort(), `${from} → ${name}: every path parameter of ${target.operationId}`)
        for (const expression of Object.values(link.parameters ?? {})) {
          t.ok(alwaysHas(schema, pointerOf(expression)), `${from} → ${name}: ${String(expression)} is in every response`)
        }
      }
    }
  })

  t.test(`${version}: each create links to every operation on the id it makes`, async (t) => {
    for (const from of creates) {
      const made = madeBy(from)
      t.equal(made.length, 1, `${from}'s links name one thing it makes (${made.join(', ')})`)
      // The operations on that thing: those whose path ends with it.
      const on = [...operations.values()].filter((candidate) => candidate.pathParams.at(-1)?.name === made[0]).map((candidate) => candidate.operationId)
      t.ok(on.length > 0)
      const targets = linksOf(from).map(([, link]) => link.operationId!)
      for (const target of on) t.ok(targets.includes(target), `${from} links to ${target}`)
    }
  })

  t.test(`${version}: every link, followed from a real create response, leads to that resource and succeeds`, async (t) => {
    const { request } = await startApp(t)
    // A fresh user, conversation and message for each link, so a delete followed cannot spoil the next link.
    const make = async (from: string): Promise<{ body: unknown, ids: Record<string, number> }> => {
      const maker = makers[from]
      if (maker === undefined) throw new Error(`no way to make what ${version}'s ${from} makes: add one to makers`)
      const ids: Record<string, number> = {}
      for (const { name } of operation(from).pathParams) {
        const creator = creates.find((candidate) => madeBy(candidate)[0] === name && operation(candidate).pathParams.every((parameter) => parameter.name !== name))
        if (creator === undefined) throw new Error(`no create makes ${name}`)
        const made = await make(creator)
        Object.assign(ids, made.ids)
      }
      const body = await maker(request, basePath, ids)
      // What the create made, by the expression its links read it with.
      for (const [, link] of linksOf(from)) {
        for (const [parameter, expression] of Object.entries(link.parameters ?? {})) {
          if (pointerOf(expression).at(-1) === 'id') ids[parameter] = evaluate(expression, body) as number
        }
      }
      return { body, ids }
    }
    for (const from of creates) {
      for (const [name, link] of linksOf(from)) {
        const { body, ids } = await make(from)
        const target = operation(link.operationId!)
        const values = Object.fromEntries(Object.entries(link.parameters ?? {}).map(([parameter, expression]) => [parameter, evaluate(expression, body)]))
        t.match(ids, values, `${from} → ${name} leads to the user, conversation or message just made`)
        // Operations that take a body are sent their schema's example, and required query parameters theirs, as a tool
        // following the link would.
        const sent = target.bodies.find((candidate) => candidate.mediaType === 'application/json') ?? target.bodies[0]
        const query = requiredQuery(contracts[version].specOperations.find((candidate) => candidate.operationId === target.operationId)!)
        const reply = await request(target.method, toUrl(basePath, fillPath(target, values), query),
          sent?.schema.example === undefined ? {} : { body: sent.schema.example, headers: { 'content-type': sent.mediaType } })
        t.ok(reply.status >= 200 && reply.status < 300, `${from} → ${name}: ${target.method} ${fillPath(target, values)} is ${reply.status} ${reply.status < 300 ? '' : reply.text}`)
      }
    }
  })
}
