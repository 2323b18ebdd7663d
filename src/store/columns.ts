// The rows the repositories return, typed from the spec. Each SELECT or RETURNING list is built from a
// column map: one SQL expression per property of an API schema (models.ts, generated from the spec), each
// selected under its property's name. The map is checked against the schema, so a property renamed, added,
// made optional or dropped in the spec fails to compile at its map, rather than passing the type check and
// failing at the serializer; and queryRows, next to the maps, is the one place a row's type is asserted.
import type { Prisma } from '../../generated/prisma/sqlite/client.js'
import { join, raw, sql, type Dialect, type Sql } from './dialect.js'
import type { Message } from './models.js'
import type { Db } from './transaction.js'

/**
 * One SQL expression for every property of Row, optional ones too (an optional property nothing selects
 * would silently go missing from every response), and no other (excess keys are refused in the literal).
 */
export type ColumnMap<Row> = { readonly [K in keyof Required<Row>]-?: Sql }

declare const rowType: unique symbol

/** A column map and the list it makes; Row is carried in the type only. */
export interface Columns<Row> {
  readonly map: ColumnMap<Row>
  /** `expr AS "key", …`, for a SELECT or RETURNING. */
  readonly list: Sql
  readonly [rowType]?: Row
}

/**
 * Columns that select rows of type Row: `columns<Conversation>({ id: sql\`id\`, … })`. Built once per
 * repository, so queries pay nothing for it.
 */
export function columns<Row> (map: ColumnMap<Row>): Columns<Row> {
  const list = Object.entries<Sql>(map).map(([key, expression]) => {
    // The key goes into the SQL text as a quoted alias: only plain identifiers, as the spec's properties are.
    if (!/^[A-Za-z_]\w*$/.test(key)) throw new Error(`column alias ${JSON.stringify(key)} is not a plain identifier`)
    return sql`${expression} AS ${raw(`"${key}"`)}`
  })
  return { map, list: join(list, ', ') }
}

/**
 * The rows of one statement built around `columns.list` (SELECT list, RETURNING list): the one place a
 * row's type is asserted, by the column map that guarantees it. A PrismaPromise, so it can also go in a
 * batch transaction.
 */
export function queryRows<Row> (prisma: Db, { list }: Columns<Row>, statement: (list: Sql) => Sql): Prisma.PrismaPromise<Row[]> {
  return prisma.$queryRaw<Row[]>(statement(list))
}

/** A message row in the API's shape: posting a message and creating a conversation return it alike. */
export const messageColumns = (dialect: Dialect) => columns<Message>({
  id: sql`id`,
  conversationId: sql`"conversationId"`,
  role: sql`role`,
  content: sql`content`,
  // Computed: formatted by the database.
  createdAt: dialect.isoTime(sql`"createdAt"`),
})

/** For "does this row exist" lookups: one constant column, nothing read from the row. */
export const found = columns<{ found: number }>({ found: sql`1` })
