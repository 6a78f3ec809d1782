/**
 * What the two processes of the scale case share: the channel, the network name, the library location, the
 * clock, and process facts (memory, CPU, the open-file limit).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as v8 from 'node:v8'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { ControlMessage } from '../harness/control.js'

/** The channel every scale peer opens and the hub broadcasts on. */
export const SCALE_CHANNEL = 0x40
/** Messages a scale channel queues (a broadcast queues one per peer; several may overlap at most briefly). */
export const SCALE_SEND_QUEUE_CAPACITY = 16
/** The network (chain ID) of the hub and of every swarm peer. */
export const SCALE_NETWORK = 'rx-p2p-bench-scale'
/** `RX_BENCH_SCALE_DEBUG=1`: both processes trace their progress and every control op on stderr. */
export const SCALE_DEBUG = process.env.RX_BENCH_SCALE_DEBUG === '1'

/**
 * The library under test: `RX_BENCH_LIB` (a directory laid out like `lib/`: a patched copy of the sources, or
 * the compiled JavaScript, e.g. `npx tsc -p tsconfig.build.json --outDir .tmp/dist`) or the tree's `lib/`.
 */
export const LIB = process.env.RX_BENCH_LIB ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lib')

const modules = new Map<string, Promise<unknown>>()

/** Imports a library module (path relative to `lib/`, `.ts`; the `.js` beside it in a compiled copy) once. */
export async function lib<T> (file: string): Promise<T> {
  let m = modules.get(file)
  if (m === undefined) {
    let full = path.join(LIB, file)
    if (!fs.existsSync(full) && full.endsWith('.ts')) full = full.slice(0, -3) + '.js'
    m = import(pathToFileURL(full).href)
    modules.set(file, m)
  }
  return await m as T
}

/** CLOCK_MONOTONIC in microseconds (shared by every process of the machine). */
export function nowUs (): number {
  return Number(process.hrtime.bigint() / 1000n)
}

/** The soft limit on open files of this process (from /proc/self/limits); undefined when unknown. */
export function openFileLimit (): number | undefined {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    if (soft === undefined) return undefined
    return soft === 'unlimited' ? Infinity : Number(soft)
  } catch {
    return undefined
  }
}

/** Process CPU time (user + system, and the system part) in µs and the clock. */
export function cpuNow (): { cpuUs: number, systemUs: number, t: number } {
  const u = process.cpuUsage()
  return { cpuUs: u.user + u.system, systemUs: u.system, t: nowUs() }
}

/** Physical size of V8's young generation (new space), KiB. */
function newSpaceKiB (): number {
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')
  return s === undefined ? 0 : Math.round(s.physical_space_size / 1024)
}

/**
 * Memory once the process has settled: full garbage collections (the process must run with `--expose-gc`),
 * then at least `settleMs` of idleness, and on until V8's memory reducer has shrunk the young generation to
 * `newSpaceKiB` or less (a burst of work, such as 1,000 handshakes, grows it to tens of MiB; an idle process
 * gives that back within about 10–20 s), at most `maxSettleMs` in all; then a last full GC and, 1.5 s later
 * (V8 unmaps the freed pages on background threads), the reading.
 */
export async function settledMemory (settleMs: number, maxSettleMs = settleMs, newSpaceLimitKiB = Infinity): Promise<{ rssKiB: number, heapUsedKiB: number, heapTotalKiB: number, externalKiB: number, arrayBuffersKiB: number, spaces: Record<string, number>, settledMs: number }> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const t0 = performance.now()
  gc()
  await new Promise((resolve) => setTimeout(resolve, 50))
  gc()
  await new Promise((resolve) => setTimeout(resolve, settleMs))
  while (newSpaceKiB() > newSpaceLimitKiB && performance.now() - t0 < maxSettleMs) {
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  gc()
  // V8 gives the pages of a shrunk young generation (and freed ArrayBuffer memory) back on background threads,
  // shortly after the collection: read the RSS once they are done.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const m = process.memoryUsage()
  const k = (x: number): number => Math.round(x / 1024)
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, k(s.physical_space_size)]))
  return { rssKiB: k(m.rss), heapUsedKiB: k(m.heapUsed), heapTotalKiB: k(m.heapTotal), externalKiB: k(m.external), arrayBuffersKiB: k(m.arrayBuffers), spaces, settledMs: Math.round(performance.now() - t0) }
}

/** {@link settledMemory} with the settings of a `mem` op (`settleMs`, `maxSettleMs`, `newSpaceKiB`). */
export async function settledMemoryFor (msg: ControlMessage): ReturnType<typeof settledMemory> {
  return await settledMemory(Number(msg.settleMs ?? 1000), Number(msg.maxSettleMs ?? msg.settleMs ?? 1000), Number(msg.newSpaceKiB ?? Infinity))
}

/** The ops the hub and the swarm answer alike, `cpu` and `exit` (`bye`, then exits); any other op is unknown (throws). */
export function sharedOp (msg: ControlMessage): ControlMessage {
  switch (msg.op) {
    case 'cpu':
      return { ev: 'cpu', ...cpuNow() }
    case 'exit':
      setTimeout(() => { process.exit(0) }, 10)
      return { ev: 'bye' }
    default:
      throw new Error(`unknown op '${String(msg.op)}'`)
  }
}
