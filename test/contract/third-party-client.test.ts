// The specs must suit generators nobody here wrote: clients made of each by @hey-api/openapi-ts (v1 and v2), and of
// v2 by openapi-typescript-codegen and by openapi-client-axios's typegen, with code that uses each as a client would
// (v2's: a part narrowed on its `type`, an agent's turn appended with create_messages), must pass `tsc --strict`.
// stores: none
import { execFile } from 'node:child_process'
import { symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { specPath } from '../../src/contract/spec.js'
import { tempDir, toolEnv } from '../helper.js'

const run = promisify(execFile)
const bin = (name: string) => join(projectRoot, 'node_modules', '.bin', name)

/** One generator's client of one spec: how it is made in a directory, the code that uses it, and how that compiles. */
interface GeneratedClient {
  name: string
  generate (dir: string): Promise<unknown>
  /** usage.ts */
  usage: string
  /** Beyond `--strict` and no @types packages: module settings as the generated code needs them. */
  compilerOptions: Record<string, unknown>
  include: string[]
}

// The fetch clients run on the web platform's globals (fetch, URLSearchParams, Headers), in browsers and Node.
const WEB = ['ES2022', 'DOM', 'DOM.Iterable']
/** For generated code whose relative imports name no file extension, as a bundler resolves them. */
const BUNDLER = { target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: WEB }

/** hey-api's fetch client of a spec, in client/. */
const heyApi = (spec: string) => async (dir: string) =>
  // An absolute path: the generator reads a bare relative one as a name in its online registry.
  await run(bin('openapi-ts'), ['--input', spec, '--output', join(dir, 'client'), '--client', '@hey-api/client-fetch', '--no-log-file'], {
    cwd: dir, timeout: 60_000, env: toolEnv(),
  })

// Code a client author would write against v1's generated SDK: each line leans on a type the spec makes.
const v1HeyApiUsage = `
import { createClient } from './client/client/index.js'
import { createConversation, createMessage, createUser, getUserById, listMessages, type ProblemErrorLocation } from './client/index.js'

const client = createClient({ baseUrl: 'http://localhost:8080/api/v1' })

export async function tour (): Promise<ProblemErrorLocation | number> {
  const created = await createUser({ client, body: { name: 'Ada', email: null } })
  if (created.error !== undefined) return created.error.errors?.[0]?.in ?? 'body'
  const user = (await getUserById({ client, path: { userId: created.data.id } })).data
  if (user === undefined) return 0
  // What a client reads, it may send back: email is null when the user has none.
  await createUser({ client, body: { name: user.name, email: user.email } })
  const conversation = await createConversation({ client, path: { userId: user.id }, body: { metadata: { model: 'gpt-4o' } } })
  if (conversation.data === undefined) return 0
  await createMessage({ client, path: { conversationId: conversation.data.id }, body: { role: 'user', content: 'Olá 🇵🇹' } })
  const page = await listMessages({ client, path: { conversationId: conversation.data.id }, query: { limit: 50 } })
  return page.data?.length ?? 0
}
`

/**
 * v2's discriminated union as client code reads it: narrowed on `type`, each member's own fields. The switch has no
 * default, so a part type the client did not know would leave the function without a return (TS2366).
 */
const describePart = `
export function describe (part: Part): string {
  switch (part.type) {
    case 'text':
    case 'reasoning':
    case 'refusal':
      return part.text
    case 'image':
      return part.mediaType === undefined ? part.url : \`\${part.url} (\${part.mediaType})\`
    case 'file':
      return part.name ?? part.url
    case 'tool_call':
      return \`\${part.name}(\${JSON.stringify(part.arguments)}) as \${part.id}\`
    case 'tool_result':
      return \`\${part.toolCallId}: \${part.isError === true ? 'failed: ' : ''}\${part.output}\`
  }
}
`

/** How a generator's client names a role, and whether it lets a nullable object (Usage) be null. */
interface Dialect { role: (name: string) => string, nullUsage: boolean }

/** Roles as string literals, the usage null: what the spec says, and most generators type. */
const PLAIN: Dialect = { role: (name) => `'${name}'`, nullUsage: true }

/** An agent's turn, as the body of create_messages: reasoning and a tool call (model, usage), its result, the answer. */
const agentTurn = ({ role, nullUsage }: Dialect) => `{
  messages: [
    {
      role: ${role('assistant')},
      parts: [
        { type: 'reasoning', text: 'The weather decides.' },
        { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Lisbon', days: 2, hourly: [true, null] } },
      ],
      model: 'gpt-4o',
      usage: { inputTokens: 412, outputTokens: 21 },
    },
    { role: ${role('tool')}, parts: [{ type: 'tool_result', toolCallId: 'call_1', output: '{"forecast":"sunny"}', isError: false }] },
    { role: ${role('assistant')}, content: 'Sunny: start in Alfama.', model: null,${nullUsage ? ' usage: null,' : ''} metadata: { finish: 'stop' } },
  ],
}`

/** The first messages of a conversation: instructions, and a question with an image. */
const firstMessages = ({ role }: Dialect) => `[
  { role: ${role('developer')}, content: 'Be brief.' },
  { role: ${role('user')}, parts: [{ type: 'text', text: 'Where is this?' }, { type: 'image', url: 'https://example.com/tram-28.png', mediaType: 'image/png' }] },
]`

const v2HeyApiUsage = `
import { createClient } from './client/client/index.js'
import { createConversation, createMessages, listMessages, type CreateMessagesRequest, type Part, type ProblemErrorLocation } from './client/index.js'

const client = createClient({ baseUrl: 'http://localhost:8080/api/v2' })
${describePart}
export async function turn (userId: number): Promise<string[] | ProblemErrorLocation> {
  const started = await createConversation({ client, path: { userId }, body: { messages: ${firstMessages(PLAIN)} } })
  if (started.error !== undefined) return started.error.errors?.[0]?.in ?? 'body'
  const body: CreateMessagesRequest = ${agentTurn(PLAIN)}
  const appended = await createMessages({ client, path: { conversationId: started.data.id }, body, headers: { 'Idempotency-Key': 'turn-1' } })
  if (appended.error !== undefined) return appended.error.errors?.[0]?.in ?? 'body'
  const tokens = appended.data.messages.reduce((sum, message) => sum + (message.usage?.outputTokens ?? 0), 0)
  const read = await listMessages({ client, path: { conversationId: started.data.id }, query: { limit: 50 } })
  return [...(read.data ?? []).flatMap((message) => message.parts.map(describe)), String(tokens)]
}
`

// openapi-typescript-codegen makes the Role enum a TypeScript enum, and types a reference to a nullable object schema
// (Usage) as never null (ferdikoomen/openapi-typescript-codegen issue 2030; the project is archived): its client
// cannot send a null usage, and reads one as an object.
const CODEGEN: Dialect = { role: (name) => `Role.${name.toUpperCase()}`, nullUsage: false }

const v2CodegenUsage = `
import { ApiError, ConversationsService, MessagesService, OpenAPI, Role, type CreateMessagesRequest, type Part } from './client/index'

OpenAPI.BASE = 'http://localhost:8080/api/v2'
${describePart}
export async function turn (userId: number): Promise<string[]> {
  try {
    const started = await ConversationsService.createConversation(userId, 'start-1', { messages: ${firstMessages(CODEGEN)} })
    const body: CreateMessagesRequest = ${agentTurn(CODEGEN)}
    const appended = await MessagesService.createMessages(started.id, body, 'turn-1')
    const tokens = appended.messages.reduce((sum, message) => sum + (message.usage?.outputTokens ?? 0), 0)
    const read = await MessagesService.listMessages(started.id, 50)
    return [...read.flatMap((message) => message.parts.map(describe)), String(tokens)]
  } catch (error) {
    if (error instanceof ApiError) return [String(error.status)]
    throw error
  }
}
`

// openapi-client-axios-typegen 7.8.0 types no parameter declared on a path item rather than on its operations (as
// every id of these specs is: openapistack/openapicmd pull request 78, open), so an operation's typed parameters
// object has only its own (an Idempotency-Key); its one path id is passed as the implicit value the client takes.
const v2AxiosUsage = `
import { OpenAPIClientAxios } from 'openapi-client-axios'
import type { Client, Components } from './client'

type Part = Components.Schemas.Part
${describePart}
const api = new OpenAPIClientAxios({ definition: 'http://localhost:8080/api/v2/openapi.json' })

export async function turn (userId: number): Promise<string[]> {
  const client = await api.getClient<Client>()
  const started = await client.create_conversation(userId, { messages: ${firstMessages(PLAIN)} })
  const body: Components.Schemas.CreateMessagesRequest = ${agentTurn(PLAIN)}
  const appended = await client.create_messages(started.data.id, body)
  const tokens = appended.data.messages.reduce((sum, message) => sum + (message?.usage?.outputTokens ?? 0), 0)
  const read = await client.list_messages(started.data.id)
  // Arrays with maxItems are typed as tuples of optional items.
  return [...read.data.flatMap((message) => message.parts.flatMap((part) => part === undefined ? [] : [describe(part)])), String(tokens)]
}
`

const clients: GeneratedClient[] = [
  {
    name: 'v1 by @hey-api/openapi-ts',
    generate: heyApi(specPath('v1')),
    usage: v1HeyApiUsage,
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: WEB },
    include: ['client/**/*.ts', 'usage.ts'],
  },
  {
    name: 'v2 by @hey-api/openapi-ts',
    generate: heyApi(specPath('v2')),
    usage: v2HeyApiUsage,
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: WEB },
    include: ['client/**/*.ts', 'usage.ts'],
  },
  {
    name: 'v2 by openapi-typescript-codegen',
    // Its entry point, not node_modules/.bin/openapi: @redocly/cli installs a command of that name too, and which of
    // the two the link names depends on the order npm happened to install them in.
    generate: async (dir) => await run(process.execPath, [join(projectRoot, 'node_modules', 'openapi-typescript-codegen', 'bin', 'index.js'), '--input', specPath('v2'), '--output', join(dir, 'client'), '--client', 'fetch'], { cwd: dir, timeout: 60_000, env: toolEnv() }),
    usage: v2CodegenUsage,
    compilerOptions: BUNDLER,
    include: ['client/**/*.ts', 'usage.ts'],
  },
  {
    name: 'v2 by openapi-client-axios-typegen, for openapi-client-axios',
    generate: async (dir) => {
      const { stdout } = await run(bin('typegen'), [specPath('v2')], { cwd: dir, timeout: 60_000, env: toolEnv(), maxBuffer: 64 * 1024 * 1024 })
      writeFileSync(join(dir, 'client.d.ts'), stdout)
    },
    usage: v2AxiosUsage,
    compilerOptions: BUNDLER,
    include: ['client.d.ts', 'usage.ts'],
  },
]

for (const client of clients) {
  t.test(`a client generated from ${client.name} passes tsc --strict`, async (t) => {
    const dir = tempDir(t)
    // The generated code and the usage import the client libraries (openapi-client-axios, axios) as installed here.
    symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'))
    await client.generate(dir)
    writeFileSync(join(dir, 'usage.ts'), client.usage)
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      // No @types packages: only the generated code, the usage, the client libraries and TypeScript's own lib are checked.
      compilerOptions: { ...client.compilerOptions, types: [] },
      include: client.include,
    }))
    const checked = await run(bin('tsc'), ['--noEmit', '--strict', '-p', join(dir, 'tsconfig.json')], { timeout: 110_000, env: toolEnv() })
      .then(() => '', (error: { stdout?: string, message: string }) => error.stdout || error.message)
    t.equal(checked, '', 'tsc --noEmit --strict reports nothing')
  })
}
