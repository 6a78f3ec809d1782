/**
 * The one state the PEX sections share (exchange rules, ensure-peers, seed mode), and what PEX reports
 * about itself. Kept on the reactor across the Switch's restarts of its pipeline, as CometBFT keeps these
 * fields on its `Reactor`.
 *
 * @module
 */
import { Subject, type SchedulerLike, type Subscription } from 'rxjs'
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { Peer } from '../switch/peer.js'
import type { ReactorScope } from '../switch/reactor-runtime.js'
import type { AddAddressResult, AddrBook } from './addr-book.js'
import type { DialBackoff } from './dial-backoff.js'

/**
 * An address learned through PEX, on `PexReactor.gossip$`: what a peer told us, and what the book made of
 * it.
 */
export interface LearnedAddress {
  /** The address we heard of. */
  readonly address: NetAddress
  /**
   * Who vouches for it (the book's `src`): the peer that sent it, as `id@ip:port` of the IP we saw it connect
   * from or that we dialed (`observedAddress`), never the address it reports.
   */
  readonly source: NetAddress
  /** The peer it came from. */
  readonly from: Peer
  /** What `AddrBook.addAddress` did with it: `'added'` when new to the book. */
  readonly result: AddAddressResult
}

/** Why the reactor dialed an address. */
export type PexDialPurpose = 'ensure-peers' | 'seed' | 'crawl'

/** What the reactor does, on `PexReactor.events$` (for logs, metrics, crawlers and tests). */
export type PexEvent =
  /** `ensurePeers` ran: the counts it saw, how many it wanted to dial, how many it picked. */
  | { readonly type: 'ensure-peers', readonly outbound: number, readonly dialing: number, readonly toDial: number, readonly picked: number }
  /** We asked `peer` for addresses. */
  | { readonly type: 'request-sent', readonly peer: Peer }
  /** We answered `peer`'s request with `count` addresses. */
  | { readonly type: 'request-answered', readonly peer: Peer, readonly count: number }
  /** `peer` answered our request with `count` addresses, `added` of them new to the book. */
  | { readonly type: 'addrs-received', readonly peer: Peer, readonly count: number, readonly added: number }
  /** `peer` broke a rule or sent garbage and was stopped (and banned for a `PexViolationError`). */
  | { readonly type: 'violation', readonly peer: Peer, readonly error: Error }
  /** We dialed `address`. */
  | { readonly type: 'dial', readonly address: NetAddress, readonly purpose: PexDialPurpose }
  /** A picked address was not dialed: its backoff has not elapsed, or it failed too often (it is banned). */
  | { readonly type: 'dial-skipped', readonly address: NetAddress, readonly reason: 'too-early' | 'max-attempts' }
  /** An outbound peer's address was marked good. */
  | { readonly type: 'marked-good', readonly address: NetAddress }
  /** We disconnected `peer` gracefully (seed mode). */
  | { readonly type: 'disconnect', readonly peer: Peer, readonly reason: 'answered-once' | 'crawled' | 'crawl-timeout' | 'wait-period' }

/** The options of a PEX reactor, with every default applied. */
export interface PexConfig {
  readonly random: () => number
  readonly seedMode: boolean
  readonly seeds: readonly NetAddress[]
  readonly ensurePeersPeriodMs: number
  readonly banTimeMs: number
  readonly markGoodAfterMs: number
  readonly askWhenAtTarget: boolean
  readonly isPersistent: (address: NetAddress) => boolean
  readonly crawlPeerPeriodMs: number
  readonly minTimeBetweenCrawlsMs: number
  readonly recrawlAnsweredAfterMs: number
  readonly maxConcurrentCrawlDials: number
  readonly seedDisconnectWaitPeriodMs: number
}

/** A dial the reactor asked for, until its `dialed` or `dialFailed` event. */
export interface PendingDial {
  readonly address: NetAddress
  readonly purpose: PexDialPurpose
}

/** What a PEX handler is given: the runtime's scope over {@link PexState}. */
export type PexScope = ReactorScope<PexState>

/** The state of one PEX reactor, grouped by the section that writes it. */
export class PexState {
  /** Hot: what `PexReactor.gossip$` hands out. */
  readonly gossip = new Subject<LearnedAddress>()
  /** Hot: what `PexReactor.events$` hands out. */
  readonly events = new Subject<PexEvent>()

  // exchange rules
  /** Peers we asked for addresses and that have not answered (one request outstanding per peer). */
  readonly requestsSent = new Set<NodeId>()
  /** When each peer's last request came (`-Infinity`: its first, free one). */
  readonly lastReceivedRequests = new Map<NodeId, number>()
  /** When a `PexAddrs` last brought news (undefined: not since the pipeline started). */
  lastNewsAt: number | undefined

  // ensure-peers
  /** Dials asked for, by ID, until their outcome. */
  readonly pendingDials = new Map<NodeId, PendingDial>()
  /** When each connected peer was added. */
  readonly connectedAt = new Map<NodeId, number>()
  /** Outbound peers waiting to be marked good. */
  readonly markGoodTimers = new Map<NodeId, Subscription>()
  /** The seeds still to try in the current `dialSeeds` round. */
  seedQueue: NetAddress[] | undefined
  /** Periodic runs at the target since the last request made there. */
  quietPeriods = 0
  /** Requests made at the target since the last news. */
  quietAsks = 0
  /** When the routines of the current run started. */
  startedAt = 0
  /** The ensure-peers (or crawl) routine of the current run has started. */
  ticking = false

  // seed mode
  /** Crawled addresses: last crawl, earliest next one. */
  readonly crawled = new Map<NodeId, { last: number, next: number }>()
  /** Connected peers we dialed to crawl. */
  readonly crawling = new Set<NodeId>()
  /** Addresses waiting for a crawl dial. */
  readonly crawlQueue: NetAddress[] = []
  /** Crawl dials with no outcome yet. */
  crawlDialsInFlight = 0

  #book: AddrBook | undefined
  readonly #makeBook: (scheduler: SchedulerLike | undefined) => AddrBook

  constructor (
    readonly config: PexConfig,
    readonly backoff: DialBackoff,
    book: AddrBook | undefined,
    makeBook: (scheduler: SchedulerLike | undefined) => AddrBook
  ) {
    this.#book = book
    this.#makeBook = makeBook
  }

  /** The address book (the default one is made on first use, on the options' scheduler). */
  get book (): AddrBook {
    this.#book ??= this.#makeBook(undefined)
    return this.#book
  }

  /** The book, made on `scheduler` unless it exists already (the Switch's clock, at the first run). */
  bookOn (scheduler: SchedulerLike): AddrBook {
    this.#book ??= this.#makeBook(scheduler)
    return this.#book
  }

  /** Whether the book has been made (the reactor has something to stop). */
  get hasBook (): boolean {
    return this.#book !== undefined
  }
}
