/**
 * An in-memory network of real Switches in virtual time: the whole stack (SecretConnection, NodeInfo,
 * MConnection, Switch, reactors) over {@link MemoryNetwork}, with every timer on one
 * {@link SimulationScheduler} (the heap-ordered virtual clock that {@link Simulation} runs on too), so a test of
 * many nodes runs in milliseconds of real time whatever the virtual time it covers.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { asyncScheduler, EMPTY } from 'rxjs'
import { NodeKey } from '../crypto/node-key.js'
import { MemoryNetwork } from '../transport/memory.js'
import type { NetAddress } from '../transport/net-address.js'
import type { Peer } from '../switch/peer.js'
import type { Reactor } from '../switch/reactor.js'
import { Switch, type SwitchInit } from '../switch/switch.js'
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- `Simulation` is named by the doc comments' {@link}s
import { SimulationScheduler, type Simulation } from './simulation.js'

/** Options of {@link TestNetwork.create}. */
export interface TestNetworkInit {
  /** Number of nodes. */
  size: number
  /** The reactors of node `index` (fresh objects per node if they keep state). @default a silent reactor on channel 0x7f */
  reactors?: (index: number) => Reactor[]
  /** More Switch options for node `index` (nodeKey, transport, scheduler and listenAddress are set by the network). */
  switchInit?: (index: number) => Partial<SwitchInit>
  /** One-way latency of every link in virtual ms. @default 1 */
  latencyMs?: number
  /** Bandwidth of every link in bytes per virtual second; 0 = unlimited. @default 0 */
  bandwidth?: number
  /** The network (chain ID) of every node. @default 'rx-p2p-test' */
  network?: string
  /** Node keys are derived from this seed and the node's index, so IDs are stable across runs. @default 'rx-p2p' */
  seed?: string
  /** The virtual clock (shared with other code that runs on it). @default a new SimulationScheduler starting at 0 */
  scheduler?: SimulationScheduler
  /**
   * Lets pending Promise jobs run between two virtual instants (the handshakes are async functions). Must
   * wait for a macrotask. @default a zero-delay task on RxJS's asyncScheduler (real time)
   */
  yieldToEventLoop?: () => Promise<void>
}

/** A reactor that owns one channel and does nothing: the default, since a Switch needs a channel. */
const SILENT: Reactor = { name: 'silent', channels: [{ id: 0x7f, priority: 1 }], run: () => EMPTY }

function defaultYield (): Promise<void> {
  return new Promise<void>((resolve) => { asyncScheduler.schedule(() => { resolve() }) })
}

/**
 * N Switches on an in-memory network, in virtual time. Node `i` is host `10.0.i/256.i%256`, listening on port
 * 26656; its key is derived from the seed.
 *
 * Time only moves when the test drives it: {@link advance}, {@link until}, {@link settle} run the virtual
 * clock instant by instant, letting Promise jobs run between instants.
 *
 * @example
 * ```ts
 * import { TestNetwork } from 'rx-p2p/testing'
 *
 * const net = await TestNetwork.create({ size: 50, reactors: () => [gossipReactor()] })
 * await net.connectRing()
 * await net.until(() => net.switches.every((sw) => sw.peers.size === 2), { timeoutMs: 10_000 })
 * await net.advance(5_000)        // five virtual seconds
 * await net.stop()
 * ```
 */
export class TestNetwork {
  /** The Switches, by index. */
  readonly switches: readonly Switch[]
  /** The virtual clock every timer runs on. */
  readonly scheduler: SimulationScheduler
  /** The in-memory network the nodes share. */
  readonly memory: MemoryNetwork
  readonly #yield: () => Promise<void>

  private constructor (switches: Switch[], scheduler: SimulationScheduler, memory: MemoryNetwork, yieldFn: () => Promise<void>) {
    this.switches = switches
    this.scheduler = scheduler
    this.memory = memory
    this.#yield = yieldFn
  }

  /** Builds the nodes and starts them (listening, no connections yet). */
  static async create (init: TestNetworkInit): Promise<TestNetwork> {
    const scheduler = init.scheduler ?? new SimulationScheduler(0)
    const memory = new MemoryNetwork({ scheduler, latencyMs: init.latencyMs ?? 1, bandwidth: init.bandwidth ?? 0 })
    const seed = init.seed ?? 'rx-p2p'
    const switches: Switch[] = []
    for (let i = 0; i < init.size; i++) {
      const host = TestNetwork.hostOf(i)
      const extra = init.switchInit?.(i) ?? {}
      switches.push(new Switch({
        moniker: `node${i}`,
        network: init.network ?? 'rx-p2p-test',
        reactors: init.reactors?.(i) ?? [SILENT],
        dialRandomizerMs: 0,
        ...extra,
        nodeKey: NodeKey.fromSeed(sha256(new TextEncoder().encode(`${seed}/${i}`))),
        transport: memory.transport(host),
        listenAddress: { host, port: 26656 },
        scheduler
      }))
    }
    const net = new TestNetwork(switches, scheduler, memory, init.yieldToEventLoop ?? defaultYield)
    await net.settle(Promise.all(switches.map(async (sw) => { await sw.start() })))
    return net
  }

  /** The host of node `index`: `10.0.<index / 256>.<index % 256>`. */
  static hostOf (index: number): string {
    return `10.0.${Math.floor(index / 256)}.${index % 256}`
  }

  /** The address (`id@host:26656`) of node `index`. */
  address (index: number): NetAddress {
    const addr = this.switches[index]?.listenAddress
    if (addr === undefined) throw new RangeError(`node ${index} is not listening`)
    return addr
  }

  /** Node `from` dials node `to`; resolves with the peer once connected (drives the clock meanwhile). */
  async connect (from: number, to: number, options: { persistent?: boolean } = {}): Promise<Peer> {
    return await this.settle(this.switches[from]!.dial(this.address(to), options))
  }

  /** Dials every pair `[from, to]` at once; resolves once all are connected or failed (failures are rethrown). */
  async connectPairs (pairs: ReadonlyArray<readonly [number, number]>): Promise<void> {
    const results = await this.settle(Promise.allSettled(pairs.map(async ([from, to]) => await this.switches[from]!.dial(this.address(to)))))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  /** Connects node i to node i+1 (and the last to the first). */
  async connectRing (): Promise<void> {
    const n = this.switches.length
    if (n < 2) return
    const pairs: Array<[number, number]> = []
    for (let i = 0; i < (n === 2 ? 1 : n); i++) pairs.push([i, (i + 1) % n])
    await this.connectPairs(pairs)
  }

  /** Connects every pair of nodes (n·(n−1)/2 connections; mind the inbound limit of 40). */
  async connectAll (): Promise<void> {
    const pairs: Array<[number, number]> = []
    for (let i = 0; i < this.switches.length; i++) for (let j = i + 1; j < this.switches.length; j++) pairs.push([i, j])
    await this.connectPairs(pairs)
  }

  /** The current virtual time in ms. */
  now (): number {
    return this.scheduler.now()
  }

  /** Runs the virtual clock `ms` forward, executing every timer due on the way. */
  async advance (ms: number): Promise<void> {
    const target = this.scheduler.now() + ms
    await this.#drive(() => false, target)
    this.scheduler.setTime(target)
  }

  /**
   * Runs the virtual clock until `condition` holds, checking between instants. Throws a `RangeError` when it
   * still does not hold after `timeoutMs` of virtual time.
   */
  async until (condition: () => boolean, options: { timeoutMs?: number } = {}): Promise<void> {
    const limit = this.scheduler.now() + (options.timeoutMs ?? 60_000)
    await this.#drive(condition, limit)
    if (!condition()) throw new RangeError(`condition still false after ${options.timeoutMs ?? 60_000} virtual ms`)
  }

  /** Runs the virtual clock until `promise` settles; returns its value or throws its error. */
  async settle<T> (promise: Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
    let done = false
    const watched = promise.finally(() => { done = true })
    watched.catch(() => {})
    const limit = this.scheduler.now() + (options.timeoutMs ?? 600_000)
    await this.#drive(() => done, limit)
    if (!done) throw new RangeError(`promise still pending after ${options.timeoutMs ?? 600_000} virtual ms`)
    return await watched
  }

  /** Stops every node (driving the clock through their flush deadlines). */
  async stop (): Promise<void> {
    await this.settle(Promise.all(this.switches.map(async (sw) => { await sw.stop() })))
  }

  /**
   * Executes the instants up to `limit`, one at a time, yielding to Promise jobs before each, until `done()`.
   * The clock's own {@link SimulationScheduler.runNext} executes each instant, as in a {@link Simulation}.
   */
  async #drive (done: () => boolean, limit: number): Promise<void> {
    const scheduler = this.scheduler
    let idle = 0
    for (;;) {
      await this.#yield()
      if (done()) return
      const next = scheduler.nextTime()
      if (next === undefined) {
        // Nothing scheduled: Promise jobs may still be running (real I/O); give them a few turns.
        if (++idle > 20) return
        continue
      }
      idle = 0
      if (next > limit) return
      scheduler.runNext(limit)
    }
  }
}
