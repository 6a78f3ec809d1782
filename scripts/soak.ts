/**
 * `npm run soak`: a network of rx-p2p nodes left running for a while, with churn and attackers, watching the
 * memory, handles and sockets of the process that runs the nodes. After the warm-up (the first 20% of the run)
 * none of them may grow by 10% or more; the script exits 1 when one does.
 *
 * ```
 * npm run soak -- --minutes 10                 # 100 nodes, churn, attackers; a sample every 15 s
 * npm run soak -- --minutes 0.5 --nodes 30     # a quick run (samples every 2 s)
 * npm run soak -- --minutes 5 --seed 7 --no-attackers
 * ```
 *
 * Three processes:
 * - **nodes** (measured): `--nodes` Switches over real TCP, each on its own loopback IP (127.10.x.y, so the
 *   per-IP rules apply as between hosts), with PEX (an address book file each, three seeds) and an app reactor:
 *   every node sends an echo request to a random peer every 2 s (answered at once) and starts a gossip message
 *   every 30 s that every node relays once (a bounded seen-set). Churn: every `--churn-every` seconds one
 *   node (never a seed) is stopped and the node down longest is started again with the same key, port and book
 *   (`--down` nodes are down at any time), the choices drawn from a seeded random (`--seed`).
 * - **attackers**, from 127.20.0.x: connections that squat (never send a byte, reopened when closed), peers
 *   that flood 1-byte packets that never end a message, peers that send requests and never read the answers,
 *   and half handshakes; each attacker reconnects (with a fresh key) when it is dropped.
 * - **this one**: every `--every` seconds asks the nodes process for its numbers, after a full GC
 *   (`--expose-gc`): RSS, heap used, external memory, active handles other than timers and the timers apart
 *   (`process.getActiveResourcesInfo()`), open sockets (`/proc/self/fd`), peers, address-book entries, CPU;
 *   prints a line; at the end compares the mean of the samples in the last 20% of the run with the mean of
 *   those in the 20-40% window, right after the warm-up. RSS, heap, handles and sockets are judged; the rest
 *   is shown.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { getHeapSpaceStatistics } from 'node:v8'
import { EMPTY, interval, merge, mergeMap, of, timer, type Observable } from 'rxjs'
import {
  actions, exchangeNodeInfo, NodeKey, pexReactor, Switch, TcpConnection, TcpTransport,
  type Action, type NodeInfo, type PexReactor, type Reactor
} from '../lib/index.js'
import { makeSecretConnection } from '../lib/conn/index.js'
import { BLOCK_PROTOCOL_VERSION, encodePacketFrame, P2P_PROTOCOL_VERSION } from '../lib/wire/index.js'
import { seededRandom } from '../lib/testing/index.js'
import { ipcCaller } from '../spec/attack/support/ipc.js'

const THIS = fileURLToPath(import.meta.url)
const NETWORK = 'rx-p2p-soak'
const ECHO = 0x70
const GOSSIP = 0x71
const MiB = 1024 * 1024

/** The run's settings (command line). */
interface Options {
  minutes: number
  nodes: number
  everySec: number
  churnEverySec: number
  down: number
  seed: number
  attackers: boolean
  freshKeys: boolean
  maxGrowth: number
  /** Extra node flags for the nodes process (`--node-option`, repeatable). */
  nodeOptions: string[]
}

const USAGE = `usage: npm run soak -- [--minutes N] [--nodes N] [--every S] [--churn-every S] [--down N] [--seed N] [--no-attackers] [--max-growth F]

  --minutes N       how long (default 10; fractions allowed: 0.5)
  --nodes N         rx-p2p nodes (default 100)
  --every S         seconds between samples (default: the run / 40, between 2 and 15)
  --churn-every S   seconds between churn steps (default 5)
  --down N          nodes down at any time (default: 5% of the nodes)
  --seed N          seed of the churn and traffic choices (default 1)
  --no-attackers    without the attackers
  --fresh-keys      attackers reconnect with a fresh key every time (default: each cycles through 4 keys)
  --max-growth F    the growth allowed after warm-up (default 0.10)
  --node-option X   a node or V8 flag for the nodes process (repeatable), e.g. --node-option=--optimize-for-size
`

function parseArgs (argv: readonly string[]): Options {
  const opts: Partial<Options> & { attackers: boolean, freshKeys: boolean, nodeOptions: string[] } = { attackers: true, freshKeys: false, nodeOptions: [] }
  const num = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v)
    if (v === undefined || !Number.isFinite(n) || n < min) {
      process.stderr.write(`soak: ${name} needs a number >= ${min}\n${USAGE}`)
      process.exit(2)
    }
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const eq = argv[i]!.indexOf('=')
    const arg = eq < 0 ? argv[i]! : argv[i]!.slice(0, eq)
    const inline = eq < 0 ? undefined : argv[i]!.slice(eq + 1)
    const value = (): string | undefined => inline ?? argv[++i]
    switch (arg) {
      case '--minutes': opts.minutes = num(arg, value(), 0.05); break
      case '--nodes': opts.nodes = Math.floor(num(arg, value(), 4)); break
      case '--every': opts.everySec = num(arg, value(), 0.5); break
      case '--churn-every': opts.churnEverySec = num(arg, value(), 0.5); break
      case '--down': opts.down = Math.floor(num(arg, value(), 0)); break
      case '--seed': opts.seed = Math.floor(num(arg, value(), 0)); break
      case '--max-growth': opts.maxGrowth = num(arg, value(), 0); break
      case '--no-attackers': opts.attackers = false; break
      case '--fresh-keys': opts.freshKeys = true; break
      case '--node-option': {
        const v = value()
        if (v === undefined) { process.stderr.write(`soak: --node-option needs a flag\n${USAGE}`); process.exit(2) }
        opts.nodeOptions.push(v)
        break
      }
      case '--help': case '-h': process.stdout.write(USAGE); process.exit(0)
      // eslint-disable-next-line no-fallthrough
      default:
        process.stderr.write(`soak: unknown argument ${arg}\n${USAGE}`)
        process.exit(2)
    }
  }
  const minutes = opts.minutes ?? 10
  const nodes = opts.nodes ?? 100
  return {
    minutes,
    nodes,
    everySec: opts.everySec ?? Math.min(15, Math.max(2, (minutes * 60) / 40)),
    churnEverySec: opts.churnEverySec ?? 5,
    down: Math.min(opts.down ?? Math.round(nodes * 0.05), nodes - 4),
    seed: opts.seed ?? 1,
    attackers: opts.attackers,
    freshKeys: opts.freshKeys,
    nodeOptions: opts.nodeOptions,
    maxGrowth: opts.maxGrowth ?? 0.1
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A loopback IP of its own for node or attacker `i`. */
const loopbackIp = (base: number, i: number): string => `127.${base}.${i >> 8}.${(i & 255) + 1}`

// ---------------------------------------------------------------------------------------------
// IPC: { op, seq } answered with { seq, ... }

function serve (handlers: Record<string, (msg: any) => unknown>): void {
  process.on('message', (msg: any) => {
    void (async () => {
      try {
        const handler = handlers[msg.op]
        if (handler === undefined) throw new Error(`unknown op ${msg.op}`)
        process.send?.({ seq: msg.seq, ...(await handler(msg) as object) })
      } catch (err) {
        process.send?.({ seq: msg.seq, error: err instanceof Error ? err.stack ?? err.message : String(err) })
      }
    })()
  })
  process.on('disconnect', () => { process.exit(0) })
}

// ---------------------------------------------------------------------------------------------
// The nodes process

/** What the nodes process reports at each sample. */
interface Sample {
  t: number
  rss: number
  heapUsed: number
  /** The V8 heap's committed size (what of the RSS is V8's). */
  heapTotal: number
  external: number
  /** Active handles and requests other than timers (sockets, servers, file requests). */
  handles: number
  /** Active timers (`Timeout`), shown apart: their count rises and falls with the traffic. */
  timers: number
  sockets: number
  /** The committed size of each V8 heap space. */
  spaces: Record<string, number>
  /** Entries of every node's address book, together. */
  bookEntries: number
  /** Bans held by every node's Switch, together. */
  bans: number
  nodesUp: number
  peers: number
  cpuUs: number
  echoes: number
  gossipSeen: number
  started: number
  stopped: number
  refused: Record<string, number>
  removedBy: Record<string, number>
}

function openSockets (): number {
  try {
    let n = 0
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) n++
      } catch {}
    }
    return n
  } catch {
    return -1
  }
}

interface Slot {
  readonly i: number
  readonly key: NodeKey
  readonly ip: string
  readonly bookFile: string
  port: number
  sw: Switch | undefined
  pex: PexReactor | undefined
  downSince: number
}

/** The answer to an echo request: 0x72, the request's first bytes, zeros up to 1 KiB. */
function echoAnswer (request: Uint8Array): Uint8Array {
  const out = new Uint8Array(1024)
  out[0] = 0x72
  out.set(request.subarray(1, 16), 1)
  return out
}

function nodesMain (opts: Options): void {
  const random = seededRandom(opts.seed)
  const dir = mkdtempSync(join(tmpdir(), 'rx-p2p-soak-'))
  const slots: Slot[] = Array.from({ length: opts.nodes }, (_, i) => ({
    i, key: NodeKey.generate(), ip: loopbackIp(10, i), bookFile: join(dir, `addrbook-${i}.json`), port: 0, sw: undefined, pex: undefined, downSince: 0
  }))
  const seeds: string[] = []
  const counters = { echoes: 0, gossipSeen: 0, started: 0, stopped: 0 }
  const refused: Record<string, number> = {}
  const removedBy: Record<string, number> = {}
  let gossipSeq = 0

  const appReactor = (slot: Slot): Reactor => {
    const seen = new Set<string>()
    const remember = (id: string): boolean => {
      if (seen.has(id)) return false
      seen.add(id)
      // 256 ids: a message crosses the network in well under a second, and 256 is over a minute of everyone's
      // messages. Small, so that the sets are full within the warm-up (bounded state filling up looks like growth).
      if (seen.size > 256) seen.delete(seen.values().next().value!)
      return true
    }
    return {
      name: 'soak-app',
      // Gossip messages are small; a 1 MiB receive capacity lets a 1-byte-packet flooder reach it (and be
      // dropped, and come back) every few seconds, so its memory is a steady load rather than a slow sawtooth
      // (the 21 MiB default is what the attack specs aim at).
      channels: [{ id: ECHO, priority: 5, sendQueueCapacity: 10 }, { id: GOSSIP, priority: 1, sendQueueCapacity: 50, recvMessageCapacity: MiB }],
      run: (ctx) => {
        const handle$ = ctx.envelopes$.pipe(mergeMap((env): Observable<Action> => {
          if (env.chId === ECHO) {
            // A request gets a 1 KiB answer (request/response, as a mempool or block reactor).
            if (env.message[0] === 0x71) return of(actions.trySend(env.from, ECHO, echoAnswer(env.message)))
            counters.echoes++
            return EMPTY
          }
          const id = Buffer.from(env.message.subarray(0, 12)).toString('hex')
          if (!remember(id)) return EMPTY
          counters.gossipSeen++
          return of(actions.broadcast(GOSSIP, env.message.slice(), { except: [env.from] }))
        }))
        const echo$ = interval(2000, ctx.scheduler).pipe(mergeMap((): Observable<Action> => {
          const peers = ctx.peers.list()
          if (peers.length === 0) return EMPTY
          const to = peers[Math.floor(random() * peers.length)]!
          return of(actions.trySend(to, ECHO, Uint8Array.of(0x71, ...Buffer.from(`${slot.i}`))))
        }))
        const gossip$ = timer(Math.floor(random() * 30_000), 30_000, ctx.scheduler).pipe(mergeMap((): Observable<Action> => {
          const msg = new Uint8Array(256)
          const head = Buffer.alloc(12)
          head.writeUInt32BE(slot.i, 0)
          head.writeUInt32BE(++gossipSeq, 4)
          head.writeUInt32BE(Math.floor(random() * 2 ** 32), 8)
          msg.set(head, 0)
          remember(head.toString('hex'))
          return of(actions.broadcast(GOSSIP, msg))
        }))
        return merge(handle$, echo$, gossip$)
      }
    }
  }

  const start = async (slot: Slot): Promise<void> => {
    // PEX tops up the outbound peers every 10 s (CometBFT: 30 s), so that the network settles within the warm-up.
    const pex = pexReactor({
      addrBookFile: slot.bookFile, addrBookStrict: false, seeds: seeds.filter((s) => !s.startsWith(slot.key.id)), ensurePeersPeriodMs: 10_000, random
    })
    const sw = new Switch({
      nodeKey: slot.key,
      network: NETWORK,
      moniker: `soak-${slot.i}`,
      listenAddress: `${slot.ip}:${slot.port}`,
      transport: new TcpTransport({ localAddress: slot.ip }),
      reactors: [pex, appReactor(slot)],
      dialRandomizerMs: 500,
      stopFlushTimeoutMs: 200,
      random
    })
    sw.peerEvents$.subscribe((e) => {
      if (e.type === 'rejected') {
        const err = e.error as Error & { reason?: string }
        const k = err.reason ?? err.name
        refused[k] = (refused[k] ?? 0) + 1
      } else if (e.type === 'removed') {
        const k = e.reason?.name ?? 'none'
        removedBy[k] = (removedBy[k] ?? 0) + 1
      }
    })
    await sw.start()
    slot.port = sw.listenAddress!.port
    slot.sw = sw
    slot.pex = pex
    counters.started++
  }
  const stop = async (slot: Slot): Promise<void> => {
    const { sw } = slot
    slot.sw = undefined
    slot.pex = undefined
    slot.downSince = Date.now()
    await sw?.stop() // and the book is saved
    counters.stopped++
  }

  let churn: NodeJS.Timeout | undefined
  let churning = Promise.resolve()
  const cpu0 = process.cpuUsage()
  const t0 = Date.now()
  serve({
    start: async () => {
      // Three seeds first; their addresses are every node's seeds.
      for (const slot of slots.slice(0, 3)) {
        await start(slot)
        seeds.push(`${slot.key.id}@${slot.ip}:${slot.port}`)
      }
      for (let i = 3; i < slots.length; i += 10) await Promise.all(slots.slice(i, i + 10).map(start))
      return { addresses: slots.map((s) => `${s.key.id}@${s.ip}:${s.port}`) }
    },
    churn: () => {
      churn = setInterval(() => {
        churning = churning.then(async () => {
          const up = slots.filter((s) => s.i >= 3 && s.sw !== undefined)
          const down = slots.filter((s) => s.sw === undefined).sort((a, b) => a.downSince - b.downSince)
          if (up.length > 0) await stop(up[Math.floor(random() * up.length)]!)
          if (down.length >= opts.down && down[0] !== undefined) await start(down[0])
        }).catch((err: unknown) => { process.stderr.write(`soak: churn step failed: ${String(err)}\n`) })
      }, opts.churnEverySec * 1000)
      return {}
    },
    sample: () => {
      globalThis.gc?.()
      const m = process.memoryUsage()
      const c = process.cpuUsage(cpu0)
      const resources = process.getActiveResourcesInfo()
      const sample: Sample = {
        t: Date.now() - t0,
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        spaces: Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_size])),
        external: m.external,
        handles: resources.filter((r) => r !== 'Timeout' && r !== 'Immediate').length,
        timers: resources.filter((r) => r === 'Timeout').length,
        sockets: openSockets(),
        bookEntries: slots.reduce((n, s) => n + (s.pex?.book.size ?? 0), 0),
        bans: slots.reduce((n, s) => n + (s.sw?.admissionStats().bans ?? 0), 0),
        nodesUp: slots.filter((s) => s.sw !== undefined).length,
        peers: slots.reduce((n, s) => n + (s.sw?.peers.size ?? 0), 0),
        cpuUs: c.user + c.system,
        ...counters,
        refused: { ...refused },
        removedBy: { ...removedBy }
      }
      return { sample }
    },
    stop: async () => {
      clearInterval(churn)
      await churning
      await Promise.all(slots.map(stop))
      rmSync(dir, { recursive: true, force: true })
      return {}
    }
  })
  process.send?.({ op: 'ready' })
}

// ---------------------------------------------------------------------------------------------
// The attackers process

interface AttackCounts {
  squatOpen: number
  squatClosed: number
  floodConnects: number
  floodDropped: number
  floodBytes: number
  deafConnects: number
  deafDropped: number
  halfHandshakes: number
  failures: number
}

function attackersMain (addresses: string[], seed: number, freshKeys: boolean): void {
  const random = seededRandom(seed + 1000)
  const targets = addresses.map((a) => {
    const [id, hostPort] = a.split('@') as [string, string]
    const [host, port] = hostPort.split(':') as [string, string]
    return { id, host, port: Number(port) }
  })
  const pick = (): { id: string, host: string, port: number } => targets[Math.floor(random() * targets.length)]!
  const counts: AttackCounts = { squatOpen: 0, squatClosed: 0, floodConnects: 0, floodDropped: 0, floodBytes: 0, deafConnects: 0, deafDropped: 0, halfHandshakes: 0, failures: 0 }
  let stopping = false
  const sockets = new Set<net.Socket>()

  const connect = (localAddress: string): Promise<net.Socket> => new Promise((resolve, reject) => {
    const t = pick()
    const s = net.connect({ host: t.host, port: t.port, localAddress })
    s.once('connect', () => { s.off('error', reject); s.on('error', () => {}); sockets.add(s); s.once('close', () => sockets.delete(s)); resolve(s) })
    s.once('error', reject)
  })
  // Each attacker cycles through 4 keys: with a fresh key per connection, every reconnect would add one more
  // entry (a new ID at the same address) to the book of the node it reached, and PEX would carry it on to
  // every book in the network (a non-strict book, as on loopback, has no group bound): bounded only by the
  // books' size, so growth all through the run (see --fresh-keys).
  const keyPools = new Map<string, { keys: NodeKey[], next: number }>()
  const keyFor = (localAddress: string): NodeKey => {
    if (freshKeys) return NodeKey.generate()
    let pool = keyPools.get(localAddress)
    if (pool === undefined) keyPools.set(localAddress, pool = { keys: Array.from({ length: 4 }, () => NodeKey.generate()), next: 0 })
    return pool.keys[pool.next++ % pool.keys.length]!
  }
  const handshake = async (localAddress: string, channels: number[]): Promise<{ sc: Awaited<ReturnType<typeof makeSecretConnection>>, socket: net.Socket }> => {
    const socket = await connect(localAddress)
    const nodeKey = keyFor(localAddress)
    try {
      const sc = await makeSecretConnection(new TcpConnection(socket), nodeKey, {})
      const ours: NodeInfo = {
        protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0 },
        id: nodeKey.id,
        listenAddr: `${localAddress}:26656`,
        network: NETWORK,
        version: '0.38.0',
        channels: Uint8Array.from(channels),
        moniker: 'attacker',
        other: { txIndex: 'off', rpcAddress: '' }
      }
      await exchangeNodeInfo(sc, ours)
      return { sc, socket }
    } catch (err) {
      socket.destroy()
      throw err
    }
  }
  const again = (fn: () => Promise<void>, ms: number): void => {
    if (stopping) return
    setTimeout(() => { fn().catch(() => { counts.failures++; again(fn, 1000) }) }, ms)
  }

  // Squatters: TCP connections that never send a byte, from 127.20.0.1..5 (4 each: the per-IP pending limit).
  for (let i = 0; i < 20; i++) {
    const squat = async (): Promise<void> => {
      const s = await connect(loopbackIp(20, i % 5))
      s.resume() // reads (nothing comes), so that the node's close is seen
      counts.squatOpen++
      s.once('close', () => { counts.squatOpen--; counts.squatClosed++; again(squat, 100) })
    }
    again(squat, i * 50)
  }
  // Flooders: 1-byte packets on the gossip channel that never end a message, at about 1 MB/s each.
  for (let i = 0; i < 2; i++) {
    const flood = async (): Promise<void> => {
      const { sc, socket } = await handshake(loopbackIp(20, 10 + i), [ECHO, GOSSIP])
      counts.floodConnects++
      sc.source$.subscribe({ error: () => {} }) // it reads (and drops) what it gets: only its flood is wrong
      const frame = encodePacketFrame({ type: 'msg', channelId: GOSSIP, eof: false, data: Uint8Array.of(0x61) })
      const batch = new Uint8Array(frame.byteLength * 1000)
      for (let k = 0; k < 1000; k++) batch.set(frame, k * frame.byteLength)
      const timerId = setInterval(() => {
        if (socket.destroyed) return
        for (let k = 0; k < 8; k++) sc.write(batch)
        counts.floodBytes += batch.byteLength * 8
      }, 50)
      socket.once('close', () => { clearInterval(timerId); counts.floodDropped++; again(flood, 500) })
    }
    again(flood, 1000 + i * 300)
  }
  // Deaf peers: 1,000 echo requests a second (1 KiB answers), never reading the answers.
  for (let i = 0; i < 2; i++) {
    const deaf = async (): Promise<void> => {
      const { sc, socket } = await handshake(loopbackIp(20, 20 + i), [ECHO, GOSSIP])
      counts.deafConnects++
      sc.pause() // never reads: the node's answers pile up on its side
      const req = encodePacketFrame({ type: 'msg', channelId: ECHO, eof: true, data: Uint8Array.of(0x71, 0x30) })
      const timerId = setInterval(() => {
        if (socket.destroyed) return
        for (let k = 0; k < 50; k++) sc.write(req)
      }, 50)
      socket.once('close', () => { clearInterval(timerId); counts.deafDropped++; again(deaf, 500) })
    }
    again(deaf, 1500 + i * 300)
  }
  // Half handshakes: 35 bytes (an ephemeral key), then hang up; 20 a second from one IP.
  const hello = Buffer.concat([Buffer.from([0x22, 0x0a, 0x20]), Buffer.alloc(32, 9)])
  const half = async (): Promise<void> => {
    const s = await connect(loopbackIp(20, 30))
    s.end(hello)
    counts.halfHandshakes++
    again(half, 50)
  }
  again(half, 2000)

  serve({
    counts: () => ({ counts }),
    stop: () => {
      stopping = true
      for (const s of sockets) s.destroy()
      setTimeout(() => process.exit(0), 50)
      return {}
    }
  })
  process.send?.({ op: 'ready' })
}

// ---------------------------------------------------------------------------------------------
// This process: start, sample, judge

function spawnRole (role: string, args: string[], nodeOptions: string[] = []): ChildProcess {
  return fork(THIS, ['--role', role, ...args], { execArgv: ['--import', 'tsx', '--expose-gc', ...nodeOptions], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

function ready (child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('message', (msg: any) => { if (msg?.op === 'ready') resolve() })
    child.once('exit', (code, signal) => { reject(new Error(`the ${what} process exited (${code ?? signal})`)) })
  })
}

const fmtMiB = (n: number): string => `${(n / MiB).toFixed(1)} MiB`
const fmtT = (ms: number): string => `${(ms / 1000).toFixed(0).padStart(5)} s`

/** The mean of `pick` over the samples whose time is in [from, to) of the run. */
function mean (samples: Sample[], from: number, to: number, pick: (s: Sample) => number): number | undefined {
  const xs = samples.filter((s) => s.t >= from && s.t < to).map(pick)
  return xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length
}

async function main (): Promise<void> {
  const argv = process.argv.slice(2)
  const roleAt = argv.indexOf('--role')
  if (roleAt >= 0) {
    const role = argv[roleAt + 1]
    const payload = JSON.parse(argv[roleAt + 2] ?? '{}')
    if (role === 'nodes') nodesMain(payload as Options)
    else if (role === 'attackers') attackersMain(payload.addresses as string[], payload.seed as number, payload.freshKeys === true)
    else throw new Error(`unknown role ${role}`)
    return
  }
  const opts = parseArgs(argv)
  const durationMs = opts.minutes * 60_000
  console.log(`soak: ${opts.nodes} nodes for ${opts.minutes} min, churn every ${opts.churnEverySec} s (${opts.down} down), ` +
    `${opts.attackers ? `attackers on${opts.freshKeys ? ' (fresh keys)' : ''}` : 'no attackers'}, seed ${opts.seed}, a sample every ${opts.everySec} s; ` +
    `warm-up ${(durationMs * 0.2 / 1000).toFixed(0)} s; node ${process.version}${opts.nodeOptions.length > 0 ? ` ${opts.nodeOptions.join(' ')}` : ''}`)

  const nodes = spawnRole('nodes', [JSON.stringify(opts)], opts.nodeOptions)
  const callNodes = ipcCaller(nodes, 'the nodes process')
  let attackers: ChildProcess | undefined
  let callAttackers: ReturnType<typeof caller> | undefined
  const children = [nodes]
  const killAll = (): void => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL') }
  process.on('exit', killAll)
  process.on('SIGINT', () => { killAll(); process.exit(130) })
  process.on('SIGTERM', () => { killAll(); process.exit(143) })

  await ready(nodes, 'nodes')
  const startedAt = Date.now()
  const { addresses } = await callNodes('start') as { addresses: string[] }
  console.log(`soak: ${addresses.length} nodes listening after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`)
  await callNodes('churn')
  if (opts.attackers) {
    attackers = spawnRole('attackers', [JSON.stringify({ addresses, seed: opts.seed, freshKeys: opts.freshKeys })])
    children.push(attackers)
    callAttackers = ipcCaller(attackers, 'the attackers process')
    await ready(attackers, 'attackers')
  }

  const samples: Sample[] = []
  const t0 = Date.now()
  let last: Sample | undefined
  console.log('     time  nodes  peers        rss       heap   external  handles  timers  sockets   book  cpu | attackers')
  for (;;) {
    const { sample } = await callNodes('sample') as { sample: Sample }
    sample.t = Date.now() - t0
    samples.push(sample)
    const cpu = last === undefined ? 0 : (sample.cpuUs - last.cpuUs) / ((sample.t - last.t) * 1000)
    last = sample
    let att = ''
    if (callAttackers !== undefined) {
      const c = (await callAttackers('counts')).counts as AttackCounts
      att = ` | squat ${c.squatOpen} open ${c.squatClosed} closed; flood ${c.floodConnects} conns ${c.floodDropped} dropped ${fmtMiB(c.floodBytes)}; deaf ${c.deafConnects} conns ${c.deafDropped} dropped; half ${c.halfHandshakes}`
    }
    console.log(`${fmtT(sample.t)}  ${String(sample.nodesUp).padStart(5)}  ${String(sample.peers).padStart(5)}  ${fmtMiB(sample.rss).padStart(9)}  ${fmtMiB(sample.heapUsed).padStart(9)}  ${fmtMiB(sample.external).padStart(9)}  ${String(sample.handles).padStart(7)}  ${String(sample.timers).padStart(6)}  ${String(sample.sockets).padStart(7)}  ${String(sample.bookEntries).padStart(5)}  ${(cpu * 100).toFixed(0).padStart(3)}%${att}`)
    if (sample.t >= durationMs) break
    await sleep(Math.min(opts.everySec * 1000, Math.max(0, durationMs - sample.t)))
  }

  await callAttackers?.('stop').catch(() => {})
  const final = samples[samples.length - 1]!
  await callNodes('stop').catch((err: unknown) => { console.error(`soak: stopping the nodes: ${String(err)}`) })

  const end = final.t + 1
  // External memory (Buffers, mostly the attackers' partial messages and the sockets' chunks) is shown but not
  // judged: it is small and rises and falls with each flooder's cycle; what it holds is in the RSS.
  const metrics: Array<[string, (s: Sample) => number, (n: number) => string, boolean]> = [
    ['rss', (s) => s.rss, fmtMiB, true],
    ['heap used', (s) => s.heapUsed, fmtMiB, true],
    ['handles', (s) => s.handles, (n) => n.toFixed(0), true],
    ['sockets', (s) => s.sockets, (n) => n.toFixed(0), true],
    ['heap total', (s) => s.heapTotal, fmtMiB, false],
    ['external', (s) => s.external, fmtMiB, false],
    ['timers', (s) => s.timers, (n) => n.toFixed(0), false],
    ['book', (s) => s.bookEntries, (n) => n.toFixed(0), false],
    ['peers', (s) => s.peers, (n) => n.toFixed(0), false]
  ]
  console.log('')
  console.log(`growth after warm-up: mean of the last 20% (${fmtT(end * 0.8).trim()} to ${fmtT(end).trim()}) against the mean of 20-40% (${fmtT(end * 0.2).trim()} to ${fmtT(end * 0.4).trim()}); allowed < ${(opts.maxGrowth * 100).toFixed(0)}%`)
  let failed = false
  for (const [name, pick, fmt, judged] of metrics) {
    const base = mean(samples, end * 0.2, end * 0.4, pick)
    const late = mean(samples, end * 0.8, end, pick)
    const peak = Math.max(...samples.filter((s) => s.t >= end * 0.2).map(pick))
    if (base === undefined || late === undefined || base <= 0) {
      console.log(`  ${name.padEnd(10)} not enough samples`)
      if (judged) failed = true
      continue
    }
    const growth = late / base - 1
    const ok = growth < opts.maxGrowth
    if (judged && !ok) failed = true
    console.log(`  ${name.padEnd(10)} ${fmt(base).padStart(10)} -> ${fmt(late).padStart(10)}  ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%  (peak after warm-up ${fmt(peak)})  ${judged ? (ok ? 'ok' : 'FAIL') : '(not judged)'}`)
  }
  const spaceGrowth = Object.keys(final.spaces).map((name) => {
    const base = mean(samples, end * 0.2, end * 0.4, (x) => x.spaces[name] ?? 0)
    const late = mean(samples, end * 0.8, end, (x) => x.spaces[name] ?? 0)
    return `${name} ${fmtMiB(base ?? 0)} -> ${fmtMiB(late ?? 0)}`
  })
  console.log(`  V8 heap spaces (committed): ${spaceGrowth.join('; ')}`)
  const cpuShare = (final.cpuUs - samples[0]!.cpuUs) / ((final.t - samples[0]!.t) * 1000)
  console.log(`  nodes process CPU ${(cpuShare * 100).toFixed(0)}% of a core; ${final.started} starts, ${final.stopped} stops; ${final.echoes} echo answers; ${final.gossipSeen} gossip deliveries`)
  console.log(`  at the end: ${final.bookEntries} address-book entries and ${final.bans} bans over all nodes`)
  console.log(`  refused: ${JSON.stringify(final.refused)}`)
  console.log(`  peers removed by: ${JSON.stringify(final.removedBy)}`)
  console.log(failed ? 'soak: FAIL' : 'soak: ok')
  process.exitCode = failed ? 1 : 0
  await Promise.all(children.map(async (c) => {
    if (c.exitCode !== null) return
    await Promise.race([new Promise((resolve) => c.once('exit', resolve)), sleep(3000)])
  }))
  killAll()
}

main().catch((err: unknown) => {
  console.error(`soak: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  process.exit(1)
})
