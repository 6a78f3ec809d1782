/**
 * The attack harness: a node under attack in a child process ({@link startTarget}), honest peers that talk to
 * it the whole time ({@link honestTraffic}), a sampler of its memory and CPU ({@link sampleStats}), and the
 * attacker's tools (raw sockets from chosen source IPs, a completed handshake to write raw packets on).
 *
 * Every attack spec: start a target, start honest traffic, attack, then assert the bound on what the attack
 * cost the target and that the honest peers lost nothing.
 */
import { fork, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { NodeKey } from '../../../lib/crypto/node-key.js'
import { makeSecretConnection, type SecretConnection } from '../../../lib/conn/secret-connection.js'
import { mapToActions } from '../../../lib/switch/map-to-actions.js'
import type { Peer } from '../../../lib/switch/peer.js'
import type { Reactor } from '../../../lib/switch/reactor.js'
import { Switch } from '../../../lib/switch/switch.js'
import { TcpConnection, TcpTransport } from '../../../lib/transport/tcp.js'
import { exchangeNodeInfo } from '../../../lib/multiplex-transport/upgrade.js'
import { BLOCK_PROTOCOL_VERSION, P2P_PROTOCOL_VERSION, type NodeInfo } from '../../../lib/wire/node-info.js'
import { BULK_CHANNEL, ECHO_CHANNEL, NETWORK, type SendManyRequest, type TargetConfig, type TargetStats } from './protocol.js'
import { ipcCaller } from './ipc.js'

export { BULK_CHANNEL, ECHO_CHANNEL, NETWORK, type SendManyRequest, type TargetConfig, type TargetStats } from './protocol.js'

/** True when the long versions of the attacks were asked for (`npm run attack -- --long`). */
export const LONG = process.env.RX_P2P_ATTACK_LONG === '1'

const MiB = 1024 * 1024
/** Bytes as MiB with one decimal, for messages. */
export const mib = (n: number): string => `${(n / MiB).toFixed(1)} MiB`

const TARGET_SCRIPT = fileURLToPath(new URL('./target-node.ts', import.meta.url))

/** The node under attack, running in a child process. */
export interface Target {
  readonly host: string
  readonly port: number
  readonly id: string
  /** `id@host:port` */
  readonly address: string
  readonly pid: number
  readonly child: ChildProcess
  stats (): Promise<TargetStats>
  /** Runs a full GC in the target (started with --expose-gc, as startTarget does), then reports. */
  gcStats (): Promise<TargetStats>
  /** The target's address-book entries (with `pex`). */
  book (): Promise<Array<{ addr: string, src: string, bucketType: number }>>
  /** Asks the target to dial `address`; resolves with the outcome. */
  dial (address: string): Promise<{ ok: boolean, error?: { name: string, reason?: string, message: string } }>
  /**
   * Makes the target send `count` messages of `size` bytes, none awaited (`peer.send` to `to`, or `sw.broadcast`);
   * resolves with how many were refused at once and how many were still waiting one turn later.
   */
  sendMany (req: SendManyRequest): Promise<{ refusedAtOnce: number, pending: number }>
  /** Stops the target's Switch and waits for the process to exit. */
  stop (): Promise<void>
}

const running = new Set<ChildProcess>()
process.on('exit', () => { for (const c of running) c.kill('SIGKILL') })

/** Starts the node under attack in a child process and waits until it listens. */
export async function startTarget (config: TargetConfig = {}): Promise<Target> {
  const child = fork(TARGET_SCRIPT, [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...(config.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  running.add(child)
  child.on('exit', () => { running.delete(child) })
  let onReady!: (msg: { port: number, id: string }) => void
  const ready = new Promise<{ port: number, id: string }>((resolve, reject) => {
    onReady = resolve
    child.once('exit', (code) => { reject(new Error(`the target exited with ${code} before it was ready`)) })
  })
  const call = ipcCaller(child, 'the target', (msg) => { if (msg?.op === 'ready') onReady(msg) })
  const { port, id } = await ready
  const host = config.host ?? '127.0.0.1'
  return {
    host,
    port,
    id,
    address: `${id}@${host}:${port}`,
    pid: child.pid!,
    child,
    stats: async () => (await call('stats')).stats,
    gcStats: async () => (await call('gc')).stats,
    book: async () => (await call('book')).entries,
    dial: async (address) => await call('dial', { address }),
    sendMany: async (req) => (await call('sendMany', { sendMany: req })).result,
    stop: async () => {
      for (const socket of attackSockets.get(port) ?? []) socket.destroy()
      attackSockets.delete(port)
      if (child.exitCode !== null) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve() }))
      try {
        await call('stop')
      } catch {}
      await Promise.race([exited, new Promise<void>((resolve) => { setTimeout(resolve, 5000).unref() })])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }
}

/** What {@link sampleStats} saw. */
export interface StatsSamples {
  samples: TargetStats[]
  /** Highest RSS seen. */
  peakRss: number
  /** Highest heapUsed seen. */
  peakHeap: number
  /** CPU used by the target while sampling, as a share of one core (0.5 = half a core). */
  cpuShare: number
}

/** Samples the target's stats every `everyMs` until `stop()`. */
export function sampleStats (target: Target, everyMs = 100): { stop: () => Promise<StatsSamples> } {
  const samples: TargetStats[] = []
  let stopped = false
  const started = Date.now()
  const loop = (async () => {
    while (!stopped) {
      try {
        samples.push(await target.stats())
      } catch {
        return
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return {
    stop: async () => {
      stopped = true
      await loop
      try { samples.push(await target.stats()) } catch {}
      const first = samples[0]
      const last = samples[samples.length - 1]
      const wallUs = (Date.now() - started) * 1000
      return {
        samples,
        peakRss: Math.max(0, ...samples.map((s) => s.rss)),
        peakHeap: Math.max(0, ...samples.map((s) => s.heapUsed)),
        cpuShare: first !== undefined && last !== undefined && wallUs > 0 ? (last.cpuUs - first.cpuUs) / wallUs : 0
      }
    }
  }
}

/** Honest peers exchanging numbered messages with the target. */
export interface HonestTraffic {
  /** Requests queued on the echo channel, over all peers. */
  readonly sent: number
  /** Answers received, over all peers. */
  readonly received: number
  /** Times an honest peer lost its connection to the target. */
  readonly disconnects: number
  /** The honest peers' Switches. */
  readonly switches: readonly Switch[]
  /** Stops sending, waits up to `graceMs` for the last answers, stops the Switches. */
  stop (graceMs?: number): Promise<void>
  /** Throws unless every request was answered, in order, and no honest peer was disconnected. */
  assertNoLoss (): void
}

/** Options of {@link honestTraffic}. */
export interface HonestTrafficInit {
  /** How many honest peers. @default 2 */
  peers?: number
  /** Pause between requests of one peer, in ms. @default 20 */
  intervalMs?: number
  /** Source IPs the peers dial from, one each (any 127.0.0.0/8 address works on Linux). @default 127.0.1.<i+1> */
  sourceIps?: string[]
  /** How long the first connection may take, in ms. @default 5000 */
  connectTimeoutMs?: number
}

/**
 * Starts honest peers (Switches in this process, each dialing the target from its own source IP) that send a
 * numbered request on the echo channel every `intervalMs` and check that each answer comes back, in order.
 */
export async function honestTraffic (target: Target, init: HonestTrafficInit = {}): Promise<HonestTraffic> {
  const count = init.peers ?? 2
  const interval = init.intervalMs ?? 20
  const switches: Switch[] = []
  const state = { sent: 0, received: 0, disconnects: 0, outOfOrder: 0, notQueued: 0 }
  const expected: number[] = []
  const seen: number[] = []
  let running = true
  const loops: Array<Promise<void>> = []
  for (let i = 0; i < count; i++) {
    const ip = init.sourceIps?.[i] ?? `127.0.1.${i + 1}`
    expected.push(0)
    seen.push(0)
    const me = i
    const reactor: Reactor = {
      name: 'honest-echo',
      channels: [{ id: ECHO_CHANNEL, priority: 5, sendQueueCapacity: 10 }, { id: BULK_CHANNEL, priority: 1 }],
      run: (ctx) => ctx.envelopes$.pipe(mapToActions((env) => {
        if (env.chId !== ECHO_CHANNEL) return undefined
        const text = new TextDecoder().decode(env.message.subarray(0, Math.min(32, env.message.byteLength))).split('\0')[0]!
        const n = Number(text.split(':')[1])
        if (n !== seen[me]) state.outOfOrder++
        seen[me] = n + 1
        state.received++
        return undefined
      }))
    }
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      moniker: `honest-${i}`,
      network: NETWORK,
      dialRandomizerMs: 0,
      stopFlushTimeoutMs: 200,
      transport: new TcpTransport({ localAddress: ip }),
      reactors: [reactor]
    })
    await sw.start()
    switches.push(sw)
    const peer = await dialWithRetry(sw, target.address, init.connectTimeoutMs ?? 5000)
    sw.peerEvents$.subscribe((e) => { if (running && e.type === 'removed' && e.peer.id === target.id) state.disconnects++ })
    loops.push((async () => {
      let n = 0
      while (running && peer.isRunning) {
        const ok = await peer.send(ECHO_CHANNEL, new TextEncoder().encode(`h${me}:${n}`))
        if (ok) {
          n++
          state.sent++
          expected[me] = n
        } else {
          state.notQueued++
        }
        await new Promise((resolve) => setTimeout(resolve, interval))
      }
    })())
  }
  return {
    get sent () { return state.sent },
    get received () { return state.received },
    get disconnects () { return state.disconnects },
    switches,
    stop: async (graceMs = 3000) => {
      running = false
      await Promise.all(loops)
      const deadline = Date.now() + graceMs
      while (state.received < state.sent && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      await Promise.all(switches.map(async (sw) => { await sw.stop() }))
    },
    assertNoLoss: () => {
      const problems: string[] = []
      if (state.sent === 0) problems.push('no request was sent')
      if (state.received !== state.sent) problems.push(`${state.sent - state.received} of ${state.sent} requests got no answer`)
      if (state.outOfOrder > 0) problems.push(`${state.outOfOrder} answers out of order`)
      if (state.disconnects > 0) problems.push(`honest peers were disconnected ${state.disconnects} times`)
      if (state.notQueued > 0) problems.push(`${state.notQueued} requests could not be queued`)
      if (problems.length > 0) throw new Error(`honest traffic: ${problems.join('; ')}`)
    }
  }
}

/** Dials `address` from `sw`, retrying refusals until `timeoutMs` has passed. */
export async function dialWithRetry (sw: Switch, address: string, timeoutMs = 5000): Promise<Peer> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await sw.dial(address)
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
}

/** Attacker sockets by the target port they aim at: {@link Target.stop} destroys them, so no spec leaves one open. */
const attackSockets = new Map<number, Set<net.Socket>>()

/**
 * A TCP socket to the target from `sourceIp` (any 127.0.0.0/8 address), not yet connected: an attacker socket that
 * the target's `stop()` destroys (a paused socket may never see the target close it).
 */
export function attackSocket (target: Target, sourceIp?: string): net.Socket {
  const socket = net.connect(sourceIp === undefined ? { host: target.host, port: target.port } : { host: target.host, port: target.port, localAddress: sourceIp })
  let set = attackSockets.get(target.port)
  if (set === undefined) attackSockets.set(target.port, set = new Set())
  set.add(socket)
  socket.once('close', () => { set.delete(socket) })
  return socket
}

/** A raw TCP socket to the target from `sourceIp` (127.0.0.x), connected (see {@link attackSocket}). */
export function rawSocket (target: Target, sourceIp?: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = attackSocket(target, sourceIp)
    socket.once('connect', () => {
      socket.off('error', reject)
      socket.on('error', () => {})
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

/** An attacker that passed the secret handshake and the NodeInfo exchange. */
export interface AttackerConnection {
  /** The encrypted connection: write raw packet frames (lib/wire/packet.ts) on it. */
  sc: SecretConnection
  /** The underlying socket. */
  socket: net.Socket
  /** The target's NodeInfo. */
  theirInfo: NodeInfo
  /** The attacker's node key. */
  nodeKey: NodeKey
  /** Destroys the connection. */
  close (): void
}

/**
 * Connects to the target from `sourceIp` with a fresh (or given) key and completes the handshake as a peer with
 * the echo and bulk channels, without an MConnection: the caller writes whatever packets it wants.
 */
export async function attackerHandshake (target: Target, init: { sourceIp?: string, nodeKey?: NodeKey, channels?: number[], listenAddr?: string } = {}): Promise<AttackerConnection> {
  const nodeKey = init.nodeKey ?? NodeKey.generate()
  const socket = await rawSocket(target, init.sourceIp)
  const raw = new TcpConnection(socket)
  const sc = await makeSecretConnection(raw, nodeKey, {})
  const ours: NodeInfo = {
    protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0 },
    id: nodeKey.id,
    listenAddr: init.listenAddr ?? `${init.sourceIp ?? '127.0.0.1'}:26656`,
    network: NETWORK,
    version: '0.38.0',
    channels: Uint8Array.from(init.channels ?? [ECHO_CHANNEL, BULK_CHANNEL]),
    moniker: 'attacker',
    other: { txIndex: 'off', rpcAddress: '' }
  }
  const theirInfo = await exchangeNodeInfo(sc, ours)
  return { sc, socket, theirInfo, nodeKey, close: () => { sc.destroy(); socket.destroy() } }
}

/** Waits until `pred()` holds, polling every 20 ms; throws after `timeoutMs` with `what`. */
export async function waitFor (pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Sleeps `ms` of wall time. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
