// `npm run db:migration:new`: on a scratch copy of prisma/ (--prisma-dir), a model change becomes the
// migration SQL each store needs, and no change writes nothing. The real prisma/ is never touched.
// It runs the default (every provider, each in a process of its own), whose PostgreSQL half replays the
// migrations in scratch databases on TEST_DATABASE_URL's server: so on the PostgreSQL pass only.
// stores: postgres
import { createHash } from 'node:crypto'
import { cpSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import t, { type Test } from 'tap'
import { projectRoot } from '../../src/project-root.js'
import type { Provider } from '../../src/store/migrate/index.js'
import { runScript, TEST_DATABASE_URL, tempDir } from '../helper.js'

const providers: Provider[] = ['sqlite', 'postgres']

/** What `prisma migrate dev --create-only` writes for the column the test adds (Prisma pads PostgreSQL's). */
const ADD_LOCALE_SQL: Record<Provider, string> = {
  sqlite: '-- AlterTable\nALTER TABLE "User" ADD COLUMN "locale" TEXT;\n',
  postgres: '-- AlterTable\nALTER TABLE "User" ADD COLUMN     "locale" TEXT;\n',
}

/** Every file under a folder with a hash of its content (symlinks followed), to show nothing changed. */
function tree (dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory()) continue
    const file = join(entry.parentPath, entry.name)
    files[relative(dir, file)] = createHash('sha256').update(readFileSync(file)).digest('hex')
  }
  return files
}

/** A copy of prisma/ in a temp dir; its providers' models.prisma links point at the copy's models.prisma. */
function scratchPrisma (t: Test): string {
  const prismaDir = join(tempDir(t), 'prisma')
  cpSync(join(projectRoot, 'prisma'), prismaDir, { recursive: true, verbatimSymlinks: true })
  for (const provider of ['sqlite', 'postgres']) {
    const target = realpathSync(join(prismaDir, provider, 'models.prisma'))
    if (target !== realpathSync(join(prismaDir, 'models.prisma'))) {
      throw new Error(`scratch ${provider}/models.prisma resolves to ${target}, outside the copy`)
    }
  }
  return prismaDir
}

function noChanges (output: string): number {
  return output.match(/^No schema changes: no migration written\.$/gm)?.length ?? 0
}

/**
 * Runs the built script, without coverage collection: its time goes to Prisma's schema engine, others' code.
 * (runScript lays its env over this process's, so toolEnv() cannot take NODE_V8_COVERAGE out; empty, it is off.)
 */
function migrationNew (prismaDir: string, ...args: string[]) {
  return runScript('db-migration-new', ['--prisma-dir', prismaDir, ...args], { SHADOW_DATABASE_URL: TEST_DATABASE_URL, NODE_V8_COVERAGE: '' })
}

const realPrisma = tree(join(projectRoot, 'prisma'))
t.teardown(() => {
  // Not an assertion inside a test: a plain throw here fails the file just the same.
  const now = tree(join(projectRoot, 'prisma'))
  if (JSON.stringify(now) !== JSON.stringify(realPrisma)) throw new Error('the real prisma/ folder changed')
})

t.test('with no model change it says so and writes nothing', async (t) => {
  const prismaDir = scratchPrisma(t)
  const before = tree(prismaDir)
  const run = await migrationNew(prismaDir, '--name', 'nothing_changed')
  t.equal(run.code, 0, run.output)
  t.equal(noChanges(run.output), providers.length, `"No schema changes" for ${providers.join(' and ')}`)
  t.notMatch(run.output, /Wrote /)
  t.same(tree(prismaDir), before, 'no file added or changed')
})

t.test('a new nullable column becomes one ALTER TABLE per store', async (t) => {
  const prismaDir = scratchPrisma(t)
  const models = join(prismaDir, 'models.prisma')
  const original = readFileSync(models, 'utf8')
  const changed = original.replace(/^( {2}email +String\? +@unique\n)/m, '$1  locale        String?\n')
  t.not(changed, original, 'the scratch model change applies')
  writeFileSync(models, changed)
  const before = tree(prismaDir)

  const run = await migrationNew(prismaDir, '--name', 'add_user_locale')
  t.equal(run.code, 0, run.output)
  const added = Object.keys(tree(prismaDir)).filter((file) => !(file in before)).sort()
  t.same(added.map((file) => file.replace(/\/\d{14}_/, '/<timestamp>_')),
    providers.map((provider) => `${provider}/migrations/<timestamp>_add_user_locale/migration.sql`).sort(),
    'one new migration.sql per provider, nothing else')
  for (const provider of providers) {
    const file = added.find((name) => name.startsWith(`${provider}/`))
    if (file === undefined) continue // already failed above
    t.equal(readFileSync(join(prismaDir, file), 'utf8'), ADD_LOCALE_SQL[provider], `${provider} migration SQL`)
    t.match(run.output, `Wrote ${join(prismaDir, file)}`)
  }
  const unchanged = Object.fromEntries(Object.entries(tree(prismaDir)).filter(([file]) => file in before))
  t.same(unchanged, before, 'existing migrations and migration_lock.toml untouched')

  // Written, the migration brings the history level with the models: the next run has nothing to add.
  const again = await migrationNew(prismaDir, '--name', 'add_user_locale_again')
  t.equal(again.code, 0, again.output)
  t.equal(noChanges(again.output), providers.length, `"No schema changes" for ${providers.join(' and ')}`)
})

t.test('refuses a name that is not snake_case, before starting the engine', async (t) => {
  const prismaDir = scratchPrisma(t)
  const run = await migrationNew(prismaDir, '--name', 'Add-Locale')
  t.equal(run.code, 1)
  t.match(run.output, /db:migration:new: --name must be snake_case \(only a-z, 0-9 and _\), got "Add-Locale"/)
})
