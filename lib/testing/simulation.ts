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
import { Subject, Subscription, type Observable, type SchedulerAction, type SchedulerLike } from 'rxjs'
import { NodeKey } from '../crypto/node-key.js'
import { AddrBook } from '../pex/addr-book.js'
import { pexReactor, type PexReactor, type PexReactorInit } from '../pex/pex-reactor.js'
import type { PeerEvent } from '../switch/events.js'
import type { Reactor } from '../switch/reactor.js'
import type { TestNetwork } from './network.js'
import { Switch, type SwitchInit } from '../switch/switch.js'
import { MemoryNetwork } from '../transport/memory.js'
import { NetAddress, type NodeId } from '../transport/net-address.js'

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
        action.work.call(action, action.state)
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
    const keys = Array.from({ length: size }, (_, i) => NodeKey.fromSeed(sha256(new TextEncoder().encode(`${seed}/key/${i}`))))
    const addresses = keys.map((k, i) => new NetAddress(k.id, hostOf(i), PORT))
    const seedAddresses = addresses.slice(0, seeds)
    const nodes: SimulationNode[] = []
    for (let i = 0; i < size; i++) {
      const isSeed = i < seeds
      const address = addresses[i]!
      this.#indexById.set(address.id, i)
      const book = new AddrBook({
        addrBookStrict: false,
        random: seededRandom(`${seed}/book/${i}`),
        scheduler: this.scheduler
      })
      let sw: Switch | undefined
      const pex = pexReactor({
        seeds: isSeed ? seedAddresses.filter((_, j) => j !== i) : seedAddresses,
        ...init.pex?.(i),
        book,
        seedMode: isSeed,
        random: seededRandom(`${seed}/pex/${i}`),
        isPersistent: (a) => sw?.isPeerPersistent(a) ?? false
      })
      sw = new Switch({
        moniker: `node${i}`,
        network: init.network ?? 'rx-p2p-sim',
        maxOutboundPeers: this.#targets,
        maxInboundPeers: init.maxInboundPeers ?? 40,
        dialRandomizerMs: 0,
        ...init.switchInit?.(i),
        reactors: [pex, ...(init.reactors?.(i) ?? [])],
        nodeKey: keys[i]!,
        transport: this.memory.transport(address.host),
        listenAddress: { host: address.host, port: PORT },
        scheduler: this.scheduler,
        random: seededRandom(`${seed}/switch/${i}`)
      })
      const startAt = isSeed || spread <= 0 ? 0 : Math.floor(startRandom() * spread)
      nodes.push({ index: i, switch: sw, pex, address, isSeed, startAt })
    }
    this.nodes = nodes
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
      }, node.startAt)
    }
    return sim
  }

  #watch (node: SimulationNode): void {
    const i = node.index
    this.#subs.add(node.switch.peerEvents$.subscribe((e) => { this.#onPeerEvent(i, node.isSeed, e) }))
    if (!node.isSeed) {
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

  #onPeerEvent (i: number, isSeed: boolean, e: PeerEvent): void {
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
        if (outbound && !isSeed) {
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
    let done = false
    const all = Promise.all(this.nodes.map(async (n) => { await n.switch.stop(); await n.pex.stopped() })).finally(() => { done = true })
    all.catch(() => {})
    await this.#drive(() => done, this.scheduler.now() + 600_000)
    await all
    this.#subs.unsubscribe()
    this.#trace.complete()
  }

  async #drive (done: () => boolean, limit: number): Promise<void> {
    const yieldFn = this.#init.yieldToEventLoop ?? nextEventLoopTurn
    const scheduler = this.scheduler
    let idle = 0
    for (;;) {
      await yieldFn()
      this.#turns++
      if (this.#error !== undefined) throw this.#error
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
