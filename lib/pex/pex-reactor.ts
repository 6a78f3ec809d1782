/**
 * The PEX reactor (channel `0x00`): CometBFT's peer exchange as a reactor pipeline. It answers address
 * requests from its {@link AddrBook}, asks peers for addresses, keeps the node at its outbound target by
 * dialing from the book, and in seed mode crawls the network. The addresses it learns are an Observable.
 *
 * @module
 */
import { asyncScheduler, Observable, Subject, Subscription, type SchedulerAction, type SchedulerLike, type Subscriber } from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import { AlreadyConnectedError, DecodeError, P2PError, PeerRejectedError, PexViolationError, ReactorError, SelfConnectionError } from '../errors.js'
import type { NodeId } from '../crypto/node-id.js'
import { NetAddress } from '../transport/net-address.js'
import { nodeInfoAddress } from '../wire/node-info.js'
import { MAX_PEX_ADDRESSES, MAX_PEX_MESSAGE_SIZE, PEX_CHANNEL_ID, decodePexMessage, encodePexAddrs, encodePexRequest } from '../wire/pex.js'
import { actions, type Action } from '../switch/actions.js'
import type { Envelope } from '../switch/envelope.js'
import type { PeerEvent } from '../switch/events.js'
import type { Peer } from '../switch/peer.js'
import type { Reactor, ReactorContext } from '../switch/reactor.js'
import { AddrBook, type AddAddressResult, type AddrBookLimits } from './addr-book.js'
import { DialBackoff } from './dial-backoff.js'
import { DEFAULT_BAN_TIME_MS } from './params.js'
import {
  BIAS_TO_SELECT_NEW_PEERS, CRAWL_RECORD_TTL_MS, DEFAULT_CRAWL_PEER_PERIOD_MS, DEFAULT_ENSURE_PEERS_PERIOD_MS,
  DEFAULT_MARK_GOOD_AFTER_MS, DEFAULT_MAX_ATTEMPTS_TO_DIAL, DEFAULT_MAX_CONCURRENT_CRAWL_DIALS,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS, DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS, PEX_CHANNEL_PRIORITY, PEX_SEND_QUEUE_CAPACITY,
  AT_TARGET_QUIET_ASK_PERIODS, AT_TARGET_QUIET_ASK_MAX_PERIODS, AT_TARGET_NEWS_PERIODS, DEFAULT_RECRAWL_ANSWERED_AFTER_MS
} from './pex-defaults.js'

/** The PEX channel descriptor: `0x00`, priority 1, send queue 10, messages up to 64000 bytes (CometBFT's). */
export const PEX_CHANNEL: ChannelDescriptor = Object.freeze({
  id: PEX_CHANNEL_ID,
  priority: PEX_CHANNEL_PRIORITY,
  sendQueueCapacity: PEX_SEND_QUEUE_CAPACITY,
  recvMessageCapacity: MAX_PEX_MESSAGE_SIZE
})

/** Options of {@link pexReactor}. */
export interface PexReactorInit {
  /**
   * The address book. The reactor starts it (loading its file, if any) when the Switch starts, and stops it
   * (saving it) when the Switch stops.
   * @default a new AddrBook with `addrBookFile`, `addrBookStrict`, `random`, and the Switch's scheduler
   */
  book?: AddrBook
  /** Path of `addrbook.json` for the default book. @default undefined (not persisted) */
  addrBookFile?: string
  /** `addr_book_strict` of the default book: false for local and private networks. @default true */
  addrBookStrict?: boolean
  /**
   * rx-p2p's bounds of the default book on what one source can place in it, and on its file (see
   * {@link AddrBookLimits} for each default).
   * @default {} (the defaults of {@link AddrBookLimits})
   */
  bookLimits?: AddrBookLimits
  /** Seed nodes (`id@host:port`): asked for addresses when the book has nothing to dial. @default [] */
  seeds?: ReadonlyArray<string | NetAddress>
  /**
   * Seed (crawler) mode: crawl the network instead of keeping outbound peers, answer each inbound peer's
   * request once and then disconnect it (CometBFT `seed_mode`).
   * @default false
   */
  seedMode?: boolean
  /** How often `ensurePeers` runs; a peer may ask us at most once per a third of it. @default 30000 */
  ensurePeersPeriodMs?: number
  /** Seed mode: how often the crawl runs. @default 30000 */
  crawlPeerPeriodMs?: number
  /** Seed mode: an address is not crawled again within this time. @default 120000 */
  minTimeBetweenCrawlsMs?: number
  /**
   * Seed mode: a crawled peer that answered is crawled again only after this long (others after
   * `minTimeBetweenCrawlsMs`). CometBFT keeps a crawled peer connected for up to 28 h and does not ask it again
   * meanwhile; rx-p2p disconnects at once and re-verifies it twice an hour.
   * @default 1800000 (30 min)
   */
  recrawlAnsweredAfterMs?: number
  /** Seed mode: crawl dials in flight at once. @default 10 */
  maxConcurrentCrawlDials?: number
  /** Seed mode: non-persistent peers connected this long are disconnected. @default 100800000 (28 h) */
  seedDisconnectWaitPeriodMs?: number
  /** A non-persistent address is banned after more failed dials than this. @default 16 */
  maxAttemptsToDial?: number
  /** Caps the dial backoff of persistent addresses; 0 = no cap (CometBFT `persistent_peers_max_dial_period`). @default 0 */
  persistentPeersMaxDialPeriodMs?: number
  /**
   * Whether an address is one of the Switch's persistent peers (exempt from giving up after
   * `maxAttemptsToDial`). Pass `(a) => sw.isPeerPersistent(a)`.
   * @default () => false
   */
  isPersistent?: (address: NetAddress) => boolean
  /** How long a rule breaker is banned. @default 86400000 (24 h) */
  banTimeMs?: number
  /**
   * An outbound peer connected this long is marked good (its address moves to an old bucket); 0 marks it at
   * once, `Infinity` never (leave it to the application: `pex.book.markGood(id)`). See {@link DEFAULT_MARK_GOOD_AFTER_MS}.
   * In seed mode a crawled peer is marked good when it answers.
   * @default 60000
   */
  markGoodAfterMs?: number
  /**
   * Keep learning at the outbound target: when the book is short (under 1000 addresses), the periodic
   * `ensurePeers` asks one random peer for addresses even when there is nobody to dial: every period while
   * answers bring news (new addresses, at least 1 % of the book); once none did for 3 periods, after 4 periods,
   * 4 again, then 8, 16, and every 20 (10 min) from then on, until news comes again. CometBFT stops asking once the target is met, so
   * its nodes never learn much beyond their first answers; `false` restores that. One request per period to a
   * random peer stays well within CometBFT's limit of one per 10 s per peer.
   * @default true
   */
  askWhenAtTarget?: boolean
  /** Numbers in [0, 1): jitter, random peer and seed order, dial backoff jitter (and the default book). @default Math.random */
  random?: () => number
  /** The default book's clock, if it is needed before the Switch starts. @default the Switch's scheduler */
  scheduler?: SchedulerLike
}

/**
 * An address learned through PEX, on {@link PexReactor.gossip$}: what a peer told us, and what the book made
 * of it.
 */
export interface LearnedAddress {
  /** The address we heard of. */
  readonly address: NetAddress
  /**
   * Who vouches for it (the book's `src`): the peer that sent it, as `id@ip:port` of the IP we saw it connect
   * from or that we dialed ({@link observedAddress}), never the address it reports.
   */
  readonly source: NetAddress
  /** The peer it came from. */
  readonly from: Peer
  /** What {@link AddrBook.addAddress} did with it: `'added'` when new to the book. */
  readonly result: AddAddressResult
}

/** Why the reactor dialed an address. */
export type PexDialPurpose = 'ensure-peers' | 'seed' | 'crawl'

/** What the reactor does, on {@link PexReactor.events$} (for logs, metrics, crawlers and tests). */
export type PexEvent =
  /** `ensurePeers` ran: the counts it saw, how many it wanted to dial, how many it picked. */
  | { readonly type: 'ensure-peers', readonly outbound: number, readonly dialing: number, readonly toDial: number, readonly picked: number }
  /** We asked `peer` for addresses. */
  | { readonly type: 'request-sent', readonly peer: Peer }
  /** We answered `peer`'s request with `count` addresses. */
  | { readonly type: 'request-answered', readonly peer: Peer, readonly count: number }
  /** `peer` answered our request with `count` addresses, `added` of them new to the book. */
  | { readonly type: 'addrs-received', readonly peer: Peer, readonly count: number, readonly added: number }
  /** `peer` broke a rule or sent garbage and was stopped (and banned for a {@link PexViolationError}). */
  | { readonly type: 'violation', readonly peer: Peer, readonly error: Error }
  /** We dialed `address`. */
  | { readonly type: 'dial', readonly address: NetAddress, readonly purpose: PexDialPurpose }
  /** A picked address was not dialed: its backoff has not elapsed, or it failed too often (it is banned). */
  | { readonly type: 'dial-skipped', readonly address: NetAddress, readonly reason: 'too-early' | 'max-attempts' }
  /** An outbound peer's address was marked good. */
  | { readonly type: 'marked-good', readonly address: NetAddress }
  /** We disconnected `peer` gracefully (seed mode). */
  | { readonly type: 'disconnect', readonly peer: Peer, readonly reason: 'answered-once' | 'crawled' | 'crawl-timeout' | 'wait-period' }

/** The PEX reactor: a {@link Reactor} plus its book, its gossip and its events. */
export interface PexReactor extends Reactor {
  /** The address book. */
  readonly book: AddrBook
  /** The seeds, parsed. */
  readonly seeds: readonly NetAddress[]
  /** Whether it runs in seed (crawler) mode. */
  readonly seedMode: boolean
  /**
   * Hot: every address learned, with the peer it came from: each address of every accepted `PexAddrs`
   * (already known ones too: `result` says what the book did), and each inbound peer's self-reported
   * address (`source` is then the address it connected from). Emitted synchronously as the message is handled;
   * completes when the Switch stops.
   *
   * @example
   * ```ts
   * pex.gossip$.pipe(filter((l) => l.result === 'added'))
   *   .subscribe(({ address, from }) => console.log(`${from.nodeInfo.moniker} told us about ${address}`))
   * ```
   */
  readonly gossip$: Observable<LearnedAddress>
  /** Hot: what the reactor does (see {@link PexEvent}); completes when the Switch stops. */
  readonly events$: Observable<PexEvent>
  /** Failed dials of `address` since its last success (CometBFT `AttemptsToDial`). */
  attemptsToDial (address: NetAddress): number
  /**
   * Resolves once the reactor has stopped with its Switch and the book has been saved (the save starts when
   * the Switch stops; `Switch.stop()` does not wait for it). Rejects with `AddrBookIoError` when that save
   * failed. Resolves at once when the reactor never ran.
   */
  stopped (): Promise<void>
}

/**
 * Creates a PEX reactor (channel `0x00`) for one Switch, with CometBFT's rules:
 *
 * - **AddPeer.** An outbound peer is asked for addresses when the book has fewer than 1000 (one request
 *   outstanding per peer); an inbound peer's self-reported address goes into the book.
 * - **Requests.** A peer's 1st and 2nd requests are answered; each later one must come at least
 *   `ensurePeersPeriodMs / 3` after the previous, or the peer is stopped with `PexViolationError`
 *   (`'request-too-soon'`) and banned for 24 h. Answers carry at most 250 addresses, never ours, never
 *   unroutable ones in a strict book.
 * - **Answers.** `PexAddrs` that answers no request of ours (`'unsolicited-addrs'`), carries more than 250
 *   addresses (`'too-many-addrs'`) or a bad IP or port (`'bad-address'`): stop and ban. Malformed bytes
 *   (`DecodeError`): stop.
 * - **ensurePeers**, every 30 s (first run at once, or after a random part of the period when the node
 *   already has peers): dial up to `maxOutboundPeers − (outbound + dialing)` addresses picked from the book
 *   with `newBias = min(outbound, 8)·10 + 10`, in up to three picks per address, skipping those dialing or
 *   connected, respecting each address's dial backoff (`2^attempts` s + jitter; banned after 16 failures).
 *   When the book is short: reinstate expired bans, ask a random peer, and dial the seeds (one at a time, in
 *   random order, until one answers) if nothing was picked. An answer from a seed triggers `ensurePeers` at once.
 * - **Seed mode**: dial the seeds (or crawl the book) at start, then every 30 s crawl `getSelection()`
 *   (each address at most every 2 min, one that answered every 30 min; up to 10 dials at once), ask each
 *   crawled peer for addresses, mark it good and disconnect it once it answers (or after one crawl period);
 *   answer each inbound peer's request once with `getSelectionWithBias(30)` and disconnect it gracefully.
 *
 * Timers run on the Switch's scheduler; randomness comes from `random`. One reactor object serves one Switch.
 *
 * @example
 * ```ts
 * import { pexReactor, Switch, NodeKey } from 'rx-p2p'
 *
 * const pex = pexReactor({ addrBookFile: './addrbook.json', seeds: ['3f1c…@seed.example.com:26656'] })
 * const sw = new Switch({ nodeKey: NodeKey.generate(), listenAddress: '0.0.0.0:26656', reactors: [pex] })
 * pex.gossip$.subscribe(({ address, from }) => console.log(from.id, 'told us about', address.toString()))
 * await sw.start()
 * // …
 * await sw.stop()
 * await pex.stopped()   // the book is saved
 * ```
 */
export function pexReactor (init: PexReactorInit = {}): PexReactor {
  return new PexReactorImpl(init)
}

interface PendingDial { readonly address: NetAddress, readonly purpose: PexDialPurpose }

const REQUEST_BYTES = encodePexRequest()
const FIRST_FREE = -Infinity // a peer's first request: accepted without a time (CometBFT's zero time.Time)

class PexReactorImpl implements PexReactor {
  readonly name = 'pex'
  readonly channels: readonly ChannelDescriptor[] = [PEX_CHANNEL]
  readonly seeds: readonly NetAddress[]
  readonly seedMode: boolean
  readonly gossip$: Observable<LearnedAddress>
  readonly events$: Observable<PexEvent>
  readonly run: (ctx: ReactorContext) => Observable<Action>

  readonly #init: PexReactorInit
  readonly #random: () => number
  readonly #ensurePeriod: number
  readonly #banTimeMs: number
  readonly #markGoodAfterMs: number
  readonly #askWhenAtTarget: boolean
  readonly #isPersistent: (address: NetAddress) => boolean
  readonly #backoff: DialBackoff
  readonly #gossip = new Subject<LearnedAddress>()
  readonly #events = new Subject<PexEvent>()
  #book: AddrBook | undefined
  #stopped: Promise<void> = Promise.resolve()

  // Kept across pipeline restarts, as CometBFT keeps them on the reactor.
  readonly #requestsSent = new Set<NodeId>()
  readonly #lastReceivedRequests = new Map<NodeId, number>()
  readonly #pendingDials = new Map<NodeId, PendingDial>()
  readonly #connectedAt = new Map<NodeId, number>()
  readonly #markGoodTimers = new Map<NodeId, Subscription>()
  readonly #crawled = new Map<NodeId, { last: number, next: number }>() // seed mode: last crawl, earliest next one
  readonly #crawling = new Set<NodeId>() // seed mode: connected peers we dialed to crawl
  readonly #crawlQueue: NetAddress[] = []
  #crawlDialsInFlight = 0
  #seedQueue: NetAddress[] | undefined // the seeds still to try in the current dialSeeds round
  #lastNewsAt: number | undefined // when a PexAddrs last brought news (undefined: not since the pipeline started)
  #quietPeriods = 0 // periodic runs at the target since the last request made there
  #quietAsks = 0 // requests made at the target since the last news

  // The running pipeline.
  #ctx: ReactorContext | undefined
  #out: Action[] | undefined // actions collected while handling one input
  #subscriber: Subscriber<Action> | undefined
  #fail: (err: unknown) => void = () => {}
  #startedAt = 0
  #ticking = false // ensurePeers routine (or crawl routine) started

  constructor (init: PexReactorInit) {
    this.#init = init
    this.#random = init.random ?? Math.random
    this.seedMode = init.seedMode ?? false
    this.seeds = Object.freeze((init.seeds ?? []).map((s) => typeof s === 'string' ? NetAddress.parse(s) : s))
    this.#ensurePeriod = init.ensurePeersPeriodMs ?? DEFAULT_ENSURE_PEERS_PERIOD_MS
    this.#banTimeMs = init.banTimeMs ?? DEFAULT_BAN_TIME_MS
    this.#markGoodAfterMs = init.markGoodAfterMs ?? DEFAULT_MARK_GOOD_AFTER_MS
    this.#askWhenAtTarget = init.askWhenAtTarget ?? true
    this.#isPersistent = init.isPersistent ?? (() => false)
    this.#backoff = new DialBackoff({
      random: this.#random,
      maxAttempts: init.maxAttemptsToDial ?? DEFAULT_MAX_ATTEMPTS_TO_DIAL,
      persistentMaxDialPeriodMs: init.persistentPeersMaxDialPeriodMs ?? 0
    })
    this.#book = init.book
    this.gossip$ = this.#gossip.asObservable()
    this.events$ = this.#events.asObservable()
    this.run = (ctx) => this.#run(ctx)
  }

  get book (): AddrBook {
    this.#book ??= this.#makeBook(this.#init.scheduler ?? asyncScheduler)
    return this.#book
  }

  attemptsToDial (address: NetAddress): number {
    return this.#backoff.attempts(address)
  }

  stopped (): Promise<void> {
    return this.#stopped
  }

  #makeBook (scheduler: SchedulerLike): AddrBook {
    return new AddrBook({
      ...this.#init.bookLimits,
      filePath: this.#init.addrBookFile,
      addrBookStrict: this.#init.addrBookStrict,
      random: this.#init.random,
      scheduler
    })
  }

  // ---------------------------------------------------------------------------------------------
  // the pipeline

  #run (ctx: ReactorContext): Observable<Action> {
    return new Observable<Action>((subscriber) => {
      this.#book ??= this.#makeBook(this.#init.scheduler ?? ctx.scheduler)
      const book = this.#book
      this.#ctx = ctx
      this.#subscriber = subscriber
      this.#ticking = false
      const subs = new Subscription()
      let failed = false
      let live = true
      try {
        book.addOurAddress(nodeInfoAddress(ctx.nodeInfo))
      } catch {
        // A listen address that does not parse: our ID alone keeps our addresses out of the book.
        book.addOurAddress(new NetAddress(ctx.nodeInfo.id, '0.0.0.0', 0))
      }
      // Entries about peers that left while the pipeline was down are stale.
      for (const id of [...this.#requestsSent]) if (!ctx.peers.has(id)) this.#requestsSent.delete(id)
      for (const id of [...this.#lastReceivedRequests.keys()]) if (!ctx.peers.has(id)) this.#lastReceivedRequests.delete(id)

      const fail = (err: unknown): void => {
        if (!live) return
        failed = true
        subscriber.error(err)
      }
      this.#fail = fail
      subs.add(ctx.envelopes$.subscribe({
        next: (env) => { this.#handle(() => { this.#onEnvelope(env) }, env.from, fail) },
        error: fail
      }))
      subs.add(ctx.peerEvents$.subscribe({
        next: (event) => { this.#handle(() => { this.#onPeerEvent(event) }, undefined, fail) },
        error: fail
      }))
      // The book loads its file first; the routines start once it has (at once when it was started already).
      if (book.isStarted) {
        this.#handle(() => { this.#startRoutines(subs) }, undefined, fail)
      } else {
        book.start().then(() => {
          if (!live) return
          this.#handle(() => { this.#startRoutines(subs) }, undefined, fail)
        }, fail)
      }

      return () => {
        live = false
        subs.unsubscribe()
        for (const t of this.#markGoodTimers.values()) t.unsubscribe()
        this.#markGoodTimers.clear()
        if (this.#subscriber === subscriber) {
          this.#subscriber = undefined
          this.#ctx = undefined
        }
        if (failed) return // restarted by the Switch: keep the book running
        // The Switch is stopping: save the book, complete the Observables.
        this.#stopped = book.stop()
        this.#stopped.catch(() => {})
        this.#gossip.complete()
        this.#events.complete()
      }
    })
  }

  /**
   * Runs `fn`, collecting the actions it produces, then emits them. A throw stops `peer` when there is one
   * (as `mapToActions` does), else fails the pipeline (the Switch restarts it).
   */
  #handle (fn: () => void, peer: Peer | undefined, fail: (err: unknown) => void): void {
    const outer = this.#out
    const out: Action[] = []
    this.#out = out
    try {
      fn()
    } catch (err) {
      if (peer === undefined) {
        this.#out = outer
        fail(err)
        return
      }
      out.push(actions.stopPeer(peer, asPeerError(err)))
    } finally {
      this.#out = outer
    }
    const subscriber = this.#subscriber
    if (subscriber === undefined) return
    for (const action of out) subscriber.next(action)
  }

  #emit (action: Action): void {
    if (this.#out !== undefined) this.#out.push(action)
    else this.#subscriber?.next(action)
  }

  #now (): number {
    return this.#ctx?.scheduler.now() ?? 0
  }

  #startRoutines (subs: Subscription): void {
    const ctx = this.#ctx!
    this.#ticking = true
    this.#startedAt = ctx.scheduler.now()
    const schedulePeriodic = (fn: () => void, firstDelay: number, period: number): void => {
      const reactor = this
      subs.add(ctx.scheduler.schedule(function (this: SchedulerAction<unknown>) {
        reactor.#handle(fn, undefined, reactor.#fail)
        if (!this.closed) this.schedule(undefined, period)
      }, firstDelay))
    }
    if (this.seedMode) {
      // CometBFT `crawlPeersRoutine`: consult the seeds first, else crawl the book; then every crawl period.
      if (this.seeds.length > 0) this.#dialSeeds()
      else this.#crawlPeers(this.book.getSelection())
      const period = this.#init.crawlPeerPeriodMs ?? DEFAULT_CRAWL_PEER_PERIOD_MS
      schedulePeriodic(() => {
        this.#attemptDisconnects()
        this.#crawlPeers(this.book.getSelection())
        this.#cleanupCrawlRecords()
      }, period, period)
      return
    }
    // CometBFT `ensurePeersRoutine`: at once when the node has no peer (so the seeds are dialed right away),
    // else after a random part of the period (no thundering herd); then every period.
    const { outbound, inbound, dialing } = ctx.numPeers()
    const jitter = outbound + inbound + dialing > 0 ? Math.floor(this.#random() * this.#ensurePeriod) : 0
    if (jitter === 0) {
      this.#ensurePeers(true)
      schedulePeriodic(() => { this.#ensurePeers(true) }, this.#ensurePeriod, this.#ensurePeriod)
    } else {
      schedulePeriodic(() => { this.#ensurePeers(true) }, jitter, this.#ensurePeriod)
    }
  }

  // ---------------------------------------------------------------------------------------------
  // messages

  #onEnvelope (env: Envelope): void {
    const ctx = this.#ctx!
    const peer = env.from
    // A peer we stopped (or that was replaced) may still have messages on the way: ignore them.
    if (ctx.peers.get(peer.id) !== peer) return
    let msg
    try {
      msg = decodePexMessage(env.message)
    } catch (err) {
      this.#violation(peer, asPeerError(err))
      return
    }
    if (msg.type === 'request') this.#onRequest(peer)
    else this.#onAddrs(peer, msg.addrs)
  }

  #onRequest (peer: Peer): void {
    const book = this.book
    if (this.seedMode && !peer.isOutbound) {
      // CometBFT: a seed answers an inbound peer once, then disconnects it; later requests are ignored.
      if (this.#lastReceivedRequests.has(peer.id)) return
      this.#lastReceivedRequests.set(peer.id, this.#now())
      const count = this.#sendAddrs(peer, book.getSelectionWithBias(BIAS_TO_SELECT_NEW_PEERS))
      this.#events.next({ type: 'request-answered', peer, count })
      this.#emit(actions.stopPeer(peer))
      this.#events.next({ type: 'disconnect', peer, reason: 'answered-once' })
      return
    }
    const tooSoon = this.#receiveRequest(peer)
    if (tooSoon !== undefined) {
      this.#violation(peer, tooSoon)
      return
    }
    const count = this.#sendAddrs(peer, book.getSelection())
    this.#events.next({ type: 'request-answered', peer, count })
  }

  // CometBFT `receiveRequest`: the first request is free, the second starts the clock, each later one must
  // come at least a third of the ensure-peers period after the previous one.
  #receiveRequest (peer: Peer): PexViolationError | undefined {
    const last = this.#lastReceivedRequests.get(peer.id)
    const now = this.#now()
    if (last === undefined) {
      this.#lastReceivedRequests.set(peer.id, FIRST_FREE)
      return undefined
    }
    if (last === FIRST_FREE) {
      this.#lastReceivedRequests.set(peer.id, now)
      return undefined
    }
    const minInterval = this.#ensurePeriod / 3
    if (now - last < minInterval) {
      return new PexViolationError('request-too-soon',
        `peer ${peer.id} sent its next PEX request ${now - last} ms after the previous one (at least ${minInterval} ms apart)`)
    }
    this.#lastReceivedRequests.set(peer.id, now)
    return undefined
  }

  #onAddrs (peer: Peer, addrs: NetAddress[]): void {
    if (!this.#requestsSent.has(peer.id)) {
      this.#violation(peer, new PexViolationError('unsolicited-addrs', `peer ${peer.id} sent ${addrs.length} addresses we did not ask for`))
      return
    }
    if (addrs.length > MAX_PEX_ADDRESSES) {
      this.#violation(peer, new PexViolationError('too-many-addrs', `peer ${peer.id} sent ${addrs.length} addresses (at most ${MAX_PEX_ADDRESSES})`))
      return
    }
    this.#requestsSent.delete(peer.id)
    selfReportedAddress(peer) // CometBFT: StopPeerForError when the peer's NodeInfo has no usable address
    // rx-p2p: the source is the IP we saw (CometBFT takes the self-reported address: tendermint#4846).
    const src = observedAddress(peer)
    const book = this.book
    let added = 0
    const gossip = this.#gossip
    const observed = gossip.observed
    for (const address of addrs) {
      const result = book.addAddress(address, src)
      if (result === 'added') added++
      if (observed) gossip.next({ address, source: src, from: peer, result })
    }
    // News: at least one new address, and at least 1 % of the book (the last few missing addresses of a big
    // network are left to the slower pace).
    if (added > 0 && added * 100 >= book.size) this.#lastNewsAt = this.#now()
    this.#events.next({ type: 'addrs-received', peer, count: addrs.length, added })
    if (this.seedMode && this.#crawling.has(peer.id)) {
      // A crawled peer answered: it is reachable and speaks PEX. Keep only short connections, and leave it
      // alone for a while (CometBFT keeps it connected for up to 28 h and never asks it again meanwhile).
      const record = this.#crawled.get(peer.id)
      if (record !== undefined) record.next = Math.max(record.next, this.#now() + (this.#init.recrawlAnsweredAfterMs ?? DEFAULT_RECRAWL_ANSWERED_AFTER_MS))
      book.markGood(peer.id)
      this.#events.next({ type: 'marked-good', address: peer.socketAddr })
      if (!peer.isPersistent) {
        this.#emit(actions.stopPeer(peer))
        this.#events.next({ type: 'disconnect', peer, reason: 'crawled' })
      }
      return
    }
    // CometBFT: addresses from a seed are dialed without waiting for the next tick (no new request then).
    if (!this.seedMode && this.#ticking && this.seeds.some((s) => s.id === peer.id)) this.#ensurePeers(false)
  }

  /** Sends a selection (ours and, in a strict book, unroutable addresses left out; at most 250); returns its size. */
  #sendAddrs (peer: Peer, selection: NetAddress[]): number {
    const book = this.book
    const strict = book.addrBookStrict
    const ourId = this.#ctx?.nodeInfo.id
    const addrs: NetAddress[] = []
    for (const a of selection) {
      if (addrs.length >= MAX_PEX_ADDRESSES) break
      // isValid() requires an IP; the book never holds an address of ours added after addOurAddress, so only
      // our ID (an entry from before, e.g. a loaded file) needs checking here. NetAddress caches both answers.
      if (a.id === ourId || !a.isValid() || (strict && !a.isRoutable())) continue
      addrs.push(a)
    }
    this.#emit(actions.send(peer, PEX_CHANNEL_ID, encodePexAddrs(addrs)))
    return addrs.length
  }

  /** CometBFT `RequestAddrs`: at most one request outstanding per peer. */
  #requestAddrs (peer: Peer): void {
    if (this.#requestsSent.has(peer.id) || !peer.hasChannel(PEX_CHANNEL_ID)) return
    this.#requestsSent.add(peer.id)
    this.#emit(actions.send(peer, PEX_CHANNEL_ID, REQUEST_BYTES))
    this.#events.next({ type: 'request-sent', peer })
  }

  /** Stops `peer` for `error`; a PEX rule breaker (or a bad address in its list) is banned as well. */
  #violation (peer: Peer, error: Error): void {
    this.#emit(actions.stopPeer(peer, error))
    if (error instanceof PexViolationError) {
      this.book.markBad(peer.socketAddr, this.#banTimeMs)
      // The Switch holds the ban too, so that the peer is refused when it connects again (the book only stops dials).
      this.#emit(actions.ban(peer, this.#banTimeMs, error))
    }
    this.#events.next({ type: 'violation', peer, error })
  }

  // ---------------------------------------------------------------------------------------------
  // peer events

  #onPeerEvent (event: PeerEvent): void {
    switch (event.type) {
      case 'added': this.#onPeerAdded(event.peer); break
      case 'removed': this.#onPeerRemoved(event.peer); break
      case 'dialed': this.#onDialed(event.address, event.peer); break
      case 'dialFailed': this.#onDialFailed(event.address, event.error); break
      case 'rejected': break
    }
  }

  #onPeerAdded (peer: Peer): void {
    const ctx = this.#ctx!
    const book = this.book
    this.#connectedAt.set(peer.id, this.#now())
    if (peer.isOutbound) {
      const pending = this.#pendingDials.get(peer.id)
      if (pending?.purpose === 'crawl') {
        // CometBFT `crawlPeers`: each successful crawl dial is followed by a request.
        this.#crawling.add(peer.id)
        this.#requestAddrs(peer)
      } else if (book.needMoreAddrs()) {
        this.#requestAddrs(peer)
      }
      if (!this.seedMode && Number.isFinite(this.#markGoodAfterMs)) {
        if (this.#markGoodAfterMs <= 0) this.#markGood(peer)
        else {
          const timer = ctx.scheduler.schedule(() => {
            this.#markGoodTimers.delete(peer.id)
            if (ctx.peers.get(peer.id) === peer) this.#markGood(peer)
          }, this.#markGoodAfterMs)
          this.#markGoodTimers.get(peer.id)?.unsubscribe()
          this.#markGoodTimers.set(peer.id, timer)
        }
      }
      return
    }
    // An inbound peer vouches for its own address; it is not asked right away (ensurePeers will, if need be).
    // rx-p2p: the source is the IP the peer connected from, not the address it reports (CometBFT's `src` is
    // the address itself, so each self-reported /16 was a source group of its own: tendermint#4846).
    let addr: NetAddress
    try {
      addr = nodeInfoAddress(peer.nodeInfo)
    } catch {
      return
    }
    const src = observedAddress(peer)
    const result = book.addAddress(addr, src)
    if (this.#gossip.observed) this.#gossip.next({ address: addr, source: src, from: peer, result })
  }

  #markGood (peer: Peer): void {
    const book = this.book
    if (!book.hasAddress(peer.socketAddr)) return
    book.markGood(peer.id)
    this.#events.next({ type: 'marked-good', address: peer.socketAddr })
  }

  #onPeerRemoved (peer: Peer): void {
    const ctx = this.#ctx!
    if (ctx.peers.has(peer.id)) return // a newer connection with the same ID is there already
    this.#requestsSent.delete(peer.id)
    this.#lastReceivedRequests.delete(peer.id)
    this.#connectedAt.delete(peer.id)
    this.#crawling.delete(peer.id)
    const timer = this.#markGoodTimers.get(peer.id)
    if (timer !== undefined) {
      timer.unsubscribe()
      this.#markGoodTimers.delete(peer.id)
    }
  }

  #takePending (address: NetAddress): PendingDial | undefined {
    const pending = this.#pendingDials.get(address.id)
    if (pending === undefined || !pending.address.equals(address)) return undefined
    this.#pendingDials.delete(address.id)
    return pending
  }

  #onDialed (address: NetAddress, _peer: Peer): void {
    const pending = this.#takePending(address)
    if (pending === undefined) return
    if (pending.purpose === 'seed') {
      this.#seedQueue = undefined // CometBFT `dialSeeds`: stop at the first seed that answers
      return
    }
    this.#backoff.succeeded(address) // CometBFT: a successful dial clears the history
    if (pending.purpose === 'crawl') this.#crawlDialDone()
  }

  #onDialFailed (address: NetAddress, error: Error): void {
    // CometBFT's Switch: dialing ourselves takes the address out of the book, for good (our own ID, or
    // another address of ours found by the handshake).
    if ((error instanceof PeerRejectedError && error.reason === 'self') || error instanceof SelfConnectionError) {
      this.book.removeAddress(address)
      this.book.addOurAddress(address)
    }
    const pending = this.#takePending(address)
    if (pending === undefined) return
    if (pending.purpose === 'seed') {
      if (error instanceof AlreadyConnectedError) this.#seedQueue = undefined
      else this.#dialNextSeed()
      return
    }
    if (pending.purpose === 'crawl') this.#crawlDialDone()
    // CometBFT `dialPeer`: already dialing or connected is not a failure; anything else counts as an attempt.
    if (error instanceof AlreadyConnectedError) return
    this.book.markAttempt(address)
    this.#backoff.failed(address, this.#now())
  }

  // ---------------------------------------------------------------------------------------------
  // dialing

  /**
   * CometBFT `ensurePeers`: dial from the book up to the outbound target; when the book is short, reinstate
   * expired bans, ask a random peer (on the periodic runs only), and fall back to the seeds.
   */
  #ensurePeers (periodElapsed: boolean): void {
    const ctx = this.#ctx
    if (ctx === undefined) return
    const book = this.book
    const { outbound, dialing } = ctx.numPeers()
    const numToDial = ctx.maxOutboundPeers - (outbound + dialing)
    if (numToDial <= 0) {
      this.#events.next({ type: 'ensure-peers', outbound, dialing, toDial: numToDial, picked: 0 })
      // CometBFT returns here: a node at its target never asks for addresses again. rx-p2p keeps learning
      // (one random peer per period, when the book is short) unless told not to.
      // While answers bring news it asks every period; after 3 periods without, after 4, 4, 8, 16, 20, 20… periods.
      if (this.#askWhenAtTarget && periodElapsed && book.needMoreAddrs()) {
        book.reinstateBadPeers()
        this.#quietPeriods++
        const sinceNews = this.#now() - (this.#lastNewsAt ?? this.#startedAt)
        if (sinceNews < AT_TARGET_NEWS_PERIODS * this.#ensurePeriod) {
          this.#quietPeriods = 0
          this.#quietAsks = 0
          this.#askRandomPeer(ctx)
        } else if (this.#quietPeriods >= Math.min(AT_TARGET_QUIET_ASK_PERIODS * 2 ** Math.max(0, this.#quietAsks - 1), AT_TARGET_QUIET_ASK_MAX_PERIODS)) {
          // Quiet: after 4 periods, 4 again, then the wait doubles, up to AT_TARGET_QUIET_ASK_MAX_PERIODS.
          this.#quietPeriods = 0
          this.#quietAsks++
          this.#askRandomPeer(ctx)
        }
      }
      return
    }
    // Prefer vetted (old) addresses while we have few peers: bias towards new in [10, 90].
    const newBias = Math.min(outbound, 8) * 10 + 10
    const toDial = new Map<NodeId, NetAddress>()
    const maxAttempts = numToDial * 3
    for (let i = 0; i < maxAttempts && toDial.size < numToDial; i++) {
      const pick = book.pickAddress(newBias)
      if (pick === undefined || toDial.has(pick.id) || ctx.isDialingOrExistingAddress(pick)) continue
      toDial.set(pick.id, pick)
    }
    this.#events.next({ type: 'ensure-peers', outbound, dialing, toDial: numToDial, picked: toDial.size })
    for (const address of toDial.values()) this.#dialPeer(address, 'ensure-peers')
    if (book.needMoreAddrs()) book.reinstateBadPeers()
    if (book.needMoreAddrs()) {
      if (periodElapsed) this.#askRandomPeer(ctx)
      if (toDial.size === 0) this.#dialSeeds()
    }
  }

  #askRandomPeer (ctx: ReactorContext): void {
    const peers = ctx.peers.list()
    if (peers.length > 0) this.#requestAddrs(peers[Math.floor(this.#random() * peers.length)]!)
  }

  /** CometBFT `dialPeer`: honours the backoff, bans an address that failed too often, then dials. */
  #dialPeer (address: NetAddress, purpose: PexDialPurpose): boolean {
    const decision = this.#backoff.check(address, this.#now(), this.#isPersistent(address))
    if (decision.type === 'max-attempts') {
      this.book.markBad(address, this.#banTimeMs)
      // Dial-only in the Switch: an address that failed too often may be honest, and is welcome when it calls us.
      this.#emit(actions.ban(address, this.#banTimeMs, undefined, { scope: 'dial' }))
      this.#events.next({ type: 'dial-skipped', address, reason: 'max-attempts' })
      return false
    }
    if (decision.type === 'too-early') {
      this.#events.next({ type: 'dial-skipped', address, reason: 'too-early' })
      return false
    }
    this.#dial(address, purpose)
    return true
  }

  #dial (address: NetAddress, purpose: PexDialPurpose): void {
    this.#pendingDials.set(address.id, { address, purpose })
    this.#events.next({ type: 'dial', address, purpose })
    this.#emit(actions.dial(address))
  }

  /** CometBFT `dialSeeds`: the seeds in random order, one at a time, until one connects. */
  #dialSeeds (): void {
    if (this.#seedQueue !== undefined || this.seeds.length === 0) return
    const order = [...this.seeds]
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1))
      const t = order[i]!
      order[i] = order[j]!
      order[j] = t
    }
    this.#seedQueue = order
    this.#dialNextSeed()
  }

  #dialNextSeed (): void {
    const next = this.#seedQueue?.shift()
    if (next === undefined) {
      this.#seedQueue = undefined
      return
    }
    this.#dial(next, 'seed')
  }

  // ---------------------------------------------------------------------------------------------
  // seed mode

  /** CometBFT `crawlPeers`: each address at most every `minTimeBetweenCrawls`; a bounded number of dials at once. */
  #crawlPeers (addrs: readonly NetAddress[]): void {
    const now = this.#now()
    const minTime = this.#init.minTimeBetweenCrawlsMs ?? DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS
    for (const address of addrs) {
      const record = this.#crawled.get(address.id)
      if (record !== undefined && now < record.next) continue
      this.#crawled.set(address.id, { last: now, next: now + minTime })
      this.#crawlQueue.push(address)
    }
    this.#pumpCrawl()
  }

  #pumpCrawl (): void {
    const ctx = this.#ctx
    if (ctx === undefined) return
    const max = this.#init.maxConcurrentCrawlDials ?? DEFAULT_MAX_CONCURRENT_CRAWL_DIALS
    while (this.#crawlDialsInFlight < max && this.#crawlQueue.length > 0) {
      const address = this.#crawlQueue.shift()!
      if (ctx.isDialingOrExistingAddress(address)) continue // CometBFT: no request to a peer already connected
      if (this.#dialPeer(address, 'crawl')) this.#crawlDialsInFlight++
    }
  }

  #crawlDialDone (): void {
    if (this.#crawlDialsInFlight > 0) this.#crawlDialsInFlight--
    this.#pumpCrawl()
  }

  /**
   * CometBFT `attemptDisconnects`: drop non-persistent peers connected for the wait period; rx-p2p also drops
   * crawled peers that did not answer within a crawl period (a seed keeps only short connections).
   */
  #attemptDisconnects (): void {
    const ctx = this.#ctx!
    const now = this.#now()
    const wait = this.#init.seedDisconnectWaitPeriodMs ?? DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS
    const crawlPeriod = this.#init.crawlPeerPeriodMs ?? DEFAULT_CRAWL_PEER_PERIOD_MS
    for (const peer of ctx.peers.list()) {
      if (peer.isPersistent) continue
      const since = now - (this.#connectedAt.get(peer.id) ?? now)
      if (since >= wait) {
        this.#emit(actions.stopPeer(peer))
        this.#events.next({ type: 'disconnect', peer, reason: 'wait-period' })
      } else if (this.#crawling.has(peer.id) && since >= crawlPeriod) {
        this.#emit(actions.stopPeer(peer))
        this.#events.next({ type: 'disconnect', peer, reason: 'crawl-timeout' })
      }
    }
  }

  #cleanupCrawlRecords (): void {
    const now = this.#now()
    for (const [id, record] of this.#crawled) if (now - record.last > CRAWL_RECORD_TTL_MS) this.#crawled.delete(id)
  }
}

/** The peer's self-reported address (NodeInfo `id@listen_addr`). @throws {InvalidAddressError} */
function selfReportedAddress (peer: Peer): NetAddress {
  return nodeInfoAddress(peer.nodeInfo)
}

/**
 * `id@ip:port` of the socket's remote end: the IP an inbound peer connected from, or the IP we dialed (a
 * dialed hostname is resolved by then). What the book takes as the source of what the peer tells us.
 */
export function observedAddress (peer: Peer): NetAddress {
  return new NetAddress(peer.id, peer.remoteAddress.host, peer.remoteAddress.port)
}

function asPeerError (err: unknown): Error {
  if (err instanceof P2PError) return err
  if (err instanceof Error && err.name === 'RangeError') return new DecodeError(err.message, { cause: err })
  const message = err instanceof Error ? err.message : String(err)
  return new ReactorError(`pex: ${message}`, { cause: err })
}
