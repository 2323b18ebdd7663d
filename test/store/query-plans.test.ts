// Keyset pages must seek an index, never scan or sort: then a page costs the same at any depth.
// Checked on the SQL Prisma really sends, with SQLite's EXPLAIN QUERY PLAN and PostgreSQL's EXPLAIN (no timing
// involved).
import Sqlite from 'better-sqlite3'
import pg from 'pg'
import t from 'tap'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient as PostgresClient } from '../../generated/prisma/postgres/client.js'
import { PrismaClient } from '../../generated/prisma/sqlite/client.js'
import { storeLimits } from '../../src/contract/spec.js'
import { EXPIRY_PASSED } from '../../src/store/conversations.js'
import { UnknownToolCall } from '../../src/store/stored-messages.js'
import { sqliteFile } from '../../src/store/database-url.js'
import type { Provider } from '../../src/store/migrate/index.js'
import { createRepositories, fullListsOn } from '../../src/store/repositories.js'
import { runSql, store, testDatabaseUrl } from '../helper.js'

/** A create's conversation, which these plain creates always make. */
function created<T> (value: T | UnknownToolCall | typeof EXPIRY_PASSED | null): T {
  if (value === null || value === EXPIRY_PASSED || value instanceof UnknownToolCall) throw new Error('the create made no conversation')
  return value
}

interface Sent { query: string, params: string }

function repositoriesOn (prisma: PrismaClient, provider: Provider) {
  return createRepositories(prisma, provider, storeLimits(), { fullLists: fullListsOn({ reader: prisma, provider, snapshotLimit: 1 }) }).v2
}

/** The last SELECT Prisma sent on `table`, with its parameters. */
function lastSelect (sent: Sent[], table: string): { query: string, params: unknown[] } {
  const select = sent.findLast((event) => event.query.trimStart().startsWith('SELECT') && event.query.includes(`FROM "${table}"`))
  if (select === undefined) throw new Error(`no SELECT on ${table} among the ${sent.length} queries sent`)
  return { query: select.query, params: JSON.parse(select.params) as unknown[] }
}

t.test('list pages are index seeks', { skip: store === 'sqlite' ? false : 'SQLite EXPLAIN' }, async (t) => {
  const file = sqliteFile(await testDatabaseUrl(t))
  const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: file }), log: [{ emit: 'event', level: 'query' }] })
  t.teardown(() => prisma.$disconnect())
  const sent: Sent[] = []
  prisma.$on('query', (event) => sent.push(event))
  const { users, conversations, messages } = repositoriesOn(prisma, 'sqlite')

  const user = (await users.create({ name: 'Ada' }))!
  const conversation = created(await conversations.create(user.id, { messages: [{ role: 'user', content: 'hi' }] }))
  const db = new Sqlite(file, { readonly: true })
  t.teardown(() => db.close())

  const planOf = (table: string) => {
    const select = lastSelect(sent, table)
    const params = select.params.map((value) => typeof value === 'boolean' ? Number(value) : value)
    return db.prepare(`EXPLAIN QUERY PLAN ${select.query}`).all(...params).map((row: any) => row.detail).join('; ')
  }

  await conversations.listByUser(user.id, { limit: 50, after: [Date.now(), conversation.id] })
  const conversationPlan = planOf('Conversation')
  t.match(conversationPlan, /SEARCH (main\.)?Conversation USING (COVERING )?INDEX Conversation_userId_updatedAt_id_idx \(userId=\? AND updatedAt<\?\)/)
  t.notMatch(conversationPlan, /SCAN|TEMP B-TREE/)

  await messages.listByConversation(conversation.id, { limit: 50, after: [conversation.messages[0]!.id] })
  const messagePlan = planOf('Message')
  t.match(messagePlan, /SEARCH (main\.)?Message USING (COVERING )?INDEX Message_conversationId_id_idx \(conversationId=\? AND id>\?\)/)
  t.notMatch(messagePlan, /SCAN|TEMP B-TREE/)
})

t.test('a search reads the index and looks each hit up by id: no message or conversation is scanned', { skip: store === 'sqlite' ? false : 'SQLite EXPLAIN' }, async (t) => {
  const file = sqliteFile(await testDatabaseUrl(t))
  const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: file }), log: [{ emit: 'event', level: 'query' }] })
  t.teardown(() => prisma.$disconnect())
  const sent: Sent[] = []
  prisma.$on('query', (event) => sent.push(event))
  const { users, conversations, search } = repositoriesOn(prisma, 'sqlite')
  const user = (await users.create({ name: 'Ada' }))!
  created(await conversations.create(user.id, { title: 'tram', messages: [{ role: 'user', content: 'tram 28' }, { role: 'user', content: 'tram 15' }] }))
  const db = new Sqlite(file, { readonly: true })
  t.teardown(() => db.close())

  for (const filters of [{}, { role: 'user' as const, since: '2026-01-01T00:00:00.000Z' }]) {
    const page = await search.search(user.id, 'tram', filters, { limit: 1 })
    await search.search(user.id, 'tram', filters, { limit: 1, after: page!.next! })
    const select = lastSelect(sent, 'SearchIndex')
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${select.query}`).all(...select.params).map((row: any) => row.detail).join('; ')
    t.match(plan, /SCAN (main\.)?SearchIndex VIRTUAL TABLE INDEX 0:M/, `the FTS5 index answers the match (${plan})`)
    t.notMatch(plan, /SCAN (main\.)?(Message|Conversation|m|c|t)\b|MATERIALIZE/, `nothing else is read whole (${plan})`)
  }
})

/** Every node of a PostgreSQL JSON plan, depth first. */
function nodesOf (plan: any): any[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)]
}

/** A plan node as one line: its type, index, direction and conditions. */
function describe (node: any): string {
  return [node['Node Type'], node['Index Name'], node['Scan Direction'], node['Index Cond'], node.Filter].filter((part) => part !== undefined).join(' ')
}

t.test('PostgreSQL list pages are index scans on their index, without a sort', { skip: store === 'postgres' ? false : 'PostgreSQL EXPLAIN' }, async (t) => {
  const url = await testDatabaseUrl(t)
  const prisma = new PostgresClient({ adapter: new PrismaPg({ connectionString: url }), log: [{ emit: 'event', level: 'query' }] })
  t.teardown(() => prisma.$disconnect())
  const sent: Sent[] = []
  prisma.$on('query', (event) => sent.push(event))
  // Both generated clients come from the same models (src/store/database.ts types them alike).
  const { users, conversations, messages } = repositoriesOn(prisma as unknown as PrismaClient, 'postgres')

  const user = (await users.create({ name: 'Ada' }))!
  const conversation = created(await conversations.create(user.id, { messages: [{ role: 'user', content: 'hi' }] }))
  // Enough rows, spread over many users and conversations, that a scan or a sort costs the planner more than the
  // index would; then statistics, as autovacuum would gather them.
  await runSql(url, `
    INSERT INTO "User" (name, "createdAt") SELECT 'user ' || i, now() FROM generate_series(1, 200) AS i;
    INSERT INTO "Conversation" ("userId", metadata, "createdAt", "updatedAt")
      SELECT u.id, '{}', now(), now() - i * interval '1 minute' FROM "User" AS u, generate_series(1, 20) AS i;
    INSERT INTO "Message" ("conversationId", role, content, "createdAt")
      SELECT c.id, 'user', 'message ' || i, now() FROM "Conversation" AS c, generate_series(1, 10) AS i;
    ANALYZE`)

  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  /** The plans PostgreSQL makes of the last SELECT on `table`: for its parameters, and the generic one a prepared statement may switch to. */
  const plansOf = async (table: string): Promise<Record<string, any[]>> => {
    const { query, params } = lastSelect(sent, table)
    const [custom] = (await client.query(`EXPLAIN (FORMAT JSON) ${query}`, params)).rows
    await client.query(`PREPARE listed AS ${query}`)
    await client.query('SET plan_cache_mode = force_generic_plan')
    const values = params.map((value) => value === null ? 'NULL' : client.escapeLiteral(String(value)))
    const [generic] = (await client.query(`EXPLAIN (FORMAT JSON) EXECUTE listed (${values.join(', ')})`)).rows
    await client.query('RESET plan_cache_mode; DEALLOCATE listed')
    return { 'for its parameters': nodesOf(custom['QUERY PLAN'][0].Plan), generic: nodesOf(generic['QUERY PLAN'][0].Plan) }
  }
  /** `liveProbe`: the list first checks, once, that its conversation is live (src/store/expiry.ts): a lookup of its primary key, run as an InitPlan. */
  const checkPlans = (plans: Record<string, any[]>, index: string, seek: RegExp, liveProbe = false) => {
    for (const [which, nodes] of Object.entries(plans)) {
      const plan = nodes.map(describe).join('; ')
      const probes = nodes.filter((node) => node['Index Name'] === 'Conversation_pkey' && node['Parent Relationship'] === 'InitPlan')
      t.equal(probes.length, liveProbe ? 1 : 0, `${which}: ${liveProbe ? 'one' : 'no'} look-up of the conversation, once (${plan})`)
      const scans = nodes.filter((node) => /Scan/.test(node['Node Type']) && !probes.includes(node))
      t.same(scans.map((node) => [node['Node Type'], node['Index Name']]), [['Index Scan', index]], `${which}: one index scan, on ${index} (${plan})`)
      t.match(scans[0]?.['Index Cond'], seek, `${which}: the keyset is a seek of the index, not a filter (${plan})`)
      t.notOk(nodes.some((node) => /Sort/.test(node['Node Type'])), `${which}: no sort (${plan})`)
    }
  }

  const first = await conversations.listByUser(user.id, { limit: 5 })
  t.ok(first?.next, 'a first page with more after it')
  await conversations.listByUser(user.id, { limit: 5, after: first!.next! })
  checkPlans(await plansOf('Conversation'), 'Conversation_userId_updatedAt_id_idx', /"userId" = .*"updatedAt" <= /)

  const firstMessages = await messages.listByConversation(conversation.id, { limit: 5 })
  t.ok(firstMessages !== null, 'the conversation exists')
  await messages.listByConversation(conversation.id, { limit: 5, after: [conversation.messages[0]!.id] })
  checkPlans(await plansOf('Message'), 'Message_conversationId_id_idx', /"conversationId" = .*id > /, true)
})
