/**
 * CPU time and memory of a process from Linux /proc: `stat` gives utime and
 * stime in clock ticks, `status` gives VmRSS and VmHWM (peak RSS), `fd` and
 * `limits` its open files and how many it may open.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux we run on. */
const CLK_TCK = 100

/** One reading of a process. */
export interface ProcSample {
  /** Wall time of the reading, ms. */
  at: number
  /** utime + stime, seconds. */
  cpu: number
  /** Resident set, bytes. */
  rss: number
  /** Peak resident set so far, bytes. */
  peakRss: number
}

/** Reads `pid`'s CPU time and memory now; undefined once the process is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // Fields after the command name, which may hold spaces, start past the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    const status = readFileSync(`/proc/${pid}/status`, 'latin1')
    return {
      at: performance.now(),
      cpu: ticks / CLK_TCK,
      rss: kib(status, 'VmRSS') * 1024,
      peakRss: kib(status, 'VmHWM') * 1024,
    }
  } catch {
    return undefined
  }
}

/** CPU use between two readings, in % of one core. */
export function cpuPercent(from: ProcSample, to: ProcSample): number {
  const wall = (to.at - from.at) / 1000
  return wall > 0 ? ((to.cpu - from.cpu) / wall) * 100 : 0
}

/** Files (sockets included) `pid` holds open now; NaN once it is gone. */
export function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return Number.NaN
  }
}

/** The soft limit of open files of `pid` (`ulimit -n` as it runs); NaN when unknown. */
export function fileLimit(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/limits`, 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    return Number(line?.split(/\s+/)[3])
  } catch {
    return Number.NaN
  }
}

function kib(status: string, key: string): number {
  const at = status.indexOf(`${key}:`)
  if (at < 0) return 0
  return Number.parseInt(status.slice(at + key.length + 1).trimStart(), 10)
}

/** One thread's CPU time and how often it was preempted (`/proc/<pid>/task/<tid>`). */
export interface ThreadSample {
  /** utime + stime, seconds. */
  cpu: number
  /** Times the scheduler took the CPU from it while it could run. */
  involuntarySwitches: number
}

/** The main thread of `pid` (its tid is the pid: the event loop's thread in node). */
export function sampleMainThread(pid: number): ThreadSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'latin1')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'latin1')
    return {
      cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK,
      involuntarySwitches: kib(status, 'nonvoluntary_ctxt_switches'),
    }
  } catch {
    return undefined
  }
}
