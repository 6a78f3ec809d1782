/**
 * The Switch: takes the upgraded connections of a {@link MultiplexTransport} (which listens, dials, filters
 * connections and runs the handshakes), admits them as peers (limits, duplicate IDs, peer filters, bans),
 * keeps the peer set, runs the reactors and executes their actions, and redials persistent peers.
 *
 * @module
 */
import { setMaxListeners } from 'node:events'
import {
  asyncScheduler,
  BehaviorSubject,
  Observable,
  Subject,
  Subscription,
  type SchedulerLike
} from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import type { MConnectionInit } from '../conn/mconnection.js'
import { RecvBudget } from '../conn/recv-budget.js'
import type { NodeKey } from '../crypto/node-key.js'
import {
  AlreadyConnectedError,
  ConnectionClosedError,
  DuplicateChannelError,
  InvalidAddressError,
  PeerRejectedError,
  ReactorError,
  SelfConnectionError
} from '../errors.js'
import type { HandshakeRateLimiterInit } from '../multiplex-transport/handshake-rate.js'
import { MultiplexTransport, type AcceptEvent, type ConnFilter, type PeerConnection } from '../multiplex-transport/multiplex-transport.js'
import type { HostPort } from '../transport/duplex.js'
import { type NodeId, parseNodeId } from '../crypto/node-id.js'
import { NetAddress } from '../transport/net-address.js'
import type { Transport } from '../transport/transport.js'
import { defaultNodeInfo, nodeInfoAddress, type NodeInfo } from '../wire/node-info.js'
import type { Action, SendMode } from './actions.js'
import { BanList, type BanEntry, type BanScope, type BanTarget } from './ban-list.js'
import {
  DEFAULT_FILTER_TIMEOUT_MS,
  DEFAULT_MAX_INBOUND_PEERS,
  DEFAULT_MAX_OUTBOUND_PEERS,
  DEFAULT_MONIKER,
  DEFAULT_NETWORK,
  DEFAULT_NODE_RECV_BUDGET,
  DEFAULT_REACTOR_RESTART_DELAY_MS,
  DEFAULT_STOP_FLUSH_TIMEOUT_MS,
  DIAL_RANDOMIZER_INTERVAL_MS,
  RX_P2P_VERSION
} from './defaults.js'
import type { Envelope } from './envelope.js'
import type { PeerEvent } from './events.js'
import { admitPeer, runPeerFilters, type PeerFilter } from './filters.js'
import type { Peer } from './peer.js'
import { PeerSet, type PeerCounts, type ReadonlyPeerSet } from './peer-set.js'
import type { Reactor, ReactorContext, ReactorFailure } from './reactor.js'
import { reconnect, type ReconnectInit } from './reconnect.js'
import { SwitchPeer } from './switch-peer.js'

/** Options of {@link Switch}. */
export interface SwitchInit {
  /** Our node key: identity and handshake signatures. */
  nodeKey: NodeKey
  /** The reactors; more can be added with {@link Switch.addReactor} before {@link Switch.start}. @default [] */
  reactors?: readonly Reactor[]
  /** How raw connections are made (the Switch's {@link MultiplexTransport} upgrades them). @default a TcpTransport on this switch's scheduler */
  transport?: Transport
  /**
   * Where to listen, `host:port` (a `tcp://` prefix is allowed; port 0 picks a free port). Without it the
   * Switch only dials. @default undefined
   */
  listenAddress?: string | HostPort
  /**
   * The `host:port` announced in our NodeInfo as `listen_addr` (CometBFT `external_address`).
   * @default the bound listen address, or `0.0.0.0:0` when not listening
   */
  externalAddress?: string
  /** The network (chain ID) announced; peers on another network are refused. @default 'rx-p2p' */
  network?: string
  /** Our moniker (non-empty printable ASCII). @default 'rx-p2p' */
  moniker?: string
  /** NodeInfo.version. @default the rx-p2p version */
  version?: string
  /** NodeInfo.protocol_version. @default { p2p: 8, block: 11, app: 0 } */
  protocolVersion?: Partial<NodeInfo['protocolVersion']>
  /** NodeInfo.other. @default { txIndex: 'off', rpcAddress: '' } */
  other?: Partial<NodeInfo['other']>
  /** Addresses (`id@host:port`) dialed at start and redialed after every disconnect (CometBFT `persistent_peers`). @default [] */
  persistentPeers?: ReadonlyArray<string | NetAddress>
  /** IDs exempt from the peer limits (CometBFT `unconditional_peer_ids`). @default [] */
  unconditionalPeerIds?: readonly NodeId[]
  /** Inbound peers allowed, unconditional ones not counted (CometBFT `max_num_inbound_peers`). @default 40 */
  maxInboundPeers?: number
  /**
   * Outbound peers wanted, unconditional ones not counted (CometBFT `max_num_outbound_peers`). As in CometBFT
   * the Switch does not enforce it: PEX reads it (through the reactor context) and dials up to it.
   * @default 10
   */
  maxOutboundPeers?: number
  /** Accept several connections from one IP (CometBFT `allow_duplicate_ip`; loopback tests need true). @default false */
  allowDuplicateIp?: boolean
  /**
   * Inbound connections in their handshakes at once (accepted, not yet peers). They are not counted against
   * `maxInboundPeers`; when the set is full, a newcomer evicts the oldest one that has sent nothing (see
   * `PendingHandshakes`). Beyond CometBFT. @default 32
   */
  maxPendingHandshakes?: number
  /** Inbound connections in their handshakes at once from one remote IP; more are closed at accept. @default 4 */
  maxPendingHandshakesPerIp?: number
  /**
   * The handshake CPU limit: a token bucket per remote IP taken at accept, and a node-wide one taken before
   * each X25519 agreement (see `HandshakeRateLimiter`). Beyond CometBFT.
   * @default 10 handshakes then 2/s per IP; 100 then 50/s in total
   */
  handshakeRate?: Omit<HandshakeRateLimiterInit, 'scheduler'>
  /** Bans held at once (see {@link Switch.ban}); past it the ban that ends soonest is dropped. @default 10000 */
  maxBans?: number
  /** User peer filters, run on every new peer (see {@link PeerFilter}). @default [] */
  peerFilters?: readonly PeerFilter[]
  /** Deadline for the peer filters in ms. @default 5000 */
  filterTimeoutMs?: number
  /** Deadline for opening a connection in ms. @default 1000 */
  dialTimeoutMs?: number
  /** Deadline for the secret handshake, and separately for the NodeInfo exchange, in ms. @default 3000 */
  handshakeTimeoutMs?: number
  /** How long `stop()` lets each peer flush before closing it, in ms. @default 1000 */
  stopFlushTimeoutMs?: number
  /** Pause before a failed reactor is subscribed again, in ms. @default 1000 */
  reactorRestartDelayMs?: number
  /** Random delay of 0 to this many ms before each dial of the persistent peers at start (CometBFT `randomSleep(0)`). @default 3000 */
  dialRandomizerMs?: number
  /** Options of every peer's MConnection (its scheduler is the Switch's). @default MConnection's defaults */
  mconnection?: Omit<MConnectionInit, 'scheduler'>
  /**
   * Bytes of partial messages (reassembly buffers) all peers together may hold; at the limit the peer holding the
   * most is stopped with `RecvBudgetExceededError` (`budget: 'node'`). Ignored when `mconnection.recvBudget` is
   * given. @default 134217728 (128 MiB)
   */
  recvBudget?: number
  /** The persistent-peer redial schedule. @default CometBFT's: 20 × 5 s, then 10 × 3^i s, each + 0–3 s */
  reconnect?: Omit<ReconnectInit, 'scheduler' | 'random' | 'isFatal'>
  /** Every timer: dial, handshake, filter, flush, ping, redial. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Numbers in [0, 1) for the dial and redial jitter. @default Math.random */
  random?: () => number
}

/** What {@link Switch.admissionStats} gives. */
export interface AdmissionStats {
  /** Inbound connections in their handshakes now. */
  readonly pendingHandshakes: number
  /** Refused connections and dials since start, by `PeerRejectedError` reason. */
  readonly refused: Readonly<Record<string, number>>
  /** Bans held (expired ones not yet dropped included). */
  readonly bans: number
  /** Remote IPs whose handshake buckets are remembered. */
  readonly trackedIps: number
}

/** Options of {@link Switch.dial}. */
export interface DialOptions {
  /** Add the address to the persistent peers: redial it after every disconnect. @default false */
  persistent?: boolean
  /** Aborts the dial. */
  signal?: AbortSignal
}

/** The outcome of a broadcast for one peer. */
export interface BroadcastResult {
  /** The peer. */
  readonly peer: Peer
  /** True when the message was queued for it; false when its queue was full (or stayed full), it is gone, or it lacks the channel. */
  readonly queued: boolean
}

/** Options of {@link Switch.broadcast} and {@link Switch.tryBroadcast}. */
export interface BroadcastOptions {
  /** Peers (or IDs) to leave out. */
  except?: ReadonlyArray<Peer | NodeId>
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped'

interface ReactorEntry {
  readonly reactor: Reactor
  readonly envelopes: Subject<Envelope>
  run: Subscription | undefined
}

function hostPortOf (addr: string | HostPort): HostPort {
  if (typeof addr !== 'string') return addr
  const parsed = NetAddress.parse(addr, false)
  return { host: parsed.host, port: parsed.port }
}

/**
 * The Switch: the node's peer-to-peer hub.
 *
 * - {@link inbound$}: every message from every peer; each reactor sees those of its own channels.
 * - {@link peerEvents$}: peers added, removed (with the reason), dial outcomes, refused connections.
 * - {@link peers} / {@link peers$}: the connected peers.
 * - {@link dial}, {@link broadcast}, {@link stopPeer}: for code outside reactors; reactors return
 *   {@link Action}s instead.
 *
 * @example
 * ```ts
 * import { NodeKey, Switch, TcpTransport } from 'rx-p2p'
 *
 * const sw = new Switch({
 *   nodeKey: NodeKey.generate(),
 *   network: 'my-chain',
 *   listenAddress: '127.0.0.1:26656',
 *   reactors: [chatReactor],
 *   persistentPeers: ['3f1c...@127.0.0.1:26657']
 * })
 * sw.peerEvents$.subscribe((e) => console.log(e.type, 'peer' in e ? e.peer.id : ''))
 * await sw.start()
 * // ...
 * await sw.stop()
 * ```
 */
export class Switch {
  /** Hot: every message received from every peer, in arrival order (a message may be a view into a larger buffer: `slice()` it to keep it long). Completes on stop. */
  readonly inbound$: Observable<Envelope>
  /** Hot: peer events (see {@link PeerEvent}). Completes on stop. */
  readonly peerEvents$: Observable<PeerEvent>
  /** Hot, replays the current list on subscribe: the connected peers after each change. Completes on stop. */
  readonly peers$: Observable<readonly Peer[]>
  /** Hot: reactor pipelines that failed (the reactor is restarted; the blamed peer stopped). Completes on stop. */
  readonly reactorErrors$: Observable<ReactorFailure>
  /** The clock of every timer. */
  readonly scheduler: SchedulerLike
  /** Our node key. */
  readonly nodeKey: NodeKey
  /** The inbound-peer limit. */
  readonly maxInboundPeers: number
  /** The outbound-peer target (enforced by PEX, not by the Switch, as in CometBFT). */
  readonly maxOutboundPeers: number

  readonly #init: SwitchInit
  readonly #mt: MultiplexTransport
  readonly #random: () => number
  readonly #allowDuplicateIp: boolean
  readonly #peerFilters: readonly PeerFilter[]
  readonly #mconnInit: MConnectionInit
  /** The receive budget every peer's MConnection draws on (see {@link SwitchInit.recvBudget}). */
  readonly recvBudget: RecvBudget
  #state: State = 'new'
  #stopPromise: Promise<void> | undefined
  readonly #reactors: ReactorEntry[] = []
  readonly #byChannel = new Map<number, ReactorEntry>()
  readonly #channels: ChannelDescriptor[] = []
  readonly #peers = new PeerSet()
  readonly #dialing = new Map<NodeId, NetAddress>()
  readonly #reconnecting = new Map<NodeId, Subscription>()
  readonly #persistent: NetAddress[] = []
  readonly #unconditional = new Set<NodeId>()
  readonly #bans: BanList
  readonly #refusals = new Map<string, number>()
  #listenAddress: NetAddress | undefined
  #nodeInfo: NodeInfo
  readonly #abort = new AbortController()
  readonly #tasks = new Subscription()
  #delivering: Peer | undefined
  readonly #inbound = new Subject<Envelope>()
  readonly #events = new Subject<PeerEvent>()
  readonly #peerList = new BehaviorSubject<readonly Peer[]>([])
  readonly #reactorErrors = new Subject<ReactorFailure>()

  /**
   * @throws {InvalidAddressError} a persistent peer address or unconditional ID does not parse
   * @throws {DuplicateChannelError} two reactors claim the same channel
   */
  constructor (init: SwitchInit) {
    this.#init = init
    // Every dial and handshake in flight listens to the switch-wide abort signal: more than 10 at once is normal.
    setMaxListeners(0, this.#abort.signal)
    this.nodeKey = init.nodeKey
    this.scheduler = init.scheduler ?? asyncScheduler
    this.#random = init.random ?? Math.random
    this.#allowDuplicateIp = init.allowDuplicateIp ?? false
    this.#peerFilters = init.peerFilters ?? []
    this.maxInboundPeers = init.maxInboundPeers ?? DEFAULT_MAX_INBOUND_PEERS
    this.maxOutboundPeers = init.maxOutboundPeers ?? DEFAULT_MAX_OUTBOUND_PEERS
    this.recvBudget = init.mconnection?.recvBudget ?? new RecvBudget({ limit: init.recvBudget ?? DEFAULT_NODE_RECV_BUDGET })
    this.#mconnInit = { ...init.mconnection, recvBudget: this.recvBudget, scheduler: this.scheduler }
    this.#bans = new BanList({ maxBans: init.maxBans, scheduler: this.scheduler })
    this.#mt = new MultiplexTransport({
      nodeKey: this.nodeKey,
      nodeInfo: () => this.#nodeInfo,
      transport: init.transport,
      scheduler: this.scheduler,
      signal: this.#abort.signal,
      dialTimeoutMs: init.dialTimeoutMs,
      handshakeTimeoutMs: init.handshakeTimeoutMs,
      allowDuplicateIp: this.#allowDuplicateIp,
      maxInboundConnections: this.maxInboundPeers,
      extraInboundConnections: () => this.#unconditional.size,
      maxPendingHandshakes: init.maxPendingHandshakes,
      maxPendingHandshakesPerIp: init.maxPendingHandshakesPerIp,
      handshakeRate: init.handshakeRate,
      connFilters: [this.#ipBanFilter],
      onAuthenticated: (id) => {
        const ban = this.#bans.idBan(id, 'accept')
        if (ban !== undefined) throw new PeerRejectedError('banned', `peer ${id} is banned: ${ban.reason}`)
      }
    })
    this.inbound$ = this.#inbound.asObservable()
    this.peerEvents$ = this.#events.asObservable()
    this.peers$ = this.#peerList.asObservable()
    this.reactorErrors$ = this.#reactorErrors.asObservable()
    this.addPersistentPeers(init.persistentPeers ?? [])
    this.addUnconditionalPeerIds(init.unconditionalPeerIds ?? [])
    for (const reactor of init.reactors ?? []) this.addReactor(reactor)
    this.#nodeInfo = this.#makeNodeInfo()
  }

  // ---------------------------------------------------------------------------------------------
  // configuration

  /** Our node ID. */
  get nodeId (): NodeId {
    return this.nodeKey.id
  }

  /** Our NodeInfo as sent in handshakes (its `listen_addr` is final once {@link start} has bound the listener). */
  get nodeInfo (): NodeInfo {
    return this.#nodeInfo
  }

  /** `id@host:port` we listen on, once started with a listen address. */
  get listenAddress (): NetAddress | undefined {
    return this.#listenAddress
  }

  /** True between {@link start} and {@link stop}. */
  get isRunning (): boolean {
    return this.#state === 'running'
  }

  /** The connected peers, live. */
  get peers (): ReadonlyPeerSet {
    return this.#peers
  }

  /** The reactors, in the order added. */
  get reactors (): readonly Reactor[] {
    return this.#reactors.map((e) => e.reactor)
  }

  /**
   * Adds a reactor and its channels (before {@link start}).
   *
   * @throws {DuplicateChannelError} a channel is already claimed (CometBFT `AddReactor` panics on this)
   */
  addReactor (reactor: Reactor): this {
    if (this.#state !== 'new') throw new ReactorError(`reactor ${reactor.name}: reactors are added before start()`)
    const ids = new Set<number>()
    for (const ch of reactor.channels) {
      const owner = this.#byChannel.get(ch.id)
      if (owner !== undefined || ids.has(ch.id)) {
        throw new DuplicateChannelError(`channel 0x${ch.id.toString(16).padStart(2, '0')} is claimed by reactor ${owner?.reactor.name ?? reactor.name} and reactor ${reactor.name}`)
      }
      ids.add(ch.id)
    }
    const entry: ReactorEntry = { reactor, envelopes: new Subject<Envelope>(), run: undefined }
    this.#reactors.push(entry)
    for (const ch of reactor.channels) {
      this.#byChannel.set(ch.id, entry)
      this.#channels.push(ch)
    }
    this.#nodeInfo = this.#makeNodeInfo()
    return this
  }

  /**
   * Adds persistent peers: dialed at start and redialed after every disconnect (CometBFT `AddPersistentPeers`).
   *
   * @throws {InvalidAddressError} an address does not parse or has no ID
   */
  addPersistentPeers (addresses: ReadonlyArray<string | NetAddress>): void {
    for (const a of addresses) {
      const addr = typeof a === 'string' ? NetAddress.parse(a) : a
      if (addr.id === '') throw new InvalidAddressError(`persistent peer ${addr.toString()} has no node ID`)
      if (!this.#persistent.some((p) => p.equals(addr))) this.#persistent.push(addr)
    }
  }

  /** Adds IDs exempt from the peer limits (CometBFT `AddUnconditionalPeerIDs`). @throws {InvalidAddressError} */
  addUnconditionalPeerIds (ids: readonly string[]): void {
    for (const id of ids) this.#unconditional.add(parseNodeId(id))
  }

  /** True when `address` is one of the persistent peers (CometBFT `IsPeerPersistent`: same ID, host and port). */
  isPeerPersistent (address: NetAddress): boolean {
    return this.#persistent.some((p) => p.equals(address))
  }

  /** True for an unconditional peer ID. */
  isPeerUnconditional (id: NodeId): boolean {
    return this.#unconditional.has(id)
  }

  /** Peers by direction, unconditional ones not counted, and dials in progress (CometBFT `NumPeers`). */
  numPeers (): PeerCounts {
    return this.#peers.count((id) => this.#unconditional.has(id), this.#dialing.size)
  }

  /**
   * True when `address`'s ID is being dialed or connected, or (unless duplicate IPs are allowed) a peer has
   * its IP (CometBFT `IsDialingOrExistingAddress`).
   */
  isDialingOrExistingAddress (address: NetAddress): boolean {
    return this.#dialing.has(address.id) ||
      this.#peers.has(address.id) ||
      (!this.#allowDuplicateIp && this.#peers.hasIp(address.host))
  }

  // ---------------------------------------------------------------------------------------------
  // bans and admission

  /**
   * Bans `target` for `durationMs`: a peer or node ID (by ID), an `id@host:port` address (by its ID; by its IP
   * when it has none) or an IP. With scope `'all'` (the default) it is refused at accept (an IP before the
   * handshake, an ID right after the secret handshake authenticates it, before NodeInfo) and at dial, and every
   * connected peer it names is stopped with `reason`; with scope `'dial'` it is only not dialed. A ban of a key
   * already banned keeps the later end. Refusals are `PeerRejectedError` reason `'banned'`. Reactors ask for
   * this with `actions.ban`; PEX bans its rule breakers here. CometBFT keeps bans only in the address book,
   * so a banned peer there reconnects at once.
   *
   * @throws {InvalidAddressError} a string that is neither a node ID, an address nor an IP
   * @example
   * ```ts
   * sw.ban(peer, 24 * 3600_000, new PexViolationError('request-too-soon', 'asked too soon'))
   * sw.ban('203.0.113.7', 600_000, 'handshake flood')
   * ```
   */
  ban (target: BanTarget, durationMs: number, reason?: Error | string, options: { scope?: BanScope } = {}): BanEntry | undefined {
    const why = reason === undefined ? 'banned' : typeof reason === 'string' ? reason : reason.message
    const entry = this.#bans.ban(target, durationMs, why, options.scope ?? 'all')
    if (entry === undefined || entry.scope !== 'all') return entry
    const error = reason instanceof Error ? reason : new PeerRejectedError('banned', `${entry.kind} ${entry.key} is banned: ${why}`)
    for (const peer of this.#peers.list()) {
      if (entry.kind === 'id' ? peer.id === entry.key : peer.remoteAddress.host === entry.key) void this.#removePeer(peer as SwitchPeer, error)
    }
    return entry
  }

  /** Lifts the ban of `target` (as given to {@link ban}); false when there was none. */
  unban (target: BanTarget): boolean {
    return this.#bans.unban(target)
  }

  /**
   * True when `target` is banned now: its ID, or for an address its ID or its IP, or the IP. `at: 'dial'`
   * also counts dial-only bans. @default at 'accept'
   */
  isBanned (target: BanTarget, at: 'accept' | 'dial' = 'accept'): boolean {
    return this.#bans.isBanned(target, at)
  }

  /** The live bans, in the order they were made. */
  bans (): BanEntry[] {
    return this.#bans.list()
  }

  /**
   * Admission counters: connections in their handshakes now, and how many connections and dials were refused,
   * by `PeerRejectedError` reason (`handshake-rate`, `pending-per-ip`, `pending-evicted`, `banned`,
   * `max-inbound`, `duplicate-ip`, ...), since start.
   */
  admissionStats (): AdmissionStats {
    return {
      pendingHandshakes: this.#mt.pendingHandshakes,
      refused: Object.fromEntries(this.#refusals),
      bans: this.#bans.size,
      trackedIps: this.#mt.trackedIps
    }
  }

  #countRefusal (error: Error): void {
    if (!(error instanceof PeerRejectedError)) return
    this.#refusals.set(error.reason, (this.#refusals.get(error.reason) ?? 0) + 1)
  }

  /**
   * The transport's first connection filter: IP bans, at accept (scope `'all'`) and on a dialed connection
   * whose host was a name (its IP is known only once connected; a dial by IP was checked before dialing).
   * A refused dial is counted here; refusals at accept are counted as they arrive on the accept stream.
   */
  readonly #ipBanFilter: ConnFilter = (ip, dialed) => {
    if (dialed === undefined) {
      const ban = this.#bans.ipBan(ip, 'accept')
      return ban === undefined ? undefined : new PeerRejectedError('banned', `ip ${ip} is banned: ${ban.reason}`)
    }
    const ban = ip === dialed.host ? undefined : this.#bans.ipBan(ip, 'dial')
    if (ban === undefined) return undefined
    const error = new PeerRejectedError('banned', `${dialed.toString()} (${ip}) is banned: ${ban.reason}`)
    this.#countRefusal(error)
    return error
  }

  // ---------------------------------------------------------------------------------------------
  // life cycle

  /**
   * Binds the listener (when configured), starts the reactors, accepts connections and dials the persistent
   * peers (each after a random 0–3 s, as CometBFT's `DialPeersAsync`).
   *
   * @throws {TransportError} the listen address cannot be bound
   * @throws {RangeError} no reactor declared a channel
   */
  async start (): Promise<void> {
    if (this.#state !== 'new') throw new ReactorError('the switch was already started')
    if (this.#channels.length === 0) throw new RangeError('a Switch needs at least one reactor channel')
    this.#state = 'starting'
    const persistent = await Promise.all(this.#persistent.map(async (a) => await a.resolve().catch(() => a)))
    this.#persistent.splice(0, this.#persistent.length, ...persistent)
    if (this.#init.listenAddress !== undefined) {
      // The transport's gate refuses by IP on the raw socket, before the transport wraps it.
      const bound = await this.#mt.listen(hostPortOf(this.#init.listenAddress))
      this.#listenAddress = new NetAddress(this.nodeId, bound.host, bound.port)
    }
    this.#nodeInfo = this.#makeNodeInfo()
    if (this.#state !== 'starting') {
      await this.#mt.close()
      return
    }
    this.#state = 'running'
    for (const entry of this.#reactors) this.#runReactor(entry)
    // Kept through stop: the refusals of the handshakes it cancels still reach peerEvents$.
    if (this.#listenAddress !== undefined) this.#mt.accept().subscribe((e) => { this.#onAcceptEvent(e) })
    this.#dialRandomized(this.#persistent)
  }

  /**
   * Stops: closes the listener, cancels dials and redials, flushes and closes every peer (each `removed`
   * with reason `undefined`), stops the reactors (awaiting each reactor's `stop()`: PEX's book is saved when
   * this resolves) and completes every Observable. Leaves no timer or socket open. Idempotent. Rejects, once
   * all that is done, with the error of the first reactor whose `stop()` failed (an `AddrBookIoError`).
   */
  stop (): Promise<void> {
    this.#stopPromise ??= this.#stop()
    return this.#stopPromise
  }

  async #stop (): Promise<void> {
    const wasRunning = this.#state === 'running' || this.#state === 'starting'
    let reactorStops: Array<PromiseSettledResult<void>> = []
    this.#state = 'stopping'
    if (wasRunning) {
      this.#abort.abort(new PeerRejectedError('stopped', 'the switch is stopping'))
      this.#tasks.unsubscribe()
      for (const sub of this.#reconnecting.values()) sub.unsubscribe()
      this.#reconnecting.clear()
      // Closes the listener and cancels the handshakes in flight.
      const closing = this.#mt.close()
      const peers = this.#peers.list()
      await Promise.all([closing, ...peers.map(async (peer) => await this.#removePeer(peer as SwitchPeer, undefined))])
      for (const entry of this.#reactors) {
        entry.run?.unsubscribe()
        entry.run = undefined
        entry.envelopes.complete()
      }
      // A reactor's own stop (PEX saving its book) is part of the Switch's.
      reactorStops = await Promise.allSettled(this.#reactors.map(async (entry) => { await entry.reactor.stop?.() }))
    }
    this.#state = 'stopped'
    this.#inbound.complete()
    this.#events.complete()
    this.#peerList.complete()
    this.#reactorErrors.complete()
    const failure = reactorStops.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure !== undefined) throw failure.reason
  }

  // ---------------------------------------------------------------------------------------------
  // peers

  /**
   * Dials `address` (`id@host:port`), upgrades the connection and adds the peer. Resolves with the peer;
   * rejects with a typed error (`AlreadyConnectedError`, `TransportError`, `TimeoutError`, a handshake
   * error, `PeerRejectedError`). Either way a `dialed` or `dialFailed` event is emitted. With `persistent`,
   * the address is redialed after every disconnect, and after a failed dial.
   *
   * @example
   * ```ts
   * const peer = await sw.dial('3f1c...@127.0.0.1:26657', { persistent: true })
   * ```
   */
  async dial (address: string | NetAddress, options: DialOptions = {}): Promise<Peer> {
    const addr = typeof address === 'string' ? NetAddress.parse(address) : address
    if (options.persistent === true) this.addPersistentPeers([addr])
    return await this.#dialPeer(addr, options.signal)
  }

  /**
   * Dials each address after a random 0–3 s, ignoring failures (they are reported as `dialFailed` events);
   * our own address is skipped (CometBFT `DialPeersAsync`).
   *
   * @throws {InvalidAddressError} an address does not parse
   */
  dialPeersAsync (addresses: ReadonlyArray<string | NetAddress>): void {
    this.#dialRandomized(addresses.map((a) => typeof a === 'string' ? NetAddress.parse(a) : a))
  }

  /**
   * Disconnects a peer. With a `reason` this is CometBFT's `StopPeerForError`: the connection is closed at
   * once, every reactor sees `removed` with the reason, and a persistent peer is redialed. Without one it is
   * `StopPeerGracefully`: queued messages are flushed first, and the peer is not redialed. Resolves once the
   * connection is closed. A peer that is no longer connected is ignored.
   */
  async stopPeer (peer: Peer | NodeId, reason?: Error): Promise<void> {
    const p = this.#resolve(peer)
    if (p !== undefined) await this.#removePeer(p, reason)
  }

  /**
   * Sends `message` on `chId` to every peer (except those in `options.except`), waiting up to the send
   * timeout for room in each queue (CometBFT `Broadcast`). Resolves with one result per peer.
   *
   * @example
   * ```ts
   * const results = await sw.broadcast(0x30, tx)
   * console.log(`queued for ${results.filter((r) => r.queued).length} of ${results.length} peers`)
   * ```
   */
  async broadcast (chId: number, message: Uint8Array, options: BroadcastOptions = {}): Promise<BroadcastResult[]> {
    const targets = this.#targets(options.except)
    return await Promise.all(targets.map(async (peer) => ({ peer, queued: await peer.send(chId, message) })))
  }

  /**
   * Queues `message` on `chId` for every peer that has room now (CometBFT v1 `TryBroadcast`); returns one
   * result per peer.
   */
  tryBroadcast (chId: number, message: Uint8Array, options: BroadcastOptions = {}): BroadcastResult[] {
    return this.#targets(options.except).map((peer) => ({ peer, queued: peer.trySend(chId, message) }))
  }

  #targets (except: ReadonlyArray<Peer | NodeId> | undefined): readonly Peer[] {
    const all = this.#peers.list()
    if (except === undefined || except.length === 0) return all
    return all.filter((p) => !except.some((e) => e === p || e === p.id))
  }

  #resolve (peer: Peer | NodeId): SwitchPeer | undefined {
    if (typeof peer === 'string') return this.#peers.get(peer) as SwitchPeer | undefined
    return this.#peers.contains(peer) ? peer as SwitchPeer : undefined
  }

  #makeNodeInfo (): NodeInfo {
    const init = this.#init
    const listen = this.#listenAddress
    return defaultNodeInfo({
      protocolVersion: init.protocolVersion,
      id: this.nodeKey.id,
      listenAddr: init.externalAddress ?? listen?.hostPort,
      network: init.network ?? DEFAULT_NETWORK,
      version: init.version ?? RX_P2P_VERSION,
      channels: Uint8Array.from(this.#channels.map((c) => c.id)),
      moniker: init.moniker ?? DEFAULT_MONIKER,
      other: init.other
    })
  }

  #emit (event: PeerEvent): void {
    if (this.#state === 'stopped') return
    this.#events.next(event)
  }

  // ---------------------------------------------------------------------------------------------
  // connections

  /**
   * What the transport's accept stream brings: a refusal (counted and reported as a `rejected` event), or an
   * upgraded inbound connection, admitted as a peer on its own (a refusal then is reported the same way).
   */
  #onAcceptEvent (e: AcceptEvent): void {
    if (e.type === 'refused') {
      this.#countRefusal(e.error)
      this.#emit({ type: 'rejected', remoteAddress: e.remoteAddress, peerId: e.peerId, error: e.error })
      return
    }
    const c = e.conn
    this.#addPeer(c).catch((err: unknown) => {
      c.raw.destroy()
      const error = asError(err)
      this.#countRefusal(error)
      this.#emit({ type: 'rejected', remoteAddress: c.remoteAddress, peerId: c.remoteId, error })
    })
  }

  #dialRandomized (addresses: readonly NetAddress[]): void {
    const jitterMs = this.#init.dialRandomizerMs ?? DIAL_RANDOMIZER_INTERVAL_MS
    for (const addr of addresses) {
      // CometBFT `dialPeersAsync` skips our own address.
      if (addr.id === this.nodeId || (this.#listenAddress !== undefined && addr.same(this.#listenAddress))) continue
      const delay = jitterMs > 0 ? Math.floor(this.#random() * jitterMs) : 0
      const task = this.scheduler.schedule(() => {
        this.#tasks.remove(task)
        this.#dialPeer(addr).catch(() => {})
      }, delay)
      this.#tasks.add(task)
    }
  }

  async #dialPeer (addr: NetAddress, signal?: AbortSignal): Promise<Peer> {
    const fail = (error: Error): never => {
      this.#emit({ type: 'dialFailed', address: addr, error })
      throw error
    }
    if (this.#state !== 'running') fail(new PeerRejectedError('stopped', 'the switch is not running'))
    if (addr.id === '') fail(new InvalidAddressError(`cannot dial ${addr.toString()}: no node ID`))
    // CometBFT `ErrSwitchConnectToSelf` / `ErrRejected.isSelf`.
    if (addr.id === this.nodeId) fail(new PeerRejectedError('self', `${addr.toString()} is our own address`))
    // CometBFT `DialPeerWithAddress`: `ErrCurrentlyDialingOrExistingAddress`.
    if (this.isDialingOrExistingAddress(addr)) fail(new AlreadyConnectedError(`${addr.toString()} is already being dialed or connected`))
    const ban = this.#bans.idBan(addr.id, 'dial') ?? this.#bans.ipBan(addr.host, 'dial')
    if (ban !== undefined) {
      const error = new PeerRejectedError('banned', `${addr.toString()} is banned: ${ban.reason}`)
      this.#countRefusal(error)
      fail(error)
    }
    this.#dialing.set(addr.id, addr)
    let peer: Peer
    try {
      let c: PeerConnection
      try {
        c = await this.#mt.dial(addr, { signal })
      } catch (err) {
        // CometBFT `addOutboundPeerWithConfig`: retry a persistent peer after any dial error except connecting to ourselves.
        if (!(err instanceof SelfConnectionError) && this.isPeerPersistent(addr)) this.#reconnect(addr)
        throw err
      }
      try {
        peer = await this.#addPeer(c)
      } catch (err) {
        c.conn.destroy()
        c.raw.destroy()
        throw err
      }
    } catch (err) {
      this.#dialing.delete(addr.id)
      return fail(asError(err))
    }
    this.#dialing.delete(addr.id)
    this.#emit({ type: 'dialed', address: addr, peer })
    return peer
  }

  /**
   * Admits an upgraded connection as a peer (CometBFT `addPeer`): limits, duplicate ID, peer filters; then
   * adds it to the peer set, tells the reactors (`added`) and starts its MConnection.
   */
  async #addPeer (up: PeerConnection): Promise<SwitchPeer> {
    const { outbound, socketAddr } = up
    // CometBFT `wrapPeer`: an outbound peer is persistent by its dialed address, an inbound one by its self-reported address.
    let persistent = false
    if (outbound) persistent = this.isPeerPersistent(socketAddr)
    else {
      try {
        persistent = this.isPeerPersistent(nodeInfoAddress(up.nodeInfo))
      } catch {
        persistent = false
      }
    }
    const peer = new SwitchPeer({
      conn: up.conn,
      raw: up.raw,
      nodeInfo: up.nodeInfo,
      channels: this.#channels,
      outbound,
      persistent,
      socketAddr,
      mconnection: this.#mconnInit
    })
    const limits = { ourId: this.nodeId, maxInboundPeers: this.maxInboundPeers, isUnconditional: (id: NodeId) => this.#unconditional.has(id) }
    const refusal = admitPeer(this.#peers, { id: peer.id, outbound }, limits)
    if (refusal !== undefined) throw refusal
    if (this.#peerFilters.length > 0) {
      await new Promise<void>((resolve, reject) => {
        const signal = this.#abort.signal
        const onAbort = (): void => {
          sub.unsubscribe()
          reject(new PeerRejectedError('stopped', 'the switch is stopping'))
        }
        const settle = (): void => { signal.removeEventListener('abort', onAbort) }
        const sub = runPeerFilters(this.#peerFilters, peer, this.#peers, {
          timeoutMs: this.#init.filterTimeoutMs ?? DEFAULT_FILTER_TIMEOUT_MS,
          scheduler: this.scheduler
        }).subscribe({
          complete: () => { settle(); resolve() },
          error: (err: unknown) => { settle(); reject(err) }
        })
        if (!sub.closed) signal.addEventListener('abort', onAbort, { once: true })
      })
      // The set may have changed while the filters ran.
      const again = admitPeer(this.#peers, { id: peer.id, outbound }, limits)
      if (again !== undefined) throw again
    }
    if (this.#state !== 'running') throw new PeerRejectedError('stopped', 'the switch is not running')
    // A ban made while the handshake or the filters ran.
    const ban = this.#bans.idBan(peer.id, outbound ? 'dial' : 'accept') ?? (outbound ? undefined : this.#bans.ipBan(peer.remoteAddress.host, 'accept'))
    if (ban !== undefined) throw new PeerRejectedError('banned', `peer ${peer.id} is banned: ${ban.reason}`)
    // CometBFT adds the peer to the set before the reactors' AddPeer, so that a failing Receive finds it.
    this.#peers.add(peer)
    this.#peerList.next(this.#peers.list())
    peer.mconn.inbound$.subscribe(({ chId, message }) => { this.#onMessage(peer, chId, message) })
    peer.mconn.closed$.subscribe((reason) => { this.#onPeerClosed(peer, reason) })
    this.#deliver(peer, () => { this.#emit({ type: 'added', peer }) })
    peer.mconn.start()
    return peer
  }

  #onMessage (peer: SwitchPeer, chId: number, message: Uint8Array): void {
    const envelope: Envelope = { from: peer, chId, message }
    this.#inbound.next(envelope)
    const entry = this.#byChannel.get(chId)
    if (entry !== undefined) this.#deliver(peer, () => { entry.envelopes.next(envelope) })
  }

  /** Runs `fn` noting that `peer` caused what happens synchronously inside it (for reactor failures). */
  #deliver (peer: Peer, fn: () => void): void {
    const outer = this.#delivering
    this.#delivering = peer
    try {
      fn()
    } finally {
      this.#delivering = outer
    }
  }

  #onPeerClosed (peer: SwitchPeer, reason: Error | undefined): void {
    if (!this.#peers.contains(peer)) return
    // CometBFT: an MConnection error calls `onPeerError` = `StopPeerForError`, so a persistent peer is redialed.
    void this.#removePeer(peer, reason ?? new ConnectionClosedError('the connection was closed'))
  }

  /**
   * CometBFT `stopAndRemovePeer` (+ `StopPeerForError`'s redial): removes the peer from the set, tells the
   * reactors (`removed` with the reason) and closes the connection: at once for an error, after a bounded
   * flush for a graceful stop.
   */
  async #removePeer (peer: SwitchPeer, reason: Error | undefined): Promise<void> {
    if (!this.#peers.remove(peer)) return
    this.#peerList.next(this.#peers.list())
    if (reason !== undefined) {
      peer.mconn.stop(reason)
      peer.raw.destroy()
    }
    this.#emit({ type: 'removed', peer, reason })
    if (reason === undefined) await this.#closeGracefully(peer)
    if (reason !== undefined && peer.isPersistent && this.#state === 'running') {
      // CometBFT `StopPeerForError`: redial the socket address of an outbound peer, the self-reported address of an inbound one.
      let addr: NetAddress | undefined = peer.socketAddr
      if (!peer.isOutbound) {
        try {
          addr = nodeInfoAddress(peer.nodeInfo)
        } catch {
          addr = undefined
        }
      }
      if (addr !== undefined) this.#reconnect(addr)
    }
  }

  /** Flushes the peer's queues, waits for the remote to close, within the stop deadline; then closes. */
  async #closeGracefully (peer: SwitchPeer): Promise<void> {
    const deadlineMs = this.#init.stopFlushTimeoutMs ?? DEFAULT_STOP_FLUSH_TIMEOUT_MS
    await new Promise<void>((resolve) => {
      const sub = new Subscription()
      const done = (): void => {
        sub.unsubscribe()
        resolve()
      }
      sub.add(this.scheduler.schedule(done, deadlineMs))
      peer.mconn.flushStop().then(() => {
        if (!sub.closed) sub.add(peer.raw.closed$.subscribe(() => { done() }))
      }, done)
    })
    peer.mconn.stop()
    peer.raw.destroy()
  }

  /**
   * CometBFT `reconnectToPeer`: one loop per ID; ends on success, on `ErrCurrentlyDialingOrExistingAddress`,
   * when the Switch stops, or after the last attempt (the address is then left to PEX).
   */
  #reconnect (addr: NetAddress): void {
    if (this.#state !== 'running' || this.#reconnecting.has(addr.id)) return
    let finished = false
    const sub = reconnect(async () => await this.#dialPeer(addr), {
      ...this.#init.reconnect,
      scheduler: this.scheduler,
      random: this.#random,
      isFatal: (err) => err instanceof AlreadyConnectedError || (err instanceof PeerRejectedError && err.reason === 'stopped')
    }).subscribe({
      complete: () => {
        finished = true
        if (this.#reconnecting.get(addr.id) === sub) this.#reconnecting.delete(addr.id)
      }
    })
    if (!finished) this.#reconnecting.set(addr.id, sub)
  }

  // ---------------------------------------------------------------------------------------------
  // reactors

  #context (entry: ReactorEntry): ReactorContext {
    return {
      envelopes$: entry.envelopes.asObservable(),
      peerEvents$: this.peerEvents$,
      peers$: this.peers$,
      peers: this.#peers,
      scheduler: this.scheduler,
      nodeInfo: this.#nodeInfo,
      maxInboundPeers: this.maxInboundPeers,
      maxOutboundPeers: this.maxOutboundPeers,
      numPeers: () => this.numPeers(),
      isDialingOrExistingAddress: (address) => this.isDialingOrExistingAddress(address),
      isPeerUnconditional: (id) => this.isPeerUnconditional(id)
    }
  }

  #runReactor (entry: ReactorEntry): void {
    if (this.#state !== 'running') return
    let actions$: Observable<Action>
    try {
      actions$ = entry.reactor.run(this.#context(entry))
    } catch (err) {
      this.#onReactorError(entry, err)
      return
    }
    let failed = false
    const sub = actions$.subscribe({
      next: (action) => { this.#execute(entry, action) },
      error: (err: unknown) => {
        failed = true
        this.#onReactorError(entry, err)
      }
    })
    if (!failed) entry.run = sub
  }

  /**
   * A reactor's pipeline failed: report it, stop the peer whose message (or `added` event) was being
   * delivered when it failed, and subscribe again after a pause. The node goes on.
   */
  #onReactorError (entry: ReactorEntry, err: unknown): void {
    entry.run = undefined
    const peer = this.#delivering
    const cause = asError(err)
    const error = new ReactorError(`reactor ${entry.reactor.name} failed: ${cause.message}`, { cause })
    this.#reactorErrors.next({ reactor: entry.reactor.name, error, peer })
    const culprit = peer === undefined ? undefined : this.#resolve(peer)
    if (culprit !== undefined) void this.#removePeer(culprit, error)
    if (this.#state !== 'running') return
    const delay = this.#init.reactorRestartDelayMs ?? DEFAULT_REACTOR_RESTART_DELAY_MS
    const task = this.scheduler.schedule(() => {
      this.#tasks.remove(task)
      this.#runReactor(entry)
    }, delay)
    this.#tasks.add(task)
  }

  #execute (entry: ReactorEntry, action: Action): void {
    try {
      switch (action.type) {
        case 'send': {
          const peer = this.#resolve(action.to)
          if (peer !== undefined) this.#send(peer, action.chId, action.message, action.mode)
          break
        }
        case 'broadcast': {
          for (const peer of this.#targets(action.except)) this.#send(peer, action.chId, action.message, action.mode)
          break
        }
        case 'stopPeer': {
          const peer = this.#resolve(action.peer)
          if (peer !== undefined) void this.#removePeer(peer, action.reason)
          break
        }
        case 'dial': {
          this.dial(action.address, { persistent: action.persistent }).catch(() => {})
          break
        }
        case 'ban': {
          this.ban(action.target, action.durationMs, action.reason, { scope: action.scope })
          break
        }
      }
    } catch (err) {
      const cause = asError(err)
      this.#reactorErrors.next({
        reactor: entry.reactor.name,
        error: new ReactorError(`reactor ${entry.reactor.name}: action ${action.type} failed: ${cause.message}`, { cause }),
        peer: undefined
      })
    }
  }

  #send (peer: Peer, chId: number, message: Uint8Array, mode: SendMode): void {
    if (mode === 'trySend') {
      peer.trySend(chId, message)
      return
    }
    const from = this.#delivering
    if (from === undefined || peer.canSend(chId)) {
      void peer.send(chId, message)
      return
    }
    // A send that waits, asked for while a peer's message is delivered: hold that peer's reading until it is
    // settled, as CometBFT's receive routine blocks in `Send`. A peer that sends requests and reads no answers
    // then feels TCP backpressure instead of making the reactor answer (and allocate) at the rate it sends.
    const release = from.holdReading()
    void peer.send(chId, message).finally(release)
  }
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
