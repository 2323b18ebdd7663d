// Keyset pages must seek an index, never scan or sort: then a page costs the same at any depth.
// Checked on the SQL Prisma really sends, with SQLite's EXPLAIN QUERY PLAN (no timing involved).
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import t from 'tap'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaClient } from '../../generated/prisma/sqlite/client.js'
import { readSpec, storeLimits } from '../../src/contract/spec.js'
import { migrateDatabase } from '../../src/store/database.js'
import { createRepositories, fullListsOn } from '../../src/store/repositories.js'
import { store, tempDir } from '../helper.js'

t.test('list pages are index seeks', { skip: store === 'sqlite' ? false : 'SQLite EXPLAIN' }, async (t) => {
  const file = join(tempDir(t), 'plans.db')
  await migrateDatabase(`file:${file}`, { info: () => {}, warn: () => {} })
  const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: file }), log: [{ emit: 'event', level: 'query' }] })
  t.teardown(() => prisma.$disconnect())
  const sent: Array<{ query: string, params: string }> = []
  prisma.$on('query', (event) => sent.push(event))
  const { users, conversations, messages } = createRepositories(prisma, 'sqlite', storeLimits(readSpec()), { fullLists: fullListsOn({ reader: prisma, provider: 'sqlite', snapshotLimit: 1 }) })

  const user = (await users.create({ name: 'Ada' }))!
  const conversation = (await conversations.create(user.id, { messages: [{ role: 'user', content: 'hi' }] }))!
  const db = new Sqlite(file, { readonly: true })
  t.teardown(() => db.close())

  const planOf = (table: string) => {
    const select = sent.findLast((event) => event.query.trimStart().startsWith('SELECT') && event.query.includes(`FROM "${table}"`))!
    const params = (JSON.parse(select.params) as unknown[]).map((value) => typeof value === 'boolean' ? Number(value) : value)
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
