// The checks `npm test` (and build, typecheck, dev, bench) run first: scripts/ensure-chromium.sh,
// ensure-pgbouncer.sh, ensure-prometheus.sh and ensure-wrk.sh install what the docs, PgBouncer and Prometheus tests
// and the benchmark need, or say in one line what to install;
// scripts/ensure-generated.sh says in one line that the Prisma clients are missing. The ensure scripts run
// with a PATH holding only fakes (apt-get, sudo, id, env, true), so no real package manager can run here,
// and check a fake binary path.
// stores: none
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { tempDir } from '../helper.js'

interface Run { code: number | null, stderr: string, calls: string[], installed: boolean }

interface Machine {
  /** What the fake apt-get does: install works, works only after an update, never works, or "works" without the binary. */
  apt?: 'ok' | 'stale' | 'broken' | 'no-binary' | 'absent'
  uid?: number
  /** Whether the fake sudo runs commands without a password. */
  sudo?: 'nopasswd' | 'password' | 'absent'
  browserExists?: boolean
  env?: Record<string, string>
}

const FAKE_APT = `#!/bin/bash
echo "apt-get $* (DEBIAN_FRONTEND=$DEBIAN_FRONTEND)" >> "$FAKE_LOG"
case "$1" in
  update) : > "$FAKE_DIR/updated"; exit 0 ;;
  install)
    case "$FAKE_APT" in
      stale) [ -e "$FAKE_DIR/updated" ] || exit 100 ;;
      broken) exit 100 ;;
      no-binary) exit 0 ;;
    esac
    printf '#!/bin/sh\\n' > "$FAKE_BROWSER" && /bin/chmod +x "$FAKE_BROWSER" ;;
esac
`
const FAKE_SUDO = `#!/bin/bash
echo "sudo $*" >> "$FAKE_LOG"
[ "$FAKE_SUDO" = nopasswd ] || { echo "sudo: a password is required" >&2; exit 1; }
[ "$1" = -n ] && shift
exec "$@"
`
const FAKE_ID = `#!/bin/bash
echo "$FAKE_UID"
`

function script (file: string, content: string): void {
  writeFileSync(file, content)
  chmodSync(file, 0o755)
}

/** Runs an ensure-*.sh script on a fake machine, the binary it checks at a path of the test's. */
function ensure (t: Test, ensureScript: string, machine: Machine = {}): Run {
  const dir = tempDir(t)
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  const browser = join(dir, 'usr-bin-chromium')
  const log = join(dir, 'calls.log')
  writeFileSync(log, '')
  if (machine.browserExists) script(browser, '#!/bin/sh\n')
  if (machine.apt !== 'absent') script(join(bin, 'apt-get'), FAKE_APT)
  if (machine.sudo !== 'absent') script(join(bin, 'sudo'), FAKE_SUDO)
  script(join(bin, 'id'), FAKE_ID)
  symlinkSync('/usr/bin/env', join(bin, 'env'))
  symlinkSync('/bin/true', join(bin, 'true'))
  const result = spawnSync('/bin/bash', [ensureScript, browser], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // Not process.env: a TRACKBOT_CHROMIUM of the machine running the tests must not leak in.
    env: {
      PATH: bin,
      FAKE_LOG: log,
      FAKE_DIR: dir,
      FAKE_BROWSER: browser,
      FAKE_APT: machine.apt ?? 'ok',
      FAKE_UID: String(machine.uid ?? 0),
      FAKE_SUDO: machine.sudo ?? 'password',
      ...machine.env,
    },
  })
  const calls = readFileSync(log, 'utf8').split('\n').filter((line) => line !== '')
  return { code: result.status, stderr: result.stderr, calls, installed: existsSync(browser) }
}

const ensureChromium = (t: Test, machine: Machine = {}) => ensure(t, 'scripts/ensure-chromium.sh', machine)

const INSTALL = 'apt-get install -y -q chromium (DEBIAN_FRONTEND=noninteractive)'
const UPDATE = 'apt-get update -q (DEBIAN_FRONTEND=noninteractive)'
const WHAT_TO_INSTALL = /^ensure-chromium: test\/http\/docs-browser\.test\.ts needs Chromium at \S+: .+; install Debian's chromium package \(sudo apt-get install chromium\) or set TRACKBOT_CHROMIUM to a Chromium binary$/

function lastLine (text: string): string {
  return text.trimEnd().split('\n').at(-1) ?? ''
}

t.test('ensure-chromium', async (t) => {
  t.test('a browser in place: nothing to do', async (t) => {
    const run = ensureChromium(t, { browserExists: true, uid: 1000 })
    t.equal(run.code, 0, run.stderr)
    t.same(run.calls, [])
  })

  t.test('missing, as root: apt-get installs it', async (t) => {
    const run = ensureChromium(t, { uid: 0 })
    t.equal(run.code, 0, run.stderr)
    t.same(run.calls, [INSTALL])
    t.ok(run.installed)
  })

  t.test('missing, as root, stale package lists: update, then install again', async (t) => {
    const run = ensureChromium(t, { uid: 0, apt: 'stale' })
    t.equal(run.code, 0, run.stderr)
    t.same(run.calls, [INSTALL, UPDATE, INSTALL])
    t.ok(run.installed)
  })

  t.test('missing, as a user with password-less sudo: installs through sudo -n', async (t) => {
    const run = ensureChromium(t, { uid: 1000, sudo: 'nopasswd' })
    t.equal(run.code, 0, run.stderr)
    t.same(run.calls, ['sudo -n true', 'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium', INSTALL])
    t.ok(run.installed)
  })

  t.test('missing, and it cannot install: one line saying what to install, apt-get not run', async (t) => {
    for (const [why, machine] of [
      ['sudo wants a password', { uid: 1000, sudo: 'password' }],
      ['no sudo', { uid: 1000, sudo: 'absent' }],
      ['no apt-get', { uid: 0, apt: 'absent' }],
    ] as const) {
      const run = ensureChromium(t, machine)
      t.equal(run.code, 1, why)
      t.match(run.stderr.trimEnd(), WHAT_TO_INSTALL, why)
      t.equal(run.stderr.trimEnd().split('\n').length, 1, `${why}: one line`)
      t.notOk(run.calls.some((call) => call.startsWith('apt-get')), `${why}: apt-get not run`)
    }
  })

  t.test('apt-get fails even after an update: says so and what to install', async (t) => {
    const run = ensureChromium(t, { uid: 0, apt: 'broken' })
    t.equal(run.code, 1)
    t.same(run.calls, [INSTALL, UPDATE, INSTALL])
    t.match(lastLine(run.stderr), WHAT_TO_INSTALL)
    t.match(lastLine(run.stderr), /apt-get install -y -q chromium failed/)
  })

  t.test('apt-get succeeds but the browser is still missing: fails', async (t) => {
    const run = ensureChromium(t, { uid: 0, apt: 'no-binary' })
    t.equal(run.code, 1)
    t.match(lastLine(run.stderr), /still missing/)
  })

  t.test('TRACKBOT_CHROMIUM names the browser the test will use', async (t) => {
    const dir = tempDir(t)
    const other = join(dir, 'my-chromium')
    script(other, '#!/bin/sh\n')
    const found = ensureChromium(t, { uid: 0, env: { TRACKBOT_CHROMIUM: other } })
    t.equal(found.code, 0, found.stderr)
    t.same(found.calls, [], 'nothing installed when it exists')

    const missing = ensureChromium(t, { uid: 0, browserExists: true, env: { TRACKBOT_CHROMIUM: join(dir, 'nope') } })
    t.equal(missing.code, 1)
    t.match(missing.stderr.trimEnd(), /^ensure-chromium: .*TRACKBOT_CHROMIUM=\S+\/nope is not an executable file; point it at a Chromium binary or unset it/)
    t.equal(missing.stderr.trimEnd().split('\n').length, 1, 'one line')
    t.same(missing.calls, [], 'installing Debian\'s would not help: the test would still use TRACKBOT_CHROMIUM')
  })
})

t.test('ensure-pgbouncer: the same installer, for Debian\'s pgbouncer', async (t) => {
  const ensurePgbouncer = (t: Test, machine: Machine = {}) => ensure(t, 'scripts/ensure-pgbouncer.sh', machine)
  const present = ensurePgbouncer(t, { browserExists: true, uid: 1000 })
  t.equal(present.code, 0, present.stderr)
  t.same(present.calls, [])

  const installed = ensurePgbouncer(t, { uid: 0, apt: 'stale' })
  t.equal(installed.code, 0, installed.stderr)
  t.same(installed.calls, [INSTALL, UPDATE, INSTALL].map((call) => call.replace('chromium', 'pgbouncer')))
  t.ok(installed.installed)

  const refused = ensurePgbouncer(t, { uid: 1000, sudo: 'password' })
  t.equal(refused.code, 1)
  t.match(refused.stderr.trimEnd(), /^ensure-pgbouncer: test\/process\/pgbouncer\.test\.ts needs PgBouncer at \S+: it is missing and this user is not root and cannot sudo without a password; install Debian's pgbouncer package \(sudo apt-get install pgbouncer\)$/)
})

t.test('ensure-prometheus: the same installer, for Debian\'s prometheus (its server and promtool)', async (t) => {
  const ensurePrometheus = (t: Test, machine: Machine = {}) => ensure(t, 'scripts/ensure-prometheus.sh', machine)
  const present = ensurePrometheus(t, { browserExists: true, uid: 1000 })
  t.equal(present.code, 0, present.stderr)
  t.same(present.calls, [])

  const installed = ensurePrometheus(t, { uid: 0, apt: 'stale' })
  t.equal(installed.code, 0, installed.stderr)
  t.same(installed.calls, [INSTALL, UPDATE, INSTALL].map((call) => call.replace('chromium', 'prometheus')))
  t.ok(installed.installed)

  const refused = ensurePrometheus(t, { uid: 1000, sudo: 'absent' })
  t.equal(refused.code, 1)
  t.match(refused.stderr.trimEnd(), /^ensure-prometheus: test\/process\/prometheus\.test\.ts needs Prometheus at \S+: it is missing and this user is not root and cannot sudo without a password; install Debian's prometheus package \(sudo apt-get install prometheus\)$/)
})

t.test('ensure-wrk: the same installer, for Debian\'s wrk (npm run bench\'s load generator)', async (t) => {
  const ensureWrk = (t: Test, machine: Machine = {}) => ensure(t, 'scripts/ensure-wrk.sh', machine)
  const present = ensureWrk(t, { browserExists: true, uid: 1000 })
  t.equal(present.code, 0, present.stderr)
  t.same(present.calls, [])

  const installed = ensureWrk(t, { uid: 1000, sudo: 'nopasswd' })
  t.equal(installed.code, 0, installed.stderr)
  t.same(installed.calls, ['sudo -n true', 'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk', INSTALL.replace('chromium', 'wrk')])
  t.ok(installed.installed)

  const refused = ensureWrk(t, { uid: 0, apt: 'absent' })
  t.equal(refused.code, 1)
  t.match(refused.stderr.trimEnd(), /^ensure-wrk: npm run bench loads the servers with wrk at \S+: it is missing and there is no apt-get here; install Debian's wrk package \(sudo apt-get install wrk\)$/)
})

t.test('ensure-generated', async (t) => {
  const check = (root?: string) => spawnSync('/bin/bash', ['scripts/ensure-generated.sh', ...(root === undefined ? [] : [root])], { encoding: 'utf8' })

  t.equal(check().status, 0, 'this checkout has both clients')

  const root = tempDir(t)
  let run = check(root)
  t.equal(run.status, 1)
  t.equal(run.stderr, 'ensure-generated: generated/prisma/sqlite/client.ts is missing: run npm ci (or npm run generate:prisma) first\n')

  mkdirSync(join(root, 'generated/prisma/sqlite'), { recursive: true })
  writeFileSync(join(root, 'generated/prisma/sqlite/client.ts'), '')
  run = check(root)
  t.equal(run.status, 1)
  t.equal(run.stderr, 'ensure-generated: generated/prisma/postgres/client.ts is missing: run npm ci (or npm run generate:prisma) first\n')

  mkdirSync(join(root, 'generated/prisma/postgres'), { recursive: true })
  writeFileSync(join(root, 'generated/prisma/postgres/client.ts'), '')
  t.equal(check(root).status, 0)
})
