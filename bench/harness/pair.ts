/**
 * Two-process cases over loopback TCP: a sender worker dials a receiver worker (a separate process, spawned
 * fresh for each case), both run the same stack, and the orchestrator drives them over the control channel.
 *
 * Throughput: one untimed warm-up transfer (which also sizes the timed ones), then `reps` timed transfers of
 * `repSeconds` each; a transfer's time runs from the sender's first write to the receiver's last byte (both
 * on the machine's monotonic clock). MB/s is payload bytes (10^6) per second. Then the 64-byte round trip
 * (the receiver echoes), and the receiver's peak RSS over the whole case.
 *
 * @module
 */
import * as os from 'node:os'
import type { BenchCase, Metrics, RunOptions } from './case.js'
import { machineBusyMs, waitIdle } from './quiet.js'
import { median, quantile } from './stats.js'
import type { StackParams } from './stack.js'
import { startWorker, type Worker, type WorkerSpec } from './workers.js'

/** A throughput + latency + memory case. */
export interface PairCaseInit {
  id: string
  group: string
  title: string
  /** Message (raw TCP: chunk) size in bytes. */
  size: number
  /** The stack both ends run (a name from `bench/stacks/`), with its params. */
  stack?: string
  params?: StackParams
  /** Extra Node flags for both ends (Node stack workers only). */
  nodeArgs?: string[]
  /** Overrides for one end (a Go peer, for instance). */
  sender?: WorkerSpec
  receiver?: WorkerSpec
  baseline?: string
  description?: string
  /** Seconds per timed transfer. @default 0.6 (quick: 0.2) */
  repSeconds?: number
  /** Bytes of the first untimed warm-up transfer (each next one doubles). @default 8 MiB (quick: 4 MiB) */
  warmupBytes?: number
  /** The warm-up goes on (doubling transfers) until this many seconds have passed. @default 1.5 (quick: 0.5) */
  warmupSeconds?: number
  /** Round-trip size in bytes. @default 64 */
  rttSize?: number
}

function specs (init: PairCaseInit): { sender: WorkerSpec, receiver: WorkerSpec } {
  const both: WorkerSpec | undefined = init.stack !== undefined ? { stack: init.stack, params: init.params ?? {}, nodeArgs: init.nodeArgs ?? [] } : undefined
  const sender = init.sender ?? both
  const receiver = init.receiver ?? both
  if (sender === undefined || receiver === undefined) throw new Error(`case ${init.id}: no stack for an end`)
  return { sender, receiver }
}

async function cpu (w: Worker): Promise<{ us: number, t: number }> {
  const m = await w.ctl.request({ op: 'cpu' }, 'cpu')
  return { us: Number(m.user) + Number(m.system), t: Number(m.t) }
}

/**
 * One timed transfer: payload bytes, wall µs, MB/s, CPU share of each side, CPU ns per payload byte of each side,
 * and `foreign`: the share of the machine's CPUs that other processes used meanwhile (NaN if unknown).
 */
interface Transfer { bytes: number, us: number, mbps: number, sendCpu: number, recvCpu: number, sendNsPerByte: number, recvNsPerByte: number, foreign: number }

const NCPU = os.cpus().length

async function transfer (snd: Worker, rcv: Worker, bytes: number, size: number, timeoutMs: number): Promise<Transfer> {
  await rcv.ctl.request({ op: 'expect', bytes: Math.ceil(bytes / size) * size }, 'armed')
  const [s0, r0] = await Promise.all([cpu(snd), cpu(rcv)])
  const m0 = machineBusyMs()
  const received = rcv.ctl.next('received', timeoutMs)
  const sent = await snd.ctl.request({ op: 'send', bytes, size }, 'sent', timeoutMs)
  const got = await received
  const [s1, r1] = await Promise.all([cpu(snd), cpu(rcv)])
  const m1 = machineBusyMs()
  const us = Number(got.t) - Number(sent.t0)
  const wallMs = (Math.max(s1.t, r1.t) - Math.min(s0.t, r0.t)) / 1000
  const oursMs = (s1.us - s0.us + r1.us - r0.us) / 1000
  const foreign = m0 === undefined || m1 === undefined ? NaN : Math.max(0, (m1 - m0 - oursMs) / (wallMs * NCPU))
  const total = Number(sent.bytes)
  return {
    bytes: total,
    us,
    mbps: total / us,
    sendCpu: (s1.us - s0.us) / (s1.t - s0.t),
    recvCpu: (r1.us - r0.us) / (r1.t - r0.t),
    sendNsPerByte: (s1.us - s0.us) * 1000 / total,
    recvNsPerByte: (r1.us - r0.us) * 1000 / total,
    foreign
  }
}

/** Connects a fresh sender/receiver pair running `init`'s stack. */
export async function connectPair (init: PairCaseInit): Promise<{ snd: Worker, rcv: Worker, setupUs: number, stop: () => Promise<void> }> {
  const { sender, receiver } = specs(init)
  const rcv = await startWorker(receiver, 'receiver')
  let snd: Worker | undefined
  const stop = async (): Promise<void> => { await Promise.all([snd?.stop(), rcv.stop()]) }
  try {
    snd = await startWorker(sender, 'sender')
    const { port } = await rcv.ctl.request({ op: 'listen', params: receiver.params ?? {} }, 'listening')
    const accepted = rcv.ctl.next('accepted', 30_000)
    const ready = await snd.ctl.request({ op: 'dial', port, params: sender.params ?? {} }, 'ready', 30_000)
    await accepted
    return { snd, rcv, setupUs: Number(ready.setupUs), stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Builds a throughput/latency/RSS case. */
export function pairCase (init: PairCaseInit): BenchCase {
  return {
    id: init.id,
    group: init.group,
    title: init.title,
    size: init.size,
    baseline: init.baseline,
    description: init.description,
    run: async (opts: RunOptions): Promise<Metrics> => {
      const { snd, rcv, setupUs, stop } = await connectPair(init)
      try {
        const setup = await rcv.ctl.request({ op: 'stats' }, 'stats')
        const size = init.size
        const repSeconds = init.repSeconds ?? (opts.quick ? 0.2 : 0.6)
        const timeoutMs = 120_000
        let warmBytes = init.warmupBytes ?? (opts.quick ? 4 : 8) * 1024 * 1024
        const warmUntil = performance.now() + 1000 * (init.warmupSeconds ?? (opts.quick ? 0.5 : 1.5))
        let warm = await transfer(snd, rcv, warmBytes, size, timeoutMs)
        while (performance.now() < warmUntil) {
          warmBytes = Math.min(2 ** 31, Math.max(warmBytes * 2, Math.round(warm.mbps * 1e6 * 0.25)))
          warm = await transfer(snd, rcv, warmBytes, size, timeoutMs)
        }
        const repBytes = Math.max(size * 16, Math.min(2 ** 31, Math.round(warm.mbps * 1e6 * repSeconds)))
        opts.log(`  warm-up ${fmt(warm.mbps)} MB/s; ${opts.reps} × ${(repBytes / 2 ** 20).toFixed(1)} MiB`)
        const reps: Transfer[] = []
        let discarded = 0
        while (reps.length < opts.reps) {
          const t = await transfer(snd, rcv, repBytes, size, timeoutMs)
          const disturbed = t.foreign > (opts.maxForeign ?? Infinity)
          opts.log(`  rep ${reps.length + 1}: ${fmt(t.mbps)} MB/s  (cpu send ${(t.sendCpu * 100).toFixed(0)}% ${t.sendNsPerByte.toFixed(2)} ns/B, recv ${(t.recvCpu * 100).toFixed(0)}% ${t.recvNsPerByte.toFixed(2)} ns/B; other processes ${(t.foreign * 100).toFixed(0)}%)${disturbed ? ' — disturbed, repeated' : ''}`)
          if (disturbed && discarded < 3 * opts.reps) {
            discarded++
            await waitIdle(opts.waitIdleSeconds ?? 30, 0.15)
            continue
          }
          reps.push(t)
        }
        const rttSize = init.rttSize ?? 64
        await rcv.ctl.request({ op: 'echo', size: rttSize }, 'ok')
        const { rtts } = await snd.ctl.request({ op: 'ping', size: rttSize, warmup: opts.quick ? 100 : 300, count: opts.quick ? 500 : 3000 }, 'rtts', timeoutMs) as { rtts: number[] }
        await rcv.ctl.request({ op: 'idle' }, 'ok')
        const stats = await rcv.ctl.request({ op: 'stats' }, 'stats')
        const sstats = await snd.ctl.request({ op: 'stats' }, 'stats')
        const m: Metrics = {
          mbps: median(reps.map((r) => r.mbps)),
          mbpsReps: reps.map((r) => r.mbps),
          sendCpu: median(reps.map((r) => r.sendCpu)),
          recvCpu: median(reps.map((r) => r.recvCpu)),
          sendNsPerByte: median(reps.map((r) => r.sendNsPerByte)),
          recvNsPerByte: median(reps.map((r) => r.recvNsPerByte)),
          foreign: median(reps.map((r) => r.foreign)),
          discardedReps: discarded,
          rttP50: quantile(rtts, 0.5),
          rttP99: quantile(rtts, 0.99),
          recvPeakRssMiB: Number(stats.maxRssKiB) / 1024,
          recvSetupRssMiB: Number(setup.rssKiB) / 1024,
          sendPeakRssMiB: Number(sstats.maxRssKiB) / 1024,
          setupUs,
          repBytes
        }
        opts.log(`  → ${fmt(m.mbps as number)} MB/s, rtt p50 ${fmt(m.rttP50 as number)} µs p99 ${fmt(m.rttP99 as number)} µs, recv peak RSS ${fmt(m.recvPeakRssMiB as number)} MiB`)
        return m
      } finally {
        await stop()
      }
    }
  }
}

/** A handshake-timing case. */
export interface HandshakeCaseInit {
  id: string
  group: string
  title: string
  stack: string
  params?: StackParams
  description?: string
  /** Timed handshakes. @default 300 (quick: 50) */
  count?: number
}

/** Builds a handshake-timing case: sequential handshakes on fresh loopback connections, timed at the dialer. */
export function handshakeCase (init: HandshakeCaseInit): BenchCase {
  return {
    id: init.id,
    group: init.group,
    title: init.title,
    description: init.description,
    run: async (opts: RunOptions): Promise<Metrics> => {
      const spec: WorkerSpec = { stack: init.stack, params: init.params ?? {} }
      const rcv = await startWorker(spec, 'receiver')
      const snd = await startWorker(spec, 'sender').catch(async (err) => { await rcv.stop(); throw err })
      try {
        const { port } = await rcv.ctl.request({ op: 'listen', params: init.params ?? {}, handshakeOnly: true }, 'listening')
        const count = init.count ?? (opts.quick ? 50 : 300)
        const { times } = await snd.ctl.request({ op: 'handshakes', port, params: init.params ?? {}, warmup: opts.quick ? 5 : 30, count }, 'handshakes', 300_000) as { times: number[] }
        const m: Metrics = { hsP50: quantile(times, 0.5), hsP99: quantile(times, 0.99), hsCount: times.length }
        opts.log(`  → handshake p50 ${fmt(m.hsP50 as number)} µs, p99 ${fmt(m.hsP99 as number)} µs over ${times.length}`)
        return m
      } finally {
        await Promise.all([snd.stop(), rcv.stop()])
      }
    }
  }
}

/** Formats a number with 3 significant digits (at least the integer part). */
export function fmt (x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–'
  const a = Math.abs(x)
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  return x.toFixed(2)
}
