/**
 * The scale case of issue 4: one process (the **hub**, a Switch listening on loopback) holding 1,000 connected
 * peers, whose other ends run in a second process (the **swarm**: per peer a node key, a TCP connection,
 * `upgradeConnection` and an MConnection; see `bench/scale/`). Every connection passes the full
 * SecretConnection + NodeInfo handshakes and is admitted by the hub's Switch (`maxInboundPeers` raised,
 * `allowDuplicateIp`, all on loopback).
 *
 * Measured on the hub:
 * - **RSS per idle peer**: (RSS with the peers connected − RSS before) / peers, each reading after full GCs
 *   (`--expose-gc`) and a settle period. "Before" follows a warm-up round (50 peers connected and closed), so
 *   that the code compiled for handshakes and peers is not charged to the peers.
 * - The same **after traffic**: once the broadcasts below (1 KiB, then three of 64 KiB, which fill every peer's
 *   write buffer) are done and the peers idle again: what an idle peer costs in a node that has been running.
 * - **Idle CPU**: the hub's process CPU time over one ping interval (60 s; quick: 10 s) of idleness after that
 *   traffic, as a share of one core: the pings and pongs of every peer, once each way, are in it, and nothing
 *   else should be. Read every second, so the busiest 10 s are shown too (the peers connected within a few
 *   seconds of each other, so their ping rounds come together).
 * - **Broadcast**: the hub calls `Switch.broadcast` with a 1 KiB message; every swarm peer timestamps its
 *   receipt (CLOCK_MONOTONIC, shared by the processes) and the swarm reports the last one; time = last
 *   receipt − the moment just before the call. One untimed broadcast, then `broadcasts` (11) timed, 250 ms
 *   apart; the median is the figure.
 *
 * The hub is pinned to CPU 1 and the swarm to CPU 0 (as the pair cases' receiver and sender). Each process's
 * open-file limit is raised (`ulimit -n`, up to the hard limit) to peers + 256 before Node starts.
 *
 * Environment: `RX_BENCH_SCALE_PEERS` (default 1000), `RX_BENCH_SCALE_SOURCES` (127.0.0.x source addresses
 * the swarm dials from; default 4), `RX_BENCH_LIB` (a patched copy of lib/, for both processes).
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { BenchCase, CaseResult, Metrics, Registry, RunOptions } from '../harness/case.js'
import { fmt } from '../harness/pair.js'
import { machineBusyMs } from '../harness/quiet.js'
import { median } from '../harness/stats.js'
import { BENCH_DIR, pinning, startWorker, type Worker } from '../harness/workers.js'

/** Targets of issue 4. */
export const SCALE_TARGETS = { rssPerPeerKiB: 64, idleCpu: 0.02, broadcastMs: 100 } as const

const NCPU = os.cpus().length

interface ScaleInit {
  id: string
  title: string
  peers: number
  /** 127.0.0.x source addresses the swarm dials from. */
  sources: number
  /** MConnection options of the hub's peers and of the swarm's (undefined: the library's defaults). */
  mconnection?: Record<string, number>
}

function spawnSpec (script: string, fdNeed: number, nodeFlags: string[]): { command: string, args: string[], cwd: string } {
  // Raise the soft open-file limit to what the process needs (or to the hard limit), then exec Node.
  const sh = `ulimit -n ${fdNeed} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`
  return { command: 'sh', args: ['-c', sh, 'sh', process.execPath, '--import', 'tsx', '--expose-gc', ...nodeFlags, path.join(BENCH_DIR, 'scale', script)], cwd: BENCH_DIR }
}

/** Extra Node flags for the hub or the swarm (`RX_BENCH_SCALE_HUB_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/p'`). */
function envFlags (name: string): string[] {
  return (process.env[name] ?? '').split(' ').filter((f) => f !== '')
}

async function cpu (w: Worker): Promise<{ us: number, sysUs: number, t: number }> {
  const m = await w.ctl.request({ op: 'cpu' }, 'cpu')
  return { us: Number(m.cpuUs), sysUs: Number(m.systemUs), t: Number(m.t) }
}

/** With `RX_BENCH_SCALE_SNAPSHOTS=<dir>`, writes a heap snapshot of the hub there (diagnostics). */
async function snapshot (hub: Worker, label: string): Promise<void> {
  const dir = process.env.RX_BENCH_SCALE_SNAPSHOTS
  if (dir === undefined || dir === '') return
  await hub.ctl.request({ op: 'heapSnapshot', file: path.resolve(dir, `hub-${label}.heapsnapshot`) }, 'written', 300_000)
}

/**
 * Where each thread of a process is (Linux): name, state, kernel wait channel and the syscall it is in (202 =
 * futex: waiting on a lock or Atomics.wait; 232 = epoll_wait: an idle event loop). For a process that stopped
 * answering.
 */
function threadStates (pid: number | undefined): string {
  if (pid === undefined) return 'no pid'
  try {
    return fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
      const read = (f: string): string => { try { return fs.readFileSync(`/proc/${pid}/task/${tid}/${f}`, 'utf8').trim() } catch { return '?' } }
      const stat = read('stat')
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?'
      return `${read('comm')}(${state}, ${read('wchan')}, syscall ${read('syscall').split(' ')[0] ?? '?'})`
    }).join('; ')
  } catch (err) {
    return `unreadable: ${(err as Error).message}`
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

function scaleCase (init: ScaleInit): BenchCase {
  return {
    id: init.id,
    group: 'scale',
    title: init.title,
    size: 1024,
    description: `${init.peers} peers over loopback into one Switch`,
    run: async (opts: RunOptions): Promise<Metrics> => {
      const n = init.peers
      const fdNeed = n + 256
      // A full ping interval: every peer's ping round (each way) falls in it once; quick: 10 s.
      const pingSeconds = (init.mconnection?.pingIntervalMs ?? 60_000) / 1000
      const idleSeconds = Number(process.env.RX_BENCH_SCALE_IDLE_S ?? (opts.quick ? 10 : pingSeconds))
      const broadcasts = opts.quick ? 5 : 11
      const settleMs = Number(process.env.RX_BENCH_SCALE_SETTLE_MS ?? 2000)
      /** Each hub memory reading: full GCs, ≥ 2 s idle, and on until the young generation is back under 1 MiB (≤ 30 s). */
      const memReq = { op: 'mem', settleMs, maxSettleMs: Math.max(settleMs, 30_000), newSpaceKiB: 1024 }
      pinning.cpus.hub ??= 1
      pinning.cpus.swarm ??= 0
      const hub = await startWorker(spawnSpec('hub.ts', fdNeed, envFlags('RX_BENCH_SCALE_HUB_FLAGS')), 'hub')
      let swarm: Worker | undefined
      try {
        swarm = await startWorker(spawnSpec('swarm.ts', fdNeed, envFlags('RX_BENCH_SCALE_SWARM_FLAGS')), 'swarm')
        const started = await hub.ctl.request({ op: 'start', params: { maxInboundPeers: n + 100, mconnection: init.mconnection } }, 'started', 30_000)
        const fdLimit = Number(started.fdLimit ?? NaN)
        if (fdLimit < fdNeed) throw new Error(`the hub may open ${fdLimit} files, it needs ${fdNeed}: raise the hard limit (ulimit -Hn)`)
        const port = Number(started.port)
        const hubId = String(started.id)

        // Warm-up: compile the handshake and peer paths, then drop those peers.
        const warm = Math.min(50, n)
        await swarm.ctl.request({ op: 'connect', port, hubId, count: warm, group: 'warm', sources: init.sources, mconnection: init.mconnection }, 'connected', 120_000)
        await hub.ctl.request({ op: 'waitPeers', count: warm, timeoutMs: 60_000 }, 'peers', 70_000)
        await swarm.ctl.request({ op: 'close', group: 'warm' }, 'closed')
        await hub.ctl.request({ op: 'waitPeers', count: 0, atMost: true, timeoutMs: 60_000 }, 'peers', 70_000)

        const [before, swarmBefore] = await Promise.all([hub.ctl.request(memReq, 'mem', 60_000), swarm.ctl.request(memReq, 'mem', 60_000)])
        opts.log(`  hub before: RSS ${fmt(Number(before.rssKiB) / 1024)} MiB, heap ${fmt(Number(before.heapUsedKiB) / 1024)} MiB (settled ${fmt(Number(before.settledMs) / 1000)} s)`)

        const c0 = performance.now()
        const connected = await swarm.ctl.request({ op: 'connect', port, hubId, count: n, group: 'main', sources: init.sources, mconnection: init.mconnection }, 'connected', 600_000)
          .catch(async (err: Error) => {
            // Say what the hub saw: whether it accepted and rejected those connections, or never heard of them.
            const seen = await hub.ctl.request({ op: 'waitPeers', count: 0, timeoutMs: 1000 }, 'peers', 5000).catch(() => undefined)
            throw new Error(`${err.message}\n  hub: ${seen === undefined ? `no answer; its threads: ${threadStates(hub.proc.pid)}` : `${String(seen.count)} peers, ${String(seen.rejected)} rejected (last: ${String(seen.lastRejection)}), ${String(seen.removed)} removed`}`, { cause: err })
          })
        if (Number(connected.fdLimit ?? NaN) < fdNeed) throw new Error(`the swarm may open ${String(connected.fdLimit)} files, it needs ${fdNeed}`)
        const peersMsg = await hub.ctl.request({ op: 'waitPeers', count: n, timeoutMs: 120_000 }, 'peers', 130_000)
        const connectSeconds = (performance.now() - c0) / 1000
        opts.log(`  ${n} peers connected in ${connectSeconds.toFixed(1)} s (${String(connected.retries)} retries; hub rejected ${String(peersMsg.rejected)})`)

        const [after, swarmAfter] = await Promise.all([hub.ctl.request(memReq, 'mem', 60_000), swarm.ctl.request(memReq, 'mem', 60_000)])
        const per = (k: string, a = after, b = before): number => (Number(a[k]) - Number(b[k])) / n
        const rssPerPeerKiB = per('rssKiB')
        opts.log(`  hub after: RSS ${fmt(Number(after.rssKiB) / 1024)} MiB → ${fmt(rssPerPeerKiB)} KiB per peer (heap used ${fmt(per('heapUsedKiB'))}, heap total ${fmt(per('heapTotalKiB'))}, array buffers ${fmt(per('arrayBuffersKiB'))})`)
        opts.log(`  hub timers before/connected: ${String(before.timers)}/${String(after.timers)} (one per peer: its ping)`)
        opts.log(`  hub settled ${fmt(Number(after.settledMs) / 1000)} s; V8 heap spaces (physical KiB) before ${JSON.stringify(before.spaces)}, connected ${JSON.stringify(after.spaces)}`)
        await snapshot(hub, 'connected')

        // Broadcasts: timed 1 KiB ones, then a few 64 KiB ones (traffic that fills every write buffer).
        let seq = 0
        const broadcast = async (size: number, label: string): Promise<{ ms: number, firstMs: number, got: number }> => {
          seq++
          await swarm!.ctl.request({ op: 'expect', seq, count: n, timeoutMs: 10_000 }, 'armed')
          const received = swarm!.ctl.next('received', 20_000)
          const b = await hub.ctl.request({ op: 'broadcast', seq, size, mode: 'broadcast' }, 'broadcast', 20_000)
          const r = await received
          const ms = (Number(r.last) - Number(b.t0)) / 1000
          const firstMs = (Number(r.first) - Number(b.t0)) / 1000
          const got = Number(r.got)
          opts.log(`  broadcast ${label} (${size / 1024} KiB): ${got}/${n} received, last after ${fmt(ms)} ms (first ${fmt(firstMs)} ms; call returned after ${fmt((Number(b.t1) - Number(b.t0)) / 1000)} ms, ${String(b.queued)} queued)`)
          await sleep(250)
          return { ms, firstMs, got }
        }
        const times: number[] = []
        const firsts: number[] = []
        let missing = 0
        for (let k = 0; k <= broadcasts; k++) {
          const r = await broadcast(1024, k === 0 ? 'warm-up' : String(k))
          if (k === 0) continue
          if (r.got < n) missing += n - r.got
          else {
            times.push(r.ms)
            firsts.push(r.firstMs)
          }
        }
        const bigTimes: number[] = []
        for (let k = 1; k <= 3; k++) {
          const r = await broadcast(64 * 1024, `big ${k}`)
          if (r.got < n) missing += n - r.got
          else bigTimes.push(r.ms)
        }

        // Idle again after the traffic: memory, then CPU.
        const afterTraffic = await hub.ctl.request(memReq, 'mem', 60_000)
        const rssPerPeerAfterTrafficKiB = per('rssKiB', afterTraffic)
        opts.log(`  hub after traffic: RSS ${fmt(Number(afterTraffic.rssKiB) / 1024)} MiB → ${fmt(rssPerPeerAfterTrafficKiB)} KiB per peer (heap used ${fmt(per('heapUsedKiB', afterTraffic))}, heap total ${fmt(per('heapTotalKiB', afterTraffic))}, array buffers ${fmt(per('arrayBuffersKiB', afterTraffic))})`)
        await snapshot(hub, 'after-traffic')
        const idleProfile = process.env.RX_BENCH_SCALE_IDLE_PROFILE
        if (idleProfile !== undefined && idleProfile !== '') await hub.ctl.request({ op: 'profile', start: true }, 'profiling')
        const [h0, s0] = await Promise.all([cpu(hub), cpu(swarm)])
        const m0 = machineBusyMs()
        // One hub reading per second: the busiest 10 s show the peers' ping rounds (peers that connected together ping together).
        const samples = [h0]
        while (samples[samples.length - 1]!.t - h0.t < idleSeconds * 1e6) {
          await sleep(1000)
          samples.push(await cpu(hub))
        }
        const h1 = samples[samples.length - 1]!
        const s1 = await cpu(swarm)
        const m1 = machineBusyMs()
        let idleCpuMax10s = 0
        for (let i = 0; i < samples.length; i++) {
          const j = samples.findIndex((x) => x.t - samples[i]!.t >= 10e6)
          if (j < 0) break
          idleCpuMax10s = Math.max(idleCpuMax10s, (samples[j]!.us - samples[i]!.us) / (samples[j]!.t - samples[i]!.t))
        }
        if (idleProfile !== undefined && idleProfile !== '') await hub.ctl.request({ op: 'profile', file: path.resolve(idleProfile) }, 'written', 60_000)
        const idleCpu = (h1.us - h0.us) / (h1.t - h0.t)
        const swarmIdleCpu = (s1.us - s0.us) / (s1.t - s0.t)
        const wallMs = (h1.t - h0.t) / 1000
        const idleForeign = m0 === undefined || m1 === undefined ? NaN : Math.max(0, (m1 - m0 - (h1.us - h0.us + s1.us - s0.us) / 1000) / (wallMs * NCPU))
        opts.log(`  idle ${idleSeconds} s: hub CPU ${(idleCpu * 100).toFixed(2)}% of a core (${((h1.sysUs - h0.sysUs) / (h1.t - h0.t) * 100).toFixed(2)}% in the kernel; busiest 10 s ${(idleCpuMax10s * 100).toFixed(2)}%), swarm ${(swarmIdleCpu * 100).toFixed(2)}%`)
        const m: Metrics = {
          peers: n,
          connectSeconds,
          retries: Number(connected.retries),
          hubRssBeforeMiB: Number(before.rssKiB) / 1024,
          hubRssAfterMiB: Number(after.rssKiB) / 1024,
          hubRssAfterTrafficMiB: Number(afterTraffic.rssKiB) / 1024,
          rssPerPeerKiB,
          rssPerPeerAfterTrafficKiB,
          heapPerPeerAfterTrafficKiB: per('heapUsedKiB', afterTraffic),
          arrayBuffersPerPeerAfterTrafficKiB: per('arrayBuffersKiB', afterTraffic),
          heapPerPeerKiB: per('heapUsedKiB'),
          heapTotalPerPeerKiB: per('heapTotalKiB'),
          externalPerPeerKiB: per('externalKiB'),
          arrayBuffersPerPeerKiB: per('arrayBuffersKiB'),
          swarmRssPerPeerKiB: per('rssKiB', swarmAfter, swarmBefore),
          hubTimersBefore: Number(before.timers),
          hubTimersConnected: Number(after.timers),
          hubTimersAfterTraffic: Number(afterTraffic.timers),
          idleCpu,
          idleCpuMax10s: idleSeconds >= 20 ? idleCpuMax10s : NaN,
          swarmIdleCpu,
          idleForeign,
          idleSeconds,
          broadcastMs: times.length > 0 ? median(times) : NaN,
          broadcastMinMs: times.length > 0 ? Math.min(...times) : NaN,
          broadcastMaxMs: times.length > 0 ? Math.max(...times) : NaN,
          broadcastFirstMs: firsts.length > 0 ? median(firsts) : NaN,
          broadcastTimes: times,
          broadcast64kMs: bigTimes.length > 0 ? median(bigTimes) : NaN,
          missingDeliveries: missing
        }
        opts.log(`  → ${fmt(rssPerPeerKiB)} KiB RSS per peer, idle CPU ${(idleCpu * 100).toFixed(2)}%, broadcast p50 ${fmt(m.broadcastMs as number)} ms`)
        return m
      } finally {
        await Promise.all([swarm?.stop(), hub.stop()])
      }
    }
  }
}

const num = (r: CaseResult, k: string): number | undefined => {
  const v = r.metrics[k]
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}
const pct2 = (x: number | undefined): string => x === undefined ? '–' : `${(x * 100).toFixed(2)}%`

/** Adds the scale suite to `reg`. */
export function registerScaleSuite (reg: Registry): void {
  const peers = Number(process.env.RX_BENCH_SCALE_PEERS ?? 1000)
  const sources = Number(process.env.RX_BENCH_SCALE_SOURCES ?? 4)
  reg.addGroup({
    id: 'scale',
    title: `Scale: ${peers} idle peers connected to one Switch over loopback (SecretConnection + NodeInfo handshakes)`,
    columns: [
      { header: 'case', align: 'left', cell: (r) => r.case.title },
      { header: 'id', align: 'left', cell: (r) => r.case.id },
      { header: 'peers', cell: (r) => String(num(r, 'peers') ?? '–') },
      { header: 'connect s', cell: (r) => fmt(num(r, 'connectSeconds')) },
      { header: 'RSS/peer KiB', cell: (r) => fmt(num(r, 'rssPerPeerKiB')) },
      { header: 'heap/peer KiB', cell: (r) => fmt(num(r, 'heapPerPeerKiB')) },
      { header: 'buffers/peer KiB', cell: (r) => fmt(num(r, 'arrayBuffersPerPeerKiB')) },
      { header: 'RSS/peer after traffic KiB', cell: (r) => fmt(num(r, 'rssPerPeerAfterTrafficKiB')) },
      { header: 'buffers/peer after traffic KiB', cell: (r) => fmt(num(r, 'arrayBuffersPerPeerAfterTrafficKiB')) },
      { header: 'hub RSS MiB before/connected/after traffic', cell: (r) => `${fmt(num(r, 'hubRssBeforeMiB'))}/${fmt(num(r, 'hubRssAfterMiB'))}/${fmt(num(r, 'hubRssAfterTrafficMiB'))}` },
      { header: 'idle CPU', cell: (r) => pct2(num(r, 'idleCpu')) },
      { header: 'busiest 10 s', cell: (r) => pct2(num(r, 'idleCpuMax10s')) },
      { header: 'broadcast ms p50', cell: (r) => fmt(num(r, 'broadcastMs')) },
      { header: 'min…max ms', cell: (r) => `${fmt(num(r, 'broadcastMinMs'))}…${fmt(num(r, 'broadcastMaxMs'))}` },
      { header: 'first receipt ms', cell: (r) => fmt(num(r, 'broadcastFirstMs')) },
      { header: '64 KiB broadcast ms', cell: (r) => fmt(num(r, 'broadcast64kMs')) },
      { header: 'swarm RSS/peer KiB', cell: (r) => fmt(num(r, 'swarmRssPerPeerKiB')) },
      { header: 'other load (idle)', cell: (r) => { const x = num(r, 'idleForeign'); return x === undefined ? '–' : `${(x * 100).toFixed(0)}%` } }
    ],
    notes: [
      'RSS/peer = (hub RSS with the peers connected − before) / peers, each after full GCs and a settle; heap and buffers = the same for V8\'s used heap and ArrayBuffer memory (the rest is native: sockets, libuv, malloc). "after traffic" = the same once the broadcasts below are done (1 KiB ×12, then 64 KiB ×3) and the peers are idle again.',
      'idle CPU = hub process CPU time over one ping interval (60 s, quick: 10 s) with every peer idle after that traffic, as a share of one core: each peer\'s ping and pong, each way, fall in it once; busiest 10 s = the same over the busiest 10 s of it (the peers connected together, so they ping together).',
      'broadcast = from just before `Switch.broadcast` of a 1 KiB message to the last of the peers\' receipts (swarm clock = hub clock, CLOCK_MONOTONIC); median of 11 after one untimed; first receipt = median time to the first peer\'s receipt.'
    ]
  })
  reg.add(scaleCase({ id: `scale-${peers}`, title: 'rx-p2p Switch (default MConnection options)', peers, sources }))
  // Diagnostics, not in the default selection's targets: pings every RX_BENCH_SCALE_PING_MS on both ends.
  const pingMs = Number(process.env.RX_BENCH_SCALE_PING_MS ?? 0)
  if (pingMs > 0) {
    reg.add(scaleCase({ id: `scale-${peers}-ping${pingMs}`, title: `rx-p2p Switch, pings every ${pingMs} ms (diagnostic)`, peers, sources, mconnection: { pingIntervalMs: pingMs, pongTimeoutMs: Math.floor(pingMs * 0.75) } }))
  }

  const metric = (res: ReadonlyMap<string, CaseResult>, k: string): number | undefined => {
    const r = res.get(`scale-${peers}`)
    return r === undefined || r.error !== undefined ? undefined : num(r, k)
  }
  reg.addTarget({
    id: 'scale-rss',
    description: `RSS per idle peer ≤ ${SCALE_TARGETS.rssPerPeerKiB} KiB (${peers} peers)`,
    check: (res) => {
      const x = metric(res, 'rssPerPeerKiB')
      return x === undefined ? undefined : { pass: x <= SCALE_TARGETS.rssPerPeerKiB, detail: `${fmt(x)} KiB per peer` }
    }
  })
  reg.addTarget({
    id: 'scale-rss-after-traffic',
    description: `RSS per idle peer ≤ ${SCALE_TARGETS.rssPerPeerKiB} KiB after traffic (${peers} peers, idle again after 1 KiB and 64 KiB broadcasts)`,
    check: (res) => {
      const x = metric(res, 'rssPerPeerAfterTrafficKiB')
      return x === undefined ? undefined : { pass: x <= SCALE_TARGETS.rssPerPeerKiB, detail: `${fmt(x)} KiB per peer` }
    }
  })
  reg.addTarget({
    id: 'scale-idle-cpu',
    description: `idle CPU < ${SCALE_TARGETS.idleCpu * 100}% of a core with ${peers} peers (over one ping interval)`,
    check: (res) => {
      const x = metric(res, 'idleCpu')
      const peak = metric(res, 'idleCpuMax10s')
      return x === undefined ? undefined : { pass: x < SCALE_TARGETS.idleCpu, detail: `${pct2(x)} of a core${peak !== undefined ? ` (busiest 10 s: ${pct2(peak)})` : ''}` }
    }
  })
  reg.addTarget({
    id: 'scale-broadcast',
    description: `1 KiB broadcast received by all ${peers} peers in < ${SCALE_TARGETS.broadcastMs} ms`,
    check: (res) => {
      const x = metric(res, 'broadcastMs')
      const missing = metric(res, 'missingDeliveries') ?? 0
      if (x === undefined) return undefined
      return { pass: x < SCALE_TARGETS.broadcastMs && missing === 0, detail: `median ${fmt(x)} ms (min ${fmt(metric(res, 'broadcastMinMs'))}, max ${fmt(metric(res, 'broadcastMaxMs'))})${missing > 0 ? `; ${missing} deliveries missing` : ''}` }
    }
  })
}
