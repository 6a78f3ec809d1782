/**
 * A network crawler: walks a CometBFT-compatible network through PEX from a few seeds and reports every node
 * it reached or heard of, with who told it about whom. Built on the {@link Switch} (dial only) and the
 * {@link pexReactor} (which speaks PEX and keeps to its rules); the crawler decides whom to dial, when to hang
 * up, and keeps the records.
 *
 * @module
 */
import { asyncScheduler, Observable, Subject, type SchedulerLike, type Subscription } from 'rxjs'
import { makeSecretConnection, type SecretConnection } from '../conn/secret-connection.js'
import { NodeKey } from '../crypto/node-key.js'
import { IncompatiblePeerError, P2PError, PeerIdMismatchError, TimeoutError } from '../errors.js'
import { dialWithTimeout } from '../switch/dial.js'
import type { Peer } from '../switch/peer.js'
import { Switch } from '../switch/switch.js'
import { RX_P2P_VERSION } from '../switch/defaults.js'
import type { DuplexConnection } from '../transport/duplex.js'
import { NetAddress, type NodeId } from '../transport/net-address.js'
import type { Transport } from '../transport/transport.js'
import { TcpTransport } from '../transport/tcp.js'
import { exchangeNodeInfo } from '../transport/upgrade.js'
import { BLOCK_PROTOCOL_VERSION, P2P_PROTOCOL_VERSION, validateNodeInfo, type NodeInfo } from '../wire/node-info.js'
import { PEX_CHANNEL_ID } from '../wire/pex.js'
import { AddrBook } from './addr-book.js'
import { pexReactor, type LearnedAddress, type PexEvent, type PexReactor } from './pex-reactor.js'

/** Default of {@link CrawlInit.concurrency}: nodes contacted at once. */
export const DEFAULT_CRAWL_CONCURRENCY = 16

/** Default of {@link CrawlInit.pexTimeoutMs}: how long a reached node has to answer our PexRequest. */
export const DEFAULT_CRAWL_PEX_TIMEOUT_MS = 10_000

/** Default of {@link CrawlInit.dialTimeoutMs} (longer than a node's 1 s: a crawler meets far-away nodes). */
export const DEFAULT_CRAWL_DIAL_TIMEOUT_MS = 3000

/** Default of {@link CrawlInit.maxAddressesPerNode}: addresses tried for one node ID before giving up on it. */
export const DEFAULT_CRAWL_MAX_ADDRESSES_PER_NODE = 3

/** Default of {@link CrawlInit.moniker}. */
export const DEFAULT_CRAWLER_MONIKER = 'rx-p2p-crawler'

/** The network our NodeInfo names while we only read a seed's NodeInfo to learn its network. */
const PROBE_NETWORK = 'rx-p2p-crawler-probe'

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

/** What the crawl knows of a node's outcome. */
export type CrawlNodeStatus = 'reached' | 'failed' | 'never-tried'

/** Why a node heard of was never dialed. */
export type CrawlSkipReason =
  /** Its addresses are unroutable (private, loopback…) and `allowPrivate` is off. */
  | 'unroutable'
  /** Its addresses are not dialable (unspecified or broadcast IP, no IP). */
  | 'invalid'
  /** The `maxNodes` limit was reached first. */
  | 'max-nodes'
  /** The crawl stopped first (time limit, {@link Crawler.stop}). */
  | 'stopped'

/** A typed error as plain JSON: class name, code, message, and the rule or reason when it has one. */
export interface CrawlError {
  /** The error class (`TimeoutError`, `IncompatiblePeerError`…). */
  readonly name: string
  /** The stable code (`ERR_TIMEOUT`…), when it is an rx-p2p error. */
  readonly code?: string
  /** The rule or reason field of the error (`network`, `channels`, `max-inbound`…), when it has one. */
  readonly rule?: string
  /** The message. */
  readonly message: string
}

/** One node of a {@link CrawlReport}. Fields from the node's NodeInfo are present once we read it. */
export interface CrawlNode {
  /** The node ID. */
  readonly id: NodeId
  /** `id@host:port`: where we reached it, else the last address tried, else the first heard of. */
  readonly address: string
  /** Every address heard of (or given) for this ID, in the order learned. */
  readonly addresses: readonly string[]
  /** Reached (handshake done), failed (every dial failed; see `error`), or never tried (see `skipped`). */
  readonly status: CrawlNodeStatus
  /** One of the seeds we were given. */
  readonly seed: boolean
  /** IDs of the nodes that told us about it (empty for a seed nobody mentioned). */
  readonly heardFrom: readonly NodeId[]
  /** Dials made. */
  readonly dials: number
  /** The last dial's error, for a failed node. */
  readonly error?: CrawlError
  /** Why it was never dialed, for a never-tried node. */
  readonly skipped?: CrawlSkipReason
  /** Milliseconds from the dial to the end of the handshake, for a reached node. */
  readonly connectMs?: number
  /** NodeInfo: moniker. */
  readonly moniker?: string
  /** NodeInfo: network (chain ID). */
  readonly network?: string
  /** NodeInfo: software version. */
  readonly version?: string
  /** NodeInfo: channels as hex, as CometBFT's `/net_info` shows them (`40202122233038606100`). */
  readonly channels?: string
  /** NodeInfo: the address it says it listens on. */
  readonly listenAddr?: string
  /** NodeInfo: protocol versions. */
  readonly protocolVersion?: { readonly p2p: number, readonly block: number, readonly app: number }
  /** NodeInfo: `other.tx_index`. */
  readonly txIndex?: string
  /** NodeInfo: `other.rpc_address`. */
  readonly rpcAddress?: string
  /** For a reached node: whether it answered our PexRequest, with how many addresses, or why not. */
  readonly pex?: { readonly answered: boolean, readonly addresses?: number, readonly error?: CrawlError }
}

/** "`from` told us about `to` at `address`" (each distinct triple once). */
export interface CrawlEdge {
  /** The ID of the node that sent the address. */
  readonly from: NodeId
  /** The ID in the address. */
  readonly to: NodeId
  /** The address as sent, `id@host:port`. */
  readonly address: string
}

/** Why the crawl ended. */
export type CrawlStopReason =
  /** Every node heard of was tried (or is not dialable). */
  | 'complete'
  /** `maxNodes` nodes were contacted. */
  | 'max-nodes'
  /** `timeoutMs` elapsed. */
  | 'timeout'
  /** {@link Crawler.stop} or the abort signal. */
  | 'stopped'
  /** No seed could be reached to learn the network from. */
  | 'no-network'

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

/** The result of a crawl: plain JSON (`JSON.stringify` it as it is). */
export interface CrawlReport {
  /** The report format's version. */
  readonly format: 1
  /** The network crawled (undefined when it could not be learned). */
  readonly network: string | undefined
  /** The seeds we were given. */
  readonly seeds: readonly string[]
  /** Who crawled. */
  readonly crawler: { readonly id: NodeId, readonly moniker: string, readonly version: string }
  /** ISO time of the start (on the crawl's scheduler). */
  readonly startedAt: string
  /** ISO time of the end. */
  readonly finishedAt: string
  /** Milliseconds the crawl took. */
  readonly durationMs: number
  /** Why it ended. */
  readonly stopReason: CrawlStopReason
  /** Counts. */
  readonly summary: { readonly heard: number, readonly reached: number, readonly failed: number, readonly neverTried: number, readonly answered: number, readonly edges: number }
  /** Every node reached or heard of, in the order we learned of them (seeds first). */
  readonly nodes: readonly CrawlNode[]
  /** Who told us about whom. */
  readonly edges: readonly CrawlEdge[]
}

/** What the crawler does, on {@link Crawler.events$}. */
export type CrawlEvent =
  /** The network in use: given, or learned from `from`'s NodeInfo. */
  | { readonly type: 'network', readonly network: string, readonly from: NetAddress | undefined }
  /** A node ID we did not know, heard of from `from` (undefined for a seed). */
  | { readonly type: 'heard', readonly id: NodeId, readonly address: NetAddress, readonly from: NodeId | undefined }
  /** We read the NodeInfo of seed `address` to learn the network (then drop the connection). */
  | { readonly type: 'probing', readonly address: NetAddress }
  /** We dial `address`. */
  | { readonly type: 'dialing', readonly address: NetAddress }
  /** The handshake with `address` succeeded. */
  | { readonly type: 'reached', readonly address: NetAddress, readonly nodeInfo: NodeInfo }
  /** A dial of `address` failed; `final` when no other address of that node is left to try. */
  | { readonly type: 'failed', readonly address: NetAddress, readonly error: Error, readonly final: boolean }
  /** Node `id` answered with `count` addresses, `fresh` of them of nodes new to us. */
  | { readonly type: 'answered', readonly id: NodeId, readonly count: number, readonly fresh: number }
  /** Node `id` did not answer our PexRequest (timeout, no PEX channel, it hung up, it broke a rule). */
  | { readonly type: 'no-answer', readonly id: NodeId, readonly error: Error }
  /** The crawl is over; the report is final. Always the last event. */
  | { readonly type: 'done', readonly report: CrawlReport }

interface NodeRecord {
  readonly id: NodeId
  readonly addresses: NetAddress[]
  readonly addressKeys: Set<string>
  readonly tried: Set<string>
  readonly heardFrom: Set<NodeId>
  seed: boolean
  state: 'new' | 'queued' | 'dialing' | 'connected' | 'reached' | 'failed'
  dials: number
  address: NetAddress | undefined // reached at, or last tried
  nodeInfo: NodeInfo | undefined
  error: Error | undefined
  skipped: CrawlSkipReason | undefined
  connectMs: number | undefined
  dialStartedAt: number
  peer: Peer | undefined
  pexTimer: Subscription | undefined
  pex: { answered: boolean, addresses?: number, error?: Error } | undefined
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
  #pex: PexReactor | undefined
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
      moniker: this.#init.moniker ?? DEFAULT_CRAWLER_MONIKER,
      version: this.#init.version ?? RX_P2P_VERSION,
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
    this.#pex = pex
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
      await sw.stop()
      await this.#pex?.stopped().catch(() => {})
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

  /**
   * Reads a node's NodeInfo without joining it: TCP, secret handshake (the key must be the dialed ID),
   * NodeInfo exchange, validation; then the connection is dropped.
   */
  async #probe (address: NetAddress): Promise<NodeInfo> {
    const init = this.#init
    const signal = this.#abort.signal
    let raw: DuplexConnection | undefined
    let sc: SecretConnection | undefined
    try {
      raw = await dialWithTimeout(this.#transport, { host: address.host, port: address.port }, {
        timeoutMs: init.dialTimeoutMs ?? DEFAULT_CRAWL_DIAL_TIMEOUT_MS,
        scheduler: this.#scheduler,
        signal
      })
      sc = await makeSecretConnection(raw, this.nodeKey, { scheduler: this.#scheduler, handshakeTimeoutMs: init.handshakeTimeoutMs, signal })
      if (sc.remoteId !== address.id) throw new PeerIdMismatchError(address.id, sc.remoteId, `authenticated peer ID ${sc.remoteId} is not the dialed ID ${address.id}`)
      const info = await exchangeNodeInfo(sc, this.#probeNodeInfo(), { scheduler: this.#scheduler, handshakeTimeoutMs: init.handshakeTimeoutMs, signal })
      validateNodeInfo(info)
      if (info.id !== sc.remoteId) throw new PeerIdMismatchError(sc.remoteId, info.id, `NodeInfo ID ${info.id} is not the authenticated peer ID ${sc.remoteId}`)
      return info
    } finally {
      sc?.destroy()
      raw?.destroy()
    }
  }

  #probeNodeInfo (): NodeInfo {
    return {
      protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0 },
      id: this.nodeKey.id,
      listenAddr: '0.0.0.0:0',
      network: this.#network ?? PROBE_NETWORK,
      version: this.#init.version ?? RX_P2P_VERSION,
      channels: Uint8Array.of(PEX_CHANNEL_ID),
      moniker: this.#init.moniker ?? DEFAULT_CRAWLER_MONIKER,
      other: { txIndex: 'off', rpcAddress: '' }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // records and the queue

  #record (id: NodeId, address: NetAddress, from: NodeId | undefined): NodeRecord {
    let rec = this.#records.get(id)
    if (rec === undefined) {
      rec = {
        id,
        addresses: [],
        addressKeys: new Set(),
        tried: new Set(),
        heardFrom: new Set(),
        seed: false,
        state: 'new',
        dials: 0,
        address: undefined,
        nodeInfo: undefined,
        error: undefined,
        skipped: undefined,
        connectMs: undefined,
        dialStartedAt: 0,
        peer: undefined,
        pexTimer: undefined,
        pex: undefined
      }
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
    if (!peer.hasChannel(PEX_CHANNEL_ID)) {
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
    const now = this.#scheduler.now()
    const nodes: CrawlNode[] = []
    let reached = 0
    let failed = 0
    let neverTried = 0
    let answered = 0
    for (const r of this.#records.values()) {
      const status: CrawlNodeStatus = r.state === 'reached' ? 'reached' : r.state === 'failed' ? 'failed' : 'never-tried'
      if (status === 'reached') reached++
      else if (status === 'failed') failed++
      else neverTried++
      if (r.pex?.answered === true) answered++
      const info = r.nodeInfo
      const node: Mutable<CrawlNode> = {
        id: r.id,
        address: (r.address ?? r.addresses[0]!).toString(),
        addresses: r.addresses.map((a) => a.toString()),
        status,
        seed: r.seed,
        heardFrom: [...r.heardFrom],
        dials: r.dials
      }
      if (status === 'failed' && r.error !== undefined) node.error = describeCrawlError(r.error)
      if (status === 'never-tried') node.skipped = r.skipped ?? 'stopped'
      if (status === 'reached' && r.connectMs !== undefined) node.connectMs = r.connectMs
      if (info !== undefined) {
        node.moniker = info.moniker
        node.network = info.network
        node.version = info.version
        node.channels = Buffer.from(info.channels).toString('hex')
        node.listenAddr = info.listenAddr
        node.protocolVersion = { ...info.protocolVersion }
        node.txIndex = info.other.txIndex
        node.rpcAddress = info.other.rpcAddress
      }
      if (status === 'reached' && r.pex !== undefined) {
        node.pex = r.pex.answered
          ? { answered: true, addresses: r.pex.addresses }
          : { answered: false, ...(r.pex.error !== undefined ? { error: describeCrawlError(r.pex.error) } : {}) }
      }
      nodes.push(node)
    }
    return {
      format: 1,
      network: this.#network,
      seeds: this.seeds.map((s) => s.toString()),
      crawler: { id: this.nodeKey.id, moniker: this.#init.moniker ?? DEFAULT_CRAWLER_MONIKER, version: this.#init.version ?? RX_P2P_VERSION },
      startedAt: new Date(this.#startedAt).toISOString(),
      finishedAt: new Date(now).toISOString(),
      durationMs: now - this.#startedAt,
      stopReason: this.#stopReason ?? 'stopped',
      summary: { heard: nodes.length, reached, failed, neverTried, answered, edges: this.#edges.length },
      nodes,
      edges: [...this.#edges]
    }
  }
}

/**
 * Crawls a network (see {@link Crawler}) as a cold Observable: each subscription runs one crawl and emits its
 * {@link CrawlEvent}s, `done` (with the report) last, then completes. Unsubscribing stops the crawl and
 * closes its connections.
 *
 * @example
 * ```ts
 * const report = await lastValueFrom(crawl({ seeds, allowPrivate: true }).pipe(
 *   filter((e) => e.type === 'done'), map((e) => e.report)))
 * ```
 */
export function crawl (init: CrawlInit): Observable<CrawlEvent> {
  return new Observable<CrawlEvent>((subscriber) => {
    const crawler = new Crawler(init)
    const sub = crawler.events$.subscribe(subscriber)
    crawler.run().catch((err: unknown) => { subscriber.error(err) })
    return () => {
      sub.unsubscribe()
      crawler.stop()
    }
  })
}

/** An error as {@link CrawlError} JSON. */
export function describeCrawlError (error: Error): CrawlError {
  const e = error as Error & { code?: unknown, rule?: unknown, reason?: unknown }
  const out: { name: string, code?: string, rule?: string, message: string } = { name: e.name, message: e.message }
  if (typeof e.code === 'string') out.code = e.code
  const rule = typeof e.rule === 'string' ? e.rule : typeof e.reason === 'string' ? e.reason : undefined
  if (rule !== undefined) out.rule = rule
  return out
}

/** The longest delay a timer takes (Node fires longer ones at once): about 24.8 days. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1

function timerDelay (ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_DELAY_MS)
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
