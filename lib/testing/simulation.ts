/**
 * Whole-network simulation in virtual time: N nodes of the real Switch and PEX reactor over the in-memory
 * transport, every timer on one heap-ordered virtual clock and every random choice from a seeded source, so the
 * same seed gives the same run, event for event.
 *
 * It follows {@link TestNetwork}'s recipe (real Switches on a {@link MemoryNetwork}, keys derived from a seed, the
 * clock driven instant by instant with Promise jobs run in between) with three differences that a network of a
 * thousand nodes needs: a binary-heap clock (`VirtualTimeScheduler` re-sorts its whole queue on every schedule),
 * hosts spread over many /16 groups (the address book places addresses by group; TestNetwork's `10.0.x.y` are all
 * one group), and a `setImmediate` turn between instants instead of a 1 ms timer.
 *
 * @module
 */
import { createHash, type Hash } from 'node:crypto'
import { sha256 } from '@noble/hashes/sha2.js'
import { Observable, Subject, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs'
import { NodeKey } from '../crypto/node-key.js'
import { TransportError } from '../errors.js'
import { AddrBook } from '../pex/addr-book.js'
import type { AddrBookData, AddrBookStore } from '../pex/addr-book-file.js'
import { pexReactor, type PexReactor, type PexReactorInit } from '../pex/pex-reactor.js'
import type { PeerEvent } from '../switch/events.js'
import type { Reactor } from '../switch/reactor.js'
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- named by the doc comments' {@link}s
import type { TestNetwork } from './network.js'
import { Switch, type SwitchInit } from '../switch/switch.js'
import type { DuplexConnection } from '../transport/duplex.js'
import { MemoryNetwork } from '../transport/memory.js'
import type { NodeId } from '../crypto/node-id.js'
import { NetAddress } from '../transport/net-address.js'
import type { Listener, Transport } from '../transport/transport.js'
import {
  ATTACK_KINDS, chaosFlags, gossipReactor, poisonReactor, resolveChaos, silentReactor, SimulationInvariantError,
  type AttackKind, type ChaosInit, type ResolvedChaos, type SimulationInvariant
} from './chaos.js'
import { FaultyConnection, type FaultPlan } from './faulty-connection.js'
import { PackedAddrBook } from './packed-book.js'

// ---------------------------------------------------------------------------------------------
// Seeded randomness

/**
 * A seeded random source in [0, 1) (sfc32 keyed with SHA-256 of the seed): the same seed gives the same
 * sequence on every machine.
 *
 * @example
 * ```ts
 * const random = seededRandom('run-1/node-7')
 * random() // 0.6135…, every time
 * ```
 */
export function seededRandom (seed: string | number): () => number {
  const h = sha256(new TextEncoder().encode(String(seed)))
  const word = (i: number): number => ((h[i]! << 24) | (h[i + 1]! << 16) | (h[i + 2]! << 8) | h[i + 3]!) >>> 0
  let a = word(0)
  let b = word(4)
  let c = word(8)
  let d = word(12)
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + t) >>> 0
    return t / 4294967296
  }
}

// ---------------------------------------------------------------------------------------------
// The virtual clock

class HeapAction<T> extends Subscription implements SchedulerAction<T> {
  state: T | undefined
  /** When it is due (virtual ms) and its place among actions due then (scheduling order). */
  time = 0
  seq = 0
  /** Its index in the scheduler's heap, or -1 when it is not queued. */
  index = -1

  constructor (readonly scheduler: SimulationScheduler, readonly work: (this: SchedulerAction<T>, state?: T) => void) {
    super()
  }

  schedule (state?: T, delay = 0): Subscription {
    if (this.closed) return this
    this.state = state
    this.scheduler.enqueue(this as HeapAction<unknown>, delay)
    return this
  }

  override unsubscribe (): void {
    if (this.closed) return
    // Out of the heap at once: a cancelled timer (a pong timeout, say) must not sit there until it would have
    // been due, outliving its connection's young objects and filling the old generation.
    if (this.index >= 0) this.scheduler.dequeue(this as HeapAction<unknown>)
    super.unsubscribe()
  }
}

/** Heap order: by time, then by scheduling order. */
function earlier (a: HeapAction<unknown>, b: HeapAction<unknown>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}

/**
 * A virtual clock for large simulations: a `SchedulerLike` whose pending actions sit in a binary heap ordered by
 * (time, scheduling order), so scheduling and cancelling stay cheap with hundreds of thousands of timers
 * (RxJS's `VirtualTimeScheduler` re-sorts its whole queue on every schedule). An action is its own heap node:
 * rescheduling a periodic action allocates nothing, and a cancelled one leaves the heap at once. Time only moves
 * when {@link SimulationScheduler.runNext} (or a {@link Simulation}) drives it.
 *
 * @example
 * ```ts
 * const clock = new SimulationScheduler(0)
 * timer(1000, clock).subscribe(() => console.log('one virtual second'))
 * clock.runUntil(1000)
 * ```
 */
export class SimulationScheduler implements SchedulerLike {
  #now: number
  #seq = 0
  #executed = 0
  readonly #heap: Array<HeapAction<unknown>> = []

  /** @param startTime the clock's first reading, in ms since the epoch */
  constructor (startTime = 0) {
    this.#now = startTime
  }

  /** The virtual time in ms. */
  now (): number {
    return this.#now
  }

  /** Actions executed so far. */
  get executed (): number {
    return this.#executed
  }

  /** Actions waiting. */
  get pending (): number {
    return this.#heap.length
  }

  schedule<T> (work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new HeapAction<T>(this, work).schedule(state, delay)
  }

  /** @internal queues `action` (again: a pending action moves to its new time). */
  enqueue (action: HeapAction<unknown>, delay: number): void {
    if (action.index >= 0) this.dequeue(action)
    const d = Number.isFinite(delay) && delay > 0 ? delay : 0
    action.time = this.#now + d
    action.seq = this.#seq++
    const heap = this.#heap
    action.index = heap.length
    heap.push(action)
    this.#up(action.index)
  }

  /** @internal takes a queued action out of the heap. */
  dequeue (action: HeapAction<unknown>): void {
    const heap = this.#heap
    const i = action.index
    action.index = -1
    const last = heap.pop()!
    if (last === action) return
    heap[i] = last
    last.index = i
    this.#up(i)
    this.#down(last.index)
  }

  /** The time of the next action, or `undefined` when none is pending. */
  nextTime (): number | undefined {
    return this.#heap[0]?.time
  }

  /**
   * Moves the clock to the next pending time (if it is not after `limit`) and executes every action due then,
   * including those they schedule for the same instant. Returns the number executed (0 when nothing was due).
   * An action that throws is unsubscribed and its error rethrown.
   */
  runNext (limit = Infinity): number {
    const heap = this.#heap
    if (heap.length === 0) return 0
    const time = heap[0]!.time
    if (time > limit) return 0
    this.#now = time
    let n = 0
    while (heap.length > 0 && heap[0]!.time === time) {
      const action = heap[0]!
      this.dequeue(action)
      n++
      this.#executed++
      try {
        action.work(action.state)
      } catch (err) {
        action.unsubscribe()
        throw err
      }
    }
    return n
  }

  /** Runs every action due up to `time` (synchronously, no Promise job in between), then sets the clock to `time`. */
  runUntil (time: number): void {
    while (this.runNext(time) > 0) { /* next instant */ }
    if (time > this.#now) this.#now = time
  }

  /** @internal moves the clock forward without running anything (nothing may be due before `time`). */
  setTime (time: number): void {
    if (time > this.#now) this.#now = time
  }

  #up (i: number): void {
    const heap = this.#heap
    const a = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]!
      if (earlier(p, a)) break
      heap[i] = p
      p.index = i
      i = parent
    }
    heap[i] = a
    a.index = i
  }

  #down (i: number): void {
    const heap = this.#heap
    const n = heap.length
    const a = heap[i]!
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      let c = l
      let cv = heap[l]!
      if (r < n) {
        const rv = heap[r]!
        if (earlier(rv, cv)) {
          c = r
          cv = rv
        }
      }
      if (earlier(a, cv)) break
      heap[i] = cv
      cv.index = i
      i = c
    }
    heap[i] = a
    a.index = i
  }
}

// ---------------------------------------------------------------------------------------------
// The simulation

/** Options of {@link Simulation.create}. */
export interface SimulationInit {
  /** Number of nodes, seeds included. */
  size: number
  /** Nodes `0 .. seeds-1` run PEX in seed mode; every other node has them as its seeds. @default 1 */
  seeds?: number
  /** The random seed: node keys, start times, every random choice of every node. @default 'rx-p2p' */
  seed?: string
  /** One-way latency of every link in virtual ms. @default 5 */
  latencyMs?: number
  /** Bandwidth of every link in bytes per virtual second; 0 = unlimited. @default 0 */
  bandwidth?: number
  /** The outbound target of every node (`maxOutboundPeers`). @default 10 */
  maxOutboundPeers?: number
  /** The inbound limit of every node. @default 40 */
  maxInboundPeers?: number
  /** Non-seed nodes start at random times in [0, startSpreadMs) (seeds at 0). @default 0 */
  startSpreadMs?: number
  /**
   * The IP of node `index`. By default 8 nodes share each /16 (node `i` is `10.<⌊i/8⌋>.0.<1 + i % 8>`, then
   * `11.…`): the address book spreads addresses over its buckets by /16 group, as it would those of real nodes
   * (many share a cloud provider's range), and a few hundred groups keep its placement cache small.
   * @default (i) => `${10 + ⌊g / 256⌋}.${g % 256}.0.${1 + i % 8}` with g = ⌊i / 8⌋
   */
  hostOf?: (index: number) => string
  /** More PEX options for node `index` (the book, seeds, seed mode and randomness are set by the simulation). */
  pex?: (index: number) => Partial<PexReactorInit>
  /** More Switch options for node `index` (key, transport, scheduler, listen address and randomness are set). */
  switchInit?: (index: number) => Partial<SwitchInit>
  /** Reactors besides PEX for node `index`. @default none */
  reactors?: (index: number) => Reactor[]
  /** The network (chain ID). @default 'rx-p2p-sim' */
  network?: string
  /** The clock's start, in ms since the epoch. @default 1700000000000 */
  startTime?: number
  /**
   * Faults and invariants (see {@link ChaosInit}): partitions that heal, lossy links, crashes, churn, attacker
   * nodes, and checks of every honest node as the run goes. A failed invariant makes {@link Simulation.advance}
   * and {@link Simulation.until} reject with a {@link SimulationInvariantError} that carries the replay command.
   * @default undefined (no chaos: the links are plain in-memory pairs)
   */
  chaos?: ChaosInit
  /**
   * Waits for a macrotask so that pending Promise jobs (the handshakes are async functions) run between two
   * virtual instants. @default `setImmediate` (one event-loop turn; no time passes)
   */
  yieldToEventLoop?: () => Promise<void>
}

/** One node of a {@link Simulation}. */
export interface SimulationNode {
  /** Its index. */
  readonly index: number
  /** Its Switch. */
  readonly switch: Switch
  /** Its PEX reactor (and, through it, its address book). */
  readonly pex: PexReactor
  /** `id@host:26656`. */
  readonly address: NetAddress
  /** Whether it runs PEX in seed mode. */
  readonly isSeed: boolean
  /** Virtual ms after the simulation's start at which it starts. */
  readonly startAt: number
  /** The attack it runs (chaos only; a poison node does not run its PEX reactor), or `undefined` for an honest node. */
  readonly attack: AttackKind | undefined
  /** How many times it was restarted (a restart replaces the node's entry with a fresh Switch and PEX reactor). */
  readonly generation: number
}

/** What the chaos of a {@link Simulation} did and found (see {@link Simulation.chaosStats}). */
export interface ChaosStats {
  /** Crashes, graceful leaves and restarts so far. */
  readonly crashes: number
  /** Graceful leaves (churn). */
  readonly leaves: number
  /** Restarts. */
  readonly restarts: number
  /** Partitions begun and healed. */
  readonly partitions: number
  /** Partitions healed. */
  readonly heals: number
  /** Connections cut by a crash or a partition. */
  readonly cutConnections: number
  /** Chunks lost on lossy links. */
  readonly droppedChunks: number
  /** Raw connections opened by squatters. */
  readonly squatConnections: number
  /** Invariant checks run. */
  readonly checks: number
  /** The most bytes one honest node held for its connections at a check. */
  readonly maxBufferedBytes: number
  /** The most bytes one attacker held for its connections at a check (a silent node holds what its peers sent it). */
  readonly maxAttackerBufferedBytes: number
  /** The most messages one honest node had queued in its MConnections at a check. */
  readonly maxQueuedMessages: number
  /** The most outbound and inbound peers of one honest node at a check. */
  readonly maxPeers: { readonly outbound: number, readonly inbound: number }
  /** Share of the sampled honest books' entries that are not honest nodes: the last check's mean and the maximum seen. */
  readonly attackerBookShare: { readonly mean: number, readonly max: number }
  /** Connected components of the honest graph at the last reconnect check (1 = whole). */
  readonly honestComponents: number | undefined
  /** Virtual ms from each heal until the honest graph was whole again (checked at each invariant check). */
  readonly reconnectMs: readonly number[]
  /** Invariant failures (the first one also stops the run, unless `failOnViolation` is off). */
  readonly violations: readonly SimulationInvariantError[]
}

/** A peer event of one node, as recorded in the trace. */
export interface SimulationTraceEvent {
  /** Virtual ms since the simulation's start. */
  readonly t: number
  /** The node it happened on. */
  readonly node: number
  /** The peer event's type. */
  readonly type: PeerEvent['type']
  /** The other node's index (-1 when unknown). */
  readonly peer: number
  /** For `added` / `removed`: whether the peer was outbound. */
  readonly outbound?: boolean
  /** For `removed`, `dialFailed`, `rejected`: the error's class name (`removed` without error: `'graceful'`). */
  readonly reason?: string
}

/** Virtual ms since the start at which a fraction of the nodes first met a condition together (`undefined`: not yet). */
export interface ConvergenceCurve {
  /** Half of the nodes. */
  readonly p50: number | undefined
  /** 90 % of them. */
  readonly p90: number | undefined
  /** 99 % of them. */
  readonly p99: number | undefined
  /** All of them. */
  readonly all: number | undefined
}

/** How a {@link Simulation} is doing. */
export interface SimulationStats {
  /** Virtual ms since the start. */
  readonly virtualMs: number
  /** Scheduler actions (timers, deliveries) executed. */
  readonly actions: number
  /** Event-loop turns the driver took (one per virtual instant at which something ran, plus a few while idle). */
  readonly turns: number
  /** Peer events recorded in the trace. */
  readonly traceEvents: number
  /** Non-seed nodes now at their outbound target. */
  readonly atTarget: number
  /** Non-seed nodes whose book holds at least 90 % of the other nodes. */
  readonly learned90: number
  /** Non-seed nodes. */
  readonly nodes: number
  /** When 50/90/99/100 % of the non-seed nodes were at their outbound target at once (first time). */
  readonly outboundTarget: ConvergenceCurve
  /** When 50/90/99/100 % of the non-seed nodes knew at least 90 % of the network at once (first time). */
  readonly learned: ConvergenceCurve
}

const DEFAULT_START_TIME = 1_700_000_000_000
const PORT = 26656
const NODES_PER_GROUP = 8

function defaultHost (index: number): string {
  const group = Math.floor(index / NODES_PER_GROUP)
  return `${10 + Math.floor(group / 256)}.${group % 256}.0.${1 + (index % NODES_PER_GROUP)}`
}

/**
 * One turn of the event loop, so that every pending Promise job (handshakes are async functions) runs before the
 * next virtual instant. This is not a timer: no time passes, virtual or real; it is how a test driver lets the
 * microtask queue drain (the same role as TestNetwork's `yieldToEventLoop`). `setImmediate` is the cheapest
 * macrotask in Node (about 1 µs); a MessageChannel round trip starved the event loop in long runs on Node 20, and
 * a zero-delay timer costs a whole millisecond per instant.
 */
function nextEventLoopTurn (): Promise<void> {
  return new Promise<void>((resolve) => { setImmediate(resolve) })
}

/** A junk host for PEX poisoning: a random IP in 30.0.0.0 – 119.255.255.255 (nobody listens there; one /16 each, mostly). */
function junkHost (random: () => number): string {
  return `${30 + Math.floor(random() * 90)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`
}

/** The bookkeeping of a chaos run. */
class ChaosState {
  /** Live wrapped connections by the node that holds them. */
  readonly conns: Array<Set<FaultyConnection>>
  /** The node at the other end of each connection, and the connection there. */
  readonly partner = new Map<FaultyConnection, FaultyConnection>()
  /** Accepted connections waiting for their dialer's wrapper, by the dialer's `host:port`. */
  readonly accepted = new Map<string, FaultyConnection>()
  readonly indexByHost = new Map<string, number>()
  /** Each node's side of the partition (0 when none). */
  readonly side: Uint8Array
  readonly down: boolean[]
  readonly stopping: Array<Promise<void> | undefined>
  readonly upSince: number[]
  /** Each node's last saved book, packed (a node restarts with it). */
  readonly books: Array<PackedAddrBook | undefined>
  readonly squatOpen: number[]
  readonly timers = new Subscription()
  partitioned = false
  healedAt: number | undefined
  crashes = 0
  leaves = 0
  restarts = 0
  partitions = 0
  heals = 0
  cutConnections = 0
  droppedChunks = 0
  squatConnections = 0
  checks = 0
  maxBufferedBytes = 0
  maxAttackerBufferedBytes = 0
  maxQueuedMessages = 0
  maxOutbound = 0
  maxInbound = 0
  bookShareMean = 0
  bookShareMax = 0
  honestComponents: number | undefined
  readonly reconnectMs: number[] = []
  readonly violations: SimulationInvariantError[] = []

  constructor (size: number, addresses: readonly NetAddress[]) {
    this.conns = Array.from({ length: size }, () => new Set<FaultyConnection>())
    this.side = new Uint8Array(size)
    this.down = new Array<boolean>(size).fill(true)
    this.stopping = new Array<Promise<void> | undefined>(size).fill(undefined)
    this.upSince = new Array<number>(size).fill(Infinity)
    this.books = new Array<PackedAddrBook | undefined>(size).fill(undefined)
    this.squatOpen = new Array<number>(size).fill(0)
    addresses.forEach((a, i) => this.indexByHost.set(a.host, i))
  }

  started (i: number, t: number): void {
    this.down[i] = false
    this.upSince[i] = t
  }

  /** Bytes node `i` holds for its connections: unread, delayed, or in flight towards it on the link. */
  bufferedBytes (i: number): number {
    let n = 0
    for (const c of this.conns[i]!) {
      n += c.bufferedBytes
      const p = this.partner.get(c)
      if (p !== undefined) n += Math.max(0, p.counts.bytesForwarded - c.counts.bytesReceived)
    }
    return n
  }
}

class Curve {
  readonly #marks = [0.5, 0.9, 0.99, 1]
  readonly times: Array<number | undefined> = [undefined, undefined, undefined, undefined]
  constructor (readonly total: number) {}

  update (count: number, t: number): void {
    for (let i = 0; i < this.#marks.length; i++) {
      if (this.times[i] === undefined && this.total > 0 && count >= Math.ceil(this.#marks[i]! * this.total)) this.times[i] = t
    }
  }

  get curve (): ConvergenceCurve {
    return { p50: this.times[0], p90: this.times[1], p99: this.times[2], all: this.times[3] }
  }
}

/**
 * A whole network in virtual time: `size` nodes, each a real {@link Switch} with a real PEX reactor, over a
 * {@link MemoryNetwork} with latency, on one {@link SimulationScheduler}. Node keys, start times and every random
 * choice (address-book placement, picks, jitter) derive from `seed`, so two runs with the same seed produce the
 * same trace, which {@link Simulation.digest} condenses.
 *
 * Nodes `0 .. seeds-1` are seeds (PEX seed mode); the others bootstrap from them. Books are non-strict (the
 * in-memory addresses are private), and each node gets its own /16 by default.
 *
 * @example
 * ```ts
 * import { Simulation } from 'rx-p2p/testing'
 *
 * const sim = await Simulation.create({ size: 100, seed: 'demo' })
 * await sim.until(() => sim.stats().atTarget === sim.stats().nodes, { timeoutMs: 10 * 60_000 })
 * console.log(sim.stats().outboundTarget, sim.digest())
 * await sim.stop()
 * ```
 */
export class Simulation {
  /** The virtual clock. */
  readonly scheduler: SimulationScheduler
  /** The in-memory network. */
  readonly memory: MemoryNetwork
  /** The nodes, by index. */
  readonly nodes: readonly SimulationNode[]
  /**
   * Hot: every peer event of every node, in order, as recorded in the trace. Completes on {@link Simulation.stop}.
   */
  readonly trace$: Observable<SimulationTraceEvent>

  readonly #start: number
  readonly #init: SimulationInit
  readonly #trace = new Subject<SimulationTraceEvent>()
  readonly #hash: Hash = createHash('sha256')
  readonly #indexById = new Map<NodeId, number>()
  readonly #outbound: number[]
  readonly #learnedOk: boolean[]
  readonly #targets: number
  readonly #learnThreshold: number
  readonly #nonSeeds: number
  readonly #atTargetCurve: Curve
  readonly #learnedCurve: Curve
  readonly #subs = new Subscription()
  readonly #seed: string
  readonly #seedAddresses: NetAddress[]
  readonly #keys: NodeKey[]
  readonly #addresses: NetAddress[]
  readonly #nodes: SimulationNode[] = []
  readonly #honest: boolean[]
  readonly #chaos: ResolvedChaos | undefined
  #failOnViolation = true
  #chaosState: ChaosState | undefined
  #atTarget = 0
  #learned90 = 0
  #traceEvents = 0
  #turns = 0
  #error: unknown
  #stopped = false

  private constructor (init: SimulationInit) {
    this.#init = init
    const size = init.size
    const seeds = Math.min(init.seeds ?? 1, size)
    const seed = init.seed ?? 'rx-p2p'
    this.#start = init.startTime ?? DEFAULT_START_TIME
    this.scheduler = new SimulationScheduler(this.#start)
    this.memory = new MemoryNetwork({ scheduler: this.scheduler, latencyMs: init.latencyMs ?? 5, bandwidth: init.bandwidth ?? 0 })
    this.#targets = init.maxOutboundPeers ?? 10
    this.#learnThreshold = Math.ceil(0.9 * (size - 1))
    this.#nonSeeds = size - seeds
    this.#atTargetCurve = new Curve(this.#nonSeeds)
    this.#learnedCurve = new Curve(this.#nonSeeds)
    this.#outbound = new Array<number>(size).fill(0)
    this.#learnedOk = new Array<boolean>(size).fill(false)
    this.trace$ = this.#trace.asObservable()

    const hostOf = init.hostOf ?? defaultHost
    const spread = init.startSpreadMs ?? 0
    const startRandom = seededRandom(`${seed}/start`)
    this.#seed = seed
    this.#keys = Array.from({ length: size }, (_, i) => NodeKey.fromSeed(sha256(new TextEncoder().encode(`${seed}/key/${i}`))))
    this.#addresses = this.#keys.map((k, i) => new NetAddress(k.id, hostOf(i), PORT))
    this.#seedAddresses = this.#addresses.slice(0, seeds)
    this.#chaos = init.chaos === undefined ? undefined : resolveChaos(init.chaos)
    const attacks = new Array<AttackKind | undefined>(size).fill(undefined)
    if (this.#chaos !== undefined && this.#chaos.attackers > 0) {
      const order = Array.from({ length: size - seeds }, (_, k) => seeds + k)
      const pick = seededRandom(`${seed}/attackers`)
      for (let k = order.length - 1; k > 0; k--) {
        const j = Math.floor(pick() * (k + 1))
        ;[order[k], order[j]] = [order[j]!, order[k]!]
      }
      const n = Math.round(this.#chaos.attackers * order.length)
      for (let k = 0; k < n; k++) attacks[order[k]!] = ATTACK_KINDS[k % ATTACK_KINDS.length]
    }
    this.#honest = attacks.map((a) => a === undefined)
    this.#nonSeeds = this.#honest.filter((h, i) => h && i >= seeds).length
    this.#atTargetCurve = new Curve(this.#nonSeeds)
    this.#learnedCurve = new Curve(this.#nonSeeds)
    if (this.#chaos !== undefined) this.#chaosState = new ChaosState(size, this.#addresses)
    for (let i = 0; i < size; i++) {
      this.#indexById.set(this.#addresses[i]!.id, i)
      const startAt = i < seeds || spread <= 0 ? 0 : Math.floor(startRandom() * spread)
      this.#nodes.push(this.#buildNode(i, startAt, attacks[i], 0))
    }
    this.nodes = this.#nodes
  }

  #buildNode (i: number, startAt: number, attack: AttackKind | undefined, generation: number): SimulationNode {
    const init = this.#init
    const seed = this.#seed
    const seeds = this.#seedAddresses.length
    const isSeed = i < seeds
    const address = this.#addresses[i]!
    const gen = generation === 0 ? '' : `/${generation}`
    const chaos = this.#chaosState
    let store: AddrBookStore | undefined
    if (chaos !== undefined) {
      store = {
        load: async () => chaos.books[i]?.unpack(),
        save: async (data: AddrBookData) => { chaos.books[i] = new PackedAddrBook(data) }
      }
    }
    const book = new AddrBook({
      addrBookStrict: false,
      random: seededRandom(`${seed}/book/${i}${gen}`),
      scheduler: this.scheduler,
      ...(store === undefined ? {} : { store })
    })
    let sw: Switch | undefined
    const pex = pexReactor({
      seeds: isSeed ? this.#seedAddresses.filter((_, j) => j !== i) : this.#seedAddresses,
      ...init.pex?.(i),
      book,
      seedMode: isSeed,
      random: seededRandom(`${seed}/pex/${i}${gen}`),
      isPersistent: (a) => sw?.isPeerPersistent(a) ?? false
    })
    let own: Reactor[] = [pex]
    if (attack === 'poison') own = [poisonReactor(seededRandom(`${seed}/poison/${i}${gen}`), junkHost)]
    else if (attack === 'silent') own = [pex, silentReactor()]
    const conf = this.#chaos
    if (conf !== undefined && conf.gossipBytes > 0 && attack !== 'poison') own.push(gossipReactor(conf.gossipBytes, conf.gossipEveryMs))
    sw = new Switch({
      moniker: `node${i}`,
      network: init.network ?? 'rx-p2p-sim',
      maxOutboundPeers: this.#targets,
      maxInboundPeers: init.maxInboundPeers ?? 40,
      dialRandomizerMs: 0,
      ...init.switchInit?.(i),
      reactors: [...own, ...(init.reactors?.(i) ?? [])],
      nodeKey: this.#keys[i]!,
      transport: chaos === undefined ? this.memory.transport(address.host) : this.#chaosTransport(i),
      listenAddress: { host: address.host, port: PORT },
      scheduler: this.scheduler,
      random: seededRandom(`${seed}/switch/${i}${gen}`)
    })
    return { index: i, switch: sw, pex, address, isSeed, startAt, attack, generation }
  }

  /**
   * Builds the network and schedules every node's start (at virtual time 0, or spread by `startSpreadMs`);
   * no virtual time passes until {@link Simulation.advance} or {@link Simulation.until}.
   */
  static async create (init: SimulationInit): Promise<Simulation> {
    const sim = new Simulation(init)
    for (const node of sim.nodes) sim.#watch(node)
    for (const node of sim.nodes) {
      sim.scheduler.schedule(() => {
        node.switch.start().catch((err: unknown) => { sim.#error ??= err })
        sim.#chaosState?.started(node.index, sim.now())
      }, node.startAt)
    }
    if (sim.#chaos !== undefined) sim.#startChaos(sim.#chaos)
    return sim
  }

  #watch (node: SimulationNode): void {
    const i = node.index
    const counted = !node.isSeed && node.attack === undefined
    this.#subs.add(node.switch.peerEvents$.subscribe((e) => { this.#onPeerEvent(i, !counted, e) }))
    if (counted) {
      const book = node.pex.book
      this.#subs.add(book.events$.subscribe(() => {
        const ok = book.size >= this.#learnThreshold
        if (ok === this.#learnedOk[i]) return
        this.#learnedOk[i] = ok
        this.#learned90 += ok ? 1 : -1
        if (ok) this.#learnedCurve.update(this.#learned90, this.now())
      }))
    }
  }

  #onPeerEvent (i: number, uncounted: boolean, e: PeerEvent): void {
    const t = this.now()
    let peer = -1
    let outbound: boolean | undefined
    let reason: string | undefined
    switch (e.type) {
      case 'added':
      case 'removed':
        peer = this.#indexById.get(e.peer.id) ?? -1
        outbound = e.peer.isOutbound
        if (e.type === 'removed') reason = e.reason?.name ?? 'graceful'
        if (outbound && !uncounted) {
          const before = this.#outbound[i]!
          const after = before + (e.type === 'added' ? 1 : -1)
          this.#outbound[i] = after
          if (before < this.#targets && after >= this.#targets) {
            this.#atTarget++
            this.#atTargetCurve.update(this.#atTarget, t)
          } else if (before >= this.#targets && after < this.#targets) {
            this.#atTarget--
          }
        }
        break
      case 'dialed':
        peer = this.#indexById.get(e.address.id) ?? -1
        break
      case 'dialFailed':
        peer = this.#indexById.get(e.address.id) ?? -1
        reason = e.error.name
        break
      case 'rejected':
        peer = e.peerId === undefined ? -1 : (this.#indexById.get(e.peerId) ?? -1)
        reason = e.error.name
        break
    }
    this.#traceEvents++
    this.#hash.update(`${t}|${i}|${e.type}|${peer}|${outbound === undefined ? '' : outbound ? 'o' : 'i'}|${reason ?? ''}\n`)
    if (this.#trace.observed) {
      const event: SimulationTraceEvent = { t, node: i, type: e.type, peer }
      if (outbound !== undefined) (event as { outbound?: boolean }).outbound = outbound
      if (reason !== undefined) (event as { reason?: string }).reason = reason
      this.#trace.next(event)
    }
  }

  /** Virtual ms since the start. */
  now (): number {
    return this.scheduler.now() - this.#start
  }

  /** SHA-256 (hex) of the trace so far: every peer event of every node with its virtual time. Equal seeds, equal digests. */
  digest (): string {
    return this.#hash.copy().digest('hex')
  }

  /** Counts and convergence curves (see {@link SimulationStats}). */
  stats (): SimulationStats {
    return {
      virtualMs: this.now(),
      actions: this.scheduler.executed,
      turns: this.#turns,
      traceEvents: this.#traceEvents,
      atTarget: this.#atTarget,
      learned90: this.#learned90,
      nodes: this.#nonSeeds,
      outboundTarget: this.#atTargetCurve.curve,
      learned: this.#learnedCurve.curve
    }
  }

  /** Runs the virtual clock `ms` forward, executing everything due on the way. */
  async advance (ms: number): Promise<void> {
    const target = this.scheduler.now() + ms
    await this.#drive(() => false, target)
    this.scheduler.setTime(target)
  }

  /**
   * Runs the virtual clock until `condition` holds (checked between instants; keep it cheap). Throws a
   * `RangeError` when it still does not hold after `timeoutMs` of virtual time.
   */
  async until (condition: () => boolean, options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 60_000
    await this.#drive(condition, this.scheduler.now() + timeoutMs)
    if (!condition()) throw new RangeError(`condition still false after ${timeoutMs} virtual ms`)
  }

  /** Stops every node (driving the clock through their flush deadlines) and completes {@link Simulation.trace$}. */
  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#chaosState?.timers.unsubscribe()
    let done = false
    const all = Promise.all(this.nodes.map(async (n) => { await n.switch.stop() })).finally(() => { done = true })
    all.catch(() => {})
    await this.#drive(() => done, this.scheduler.now() + 600_000)
    await all
    this.#subs.unsubscribe()
    this.#trace.complete()
  }

  // -------------------------------------------------------------------------------------------
  // Chaos

  /** The transport of node `i` in a chaos run: partitions refuse dials, every connection is wrapped and registered. */
  #chaosTransport (i: number): Transport {
    const chaos = this.#chaosState!
    const conf = this.#chaos!
    const inner = this.memory.transport(this.#addresses[i]!.host)
    const plan: FaultPlan = {}
    if (conf.linkLoss > 0) plan.drop = conf.linkLoss
    if (conf.linkJitterMs > 0) plan.jitterMs = conf.linkJitterMs
    const random = seededRandom(`${this.#seed}/link/${i}`)
    const wrap = (conn: DuplexConnection): FaultyConnection => {
      const f = new FaultyConnection(conn, { scheduler: this.scheduler, random, send: plan })
      chaos.conns[i]!.add(f)
      f.closed$.subscribe(() => {
        chaos.conns[i]!.delete(f)
        chaos.partner.delete(f)
        chaos.droppedChunks += f.counts.dropped
      })
      return f
    }
    return {
      dial: async (addr, options) => {
        const j = chaos.indexByHost.get(addr.host)
        if (j !== undefined && chaos.side[i] !== chaos.side[j]) throw new TransportError(`dial ${addr.host}:${addr.port}: network unreachable (partition)`)
        const conn = await inner.dial(addr, options)
        const f = wrap(conn)
        const local = conn.localAddress
        const key = local === undefined ? '' : `${local.host}:${local.port}`
        const other = chaos.accepted.get(key)
        if (other !== undefined) {
          chaos.accepted.delete(key)
          chaos.partner.set(f, other)
          chaos.partner.set(other, f)
        }
        return f
      },
      listen: async (addr) => {
        const listener = await inner.listen(addr)
        const connections$ = new Observable<DuplexConnection>((subscriber) => listener.connections$.subscribe({
          next: (conn) => {
            const f = wrap(conn)
            const remote = conn.remoteAddress
            if (remote !== undefined) chaos.accepted.set(`${remote.host}:${remote.port}`, f)
            subscriber.next(f)
          },
          error: (err: unknown) => { subscriber.error(err) },
          complete: () => { subscriber.complete() }
        }))
        const wrapped: Listener = { address: listener.address, connections$, close: async () => { await listener.close() } }
        return wrapped
      }
    }
  }

  #chaosEvent (line: string): void {
    this.#hash.update(`${this.now()}|chaos|${line}\n`)
  }

  #startChaos (conf: ResolvedChaos): void {
    const chaos = this.#chaosState!
    const sim = this
    const random = seededRandom(`${this.#seed}/chaos`)
    const every = (ms: number, work: () => void): void => {
      chaos.timers.add(this.scheduler.schedule(function () {
        work()
        this.schedule(undefined, ms)
      }, ms))
    }
    const poisson = (perHour: number, work: () => void): void => {
      if (perHour <= 0) return
      const next = (): number => Math.max(1, Math.round(-Math.log(1 - random()) * 3_600_000 / perHour))
      chaos.timers.add(this.scheduler.schedule(function () {
        work()
        this.schedule(undefined, next())
      }, next()))
    }
    const pickRunning = (): number | undefined => {
      const candidates = this.#nodes.filter((n) => !n.isSeed && n.attack === undefined && !chaos.down[n.index])
      return candidates.length === 0 ? undefined : candidates[Math.floor(random() * candidates.length)]!.index
    }
    poisson(conf.crashesPerHour, () => { const i = pickRunning(); if (i !== undefined) this.crash(i) })
    poisson(conf.churnPerHour, () => { const i = pickRunning(); if (i !== undefined) this.leave(i) })
    if (conf.partitionEveryMs > 0) {
      every(conf.partitionEveryMs, () => {
        if (chaos.partitioned) return
        const honest = this.#nodes.filter((n) => n.attack === undefined).map((n) => n.index)
        const sideB = honest.filter(() => random() < conf.partitionShare)
        this.partition(sideB)
        chaos.timers.add(this.scheduler.schedule(() => { this.heal() }, conf.partitionMs))
      })
    }
    every(conf.checkEveryMs, () => { this.#check(conf) })
    for (const node of this.#nodes) {
      if (node.attack === 'squat') {
        const i = node.index
        chaos.timers.add(this.scheduler.schedule(function () {
          sim.#squat(i, conf.squatConnections, random)
          this.schedule(undefined, 2_000)
        }, node.startAt + 1_000))
      }
    }
  }

  #squat (i: number, want: number, random: () => number): void {
    const chaos = this.#chaosState!
    if (chaos.down[i] || this.#stopped) return
    const honest = this.#nodes.filter((n) => n.attack === undefined)
    while (chaos.squatOpen[i]! < want && honest.length > 0) {
      const target = honest[Math.floor(random() * honest.length)]!.address
      chaos.squatOpen[i]!++
      chaos.squatConnections++
      const transport = this.#squatTransports[i] ??= this.#chaosTransport(i)
      transport.dial({ host: target.host, port: target.port }).then((conn) => {
        // never a byte: the target's handshake deadline closes it, and the loop opens another
        conn.closed$.subscribe(() => { chaos.squatOpen[i]!-- })
      }, () => { chaos.squatOpen[i]!-- })
    }
  }

  readonly #squatTransports: Array<Transport | undefined> = []

  /**
   * Crashes node `index` now: every connection it has is reset (its peers see a `TransportError`, nothing is
   * flushed), then its Switch stops. It starts again after `restartAfterMs` with the book it last saved.
   */
  crash (index: number): void {
    const chaos = this.#requireChaos()
    if (chaos.down[index]) return
    chaos.crashes++
    this.#chaosEvent(`crash|${index}`)
    chaos.down[index] = true
    for (const c of [...chaos.conns[index]!]) {
      chaos.cutConnections++
      c.cut()
    }
    this.#takeDown(index)
  }

  /** Node `index` leaves gracefully now (its Switch stops, its book is saved); it comes back after `restartAfterMs`. */
  leave (index: number): void {
    const chaos = this.#requireChaos()
    if (chaos.down[index]) return
    chaos.leaves++
    this.#chaosEvent(`leave|${index}`)
    chaos.down[index] = true
    this.#takeDown(index)
  }

  #takeDown (index: number): void {
    const chaos = this.#chaosState!
    const node = this.#nodes[index]!
    const stopping = node.switch.stop()
    stopping.catch((err: unknown) => { this.#error ??= err })
    chaos.stopping[index] = stopping
    let settled = false
    stopping.finally(() => { settled = true }).catch(() => {})
    const restart = (): void => {
      if (this.#stopped) return
      if (!settled) {
        chaos.timers.add(this.scheduler.schedule(restart, 1_000))
        return
      }
      this.#restart(index)
    }
    chaos.timers.add(this.scheduler.schedule(restart, this.#chaos!.restartAfterMs))
  }

  #restart (index: number): void {
    const chaos = this.#chaosState!
    const old = this.#nodes[index]!
    const node = this.#buildNode(index, old.startAt, old.attack, old.generation + 1)
    this.#nodes[index] = node
    chaos.restarts++
    this.#chaosEvent(`restart|${index}`)
    this.#watch(node)
    node.switch.start().catch((err: unknown) => { this.#error ??= err })
    chaos.started(index, this.now())
  }

  /**
   * Cuts `sideB` off from every other node now: connections between the two sides are reset and dials across
   * are refused (`TransportError`) until {@link Simulation.heal}.
   */
  partition (sideB: readonly number[]): void {
    const chaos = this.#requireChaos()
    chaos.side.fill(0)
    for (const i of sideB) chaos.side[i] = 1
    chaos.partitioned = true
    chaos.healedAt = undefined
    chaos.partitions++
    this.#chaosEvent(`partition|${sideB.length}`)
    for (let i = 0; i < chaos.conns.length; i++) {
      for (const c of [...chaos.conns[i]!]) {
        const j = c.remoteAddress === undefined ? undefined : chaos.indexByHost.get(c.remoteAddress.host)
        if (j !== undefined && chaos.side[i] !== chaos.side[j]) {
          chaos.cutConnections++
          c.cut()
        }
      }
    }
  }

  /** Ends the partition: dials across succeed again. The honest graph must be whole within `reconnectWithinMs`. */
  heal (): void {
    const chaos = this.#requireChaos()
    if (!chaos.partitioned) return
    chaos.side.fill(0)
    chaos.partitioned = false
    chaos.heals++
    chaos.healedAt = this.now()
    this.#chaosEvent('heal')
  }

  /** Whether node `index` is down (crashed or left, not yet restarted). Always false without chaos. */
  isDown (index: number): boolean {
    return this.#chaosState?.down[index] ?? false
  }

  /**
   * The connected components of the graph of honest running non-seed nodes that have been up for at least
   * `minUpMs`, their peers as edges (1 = the honest part of the network is whole). Seeds are left out: in seed
   * mode they hang up on every peer once it has its answer.
   */
  honestComponents (minUpMs = 60_000): { components: number, nodes: number, largest: number } {
    const chaos = this.#chaosState
    const now = this.now()
    const n = this.#nodes.length
    const parent = Int32Array.from({ length: n }, (_, i) => i)
    const find = (x: number): number => {
      while (parent[x] !== x) {
        parent[x] = parent[parent[x]!]!
        x = parent[x]!
      }
      return x
    }
    const seeds = this.#seedAddresses.length
    const eligible = (i: number): boolean => i >= seeds && this.#honest[i]! && (chaos === undefined || (!chaos.down[i] && now - chaos.upSince[i]! >= minUpMs))
    let nodes = 0
    for (let i = 0; i < n; i++) {
      if (!eligible(i)) continue
      nodes++
      for (const p of this.#nodes[i]!.switch.peers) {
        const j = this.#indexById.get(p.id)
        if (j !== undefined && eligible(j)) parent[find(i)] = find(j)
      }
    }
    const sizes = new Map<number, number>()
    for (let i = 0; i < n; i++) if (eligible(i)) sizes.set(find(i), (sizes.get(find(i)) ?? 0) + 1)
    return { components: sizes.size, nodes, largest: Math.max(0, ...sizes.values()) }
  }

  /** What the chaos did and found so far; `undefined` without chaos. */
  chaosStats (): ChaosStats | undefined {
    const c = this.#chaosState
    if (c === undefined) return undefined
    let dropped = c.droppedChunks
    for (const set of c.conns) for (const f of set) dropped += f.counts.dropped
    return {
      crashes: c.crashes,
      leaves: c.leaves,
      restarts: c.restarts,
      partitions: c.partitions,
      heals: c.heals,
      cutConnections: c.cutConnections,
      droppedChunks: dropped,
      squatConnections: c.squatConnections,
      checks: c.checks,
      maxBufferedBytes: c.maxBufferedBytes,
      maxAttackerBufferedBytes: c.maxAttackerBufferedBytes,
      maxQueuedMessages: c.maxQueuedMessages,
      maxPeers: { outbound: c.maxOutbound, inbound: c.maxInbound },
      attackerBookShare: { mean: c.bookShareMean, max: c.bookShareMax },
      honestComponents: c.honestComponents,
      reconnectMs: [...c.reconnectMs],
      violations: [...c.violations]
    }
  }

  /** Whether a failed invariant stops the run (the default) or is only recorded in {@link Simulation.chaosStats}. */
  set failOnViolation (value: boolean) {
    this.#failOnViolation = value
  }

  get failOnViolation (): boolean {
    return this.#failOnViolation
  }

  /** The command line that replays this run from its start up to now (`npm run bench:sim -- …`). */
  replayCommand (): string {
    const init = this.#init
    const args = ['--nodes', String(init.size), '--seed', JSON.stringify(this.#seed), '--minutes', String(Math.max(1, Math.ceil(this.now() / 60_000)))]
    if (init.seeds !== undefined) args.push('--seeds', String(init.seeds))
    if (init.latencyMs !== undefined) args.push('--latency', String(init.latencyMs))
    args.push('--spread', String(init.startSpreadMs ?? 0))
    if (init.maxOutboundPeers !== undefined) args.push('--outbound', String(init.maxOutboundPeers))
    if (init.maxInboundPeers !== undefined) args.push('--inbound', String(init.maxInboundPeers))
    if (init.chaos !== undefined) args.push('--chaos', ...chaosFlags(init.chaos))
    return `npm run bench:sim -- ${args.join(' ')}`
  }

  #requireChaos (): ChaosState {
    if (this.#chaosState === undefined) throw new RangeError('this simulation has no chaos (SimulationInit.chaos)')
    return this.#chaosState
  }

  #violation (invariant: SimulationInvariant, node: number, detail: string): void {
    const chaos = this.#chaosState!
    const err = new SimulationInvariantError(invariant, node, this.now(), detail, this.replayCommand())
    chaos.violations.push(err)
    this.#chaosEvent(`violation|${invariant}|${node}`)
    if (this.#failOnViolation) this.#error ??= err
  }

  #check (conf: ResolvedChaos): void {
    const chaos = this.#chaosState!
    if (this.#stopped) return
    chaos.checks++
    const maxIn = this.#init.maxInboundPeers ?? 40
    const honestIds = this.#indexById
    let shareSum = 0
    let shareN = 0
    // The books: a sample of at most 64 honest nodes per check, a different one each time.
    const stride = Math.max(1, Math.floor(this.#nodes.length / 64))
    const offset = chaos.checks % stride
    for (const node of this.#nodes) {
      const i = node.index
      if (chaos.down[i]) continue
      if (node.attack !== undefined) {
        const b = chaos.bufferedBytes(i)
        if (b > chaos.maxAttackerBufferedBytes) chaos.maxAttackerBufferedBytes = b
        continue
      }
      const counts = node.switch.numPeers()
      if (counts.outbound > chaos.maxOutbound) chaos.maxOutbound = counts.outbound
      if (counts.inbound > chaos.maxInbound) chaos.maxInbound = counts.inbound
      if (counts.outbound > this.#targets || counts.inbound > maxIn) {
        this.#violation('peer-limits', i, `${counts.outbound} outbound (limit ${this.#targets}), ${counts.inbound} inbound (limit ${maxIn})`)
      }
      const buffered = chaos.bufferedBytes(i)
      if (buffered > chaos.maxBufferedBytes) chaos.maxBufferedBytes = buffered
      if (buffered > conf.maxBufferedBytesPerNode) this.#violation('buffered-bytes', i, `${buffered} bytes held for its connections (bound ${conf.maxBufferedBytesPerNode})`)
      let queued = 0
      for (const p of node.switch.peers) for (const ch of p.status().channels) queued += ch.sendQueueSize
      if (queued > chaos.maxQueuedMessages) chaos.maxQueuedMessages = queued
      if (!node.isSeed && i % stride === offset && node.pex.book.size > 0) {
        let foreign = 0
        let total = 0
        for (const e of node.pex.book.entries()) {
          total++
          const j = honestIds.get(e.addr.id)
          if (j === undefined || !this.#honest[j]) foreign++
        }
        const share = foreign / total
        shareSum += share
        shareN++
        if (share > chaos.bookShareMax) chaos.bookShareMax = share
        if (share > conf.maxAttackerBookShare) this.#violation('book-share', i, `${(share * 100).toFixed(1)} % of its ${total} book entries are not honest nodes (bound ${(conf.maxAttackerBookShare * 100).toFixed(1)} %)`)
      }
    }
    if (shareN > 0) chaos.bookShareMean = shareSum / shareN
    if (chaos.healedAt !== undefined && conf.reconnectWithinMs > 0) {
      const { components } = this.honestComponents()
      chaos.honestComponents = components
      const since = this.now() - chaos.healedAt
      if (components <= 1) {
        chaos.reconnectMs.push(since)
        chaos.healedAt = undefined
      } else if (since > conf.reconnectWithinMs) {
        chaos.healedAt = undefined
        this.#violation('reconnect', -1, `the honest nodes are still ${components} components ${(since / 1000).toFixed(0)} virtual s after the partition healed (bound ${(conf.reconnectWithinMs / 1000).toFixed(0)} s)`)
      }
    }
  }

  async #drive (done: () => boolean, limit: number): Promise<void> {
    const yieldFn = this.#init.yieldToEventLoop ?? nextEventLoopTurn
    const scheduler = this.scheduler
    let idle = 0
    for (;;) {
      await yieldFn()
      this.#turns++
      if (this.#error !== undefined) {
        const err = this.#error
        // a failed invariant is reported once (it stays in chaosStats().violations); the run may go on or stop
        if (err instanceof SimulationInvariantError) this.#error = undefined
        throw err
      }
      if (done()) return
      const next = scheduler.nextTime()
      if (next === undefined) {
        // Nothing scheduled: Promise jobs may still be running; give them a few turns.
        if (++idle > 3) return
        continue
      }
      idle = 0
      if (next > limit) return
      scheduler.runNext(limit)
    }
  }
}
