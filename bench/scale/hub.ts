/**
 * The hub of the scale case: one rx-p2p {@link Switch} listening on loopback that accepts every swarm peer
 * (full SecretConnection + NodeInfo handshakes), driven by the orchestrator over the control channel (fd 3).
 * This is the process the case measures: its RSS per idle peer, its CPU while idle, and its broadcasts.
 *
 * Run with `--expose-gc` (the memory readings follow full collections).
 *
 * | op | fields | reply |
 * |----|--------|-------|
 * | `start` | `params: { maxInboundPeers, handshakeTimeoutMs?, mconnection? }` | `started {port, id, fdLimit}` |
 * | `waitPeers` | `count`, `atMost?`, `timeoutMs?` | `peers {count, rejected, removed}` once there are ≥ `count` (`atMost`: ≤) |
 * | `mem` | `settleMs` | `mem {rssKiB, heapUsedKiB, externalKiB, arrayBuffersKiB, peers, timers, handles}` after full GCs and a settle |
 * | `cpu` | | `cpu {cpuUs, t}` |
 * | `broadcast` | `seq`, `size`, `mode: 'broadcast' \| 'tryBroadcast'` | `broadcast {t0, t1, queued, peers}`: `t0` just before the call |
 * | `heapSnapshot` | `file` | `written {file}` (diagnostics: `RX_BENCH_SCALE_SNAPSHOTS=<dir>`) |
 * | `profile` | `start: true` or `file` | `profiling` / `written {file}`: a V8 CPU profile of what happens in between (`RX_BENCH_SCALE_IDLE_PROFILE=<file>`) |
 * | `exit` | | `bye`, then exits |
 *
 * @module
 */
import '../harness/polyfill.js'
import * as fs from 'node:fs'
import { Session } from 'node:inspector/promises'
import * as v8 from 'node:v8'
import type { MConnectionInit } from '../../lib/conn/mconnection.js'
import type { Switch as SwitchT } from '../../lib/switch/switch.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { ControlChannel, serveControl, type ControlMessage } from '../harness/control.js'
import { lib, nowUs, openFileLimit, SCALE_CHANNEL, SCALE_NETWORK, SCALE_DEBUG, SCALE_SEND_QUEUE_CAPACITY, settledMemoryFor, sharedOp } from './common.js'

const ctl = ControlChannel.fromFd(3)
const { Switch } = await lib<typeof import('../../lib/switch/switch.js')>('switch/switch.ts')
const { NodeKey } = await lib<typeof import('../../lib/crypto/node-key.js')>('crypto/node-key.ts')
const { NEVER } = await import('rxjs')

let sw: SwitchT | undefined
let profiler: Session | undefined
let rejected = 0
let removed = 0
let lastRejection = ''
let added = 0
if (SCALE_DEBUG) {
  setInterval(() => { process.stderr.write(`hub: ${sw?.peers.size ?? 0} peers, ${added} added, ${removed} removed, ${rejected} rejected (${lastRejection})\n`) }, 2000).unref()
}

/** The hub's only reactor: it owns the scale channel and does nothing with what it receives. */
const scaleReactor: Reactor = {
  name: 'scale',
  channels: [{ id: SCALE_CHANNEL, priority: 1, sendQueueCapacity: SCALE_SEND_QUEUE_CAPACITY }],
  run: () => NEVER
}

async function waitPeers (count: number, atMost: boolean, timeoutMs: number): Promise<ControlMessage> {
  const s = sw!
  const until = Date.now() + timeoutMs
  const ok = (): boolean => atMost ? s.peers.size <= count : s.peers.size >= count
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out with ${s.peers.size} peers (wanted ${atMost ? '≤' : '≥'} ${count}); ${rejected} rejected (last: ${lastRejection}), ${removed} removed`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { ev: 'peers', count: s.peers.size, rejected, removed, lastRejection }
}

function message (seq: number, size: number): Uint8Array {
  const m = new Uint8Array(size)
  for (let i = 4; i < size; i++) m[i] = (i * 31 + seq) & 0xff
  new DataView(m.buffer).setUint32(0, seq, true)
  return m
}

async function handle (msg: ControlMessage): Promise<ControlMessage | undefined> {
  switch (msg.op) {
    case 'start': {
      const p = (msg.params ?? {}) as { maxInboundPeers?: number, handshakeTimeoutMs?: number, mconnection?: MConnectionInit }
      const mconnection = p.mconnection
      sw = new Switch({
        nodeKey: NodeKey.generate(),
        network: SCALE_NETWORK,
        moniker: 'scale-hub',
        listenAddress: '127.0.0.1:0',
        maxInboundPeers: p.maxInboundPeers ?? 1100,
        allowDuplicateIp: true,
        handshakeTimeoutMs: p.handshakeTimeoutMs ?? 30_000,
        reactors: [scaleReactor],
        ...(mconnection !== undefined ? { mconnection } : {})
      })
      sw.peerEvents$.subscribe((e) => {
        if (e.type === 'rejected') {
          rejected++
          lastRejection = `${e.error.name}: ${e.error.message}`
        } else if (e.type === 'removed') {
          removed++
        } else if (e.type === 'added') {
          added++
        }
      })
      await sw.start()
      return { ev: 'started', port: sw.listenAddress!.port, id: sw.nodeId, fdLimit: openFileLimit() ?? null }
    }
    case 'waitPeers':
      return await waitPeers(Number(msg.count), msg.atMost === true, Number(msg.timeoutMs ?? 300_000))
    case 'mem': {
      const m = await settledMemoryFor(msg)
      const resources = process.getActiveResourcesInfo()
      return { ev: 'mem', ...m, peers: sw?.peers.size ?? 0, timers: resources.filter((r) => r === 'Timeout').length, handles: resources.length }
    }
    case 'broadcast': {
      const s = sw!
      const m = message(Number(msg.seq), Number(msg.size))
      let queued: number
      const t0 = nowUs()
      if (msg.mode === 'tryBroadcast') {
        queued = s.tryBroadcast(SCALE_CHANNEL, m).filter((r) => r.queued).length
      } else {
        const p = s.broadcast(SCALE_CHANNEL, m)
        const t1 = nowUs()
        queued = (await p).filter((r) => r.queued).length
        return { ev: 'broadcast', t0, t1, queued, peers: s.peers.size }
      }
      return { ev: 'broadcast', t0, t1: nowUs(), queued, peers: s.peers.size }
    }
    case 'heapSnapshot':
      return { ev: 'written', file: v8.writeHeapSnapshot(String(msg.file)) }
    case 'profile': {
      if (msg.start === true) {
        profiler = new Session()
        profiler.connect()
        await profiler.post('Profiler.enable')
        await profiler.post('Profiler.setSamplingInterval', { interval: 100 })
        await profiler.post('Profiler.start')
        return { ev: 'profiling' }
      }
      const { profile } = await profiler!.post('Profiler.stop')
      profiler!.disconnect()
      profiler = undefined
      fs.writeFileSync(String(msg.file), JSON.stringify(profile))
      return { ev: 'written', file: String(msg.file) }
    }
    default: // cpu, exit
      return sharedOp(msg)
  }
}

serveControl(ctl, handle, { trace: SCALE_DEBUG ? 'hub' : undefined })
