/**
 * The crawler's orchestration: walks a CometBFT-compatible network through PEX from a few seeds and reports
 * every node it reached or heard of, with who told it about whom. Built on the {@link Switch} (dial only) and
 * the {@link pexReactor} (which speaks PEX and keeps to its rules); the crawler decides whom to dial, when to
 * hang up, and keeps the records ({@link probeNode} reads a NodeInfo without joining, {@link CrawlReport} is
 * what it gives back).
 *
 * @module
 */
import { asyncScheduler, Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs'
import { NodeKey } from '../crypto/node-key.js'
import { IncompatiblePeerError, P2PError, TimeoutError } from '../errors.js'
import { AddrBook } from '../pex/addr-book.js'
import { pexReactor, type LearnedAddress, type PexEvent } from '../pex/pex-reactor.js'
import type { Peer } from '../switch/peer.js'
import { Switch } from '../switch/switch.js'
import { RX_P2P_VERSION } from '../switch/defaults.js'
import type { NodeId } from '../crypto/node-id.js'
import { NetAddress } from '../transport/net-address.js'
import type { Transport } from '../transport/transport.js'
import { TcpTransport } from '../transport/tcp.js'
import type { NodeInfo } from '../wire/node-info.js'
import { PEX_CHANNEL } from '../wire/pex.js'
import { buildCrawlReport } from './build-report.js'
import {
  DEFAULT_CRAWL_CONCURRENCY, DEFAULT_CRAWL_DIAL_TIMEOUT_MS, DEFAULT_CRAWL_MAX_ADDRESSES_PER_NODE, DEFAULT_CRAWL_PEX_TIMEOUT_MS,
  DEFAULT_CRAWLER_MONIKER, PROBE_NETWORK
} from './defaults.js'
import type { CrawlEvent } from './events.js'
import { newNodeRecord, type NodeRecord } from './node-record.js'
import { crawlerNodeInfo, probeNode } from './probe.js'
import type { CrawlEdge, CrawlReport, CrawlSkipReason, CrawlStopReason } from './report.js'

/** Options of {@link Crawler} and {@link crawl}. */
export interface CrawlInit {
  /** Where to start: `id@host:port` addresses (a host name is fine here; PEX only carries IPs). */
  seeds: ReadonlyArray<string | NetAddress>
  /**
   * The network (chain ID) to crawl. Nodes of another network refuse us, so by default the crawler reads
   * the first seed's NodeInfo (a handshake that it then drops) and adopts that seed's network.
   * @default the first answering seed's network
   */
  network?: string
  /** Our identity. @default a fresh key */
  nodeKey?: NodeKey
  /** Our NodeInfo moniker. @default 'rx-p2p-crawler' */
  moniker?: string
  /** Our NodeInfo software version. @default rx-p2p's version */
  version?: string
  /**
   * Dial private, loopback and other unroutable addresses heard through PEX (CometBFT's
   * `addr_book_strict = false`). Seeds are dialed whatever their address.
   * @default false
   */
  allowPrivate?: boolean
  /** Contact at most this many nodes (the rest stay "never tried"). @default Infinity */
  maxNodes?: number
  /** Stop after this long, keeping what was found. @default Infinity */
  timeoutMs?: number
  /** Nodes contacted at once (each from the dial until we hang up). @default 16 */
  concurrency?: number
  /** A reached node that has not answered our PexRequest within this time is dropped. @default 10000 */
  pexTimeoutMs?: number
  /** TCP connect deadline per dial. @default 3000 */
  dialTimeoutMs?: number
  /** Deadline of the secret handshake and, separately, of the NodeInfo exchange. @default 3000 */
  handshakeTimeoutMs?: number
  /** Addresses tried for one node ID (a node may be heard of at several). @default 3 */
  maxAddressesPerNode?: number
  /** The transport to dial with. @default a TcpTransport on the crawl's scheduler */
  transport?: Transport
  /** Every timer (deadlines, limits) and every timestamp in the report. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Aborting it stops the crawl as {@link Crawler.stop} does (the report is still produced). */
  signal?: AbortSignal
}

/** Counts of a crawl, at any moment ({@link Crawler.stats}) and in the report. */
export interface CrawlStats {
  /** Nodes known (reached, failed, never tried, or in progress). */
  readonly heard: number
  /** Nodes whose handshake succeeded. */
  readonly reached: number
  /** Nodes whose every dial failed. */
  readonly failed: number
  /** Reached nodes that answered our PexRequest. */
  readonly answered: number
  /** Nodes being dialed or connected now. */
  readonly inFlight: number
  /** Nodes waiting for a free slot. */
  readonly queued: number
  /** Distinct "who told us about whom" edges. */
  readonly edges: number
  /** Milliseconds since the crawl started. */
  readonly elapsedMs: number
}

/**
 * Crawls a network through PEX: dials the seeds, asks every node it reaches for addresses (one PexRequest,
 * answered under CometBFT's rules by the remote), hangs up once the node answered, and dials every node it
 * heard of, `concurrency` at a time, until none is left, `maxNodes` were contacted, `timeoutMs` elapsed, or
 * {@link Crawler.stop} is called. Then it closes every connection and produces a {@link CrawlReport}.
 *
 * - **Network.** Without `network`, the crawler first reads a seed's NodeInfo (secret handshake and NodeInfo
 *   exchange, then it drops the connection) and adopts its chain ID. Nodes of other networks are then
 *   reported as failed with an `IncompatiblePeerError` (`rule: 'network'`), with their NodeInfo.
 * - **Channels.** We advertise PEX (`0x00`) only; CometBFT nodes with PEX on accept that (one shared channel).
 * - **Addresses.** Private and loopback addresses heard through PEX are only dialed with `allowPrivate`
 *   (`addr_book_strict = false` semantics); seeds always are. A node heard of at several addresses is tried
 *   at up to `maxAddressesPerNode` of them.
 * - **Politeness.** One connection per node, one request per connection, a graceful hang-up; a node that does
 *   not answer within `pexTimeoutMs` is dropped.
 *
 * @example
 * ```ts
 * import { Crawler } from 'rx-p2p'
 *
 * const crawler = new Crawler({ seeds: ['3f1c…@seed.example.com:26656'], timeoutMs: 60_000 })
 * crawler.events$.subscribe((e) => { if (e.type === 'reached') console.error('reached', e.nodeInfo.moniker) })
 * const report = await crawler.run()
 * console.log(`${report.summary.reached} of ${report.summary.heard} nodes reached`)
 * ```
 */
export class Crawler {
  /**
   * Hot: what the crawler does, as it happens (see {@link CrawlEvent}); ends with `done` and completes.
   * Subscribe before {@link Crawler.run} to see everything.
   */
  readonly events$: Observable<CrawlEvent>
  /** Our node key. */
  readonly nodeKey: NodeKey
  /** The seeds, parsed. */
  readonly seeds: readonly NetAddress[]

  readonly #init: CrawlInit
  readonly #scheduler: SchedulerLike
  readonly #transport: Transport
  readonly #concurrency: number
  readonly #maxNodes: number
  readonly #maxAddresses: number
  readonly #moniker: string
  readonly #version: string
  readonly #events = new Subject<CrawlEvent>()
  readonly #records = new Map<NodeId, NodeRecord>()
  readonly #edges: CrawlEdge[] = []
  readonly #edgeKeys = new Set<string>()
  readonly #queue: NodeRecord[] = []
  readonly #pending = new Set<Promise<unknown>>()
  readonly #abort = new AbortController()
  readonly #subs: Subscription[] = []
  #network: string | undefined
  #sw: Switch | undefined
  #started = false
  #startedAt = 0
  #inFlight = 0
  #contacted = 0
  #limitHit = false
  #stopReason: CrawlStopReason | undefined
  #finished: Promise<CrawlReport> | undefined
  #resolveStop: (() => void) | undefined
  readonly #stopRequested: Promise<void>

  /** @throws {InvalidAddressError} a seed does not parse */
  constructor (init: CrawlInit) {
    this.#init = init
    this.#scheduler = init.scheduler ?? asyncScheduler
    this.#transport = init.transport ?? new TcpTransport({ scheduler: this.#scheduler })
    this.#concurrency = Math.max(1, init.concurrency ?? DEFAULT_CRAWL_CONCURRENCY)
    this.#maxNodes = init.maxNodes ?? Infinity
    this.#maxAddresses = Math.max(1, init.maxAddressesPerNode ?? DEFAULT_CRAWL_MAX_ADDRESSES_PER_NODE)
    this.#moniker = init.moniker ?? DEFAULT_CRAWLER_MONIKER
    this.#version = init.version ?? RX_P2P_VERSION
    this.nodeKey = init.nodeKey ?? NodeKey.generate()
    this.seeds = Object.freeze(init.seeds.map((s) => typeof s === 'string' ? NetAddress.parse(s) : s))
    this.events$ = this.#events.asObservable()
    this.#stopRequested = new Promise<void>((resolve) => { this.#resolveStop = resolve })
  }

  /** The network in use (given, or learned once a seed answered). */
  get network (): string | undefined {
    return this.#network
  }

  /** Counts now. */
  stats (): CrawlStats {
    let reached = 0
    let failed = 0
    let answered = 0
    for (const r of this.#records.values()) {
      if (r.state === 'reached' || r.state === 'connected') reached++
      else if (r.state === 'failed') failed++
      if (r.pex?.answered === true) answered++
    }
    return {
      heard: this.#records.size,
      reached,
      failed,
      answered,
      inFlight: this.#inFlight,
      queued: this.#queue.length,
      edges: this.#edges.length,
      elapsedMs: this.#started ? this.#scheduler.now() - this.#startedAt : 0
    }
  }

  /**
   * Runs the crawl (once; later calls return the same promise). Resolves with the report when the crawl
   * ends, whatever the reason; rejects only when the Switch cannot start.
   */
  run (): Promise<CrawlReport> {
    this.#finished ??= this.#run()
    return this.#finished
  }

  /**
   * Ends the crawl early: pending dials are cancelled, connections closed; {@link Crawler.run} then resolves
   * with the report (`stopReason: 'stopped'`). Idempotent.
   */
  stop (): void {
    this.#requestStop('stopped')
  }

  #requestStop (reason: CrawlStopReason): void {
    if (this.#stopReason !== undefined) return
    this.#stopReason = reason
    this.#abort.abort(new P2PError(`crawl ${reason}`))
    this.#resolveStop?.()
  }

  // ---------------------------------------------------------------------------------------------
  // life cycle

  async #run (): Promise<CrawlReport> {
    this.#started = true
    this.#startedAt = this.#scheduler.now()
    const signal = this.#init.signal
    const onAbort = (): void => { this.stop() }
    if (signal?.aborted === true) this.stop()
    else signal?.addEventListener('abort', onAbort, { once: true })
    const timeoutMs = this.#init.timeoutMs ?? Infinity
    if (Number.isFinite(timeoutMs)) this.#subs.push(this.#scheduler.schedule(() => { this.#requestStop('timeout') }, timerDelay(timeoutMs)))

    for (const seed of this.seeds) {
      const rec = this.#record(seed.id, seed, undefined)
      rec.seed = true
    }
    try {
      if (this.#stopReason === undefined) {
        this.#network = this.#init.network ?? await this.#learnNetwork()
        if (this.#network === undefined) this.#requestStop('no-network')
        else this.#events.next({ type: 'network', network: this.#network, from: this.#networkSource })
      }
      if (this.#stopReason === undefined) {
        await this.#startSwitch(this.#network!)
        for (const seed of this.seeds) {
          const rec = this.#records.get(seed.id)!
          if (rec.state === 'new') this.#enqueue(rec)
        }
        this.#pump()
        await this.#stopRequested
      }
    } finally {
      signal?.removeEventListener('abort', onAbort)
      await this.#shutdown()
    }
    const report = this.#report()
    this.#events.next({ type: 'done', report })
    this.#events.complete()
    return report
  }

  async #startSwitch (network: string): Promise<void> {
    const scheduler = this.#scheduler
    // The book only holds what the PEX reactor needs in passing: the crawler keeps its own records and empties
    // it as addresses arrive, so it never reaches the 1000 entries at which CometBFT's rules stop asking. The
    // request on connect is the only one: no further asks of random peers on the PEX tick (one per connection).
    const book = new AddrBook({ addrBookStrict: this.#init.allowPrivate !== true, scheduler })
    const pex = pexReactor({ book, markGoodAfterMs: Infinity, askWhenAtTarget: false, scheduler })
    const sw = new Switch({
      nodeKey: this.nodeKey,
      network,
      moniker: this.#moniker,
      version: this.#version,
      reactors: [pex],
      transport: this.#transport,
      scheduler,
      // Nodes of one network often share an IP (several per host, or loopback in tests).
      allowDuplicateIp: true,
      // No outbound target: the PEX reactor's ensurePeers never dials; the crawler does.
      maxOutboundPeers: 0,
      maxInboundPeers: 0,
      dialTimeoutMs: this.#init.dialTimeoutMs ?? DEFAULT_CRAWL_DIAL_TIMEOUT_MS,
      handshakeTimeoutMs: this.#init.handshakeTimeoutMs
    })
    this.#sw = sw
    this.#subs.push(
      pex.gossip$.subscribe((l) => { this.#onLearned(l, book) }),
      pex.events$.subscribe((e) => { this.#onPexEvent(e) }),
      sw.peerEvents$.subscribe((e) => {
        if (e.type === 'added' && e.peer.isOutbound) this.#onConnected(e.peer)
        else if (e.type === 'removed') this.#onDisconnected(e.peer, e.reason)
      })
    )
    await sw.start()
  }

  async #shutdown (): Promise<void> {
    this.#requestStop('stopped') // no-op when a reason is set already
    for (const s of this.#subs.splice(0)) s.unsubscribe()
    for (const r of this.#records.values()) r.pexTimer?.unsubscribe()
    const sw = this.#sw
    if (sw !== undefined) {
      await sw.stop().catch(() => {}) // a book that could not be saved does not fail the crawl
    }
    // Dials and probes still settling record their outcome first.
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending])
    for (const r of this.#records.values()) {
      if (r.state === 'connected') r.state = 'reached'
      if (r.state === 'reached' && r.pex === undefined) r.pex = { answered: false, error: new P2PError(`crawl ${this.#stopReason ?? 'stopped'} before the node answered`) }
      if (r.state === 'queued' || r.state === 'new') {
        r.state = 'new'
        r.skipped ??= this.#limitHit ? 'max-nodes' : this.#skipReason(r) ?? 'stopped'
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // learning the network

  #networkSource: NetAddress | undefined

  /** Reads the NodeInfo of each seed in turn until one answers; returns its network. */
  async #learnNetwork (): Promise<string | undefined> {
    for (const seed of this.seeds) {
      if (this.#stopReason !== undefined) return undefined
      const rec = this.#records.get(seed.id)!
      rec.dials++
      rec.address = seed
      rec.tried.add(seed.toString())
      this.#events.next({ type: 'probing', address: seed })
      try {
        const info = await this.#track(this.#probe(seed))
        this.#networkSource = seed
        // The Switch dials it again as a peer of the network: that dial decides its status.
        rec.tried.delete(seed.toString())
        rec.dials--
        return info.network
      } catch (err) {
        if (this.#stopReason !== undefined) {
          rec.skipped = 'stopped' // cut short: we do not know
          return undefined
        }
        const error = asError(err)
        rec.error = error
        rec.state = 'failed'
        this.#events.next({ type: 'failed', address: seed, error, final: true })
      }
    }
    return undefined
  }

  /** Reads a node's NodeInfo without joining it (see {@link probeNode}). */
  #probe (address: NetAddress): Promise<NodeInfo> {
    const init = this.#init
    return probeNode(address, {
      nodeKey: this.nodeKey,
      nodeInfo: this.#probeNodeInfo(),
      transport: this.#transport,
      dialTimeoutMs: init.dialTimeoutMs,
      handshakeTimeoutMs: init.handshakeTimeoutMs,
      scheduler: this.#scheduler,
      signal: this.#abort.signal
    })
  }

  #probeNodeInfo (): NodeInfo {
    return crawlerNodeInfo({ nodeKey: this.nodeKey, network: this.#network ?? PROBE_NETWORK, moniker: this.#moniker, version: this.#version })
  }

  // ---------------------------------------------------------------------------------------------
  // records and the queue

  #record (id: NodeId, address: NetAddress, from: NodeId | undefined): NodeRecord {
    let rec = this.#records.get(id)
    if (rec === undefined) {
      rec = newNodeRecord(id)
      this.#records.set(id, rec)
      this.#events.next({ type: 'heard', id, address, from })
    }
    const key = address.toString()
    if (!rec.addressKeys.has(key)) {
      rec.addressKeys.add(key)
      rec.addresses.push(address)
    }
    if (from !== undefined) rec.heardFrom.add(from)
    return rec
  }

  /** Why none of the node's untried addresses may be dialed, or undefined when one may. */
  #skipReason (rec: NodeRecord): CrawlSkipReason | undefined {
    let reason: CrawlSkipReason | undefined
    for (const a of rec.addresses) {
      if (rec.tried.has(a.toString())) continue
      const r = this.#addressProblem(rec, a)
      if (r === undefined) return undefined
      reason ??= r
    }
    return reason
  }

  #addressProblem (rec: NodeRecord, a: NetAddress): CrawlSkipReason | undefined {
    if (rec.seed && this.seeds.some((s) => s.equals(a))) return undefined
    if (!a.isValid()) return 'invalid'
    if (this.#init.allowPrivate !== true && !a.isRoutable()) return 'unroutable'
    return undefined
  }

  #nextAddress (rec: NodeRecord): NetAddress | undefined {
    if (rec.dials >= this.#maxAddresses) return undefined
    return rec.addresses.find((a) => !rec.tried.has(a.toString()) && this.#addressProblem(rec, a) === undefined)
  }

  #enqueue (rec: NodeRecord): void {
    if (this.#nextAddress(rec) === undefined) {
      rec.skipped = rec.dials === 0 ? this.#skipReason(rec) : undefined
      return
    }
    rec.skipped = undefined
    rec.state = 'queued'
    this.#queue.push(rec)
  }

  /** Starts dials while there are free slots; ends the crawl when nothing is left to do. */
  #pump (): void {
    if (this.#stopReason !== undefined || this.#sw === undefined) return
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      const rec = this.#queue[0]!
      if (rec.dials === 0 && this.#contacted >= this.#maxNodes) {
        this.#limitHit = true
        break
      }
      this.#queue.shift()
      if (rec.state !== 'queued') continue
      const address = this.#nextAddress(rec)
      if (address === undefined) {
        rec.state = rec.dials > 0 ? 'failed' : 'new'
        continue
      }
      if (rec.dials === 0) this.#contacted++
      this.#dial(rec, address)
    }
    if (this.#inFlight === 0 && (this.#queue.length === 0 || this.#limitHit)) {
      this.#requestStop(this.#limitHit ? 'max-nodes' : 'complete')
    }
  }

  #dial (rec: NodeRecord, address: NetAddress): void {
    const sw = this.#sw!
    rec.state = 'dialing'
    rec.dials++
    rec.address = address
    rec.tried.add(address.toString())
    rec.dialStartedAt = this.#scheduler.now()
    this.#inFlight++
    this.#events.next({ type: 'dialing', address })
    this.#track(sw.dial(address, { signal: this.#abort.signal }).then(() => {
      rec.connectMs = this.#scheduler.now() - rec.dialStartedAt
    }, async (err: unknown) => {
      const error = asError(err)
      if (this.#stopReason !== undefined) {
        // Cut short by the end of the crawl: we do not know how it would have gone.
        this.#inFlight--
        rec.state = 'new'
        rec.skipped = 'stopped'
        return
      }
      rec.error = error
      // Another network, or no channel in common: read its NodeInfo for the report (while holding the slot).
      if (error instanceof IncompatiblePeerError && rec.nodeInfo === undefined && this.#stopReason === undefined) {
        rec.nodeInfo = await this.#probe(address).catch(() => undefined)
      }
      this.#inFlight--
      const again = this.#stopReason === undefined && this.#nextAddress(rec) !== undefined
      rec.state = again ? 'queued' : 'failed'
      this.#events.next({ type: 'failed', address, error, final: !again })
      if (again) this.#queue.push(rec)
      this.#pump()
    }))
  }

  #track<T> (promise: Promise<T>): Promise<T> {
    const tracked = promise.finally(() => { this.#pending.delete(tracked) })
    this.#pending.add(tracked)
    tracked.catch(() => {})
    return tracked
  }

  // ---------------------------------------------------------------------------------------------
  // peers and PEX

  #onConnected (peer: Peer): void {
    const rec = this.#records.get(peer.id)
    if (rec === undefined) return
    rec.state = 'connected'
    rec.peer = peer
    rec.nodeInfo = peer.nodeInfo
    rec.error = undefined
    this.#events.next({ type: 'reached', address: peer.socketAddr, nodeInfo: peer.nodeInfo })
    if (!peer.hasChannel(PEX_CHANNEL)) {
      this.#hangUp(rec, new P2PError('the node does not advertise the PEX channel (0x00)'))
      return
    }
    const timeoutMs = this.#init.pexTimeoutMs ?? DEFAULT_CRAWL_PEX_TIMEOUT_MS
    rec.pexTimer = this.#scheduler.schedule(() => {
      rec.pexTimer = undefined
      this.#hangUp(rec, new TimeoutError(`no PEX answer within ${timeoutMs} ms`))
    }, timerDelay(timeoutMs))
  }

  /** Records why a reached node gave no addresses (unless it did) and disconnects it gracefully. */
  #hangUp (rec: NodeRecord, error: Error | undefined): void {
    rec.pexTimer?.unsubscribe()
    rec.pexTimer = undefined
    if (rec.pex === undefined && error !== undefined) {
      rec.pex = { answered: false, error }
      this.#events.next({ type: 'no-answer', id: rec.id, error })
    }
    const peer = rec.peer
    if (peer !== undefined) void this.#sw?.stopPeer(peer)
  }

  #onDisconnected (peer: Peer, reason: Error | undefined): void {
    const rec = this.#records.get(peer.id)
    if (rec === undefined || rec.peer !== peer) return
    rec.peer = undefined
    if (rec.state !== 'connected') return
    rec.state = 'reached'
    if (rec.pex === undefined && this.#stopReason === undefined) {
      rec.pexTimer?.unsubscribe()
      rec.pexTimer = undefined
      const error = reason ?? new P2PError('the node disconnected before answering')
      rec.pex = { answered: false, error }
      this.#events.next({ type: 'no-answer', id: rec.id, error })
    }
    this.#inFlight--
    this.#pump()
  }

  #onLearned (l: LearnedAddress, book: AddrBook): void {
    book.removeAddress(l.address)
    const address = l.address
    const from = l.from.id
    if (address.id === '' || address.id === this.nodeKey.id) return
    const edgeKey = `${from} ${address.toString()}`
    if (!this.#edgeKeys.has(edgeKey)) {
      this.#edgeKeys.add(edgeKey)
      this.#edges.push({ from, to: address.id, address: address.toString() })
    }
    const known = this.#records.get(address.id)
    const before = known?.addresses.length
    const rec = this.#record(address.id, address, from)
    if (known === undefined) this.#freshBy.set(from, (this.#freshBy.get(from) ?? 0) + 1)
    if (this.#stopReason !== undefined) return
    const newAddress = before === undefined || rec.addresses.length > before
    if (rec.state === 'new' || (rec.state === 'failed' && newAddress)) this.#enqueue(rec)
  }

  /** Nodes first heard of from each peer, since its last answer (the gossip of one answer precedes its event). */
  readonly #freshBy = new Map<NodeId, number>()

  #onPexEvent (e: PexEvent): void {
    if (e.type === 'addrs-received') {
      const fresh = this.#freshBy.get(e.peer.id) ?? 0
      this.#freshBy.delete(e.peer.id)
      const rec = this.#records.get(e.peer.id)
      if (rec === undefined || rec.peer !== e.peer) return
      rec.pex = { answered: true, addresses: e.count }
      this.#events.next({ type: 'answered', id: rec.id, count: e.count, fresh })
      this.#hangUp(rec, undefined)
      this.#pump()
    } else if (e.type === 'violation') {
      const rec = this.#records.get(e.peer.id)
      if (rec === undefined || rec.pex !== undefined) return
      rec.pex = { answered: false, error: e.error }
      this.#events.next({ type: 'no-answer', id: rec.id, error: e.error })
    }
  }

  // ---------------------------------------------------------------------------------------------
  // the report

  #report (): CrawlReport {
    return buildCrawlReport({
      network: this.#network,
      seeds: this.seeds,
      crawler: { id: this.nodeKey.id, moniker: this.#moniker, version: this.#version },
      startedAt: this.#startedAt,
      finishedAt: this.#scheduler.now(),
      stopReason: this.#stopReason,
      records: this.#records.values(),
      edges: this.#edges
    })
  }
}

/** The longest delay a timer takes (Node fires longer ones at once): about 24.8 days. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1

function timerDelay (ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_DELAY_MS)
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
