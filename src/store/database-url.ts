// What a DATABASE_URL names: which store, and for SQLite which file. The one parser of these URLs; it
// loads no driver, so src/config.ts can check a URL at start and scripts can find a file with it.
import { resolve } from 'node:path'
import type { Provider } from './migrate/index.js'

export function providerOf (databaseUrl: string): Provider {
  return /^postgres(ql)?:/.test(databaseUrl) ? 'postgres' : 'sqlite'
}

/** `file:./data/trackbot.db` → an absolute path, relative paths from the working directory. */
export function sqliteFile (databaseUrl: string): string {
  return resolve(databaseUrl.replace(/^file:/, '').replace(/\?.*$/, ''))
}
