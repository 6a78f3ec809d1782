/**
 * The PEX reactor (channel `0x00`): CometBFT's peer exchange as a reactor pipeline. It answers address
 * requests from its {@link AddrBook}, asks peers for addresses, keeps the node at its outbound target by
 * dialing from the book, and in seed mode crawls the network. The addresses it learns are an Observable.
 *
 * @module
 */
import { asyncScheduler, type Observable, type SchedulerLike } from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import type { Envelope } from '../switch/envelope.js'
import type { PeerEvent } from '../switch/events.js'
import type { Peer } from '../switch/peer.js'
import type { Reactor } from '../switch/reactor.js'
import { statefulReactor } from '../switch/reactor-runtime.js'
import { NetAddress } from '../transport/net-address.js'
import { nodeInfoAddress } from '../wire/node-info.js'
import { MAX_PEX_MESSAGE_SIZE, PEX_CHANNEL } from '../wire/pex.js'
import { AddrBook, type AddrBookLimits } from './addr-book.js'
import { DialBackoff } from './dial-backoff.js'
import { DEFAULT_BAN_TIME_MS } from './params.js'
import {
  DEFAULT_CRAWL_PEER_PERIOD_MS, DEFAULT_ENSURE_PEERS_PERIOD_MS, DEFAULT_MARK_GOOD_AFTER_MS, DEFAULT_MAX_ATTEMPTS_TO_DIAL,
  DEFAULT_MAX_CONCURRENT_CRAWL_DIALS, DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS, DEFAULT_RECRAWL_ANSWERED_AFTER_MS,
  DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS, PEX_CHANNEL_PRIORITY, PEX_SEND_QUEUE_CAPACITY
} from './pex-defaults.js'
import {
  cancelMarkGoodTimers, forgetMarkGood, onDialed, onDialFailed, onSeedAnswered, scheduleMarkGood, startEnsurePeers
} from './pex-ensure-peers.js'
import {
  addSelfReportedAddress, forgetExchange, onAddrs, onRequest, pruneExchange, receivePex, requestAddrs
} from './pex-exchange.js'
import { answerOnce, crawlDialDone, isCrawlDial, onCrawledAnswer, onCrawledPeerAdded, startCrawl } from './pex-seed-mode.js'
import { PexState, type LearnedAddress, type PexConfig, type PexEvent, type PexScope } from './pex-state.js'

export { observedAddress } from './pex-exchange.js'
export type { LearnedAddress, PexDialPurpose, PexEvent } from './pex-state.js'

/** The PEX channel descriptor: `0x00`, priority 1, send queue 10, messages up to 64000 bytes (CometBFT's). */
export const PEX_CHANNEL_DESCRIPTOR: ChannelDescriptor = Object.freeze({
  id: PEX_CHANNEL,
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
   * Stops the reactor and saves the book: `Switch.stop()` calls it and awaits it, so the book is saved when
   * the Switch's stop resolves. Rejects with `AddrBookIoError` when the save failed. Idempotent; resolves at
   * once when the reactor never ran.
   */
  stop (): Promise<void>
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
 * await sw.stop()   // the book is saved
 * ```
 */
export function pexReactor (init: PexReactorInit = {}): PexReactor {
  const random = init.random ?? Math.random
  const config: PexConfig = {
    random,
    seedMode: init.seedMode ?? false,
    seeds: Object.freeze((init.seeds ?? []).map((s) => typeof s === 'string' ? NetAddress.parse(s) : s)),
    ensurePeersPeriodMs: init.ensurePeersPeriodMs ?? DEFAULT_ENSURE_PEERS_PERIOD_MS,
    banTimeMs: init.banTimeMs ?? DEFAULT_BAN_TIME_MS,
    markGoodAfterMs: init.markGoodAfterMs ?? DEFAULT_MARK_GOOD_AFTER_MS,
    askWhenAtTarget: init.askWhenAtTarget ?? true,
    isPersistent: init.isPersistent ?? (() => false),
    crawlPeerPeriodMs: init.crawlPeerPeriodMs ?? DEFAULT_CRAWL_PEER_PERIOD_MS,
    minTimeBetweenCrawlsMs: init.minTimeBetweenCrawlsMs ?? DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
    recrawlAnsweredAfterMs: init.recrawlAnsweredAfterMs ?? DEFAULT_RECRAWL_ANSWERED_AFTER_MS,
    maxConcurrentCrawlDials: init.maxConcurrentCrawlDials ?? DEFAULT_MAX_CONCURRENT_CRAWL_DIALS,
    seedDisconnectWaitPeriodMs: init.seedDisconnectWaitPeriodMs ?? DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS
  }
  const backoff = new DialBackoff({
    random,
    maxAttempts: init.maxAttemptsToDial ?? DEFAULT_MAX_ATTEMPTS_TO_DIAL,
    persistentMaxDialPeriodMs: init.persistentPeersMaxDialPeriodMs ?? 0
  })
  const makeBook = (scheduler: SchedulerLike | undefined): AddrBook => new AddrBook({
    ...init.bookLimits,
    filePath: init.addrBookFile,
    addrBookStrict: init.addrBookStrict,
    random: init.random,
    scheduler: init.scheduler ?? scheduler ?? asyncScheduler
  })
  const state = new PexState(config, backoff, init.book, makeBook)

  const reactor = statefulReactor<PexState>({
    name: 'pex',
    channels: [PEX_CHANNEL_DESCRIPTOR],
    state,
    start: (scope) => { start(scope) },
    envelope: (scope, env) => { onEnvelope(scope, env) },
    peerEvent: (scope, event) => { onPeerEvent(scope, event) },
    outputs: [state.gossip, state.events],
    // The Switch is stopping (a failed run keeps the book running for the restart): save the book.
    stop: async (s) => { if (s.hasBook) await s.book.stop() }
  })

  Object.defineProperty(reactor, 'book', { get: () => state.book, enumerable: true })
  return Object.assign(reactor as typeof reactor & { readonly book: AddrBook }, {
    seeds: config.seeds,
    seedMode: config.seedMode,
    gossip$: state.gossip.asObservable(),
    events$: state.events.asObservable(),
    attemptsToDial: (address: NetAddress): number => backoff.attempts(address)
  })
}

/** A run starts: the book first (loading its file), then the routines (ensure-peers, or the crawl). */
function start (scope: PexScope): void {
  const { state, ctx } = scope
  const book = state.bookOn(ctx.scheduler)
  state.ticking = false
  try {
    book.addOurAddress(nodeInfoAddress(ctx.nodeInfo))
  } catch {
    // A listen address that does not parse: our ID alone keeps our addresses out of the book.
    book.addOurAddress(new NetAddress(ctx.nodeInfo.id, '0.0.0.0', 0))
  }
  pruneExchange(scope)
  scope.add(() => { cancelMarkGoodTimers(scope) })
  // The routines start once the book has loaded its file (at once when it was started already).
  if (book.isStarted) startRoutines(scope)
  else book.start().then(() => { scope.handle(() => { startRoutines(scope) }) }, (err: unknown) => { scope.fail(err) })
}

function startRoutines (scope: PexScope): void {
  const { state } = scope
  state.ticking = true
  state.startedAt = scope.now()
  if (state.config.seedMode) startCrawl(scope)
  else startEnsurePeers(scope)
}

/** The exchange rules decide; an accepted answer moves the crawl (seed mode) or ensure-peers on. */
function onEnvelope (scope: PexScope, env: Envelope): void {
  const msg = receivePex(scope, env)
  if (msg === undefined) return
  const peer = env.from
  const seedMode = scope.state.config.seedMode
  if (msg.type === 'request') {
    if (seedMode && !peer.isOutbound) answerOnce(scope, peer)
    else onRequest(scope, peer)
    return
  }
  if (!onAddrs(scope, peer, msg.addrs)) return
  if (seedMode) onCrawledAnswer(scope, peer)
  else onSeedAnswered(scope, peer)
}

function onPeerEvent (scope: PexScope, event: PeerEvent): void {
  const crawlDone = (): void => { crawlDialDone(scope) }
  switch (event.type) {
    case 'added': onPeerAdded(scope, event.peer); break
    case 'removed': onPeerRemoved(scope, event.peer); break
    case 'dialed': onDialed(scope, event.address, crawlDone); break
    case 'dialFailed': onDialFailed(scope, event.address, event.error, crawlDone); break
    case 'rejected': break
  }
}

/**
 * CometBFT `AddPeer`: an outbound peer is asked for addresses (a crawled one always, another when the book
 * is short) and, outside seed mode, marked good later; an inbound peer's own address goes into the book.
 */
function onPeerAdded (scope: PexScope, peer: Peer): void {
  const { state } = scope
  state.connectedAt.set(peer.id, scope.now())
  if (!peer.isOutbound) {
    addSelfReportedAddress(scope, peer)
    return
  }
  if (isCrawlDial(scope, peer)) onCrawledPeerAdded(scope, peer)
  else if (state.book.needMoreAddrs()) requestAddrs(scope, peer)
  if (!state.config.seedMode) scheduleMarkGood(scope, peer)
}

/** CometBFT `RemovePeer`: what the sections keep about the peer goes, unless a newer connection has its ID. */
function onPeerRemoved (scope: PexScope, peer: Peer): void {
  if (scope.ctx.peers.has(peer.id)) return
  forgetExchange(scope, peer)
  scope.state.connectedAt.delete(peer.id)
  scope.state.crawling.delete(peer.id)
  forgetMarkGood(scope, peer)
}
