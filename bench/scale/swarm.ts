/**
 * The swarm of the scale case: one process running the other ends of the hub's peers, as lean as a full peer
 * can be: per peer a node key, a TCP connection (from one of several 127.0.0.x source addresses),
 * `upgradeConnection` (SecretConnection handshake + NodeInfo exchange, exactly what a Switch runs) and an
 * MConnection with the scale channel. No Switch, no reactor: each MConnection's `inbound$` feeds one counter.
 *
 * | op | fields | reply |
 * |----|--------|-------|
 * | `connect` | `port`, `hubId`, `count`, `group`, `concurrency?`, `sources?`, `mconnection?` (options) | `connected {ok, ms, fdLimit}` (errors if a peer cannot connect after 3 tries) |
 * | `close` | `group` | `closed {count}`: that group's connections closed |
 * | `expect` | `seq`, `count`, `timeoutMs?` | `armed`; later `received {seq, got, first, last}`: times (µs) of the first and last receipt of message `seq` |
 * | `mem` | `settleMs` | memory after full GCs |
 * | `cpu` | | `cpu {cpuUs, t}` |
 * | `exit` | | `bye`, then exits |
 *
 * @module
 */
import '../harness/polyfill.js'
import * as net from 'node:net'
import type { MConnection as MConnectionT, MConnectionInit } from '../../lib/conn/mconnection.js'
import type { NodeInfo } from '../../lib/wire/node-info.js'
import { ControlChannel, serveControl, type ControlMessage } from '../harness/control.js'
import { lib, nowUs, openFileLimit, SCALE_CHANNEL, SCALE_NETWORK, SCALE_DEBUG, SCALE_SEND_QUEUE_CAPACITY, settledMemoryFor, sharedOp } from './common.js'

const ctl = ControlChannel.fromFd(3)
const { NodeKey } = await lib<typeof import('../../lib/crypto/node-key.js')>('crypto/node-key.ts')
const { TcpConnection } = await lib<typeof import('../../lib/transport/tcp.js')>('transport/tcp.ts')
const { upgradeConnection } = await lib<typeof import('../../lib/multiplex-transport/upgrade.js')>('multiplex-transport/upgrade.ts')
  .catch(async () => await lib<typeof import('../../lib/multiplex-transport/upgrade.js')>('transport/upgrade.ts')) // an older RX_BENCH_LIB
const { MConnection } = await lib<typeof import('../../lib/conn/mconnection.js')>('conn/mconnection.ts')

const groups = new Map<string, MConnectionT[]>()

/** The broadcast being counted. */
let expecting: { seq: number, count: number, got: number, first: number, last: number, timer: NodeJS.Timeout } | undefined

function onMessage (message: Uint8Array): void {
  const e = expecting
  if (e === undefined || message.byteLength < 4) return
  const seq = (message[0]! | (message[1]! << 8) | (message[2]! << 16) | (message[3]! << 24)) >>> 0
  if (seq !== e.seq) return
  const t = nowUs()
  if (e.got === 0) e.first = t
  e.last = t
  if (++e.got === e.count) finish()
}

function finish (): void {
  const e = expecting
  if (e === undefined) return
  expecting = undefined
  clearTimeout(e.timer)
  ctl.send({ ev: 'received', seq: e.seq, got: e.got, first: e.first, last: e.last })
}

/** A TCP connection to the hub, given up after 10 s (the attempt is then retried). */
function tcpConnect (port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress })
    const timer = setTimeout(() => {
      s.destroy()
      reject(new Error(`TCP connect from ${localAddress} timed out`))
    }, 10_000)
    s.once('connect', () => { clearTimeout(timer); s.off('error', reject); resolve(s) })
    s.once('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

/** Stage of each connection attempt in flight (debug). */
const stages = new Map<number, string>()
let attemptSeq = 0
if (SCALE_DEBUG) setInterval(() => { process.stderr.write(`swarm: ${stages.size} in flight: ${JSON.stringify([...stages.values()].reduce<Record<string, number>>((a, s) => { a[s] = (a[s] ?? 0) + 1; return a }, {}))}\n`) }, 2000).unref()

async function connectOne (port: number, hubId: string, localAddress: string, init: MConnectionInit): Promise<MConnectionT> {
  const a = ++attemptSeq
  stages.set(a, 'tcp')
  try {
    return await connectStages(port, hubId, localAddress, init, (s) => { stages.set(a, s) })
  } finally {
    stages.delete(a)
  }
}

async function connectStages (port: number, hubId: string, localAddress: string, init: MConnectionInit, stage: (s: string) => void): Promise<MConnectionT> {
  const nodeKey = NodeKey.generate()
  const nodeInfo: NodeInfo = {
    protocolVersion: { p2p: 8, block: 11, app: 0 },
    id: nodeKey.id,
    listenAddr: `${localAddress}:26656`,
    network: SCALE_NETWORK,
    version: '0.1.0',
    channels: Uint8Array.of(SCALE_CHANNEL),
    moniker: 'scale-peer',
    other: { txIndex: 'off', rpcAddress: '' }
  }
  const socket = await tcpConnect(port, localAddress)
  stage('upgrade')
  const raw = new TcpConnection(socket)
  const up = await upgradeConnection(raw, { nodeKey, nodeInfo, dialedId: hubId, handshakeTimeoutMs: 30_000 })
  const mc = new MConnection(up.conn, [{ id: SCALE_CHANNEL, priority: 1, sendQueueCapacity: SCALE_SEND_QUEUE_CAPACITY }], init)
  mc.inbound$.subscribe(({ message }) => { onMessage(message) })
  mc.start()
  return mc
}

async function connect (msg: ControlMessage): Promise<ControlMessage> {
  const port = Number(msg.port)
  const hubId = String(msg.hubId)
  const count = Number(msg.count)
  const concurrency = Number(msg.concurrency ?? 16)
  const sources = Math.max(1, Math.min(250, Number(msg.sources ?? 1)))
  const init = (msg.mconnection ?? {}) as MConnectionInit
  const group: MConnectionT[] = groups.get(String(msg.group)) ?? []
  groups.set(String(msg.group), group)
  const t0 = performance.now()
  let next = 0
  let retries = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const localAddress = sources === 1 ? '127.0.0.1' : `127.0.0.${2 + (i % sources)}`
      for (let attempt = 1; ; attempt++) {
        try {
          group.push(await connectOne(port, hubId, localAddress, init))
          break
        } catch (err) {
          if (attempt >= 3) throw new Error(`peer ${i} from ${localAddress}: ${(err as Error).message}`, { cause: err })
          retries++
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return { ev: 'connected', ok: group.length, retries, ms: performance.now() - t0, fdLimit: openFileLimit() ?? null }
}

async function handle (msg: ControlMessage): Promise<ControlMessage | undefined> {
  switch (msg.op) {
    case 'connect':
      return await connect(msg)
    case 'close': {
      const group = groups.get(String(msg.group)) ?? []
      groups.delete(String(msg.group))
      for (const mc of group) mc.stop()
      return { ev: 'closed', count: group.length }
    }
    case 'expect': {
      if (expecting !== undefined) finish()
      const seq = Number(msg.seq)
      const timer = setTimeout(finish, Number(msg.timeoutMs ?? 10_000))
      expecting = { seq, count: Number(msg.count), got: 0, first: 0, last: 0, timer }
      return { ev: 'armed' }
    }
    case 'mem': {
      const m = await settledMemoryFor(msg)
      return { ev: 'mem', ...m }
    }
    default: // cpu, exit
      return sharedOp(msg)
  }
}

serveControl(ctl, handle, { trace: SCALE_DEBUG ? 'swarm' : undefined })
