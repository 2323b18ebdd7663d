// The rows the repositories return, typed from the spec. Each SELECT or RETURNING list is built from a
// column map: one SQL expression per property of an API schema (models.ts, generated from the spec), each
// selected under its property's name. The map is checked against the schema, so a property renamed, added,
// made optional or dropped in the spec fails to compile at its map, rather than passing the type check and
// failing at the serializer; and queryRows and rowsFromJson, next to the maps, are the only places a row's type
// is asserted.
import type { Prisma } from '../../generated/prisma/sqlite/client.js'
import { join, raw, sql, type Dialect, type Sql } from './dialect.js'
import type { Queryable } from './read-snapshots.js'

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
  /** The properties whose values are JSON (objects, arrays), which a row read as JSON embeds as JSON, not text. */
  readonly json: ReadonlyArray<keyof Row & string>
  readonly [rowType]?: Row
}

/**
 * Columns that select rows of type Row: `columns<Conversation>({ id: sql\`id\`, … }, ['metadata'])`. Built once
 * per repository, so queries pay nothing for it.
 */
export function columns<Row> (map: ColumnMap<Row>, json: ReadonlyArray<keyof Row & string> = []): Columns<Row> {
  const list = Object.entries<Sql>(map).map(([key, expression]) => {
    // The key goes into the SQL text as a quoted alias: only plain identifiers, as the spec's properties are.
    if (!/^[A-Za-z_]\w*$/.test(key)) throw new Error(`column alias ${JSON.stringify(key)} is not a plain identifier`)
    return sql`${expression} AS ${raw(`"${key}"`)}`
  })
  return { map, list: join(list, ', '), json }
}

/**
 * The rows of one statement built around `columns.list` (SELECT list, RETURNING list): the one place a
 * row's type is asserted, by the column map that guarantees it. A PrismaPromise, so it can also go in a
 * batch transaction; on a transaction's client (a snapshot's), it runs in that transaction.
 */
export function queryRows<Row> (prisma: Queryable, { list }: Columns<Row>, statement: (list: Sql) => Sql): Prisma.PrismaPromise<Row[]> {
  return prisma.$queryRaw<Row[]>(statement(list))
}

/**
 * Rows a keyed write stored with its Idempotency-Key (src/store/keyed-writes.ts), as the JSON the database made of
 * the rows `columns` selected: the same values as the rows themselves, so they are Row once they are seen to have
 * exactly the columns' properties. A key stored by a build whose columns differ fails here, loudly, instead of
 * answering with a body the spec no longer describes.
 */
export function rowsFromJson<Row> ({ map }: Columns<Row>, rows: unknown[]): Row[] {
  const names = Object.keys(map)
  for (const row of rows) {
    const fields = typeof row === 'object' && row !== null ? Object.keys(row) : []
    if (fields.length !== names.length || !names.every((name) => fields.includes(name))) {
      throw new Error(`rows stored with an Idempotency-Key have the columns ${fields.join(', ') || 'none'}, not ${names.join(', ')}`)
    }
  }
  return rows as Row[]
}

/**
 * `build` once per dialect: column sets and what keyed writes make of their rows are facts of the schema and the
 * dialect, so the repositories share them instead of building them again on the hot path.
 */
export function perDialect<T> (build: (dialect: Dialect) => T): (dialect: Dialect) => T {
  const built = new Map<Dialect, T>()
  return (dialect) => {
    let value = built.get(dialect)
    if (value === undefined) built.set(dialect, value = build(dialect))
    return value
  }
}

/**
 * For queries that ask only whether there are rows (does this one exist, did the DELETE take any): one constant
 * column, nothing read from a row.
 */
export const presenceColumns = columns<{ present: number }>({ present: sql`1` })
