// `npm test`: the tap suite on both stores at once (SQLite, and PostgreSQL at TEST_DATABASE_URL, default
// postgresql://postgres@127.0.0.1:5432/postgres), each file on the stores it declares (test/stores.ts), every
// test database copied from a template migrated once per run; then coverage of src/, checked against its floor.
//   npm test                          everything
//   npm test -- test/api/users.test.ts   some files, on the stores each declares
// A PostgreSQL that cannot be reached fails the run; TRACKBOT_SKIP_POSTGRES=1 skips that pass, loudly.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import pg from 'pg'
import { projectRoot } from '../src/project-root.js'
import { migrateDatabase } from '../src/store/database.js'
import type { Provider } from '../src/store/migrate/index.js'
import { declaredStores, TEMPLATE_ENV } from '../test/stores.js'

const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres'
const RESULTS = join(projectRoot, '.tap', 'results')
// Not tap's .tap/coverage, which each tap run empties as it starts.
const COVERAGE = join(projectRoot, '.tap', 'v8-coverage')
const quiet = { info: () => {}, warn: (message: string) => console.error(message) }

function testFiles (args: string[]): string[] {
  if (args.length > 0) return args.map((file) => relative(projectRoot, join(process.cwd(), file)))
  return readdirSync(join(projectRoot, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => join('test', file))
    .sort()
}

/**
 * Each file to the passes of the stores it declares. A file that touches no store runs once, on the SQLite pass:
 * the PostgreSQL pass carries the files only it runs (several server processes, PgBouncer).
 */
function passes (files: string[], postgres: boolean): Map<Provider, string[]> {
  const lists = new Map<Provider, string[]>([['sqlite', []], ['postgres', []]])
  for (const file of files) {
    const stores = declaredStores(readFileSync(join(projectRoot, file), 'utf8'))
    for (const provider of stores === 'none' ? ['sqlite' as const] : stores) lists.get(provider)!.push(file)
  }
  if (!postgres) lists.delete('postgres')
  // tap given no files would run its whole `include` list instead.
  for (const [provider, list] of lists) if (list.length === 0) lists.delete(provider)
  return lists
}

async function sqliteTemplate (dir: string): Promise<string> {
  const file = join(dir, 'template.db')
  await migrateDatabase(`file:${file}`, quiet)
  return file
}

function urlOf (database: string): string {
  const url = new URL(TEST_DATABASE_URL)
  url.pathname = `/${database}`
  return url.toString()
}

async function onServer (sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

async function postgresTemplate (): Promise<string> {
  const name = `trackbot_template_${randomUUID().replaceAll('-', '')}`
  await onServer(`CREATE DATABASE "${name}"`)
  await migrateDatabase(urlOf(name), quiet)
  // A template must have no sessions while it is copied; nothing needs one after this.
  await onServer(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`)
  return name
}

interface Pass { provider: Provider, code: number, report: string, errors: string, times: Array<[string, number]> }

/** A pass's report: a line per file, and the whole TAP of each file that failed, with anything else tap printed. */
function summary (pass: Pass): string {
  const lines = pass.report.split('\n')
  const files = lines.filter((line) => /^(not )?ok \d+ - /.test(line))
  const failed = files.filter((line) => line.startsWith('not ok')).map((line) => / - (\S+)/.exec(line)![1]!)
  const details = failed.map((file) => {
    const start = lines.indexOf(`# Subtest: ${file}`)
    const end = lines.findIndex((line) => line.startsWith('not ok ') && line.includes(` - ${file}`))
    return `\n# ${file} failed on ${pass.provider}:\n${lines.slice(start, end + 1).join('\n')}`
  })
  const totals = lines.filter((line) => /^# (\{ total|time=|Subtest:)/.test(line) && !line.startsWith('# Subtest'))
  const stderr = pass.errors.trim() === '' ? [] : [`\n# what the test processes wrote to stderr:\n${pass.errors.trimEnd()}`]
  return [...files, ...details, ...stderr, ...totals].join('\n')
}

/**
 * One store's pass: its own tap process, results folder and report. `started` resolves once its first file runs,
 * or it has ended: by then tap has rebuilt itself for our plugins and emptied .tap/processinfo, which another
 * tap run starting at the same moment would race it for.
 */
function runPass (provider: Provider, files: string[], env: Record<string, string>, tapArgs: string[]): { started: Promise<void>, done: Promise<Pass> } {
  const output = join(RESULTS, provider)
  rmSync(output, { recursive: true, force: true })
  mkdirSync(output, { recursive: true })
  const tap = join(projectRoot, 'node_modules', '.bin', 'tap')
  const child = spawn(tap, ['--output-dir', output, '--reporter', 'tap', '--jobs', '2', ...tapArgs, ...files], {
    cwd: projectRoot,
    env: { ...process.env, ...env, TRACKBOT_TEST_STORE: provider },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let report = ''
  let errors = ''
  child.stdout.on('data', (chunk) => { report += chunk })
  child.stderr.on('data', (chunk) => { errors += chunk })
  const exited = once(child, 'exit') as Promise<[number | null]>
  const started = (async () => {
    while (child.exitCode === null && child.signalCode === null && readdirSync(output, { recursive: true }).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  const done = exited.then(([code]) => ({ provider, code: code ?? 1, report, errors, times: fileTimes(output) }))
  return { started, done }
}

/** Each file's `# time=` from its raw TAP, slowest first. */
function fileTimes (dir: string): Array<[string, number]> {
  const times: Array<[string, number]> = []
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.tap'))) {
    const tap = readFileSync(join(dir, file), 'utf8')
    const time = /^# time=([\d.]+)ms$/m.exec(tap.slice(tap.lastIndexOf('\n# time=')))
    if (time !== null) times.push([file.replace(/\.tap$/, ''), Number(time[1])])
  }
  return times.sort((a, b) => b[1] - a[1])
}

async function coverage (): Promise<number> {
  const started = performance.now()
  // `npm run test:coverage` prints the last run's report again.
  const child = spawn('npm', ['run', '--silent', 'test:coverage'], { cwd: projectRoot, stdio: 'inherit' })
  const [code] = await once(child, 'exit') as [number | null]
  console.log(`# coverage report in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  return code ?? 1
}

async function main (): Promise<number> {
  const args = process.argv.slice(2)
  const tapArgs = args.filter((arg) => arg.startsWith('-'))
  const files = testFiles(args.filter((arg) => !arg.startsWith('-')))
  const postgres = process.env.TRACKBOT_SKIP_POSTGRES !== '1'
  const lists = passes(files, postgres)
  if (!postgres) console.log('# store: postgres SKIPPED (TRACKBOT_SKIP_POSTGRES=1)')

  const scratch = mkdtempSync(join(tmpdir(), 'trackbot-test-run-'))
  let template: string | undefined
  try {
    const env: Record<string, string> = { [TEMPLATE_ENV.sqlite]: await sqliteTemplate(scratch) }
    if (lists.has('postgres')) {
      template = await postgresTemplate()
      env[TEMPLATE_ENV.postgres] = template
    }
    // Coverage of the whole suite only: of every process running our code (tests that run others' tools, tsc
    // or Prism, leave it out for them), checked against its floor after both passes.
    const whole = args.every((arg) => arg.startsWith('-'))
    if (whole) {
      rmSync(COVERAGE, { recursive: true, force: true })
      mkdirSync(COVERAGE, { recursive: true })
      env.NODE_V8_COVERAGE = COVERAGE
    }

    const started = performance.now()
    const runs: Array<Promise<Pass>> = []
    for (const [provider, list] of lists) {
      const pass = runPass(provider, list, env, tapArgs)
      runs.push(pass.done)
      await pass.started
    }
    const results = await Promise.all(runs)
    const seconds = ((performance.now() - started) / 1000).toFixed(1)
    for (const pass of results) {
      console.log(`\n# store: ${pass.provider} (${lists.get(pass.provider)!.length} files)${pass.provider === 'postgres' ? ` on ${TEST_DATABASE_URL}` : ''}`)
      console.log(summary(pass))
    }
    console.log(`\n# both passes in ${seconds} s; the slowest files:`)
    for (const pass of results) {
      for (const [file, ms] of pass.times.slice(0, 10)) console.log(`#   ${pass.provider.padEnd(8)} ${(ms / 1000).toFixed(1).padStart(6)} s  ${file}`)
    }
    writeFileSync(join(RESULTS, 'times.json'), JSON.stringify(Object.fromEntries(results.map((pass) => [pass.provider, pass.times])), null, 1))
    const failed = results.filter((pass) => pass.code !== 0)
    if (failed.length > 0) {
      console.log(`\n# FAILED: ${failed.map((pass) => pass.provider).join(', ')}`)
      return 1
    }
    return whole ? await coverage() : 0
  } finally {
    if (template !== undefined) await onServer(`DROP DATABASE IF EXISTS "${template}"`)
    rmSync(scratch, { recursive: true, force: true })
  }
}

process.exitCode = await main()
