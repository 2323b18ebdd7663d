// The server's configuration checks as `npm start` meets them: a bad value exits 1 with a clear message,
// before any store is opened.
// stores: none
import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { LogCapture, startApp, tempDir, exited } from '../helper.js'

t.test('bad configuration exits 1 with a clear message', async (t) => {
  const dir = tempDir(t)
  const notADirectory = join(dir, 'not-a-directory')
  writeFileSync(notADirectory, '')
  // A database the server would create, were the configuration accepted: no case gets that far.
  const databaseUrl = `file:${join(dir, 'unused', 'trackbot.db')}`
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: '70000' }, /PORT must be an integer from 0 to 65535, got "70000"/],
    [{ PORT: 'http' }, /PORT must be an integer/],
    [{ DATABASE_URL: 'mysql://localhost/x' }, /DATABASE_URL must be/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ LOG_FORMAT: 'xml' }, /LOG_FORMAT must be json or pretty, got "xml"/],
    [{ METRICS_PORT: 'metrics' }, /METRICS_PORT must be an integer from 1 to 65535, or empty to serve \/metrics on PORT, got "metrics"/],
    [{ RETENTION_DAYS: '0' }, /RETENTION_DAYS must be an integer from 1 to 36500/],
    [{ CORS_ORIGINS: 'https://ok.example, chat.example.com' }, /CORS_ORIGINS must be a comma-separated list of origins.*got "chat.example.com"/],
    [{ CORS_ORIGINS: 'https://chat.example.com/app' }, /CORS_ORIGINS must be .*got "https:\/\/chat.example.com\/app"/],
    [{ DATABASE_URL: `file:${notADirectory}/data/trackbot.db` }, /DATABASE_URL points at .*trackbot.db, but .*not-a-directory is not a directory/],
  ]
  // All at once: each process only reads its configuration and exits.
  const servers = await Promise.all(cases.map(([env]) => startApp(t, { transport: 'process', databaseUrl, env, ready: false })))
  for (const [i, [env, message]] of cases.entries()) {
    const server = servers[i]!
    const { code } = await exited(server.child, `the server to exit on ${JSON.stringify(env)}`, server.output)
    t.equal(code, 1, JSON.stringify(env))
    t.match(server.output(), message)
  }
})

t.test('a data directory the server cannot write is a configuration error, not a failure at the first write', async (t) => {
  // Root may write anywhere: drop the capabilities that let it, so root is bound by the mode bits like anyone.
  const dir = join(tempDir(t), 'read-only')
  mkdirSync(dir)
  chmodSync(dir, 0o555)
  const asRoot = process.getuid?.() === 0
  // The built server, as startApp runs it, under setpriv when root.
  const command = [process.execPath, join(projectRoot, 'dist', 'src', 'server.js')]
  const child = spawn(asRoot ? 'setpriv' : command[0]!, asRoot ? ['--bounding-set', '-dac_override,-dac_read_search', ...command] : command.slice(1), {
    env: { ...process.env, PORT: '0', DATABASE_URL: `file:${dir}/trackbot.db` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { child.kill('SIGKILL') })
  const log = new LogCapture()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => log.add(chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => log.add(chunk))
  const { code } = await exited(child, 'the server to exit', () => log.output())
  t.equal(code, 1, log.output())
  t.match(log.output(), /bad configuration: DATABASE_URL points at .*read-only\/trackbot.db, but the directory .*read-only is not writable by this process/)
})
