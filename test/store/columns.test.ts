// Column maps type the data path from the spec. The `@ts-expect-error` lines are the proof that a map out
// of step with its schema does not compile: the first test compiles this file without them and fails if any
// of those lines compiles (as `npx tsc --noEmit -p .` would). The tests below check what the maps turn into
// at run time.
// stores: none
import t from 'tap'
import { columns, queryRows, type Columns } from '../../src/store/columns.js'
import type { PrismaClient } from '../../src/store/database.js'
import { dialectOf, sql, type Sql } from '../../src/store/dialect.js'
import type { V1Shapes } from '../../src/store/models.js'
import { v1View } from '../../src/store/views.js'

type Conversation = V1Shapes['Conversation']
type Message = V1Shapes['Message']
const messageColumns = (dialect: ReturnType<typeof dialectOf>) => v1View(dialect, 32768).message
import { assertExpectedTypeErrors } from '../contract/expected-type-errors.js'

const stored = {
  id: sql`id`,
  userId: sql`"userId"`,
  title: sql`title`,
  metadata: sql`metadata`,
  createdAt: sql`"createdAt"`,
  updatedAt: sql`"updatedAt"`,
}

columns<Conversation>({ ...stored, messageCount: sql`"messageCount"` })

// @ts-expect-error -- TS2741: missing a required property (messageCount): every response would lack it
columns<Conversation>({ ...stored })

// @ts-expect-error -- TS2561: a misspelled property (messageCnt) is refused, and messageCount is then missing
columns<Conversation>({ ...stored, messageCnt: sql`"messageCount"` })

// @ts-expect-error -- TS2353: an extra property the schema does not have
columns<Conversation>({ ...stored, messageCount: sql`"messageCount"`, deletedAt: sql`"deletedAt"` })

// @ts-expect-error -- TS2741: an optional property must be selected too, or it silently goes missing
columns<{ id: number, note?: string }>({ id: sql`id` })

// @ts-expect-error -- TS2322: every entry is SQL, not a value computed in JS per row
columns<{ id: number }>({ id: 1 })

// @ts-expect-error -- TS2322: the same keys with other value types are other rows
columns<{ id: number }>({ id: sql`id` }) satisfies Columns<{ id: string }>

t.test('a column map out of step with its row type does not compile', async (t) => {
  assertExpectedTypeErrors(t, 'test/store/columns.test.ts')
})

/** A client that records the statements it is given and answers with `rows`. */
function recorder (rows: unknown[]) {
  const sent: Sql[] = []
  const prisma = { $queryRaw: (query: Sql) => { sent.push(query); return Promise.resolve(rows) } } as unknown as PrismaClient
  return { prisma, sent }
}

t.test('a column map selects each expression under its property name', async (t) => {
  const message = messageColumns(dialectOf('sqlite'))
  t.equal(message.list.sql,
    'id AS "id", "conversationId" AS "conversationId", substr("createdAt", 1, 23) || \'Z\' AS "createdAt", ' +
    'CASE role WHEN \'developer\' THEN \'system\' WHEN \'tool\' THEN \'user\' ELSE role END AS "role", ' +
    'CASE WHEN content = \'\' THEN \'[\' || (SELECT group_concat(json_extract(e.value, \'$.type\'), \', \') FROM json_each(parts) AS e) || \']\' ' +
    'ELSE substr(content, 1, 32768) END AS "content"')
  t.same(Object.keys(message.map), ['id', 'conversationId', 'createdAt', 'role', 'content'])
})

t.test('only plain identifiers become aliases', async (t) => {
  t.throws(() => columns<{ 'a" FROM x; --': number }>({ 'a" FROM x; --': sql`1` }), /not a plain identifier/)
})

t.test('queryRows sends the statement built around the list, and types rows by the columns', async (t) => {
  const message = messageColumns(dialectOf('postgres'))
  const { prisma, sent } = recorder([{ id: 1 }])
  const rows = await queryRows(prisma, message, (list) => sql`SELECT ${list} FROM "Message" WHERE id = ${1}`)
  t.same(rows, [{ id: 1 }])
  t.equal(sent.length, 1)
  t.equal(sent[0]!.text, `SELECT ${message.list.text} FROM "Message" WHERE id = $1`)
  t.same(sent[0]!.values, [1])

  // The row type comes from the columns alone (no contextual type to infer it from): Message, not any, which
  // would satisfy both (the first test fails if the second line compiles).
  void (rows satisfies Message[])
  // @ts-expect-error -- TS2739: message columns make Message rows, never Conversation rows
  void (rows satisfies Conversation[])
})
