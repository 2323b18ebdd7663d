// Column lists that more than one repository selects: a row in the API's shape, whoever returns it.
import { sql, type Dialect } from './dialect.js'

/** A message row in the API's shape: posting a message and creating a conversation return it alike. */
export const messageColumns = (dialect: Dialect) =>
  sql`id, "conversationId", role, content, ${dialect.isoTime(sql`"createdAt"`)} AS "createdAt"`
