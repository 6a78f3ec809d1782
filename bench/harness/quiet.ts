/**
 * The machine is shared: other processes' CPU use during a case skews it. Before each case the runner can wait
 * until the machine is idle (`--wait-idle`), and it records how busy the machine was just before the case.
 *
 * @module
 */
import * as fs from 'node:fs'

function snapshot (): { busy: number, total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!
    const v = line.trim().split(/\s+/).slice(1).map(Number)
    const idle = (v[3] ?? 0) + (v[4] ?? 0)
    const total = v.reduce((a, b) => a + b, 0)
    return { busy: total - idle, total }
  } catch {
    return undefined
  }
}

/** CPU time all processes of the machine have used so far, in ms (from /proc/stat, 10 ms ticks); undefined if unknown. */
export function machineBusyMs (): number | undefined {
  const s = snapshot()
  return s === undefined ? undefined : s.busy * 10
}

/** The fraction (0..1) of all CPUs busy over the next `ms` milliseconds; undefined where /proc/stat is missing. */
export async function cpuBusy (ms = 500): Promise<number | undefined> {
  const a = snapshot()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const b = snapshot()
  if (a === undefined || b === undefined || b.total === a.total) return undefined
  return (b.busy - a.busy) / (b.total - a.total)
}

/**
 * Waits (up to `maxSeconds`) until the machine is less than `threshold` busy; resolves with the last reading.
 */
export async function waitIdle (maxSeconds: number, threshold = 0.15, log?: (s: string) => void): Promise<number | undefined> {
  const until = Date.now() + maxSeconds * 1000
  let b = await cpuBusy()
  let said = false
  while (b !== undefined && b > threshold && Date.now() < until) {
    if (!said) { log?.(`  waiting for the machine to quiet down (${(b * 100).toFixed(0)}% busy)…`); said = true }
    b = await cpuBusy(1000)
  }
  return b
}
