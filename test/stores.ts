// Which stores a test file runs on, read from the file itself: a line `// stores: sqlite`, `// stores: postgres`
// or `// stores: none` (it touches no store: runs once). A file without one runs on both stores. The runner
// (scripts/test.ts) and the helper (which refuses a run on an undeclared store) both read it here.
import type { Provider } from '../src/store/migrate/index.js'

export const PROVIDERS: readonly Provider[] = ['sqlite', 'postgres']

const DECLARATION = /^\/\/ stores: (none|(?:sqlite|postgres)(?:, (?:sqlite|postgres))*)$/m

export function declaredStores (source: string): Provider[] | 'none' {
  const match = DECLARATION.exec(source)
  if (match === null) return [...PROVIDERS]
  return match[1] === 'none' ? 'none' : match[1]!.split(', ') as Provider[]
}

/** The environment variables naming each store's pre-migrated template (an SQLite file, a PostgreSQL database). */
export const TEMPLATE_ENV: Record<Provider, string> = {
  sqlite: 'TRACKBOT_TEST_SQLITE_TEMPLATE',
  postgres: 'TRACKBOT_TEST_POSTGRES_TEMPLATE',
}
