// `npm run db:migrate`: apply the committed migrations to DATABASE_URL, or DATABASE_DIRECT_URL when set (the
// server also does this at start).
import { ConfigError, loadConfig } from '../src/config.js'
import { migrateDatabase } from '../src/store/database.js'

try {
  const { databaseUrl, databaseDirectUrl } = loadConfig()
  const applied = await migrateDatabase(databaseDirectUrl ?? databaseUrl, { info: console.log, warn: console.warn })
  console.log(applied.length === 0 ? 'Database is up to date.' : `Applied ${applied.length} migration(s).`)
} catch (error) {
  console.error(error instanceof ConfigError ? `bad configuration: ${error.message}` : error)
  process.exitCode = 1
}
