// A seeded database per run and a fresh copy of it for each server, so all start from identical rows: an SQLite file
// copied, or a PostgreSQL database made from the seeded one as its template. Seeded once per run, however many rounds.
import { join } from 'node:path'
import type { Run } from './bench.js'
import type { ServerName } from './report.js'
import { copySqlite, type Store } from './seed.js'

export interface Databases<Fixture> {
  fixture: Fixture
  /** A fresh copy for `server`: its URL. */
  copyFor (server: ServerName): Promise<string>
}

/**
 * `name` names the seeded database and its copies within the run; `fill` migrates and fills the empty database at a
 * URL; `prepare`, when given, runs on each PostgreSQL copy (by database name) before its server starts.
 */
export async function seededDatabases<Fixture> (run: Run, store: Store, name: string, fill: (url: string) => Promise<Fixture>,
  prepare?: (database: string) => Promise<void>): Promise<Databases<Fixture>> {
  if (store === 'sqlite') {
    const seeded = `file:${join(run.dir, `${name}.db`)}`
    const fixture = await fill(seeded)
    return {
      fixture,
      async copyFor (server) {
        const url = `file:${join(run.dir, `${name}-${server}.db`)}`
        copySqlite(seeded, url)
        return url
      },
    }
  }
  const template = `${run.prefix}_${name}`
  const fixture = await fill(await run.createDatabase(template))
  return {
    fixture,
    async copyFor (server) {
      // A database name is an unquoted identifier here: ours-jwt becomes ours_jwt.
      const database = `${template}_${server.replace(/-/g, '_')}`
      const url = await run.createDatabase(database, template)
      await prepare?.(database)
      return url
    },
  }
}
