// The load generator: wrk (C, one thread, `scripts/bench/wrk.lua` picking the ids), run as a child
// process for each measurement. Its own CPU per request is measured beside the server's: it must stay well
// under the floor's, or the floor's figure would be the generator's.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { projectRoot } from '../../src/project-root.js'
import { exitedChildrenCpuSeconds } from './proc.js'

/** Debian's wrk package puts it here; scripts/ensure-wrk.sh (npm run bench's prebench) installs it. */
export const WRK = '/usr/bin/wrk'
const SCRIPT = join(projectRoot, 'scripts', 'bench', 'wrk.lua')

/** One request shape: a `{id}` in `path` is filled per request from `ids`, at random or each in turn. */
export interface LoadRequest {
  method: 'GET' | 'POST' | 'DELETE'
  /** Without ids, it may be several paths, one a line, sent each in turn. */
  path: string
  ids?: { first: number, last: number, order: 'random' | 'sequence' }
  /** Sent as application/json. */
  body?: string
  /** A header given a value of its own on every request (an Idempotency-Key); needs `ids`. */
  uniqueHeader?: string
  /** Sent with every request (wrk's -H): ours-jwt's token. */
  headers?: Record<string, string>
}

export interface Load {
  requests: number
  seconds: number
  p50Ms: number
  p99Ms: number
  /** Answers of 400 and above (wrk does not tell codes apart), connection errors and timeouts. */
  statusErrors: number
  socketErrors: number
  /** Requests built, answered or not: where the next run of a `sequence` starts. */
  issued: number
  /** The generator's own CPU time (user + system) per request. */
  generatorCpuUsPerRequest: number
}

interface Summary {
  requests: number
  durationUs: number
  p50Us: number
  p99Us: number
  connectErrors: number
  readErrors: number
  writeErrors: number
  timeouts: number
  statusErrors: number
  issued: number
}

const run = promisify(execFile)

/** `seconds` is rounded up to whole seconds, wrk's resolution. */
export async function load (origin: string, request: LoadRequest, seconds: number, connections: number): Promise<Load> {
  const args = [request.method, request.path]
  if (request.ids !== undefined) {
    args.push(String(request.ids.first), String(request.ids.last), request.ids.order, request.body ?? '')
    if (request.uniqueHeader !== undefined) args.push(request.uniqueHeader)
  } else if (request.body !== undefined || request.uniqueHeader !== undefined) {
    throw new Error('a request with a body or a unique header and no ids is not supported by wrk.lua')
  }
  const headers = Object.entries(request.headers ?? {}).flatMap(([name, value]) => ['-H', `${name}: ${value}`])
  const cpuBefore = exitedChildrenCpuSeconds()
  // One thread: it drives tens of thousands of requests a second, and a second one would take the core
  // the server needs.
  // A 10 s timeout, autocannon's, which this benchmark used before: on a loaded machine a queue of 50
  // requests can pass wrk's default of 2 s without anything being wrong.
  const { stdout } = await run(WRK, ['-t1', `-c${connections}`, `-d${Math.ceil(seconds)}s`, '--timeout', '10s', ...headers, '-s', SCRIPT, origin, '--', ...args],
    { maxBuffer: 1024 * 1024 })
  const generatorCpu = exitedChildrenCpuSeconds() - cpuBefore
  const line = stdout.split('\n').find((text) => text.startsWith('{"requests"'))
  if (line === undefined) throw new Error(`wrk printed no summary:\n${stdout}`)
  const summary = JSON.parse(line) as Summary
  return {
    requests: summary.requests,
    seconds: summary.durationUs / 1e6,
    p50Ms: summary.p50Us / 1000,
    p99Ms: summary.p99Us / 1000,
    statusErrors: summary.statusErrors,
    socketErrors: summary.connectErrors + summary.readErrors + summary.writeErrors + summary.timeouts,
    issued: summary.issued,
    generatorCpuUsPerRequest: generatorCpu * 1e6 / Math.max(1, summary.requests),
  }
}
