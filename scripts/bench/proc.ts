// What the benchmark reads about processes from Linux's /proc: memory and CPU time, in the units it reports.
import { readFileSync } from 'node:fs'

/** VmRSS (resident now) or VmHWM (the most ever resident) of a process, in MB. */
export function rssMb (pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) / 1024
}

/** Linux's clock tick for /proc times (USER_HZ): 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100

/** The fields of /proc/<pid>/stat after the parenthesised name (which may hold spaces): field 3 is [0]. */
function statFields (pid: number | 'self'): string[] {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds (pid: number): number {
  const fields = statFields(pid)
  // utime and stime: fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

/**
 * User + system CPU seconds of this process's children that have exited and been waited for (cutime and
 * cstime, fields 16 and 17): across one load generator's run, the generator's own CPU, since the servers
 * (the other children) live on.
 */
export function exitedChildrenCpuSeconds (): number {
  const fields = statFields('self')
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND
}
