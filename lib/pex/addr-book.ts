/**
 * The address book: CometBFT's `AddrBook` (`p2p/pex/addrbook.go`) with the same buckets, rules and file.
 *
 * @module
 */
import * as nodeCrypto from 'node:crypto'
import { createHash, randomBytes } from 'node:crypto'
import { Subject, asyncScheduler } from 'rxjs'
import type { Observable, SchedulerAction, SchedulerLike, Subscription } from 'rxjs'
import { AddrBookIoError } from '../errors.js'
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import { AddrBookFile } from './addr-book-file.js'
import type { AddrBookData, AddrBookStore } from './addr-book-file.js'
import { KnownAddress, durationFromMs, timeFromMs } from './known-address.js'
import type { GoTime, KnownAddressInfo } from './known-address.js'
import {
  BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, DEFAULT_MAX_ADDRS_PER_GROUP, DEFAULT_MAX_ADDRS_PER_SOURCE,
  DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP, DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET, DUMP_ADDRESS_INTERVAL_MS,
  GET_SELECTION_PERCENT, MAX_GET_SELECTION, MAX_NEW_BUCKETS_PER_ADDRESS, MIN_GET_SELECTION, NEED_ADDRESS_THRESHOLD,
  NEW_BUCKET_COUNT, NEW_BUCKET_SIZE, NEW_BUCKETS_PER_GROUP, OLD_BUCKET_COUNT, OLD_BUCKET_SIZE, OLD_BUCKETS_PER_GROUP
} from './params.js'
import type { BucketType } from './params.js'

/**
 * rx-p2p's bounds on what one source can place in an {@link AddrBook} (CometBFT has none of them), and on its
 * file. A source is the peer that told us an address, known by its node ID and by the group
 * (`NetAddress.groupKey`, a /16 for IPv4) of the IP we saw it connect from or that we dialed. Each bound is
 * checked by {@link AddrBook.addAddress} when an address is new to the book (or gains a new bucket); an address
 * past one is refused with the bound's {@link AddrBookRejection}. `Infinity` lifts a bound.
 */
export interface AddrBookLimits {
  /**
   * The most addresses in the book whose source has one node ID (refused beyond: `'source-limit'`).
   * @default 128 ({@link DEFAULT_MAX_ADDRS_PER_SOURCE})
   */
  maxAddrsPerSource?: number
  /**
   * The most addresses in the book whose source is in one group (refused beyond: `'source-group-limit'`).
   * @default 128 in a strict book, Infinity in a non-strict one ({@link DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP})
   */
  maxAddrsPerSourceGroup?: number
  /**
   * The most addresses of one group (a /16 for IPv4) in the book, whoever told them (refused beyond: `'group-limit'`).
   * @default 256 in a strict book, Infinity in a non-strict one ({@link DEFAULT_MAX_ADDRS_PER_GROUP})
   */
  maxAddrsPerGroup?: number
  /**
   * The most entries whose source is in one group in any one new bucket, of its 64 (refused beyond:
   * `'bucket-share'`), so that one source can expire at most that many entries of others from a bucket.
   * @default 16 in a strict book, Infinity in a non-strict one ({@link DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET})
   */
  maxPerSourceGroupInBucket?: number
  /**
   * The largest `addrbook.json` that {@link AddrBook.start} reads (with `filePath`); a larger one is set aside
   * unread (`AddrBookTooLargeError`).
   * @default 33554432 (32 MiB, {@link rx-p2p/defaults!DEFAULT_MAX_ADDR_BOOK_FILE_BYTES | DEFAULT_MAX_ADDR_BOOK_FILE_BYTES})
   */
  maxFileBytes?: number
}

/** Options of {@link AddrBook}. */
export interface AddrBookInit extends AddrBookLimits {
  /**
   * Path of `addrbook.json`: loaded by {@link AddrBook.start}, saved every `saveIntervalMs` and by
   * {@link AddrBook.stop}. Shorthand for `store: new AddrBookFile(filePath, { scheduler })`.
   * @default undefined (no persistence, unless `store` is given)
   */
  filePath?: string
  /** Where the book is persisted; overrides `filePath`. @default undefined */
  store?: AddrBookStore
  /**
   * CometBFT's `addr_book_strict`: accept only routable addresses (no RFC 1918, link-local, loopback…).
   * Set false for local and private networks.
   * @default true
   */
  addrBookStrict?: boolean
  /** The random source, in [0, 1), for placement chances, picks and selections; a seeded one gives identical runs. @default Math.random */
  random?: () => number
  /** The clock for every timestamp and for the periodic save. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** How often a started book saves itself. @default 120000 (2 minutes) */
  saveIntervalMs?: number
  /**
   * The bucket-placement key of a new book (a file's own key replaces it on load).
   * @default 24 hex characters from `random` when given, else from the system's secure random source
   */
  key?: string
}

/** Why {@link AddrBook.addAddress} refused an address. */
export type AddrBookRejection =
  /** Not {@link NetAddress.isValid}: bad ID, no IP, or an unspecified, RFC 3849 or broadcast IP. */
  | 'invalid'
  /** The address's ID is banned ({@link AddrBook.markBad}) and not yet reinstated. */
  | 'banned'
  /** The address's ID is private ({@link AddrBook.addPrivateIds}). */
  | 'private'
  /** The source's ID is private. */
  | 'private-src'
  /** One of our own addresses (same address, or same ID). */
  | 'self'
  /** Strict book and the address is not routable. */
  | 'unroutable'
  /** rx-p2p: the source's node ID told the book `maxAddrsPerSource` addresses already. */
  | 'source-limit'
  /** rx-p2p: sources in the source's group told the book `maxAddrsPerSourceGroup` addresses already. */
  | 'source-group-limit'
  /** rx-p2p: the book holds `maxAddrsPerGroup` addresses of the address's group already. */
  | 'group-limit'
  /** rx-p2p: the source's group holds `maxPerSourceGroupInBucket` entries of the address's new bucket already. */
  | 'bucket-share'

/**
 * What {@link AddrBook.addAddress} did: `'added'` (new to the book), `'known'` (already in the book; it may
 * have gained another new bucket), or why it was refused.
 */
export type AddAddressResult = 'added' | 'known' | AddrBookRejection

/** A change in the book, on {@link AddrBook.events$}. */
export type AddrBookEvent =
  /** An address new to the book, told by `src`. */
  | { type: 'added', addr: NetAddress, src: NetAddress }
  /** An address left the book: a full bucket expired it, or {@link AddrBook.removeAddress}. */
  | { type: 'removed', addr: NetAddress, reason: 'expired' | 'removed' }
  /** An address was banned until `until` and left the buckets. */
  | { type: 'banned', addr: NetAddress, until: GoTime }
  /** A banned address whose ban expired is back in a new bucket. */
  | { type: 'reinstated', addr: NetAddress }
  /** An address moved from new to old ({@link AddrBook.markGood}). */
  | { type: 'promoted', addr: NetAddress }
  /** An old address moved back to new to make room in a full old bucket. */
  | { type: 'demoted', addr: NetAddress }
  /**
   * The store's data was loaded: `skipped` entries the book could never hold were left out (invalid address,
   * no bucket, duplicate ID), and `dropped` ones for want of room (every bucket they list was full: the file
   * held more than the buckets do). `size` is what the book holds now.
   */
  | { type: 'loaded', size: number, skipped: number, dropped: number }
  /** The book was saved with `size` addresses. */
  | { type: 'saved', size: number }
  /** A save failed (the previous file is intact). */
  | { type: 'save-failed', error: Error }

const NO_OP = (): void => {}

/**
 * CometBFT's address book: where a node keeps the addresses it has heard of, picks peers to dial from, and
 * answers PEX requests from.
 *
 * - **New and old buckets.** An address heard of goes into a *new* bucket (256 buckets of 64); one that
 *   proved good ({@link AddrBook.markGood}) moves to an *old* bucket (64 of 64). Bucket placement hashes the
 *   book's own persisted key with the address's and the source's network groups
 *   ({@link NetAddress.groupKey}), so one source cannot fill the book.
 * - **Picking and sharing.** {@link AddrBook.pickAddress} chooses whom to dial, biased between new and old;
 *   {@link AddrBook.getSelection} and {@link AddrBook.getSelectionWithBias} choose what to tell others.
 * - **Misbehaviour.** {@link AddrBook.markBad} bans an address for a while; {@link AddrBook.reinstateBadPeers}
 *   brings back those whose ban expired. Entries that fail too often are expired when their bucket is full.
 * - **Persistence.** With a `filePath` (or `store`), {@link AddrBook.start} loads CometBFT's
 *   `addrbook.json`, the book saves itself every 2 minutes and on {@link AddrBook.stop}, atomically.
 * - **Determinism.** All randomness comes from `random` and all time from `scheduler.now()`.
 *
 * Methods are synchronous, and safe to call before {@link AddrBook.start} (a book without persistence needs
 * no start at all).
 *
 * @example
 * ```ts
 * const book = new AddrBook({ filePath: '/data/addrbook.json' })
 * await book.start()                       // loads the file; saves every 2 minutes from now on
 * book.addOurAddress(ourListenAddr)
 * book.addAddress(NetAddress.parse(`${id}@203.0.113.7:26656`), seedAddr)  // 'added'
 * const next = book.pickAddress(30)        // 30% bias towards new addresses
 * book.markAttempt(next!)
 * book.markGood(next!.id)                  // it answered: move it to an old bucket
 * await book.stop()                        // saves once more
 * ```
 */
export class AddrBook {
  readonly #strict: boolean
  readonly #random: () => number
  readonly #scheduler: SchedulerLike
  readonly #store: AddrBookStore | undefined
  readonly #saveIntervalMs: number
  #key: string

  readonly #lookup = new Map<NodeId, KnownAddress>()
  readonly #badPeers = new Map<NodeId, KnownAddress>()
  // Buckets and per-bucket shares are made on first use (undefined = empty): 576 empty Maps cost ~100 KiB, which
  // is nothing for one node and 1 GiB for a simulation of 10,000 books.
  readonly #bucketsNew = new Array<Map<string, KnownAddress> | undefined>(NEW_BUCKET_COUNT).fill(undefined)
  readonly #bucketsOld = new Array<Map<string, KnownAddress> | undefined>(OLD_BUCKET_COUNT).fill(undefined)
  #nNew = 0
  #nOld = 0
  readonly #ourAddrs = new Set<string>()
  readonly #ourIds = new Set<NodeId>()
  readonly #privateIds = new Set<NodeId>()
  readonly #newBucketCache = new Map<string, { h1: Map<string, number>, buckets: Int16Array }>()
  readonly #maxPerSource: number
  readonly #maxPerSourceGroup: number
  readonly #maxPerGroup: number
  readonly #maxInBucket: number
  // How many entries of the book each source ID, source group and address group has; per new bucket, how many
  // entries each source group has in it. Kept as entries come and go, so every bound is checked in O(1).
  readonly #bySource = new Map<NodeId, number>()
  readonly #bySourceGroup = new Map<string, number>()
  readonly #byGroup = new Map<string, number>()
  readonly #bucketShares = new Array<Map<string, number> | undefined>(NEW_BUCKET_COUNT).fill(undefined)
  #loading: AbortController | undefined

  readonly #events = new Subject<AddrBookEvent>()
  #state: 'idle' | 'starting' | 'started' | 'stopped' = 'idle'
  #timer: Subscription | undefined
  #saving: Promise<void> | undefined

  constructor (init: AddrBookInit = {}) {
    this.#strict = init.addrBookStrict ?? true
    this.#random = init.random ?? Math.random
    this.#scheduler = init.scheduler ?? asyncScheduler
    this.#saveIntervalMs = init.saveIntervalMs ?? DUMP_ADDRESS_INTERVAL_MS
    this.#store = init.store ?? (init.filePath !== undefined
      ? new AddrBookFile(init.filePath, { scheduler: this.#scheduler, ...(init.maxFileBytes !== undefined ? { maxFileBytes: init.maxFileBytes } : {}) })
      : undefined)
    const strictOnly = (n: number): number => this.#strict ? n : Infinity
    this.#maxPerSource = init.maxAddrsPerSource ?? DEFAULT_MAX_ADDRS_PER_SOURCE
    this.#maxPerSourceGroup = init.maxAddrsPerSourceGroup ?? strictOnly(DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
    this.#maxPerGroup = init.maxAddrsPerGroup ?? strictOnly(DEFAULT_MAX_ADDRS_PER_GROUP)
    this.#maxInBucket = init.maxPerSourceGroupInBucket ?? strictOnly(DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET)
    this.#key = init.key ?? (init.random !== undefined ? randomHexFrom(init.random, 12) : randomBytes(12).toString('hex'))
  }

  /**
   * Every change in the book, synchronously as it happens. Hot; completes when the book stops.
   *
   * @example
   * ```ts
   * book.events$.pipe(filter((e) => e.type === 'added')).subscribe((e) => console.log('learned', e.addr.toString()))
   * ```
   */
  get events$ (): Observable<AddrBookEvent> {
    return this.#events.asObservable()
  }

  /** The bucket-placement key (persisted in the file). */
  get key (): string {
    return this.#key
  }

  /** True between a completed {@link AddrBook.start} (the store loaded) and {@link AddrBook.stop}. */
  get isStarted (): boolean {
    return this.#state === 'started'
  }

  /** Whether only routable addresses are accepted (`addr_book_strict`). */
  get addrBookStrict (): boolean {
    return this.#strict
  }

  // -------------------------------------------------------------------------------------------
  // Life cycle and persistence

  /**
   * Loads the store (if any) and starts saving every `saveIntervalMs`. Calling it again does nothing.
   *
   * @throws {AddrBookCorruptError} the file was corrupt; it has been moved aside (see `movedTo`) and the book
   *   is not started: call `start()` again to start with an empty book
   * @throws {AddrBookIoError} the file exists but cannot be read
   */
  async start (): Promise<void> {
    if (this.#state !== 'idle') return
    this.#state = 'starting'
    let data: AddrBookData | undefined
    const loading = new AbortController()
    this.#loading = loading
    try {
      data = this.#store !== undefined ? await this.#store.load({ signal: loading.signal }) : undefined
    } catch (err) {
      if (this.#state !== 'starting') return // stopped while loading: the load was abandoned
      this.#state = 'idle'
      throw err
    } finally {
      this.#loading = undefined
    }
    if (this.#state !== 'starting') return // stopped while loading
    if (data !== undefined) this.#restore(data)
    this.#state = 'started'
    if (this.#store !== undefined && this.#saveIntervalMs > 0) {
      const book = this
      this.#timer = this.#scheduler.schedule(function (this: SchedulerAction<unknown>) {
        book.save().catch(NO_OP) // reported on events$ as 'save-failed'
        this.schedule(undefined, book.#saveIntervalMs)
      }, this.#saveIntervalMs)
    }
  }

  /**
   * Stops the periodic save, saves once more, and completes {@link AddrBook.events$}. Idempotent.
   *
   * @throws {AddrBookIoError} the last save failed
   */
  async stop (): Promise<void> {
    if (this.#state === 'stopped') return
    const wasStarted = this.#state === 'started'
    this.#state = 'stopped'
    this.#loading?.abort() // a load in progress is abandoned (between two slices), the file left as it is
    this.#timer?.unsubscribe()
    this.#timer = undefined
    try {
      if (wasStarted) await this.save()
    } finally {
      this.#events.complete()
    }
  }

  /**
   * Saves now (a snapshot of this moment). Saves never overlap: this one starts when the previous one is
   * done. Resolves at once without a store.
   *
   * @throws {AddrBookIoError} the store failed (also reported on {@link AddrBook.events$} as `save-failed`)
   */
  save (): Promise<void> {
    const store = this.#store
    if (store === undefined) return Promise.resolve()
    const data = this.toData()
    const run = this.#saving === undefined
      ? this.#runSave(store, data) // idle: the store is called right now, at this virtual time
      : this.#saving.then(() => this.#runSave(store, data))
    const settled = run.catch(NO_OP)
    this.#saving = settled
    void settled.then(() => { if (this.#saving === settled) this.#saving = undefined })
    return run
  }

  #runSave (store: AddrBookStore, data: AddrBookData): Promise<void> {
    let pending: Promise<void>
    try {
      pending = store.save(data)
    } catch (err) {
      pending = Promise.reject(err)
    }
    return pending.then(
      () => { this.#events.next({ type: 'saved', size: data.addrs.length }) },
      (err: unknown) => {
        const error = err instanceof Error ? err : new AddrBookIoError('', 'save', String(err))
        this.#events.next({ type: 'save-failed', error })
        throw error
      })
  }

  /** A snapshot of the book as it would be saved: the key and every address (new and old, not banned). */
  toData (): AddrBookData {
    const addrs: KnownAddressInfo[] = []
    for (const ka of this.#lookup.values()) {
      addrs.push({
        addr: ka.addr,
        src: ka.src,
        buckets: [...ka.buckets],
        attempts: ka.attempts,
        bucketType: ka.bucketType,
        lastAttempt: ka.lastAttempt,
        lastSuccess: ka.lastSuccess,
        lastBanTime: ka.lastBanTime
      })
    }
    return { key: this.#key, addrs }
  }

  // Puts loaded entries straight into the buckets they list, as CometBFT's loader does (no rehashing), but
  // never beyond a bucket's size (CometBFT's loader fills a bucket with whatever the file lists, and every later
  // insert into it then expires entries one scan at a time): an entry goes into the listed buckets that have
  // room, at most 4 new ones or 1 old one, and is dropped when none has. Since every entry takes a bucket slot,
  // the book can hold no more than MAX_BOOK_SIZE, whatever the file holds. One pass, O(1) per listed bucket.
  // Entries the book could never hold are skipped: an invalid address, no bucket, or an ID already present.
  #restore (data: AddrBookData): void {
    this.#key = data.key
    this.#newBucketCache.clear()
    let skipped = 0
    let dropped = 0
    for (const info of data.addrs) {
      const ka = new KnownAddress(info.addr.canonical(), info.src.canonical(), [], info.attempts, info.bucketType,
        info.lastAttempt, info.lastSuccess, info.lastBanTime)
      if (!ka.addr.isValid() || info.buckets.length === 0 || this.#lookup.has(ka.id) || this.#badPeers.has(ka.id)) {
        skipped++
        continue
      }
      const key = ka.addr.toString()
      const isNew = ka.isNew()
      const maxBuckets = isNew ? MAX_NEW_BUCKETS_PER_ADDRESS : 1
      const capacity = isNew ? NEW_BUCKET_SIZE : OLD_BUCKET_SIZE
      for (const idx of info.buckets) {
        if (ka.buckets.length >= maxBuckets) break
        const bucket = this.#bucket(ka.bucketType, idx)
        if (bucket.size >= capacity || bucket.has(key)) continue
        bucket.set(key, ka)
        ka.buckets.push(idx)
        if (isNew) this.#shareOf(ka, idx, 1)
      }
      if (ka.buckets.length === 0) {
        dropped++
        continue
      }
      this.#lookup.set(ka.id, ka)
      this.#countOf(ka, 1)
      if (isNew) this.#nNew++
      else this.#nOld++
    }
    this.#events.next({ type: 'loaded', size: this.size, skipped, dropped })
  }

  // -------------------------------------------------------------------------------------------
  // Our own and private addresses

  /** Records one of our own addresses: it, and any address with its ID, is never added. */
  addOurAddress (addr: NetAddress): void {
    this.#ourAddrs.add(addr.canonical().toString())
    if (addr.id !== '') this.#ourIds.add(addr.id)
  }

  /** True for one of our own addresses (the same address, or the same ID). */
  isOurAddress (addr: NetAddress): boolean {
    // Every address of ours with an ID put that ID in #ourIds, and an address's text embeds its ID: for an
    // address with an ID, the ID alone decides.
    if (addr.id !== '') return this.#ourIds.has(addr.id)
    return this.#ourAddrs.has(addr.canonical().toString())
  }

  /** IDs never to add nor to accept addresses from (CometBFT's `private_peer_ids`). */
  addPrivateIds (ids: Iterable<NodeId>): void {
    for (const id of ids) this.#privateIds.add(id)
  }

  // -------------------------------------------------------------------------------------------
  // Adding and removing

  /**
   * Adds an address heard of from `src` to a new bucket, as CometBFT does:
   *
   * - refused (see {@link AddrBookRejection}) when invalid, banned, private (itself or its source), ours,
   *   or unroutable in a strict book;
   * - no change when it is already old, or already in 4 new buckets;
   * - when it is already in `n` new buckets, added to one more with probability `1/(2n)`;
   * - a full bucket first expires a bad entry, else its oldest (by last attempt);
   * - rx-p2p: refused when its source (by node ID, or by group) or its own group already has as many
   *   addresses in the book as {@link AddrBookLimits} allows, and not placed in a new bucket where the
   *   source's group holds its share already (`'bucket-share'` for a new address, `'known'` for one
   *   that would have gained a bucket).
   *
   * The host is kept in Go's text form (`::ffff:1.2.3.4` is stored as `1.2.3.4`).
   *
   * @param src the address of the peer that told us: the IP we saw it connect from, or that we dialed (its
   *   group decides the bucket and the source bounds; CometBFT uses an inbound peer's self-reported address)
   */
  addAddress (addr: NetAddress, src: NetAddress): AddAddressResult {
    let ka = this.#lookup.get(addr.id)
    if (ka !== undefined && ka.addr.host === addr.host && ka.addr.port === addr.port) {
      // The very address the book holds (the usual case in gossip): it passed the validity, routability and
      // self checks when it was added, and a banned ID is never in the lookup; only the ID lists may have grown.
      if (this.#privateIds.has(addr.id)) return 'private'
      if (this.#privateIds.has(src.id)) return 'private-src'
      if (this.#ourIds.has(addr.id)) return 'self'
      addr = ka.addr
    } else {
      addr = addr.canonical()
      src = src.canonical()
      if (!addr.isValid()) return 'invalid'
      if (this.#badPeers.has(addr.id)) return 'banned'
      if (this.#privateIds.has(addr.id)) return 'private'
      if (this.#privateIds.has(src.id)) return 'private-src'
      if (this.isOurAddress(addr)) return 'self'
      if (this.#strict && !addr.isRoutable()) return 'unroutable'
      ka = this.#lookup.get(addr.id)
    }

    let result: AddAddressResult = 'known'
    if (ka !== undefined) {
      // Already old (a node ID cannot move to another IP this way), or in enough new buckets.
      if (ka.isOld()) return 'known'
      if (ka.buckets.length >= MAX_NEW_BUCKETS_PER_ADDRESS) return 'known'
      // The more buckets it is in, the less likely it gets another.
      if (this.#intn(2 * ka.buckets.length) !== 0) return 'known'
    } else {
      const refusal = this.#overLimit(addr, src)
      if (refusal !== undefined) return refusal
      ka = new KnownAddress(addr, src, [], 0, BUCKET_TYPE_NEW, this.#now())
      result = 'added'
    }
    const index = this.#calcNewBucket(addr, src)
    // The entry counts towards the group of the source it was first heard from (ka.src), wherever it goes.
    if ((this.#bucketShares[index]?.get(ka.src.groupKey(this.#strict)) ?? 0) >= this.#maxInBucket) {
      return result === 'added' ? 'bucket-share' : 'known'
    }
    this.#addToNewBucket(ka, index)
    if (result === 'added') this.#events.next({ type: 'added', addr, src })
    return result
  }

  /** Removes the address with `addr`'s ID from the book (not from the ban list). */
  removeAddress (addr: NetAddress): void {
    const ka = this.#lookup.get(addr.id)
    if (ka === undefined) return
    this.#removeFromAllBuckets(ka)
    this.#events.next({ type: 'removed', addr: ka.addr, reason: 'removed' })
  }

  // -------------------------------------------------------------------------------------------
  // Marking

  /**
   * The peer with this ID proved good: attempts reset, last success now, and moved to an old bucket. When
   * that bucket is full, its oldest entry is moved back to a new bucket.
   */
  markGood (id: NodeId): void {
    const ka = this.#lookup.get(id)
    if (ka === undefined) return
    ka.markGood(this.#now())
    if (ka.isNew()) this.#moveToOld(ka)
  }

  /** A dial of this address (by ID) is being made: last attempt now, one more attempt. */
  markAttempt (addr: NetAddress): void {
    this.#lookup.get(addr.id)?.markAttempt(this.#now())
  }

  /**
   * Bans the address (by ID) for `banDurationMs` (CometBFT bans for 24 h, {@link rx-p2p/defaults!DEFAULT_BAN_TIME_MS}): it
   * leaves the buckets and is refused by {@link AddrBook.addAddress} until {@link AddrBook.reinstateBadPeers}
   * brings it back after the ban. Only an address in the book can be banned.
   */
  markBad (addr: NetAddress, banDurationMs: number): void {
    const ka = this.#lookup.get(addr.id)
    if (ka === undefined) return
    if (!this.#badPeers.has(ka.id)) {
      ka.ban(this.#now(), durationFromMs(banDurationMs))
      this.#badPeers.set(ka.id, ka)
    }
    this.#removeFromAllBuckets(ka)
    this.#events.next({ type: 'banned', addr: ka.addr, until: ka.lastBanTime })
  }

  /**
   * Puts every banned address whose ban has expired back into a new bucket (rx-p2p: unless its source or its
   * group has taken its whole share of the book meanwhile; it is then forgotten).
   */
  reinstateBadPeers (): void {
    const now = this.#now()
    for (const ka of this.#badPeers.values()) {
      if (ka.isBanned(now)) continue
      this.#badPeers.delete(ka.id)
      if (this.#lookup.has(ka.id) || this.#overLimit(ka.addr, ka.src) !== undefined) continue
      ka.bucketType = BUCKET_TYPE_NEW
      ka.buckets = []
      this.#addToNewBucket(ka, this.#calcNewBucket(ka.addr, ka.src))
      this.#events.next({ type: 'reinstated', addr: ka.addr })
    }
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  /** Addresses in the book, new and old (banned ones are not counted). */
  get size (): number {
    return this.#nNew + this.#nOld
  }

  /** Addresses in new buckets. */
  get sizeNew (): number {
    return this.#nNew
  }

  /** Addresses in old buckets. */
  get sizeOld (): number {
    return this.#nOld
  }

  /** True when the book holds no address. */
  isEmpty (): boolean {
    return this.size === 0
  }

  /** True when the book has fewer than 1000 addresses: time to ask peers for more. */
  needMoreAddrs (): boolean {
    return this.size < NEED_ADDRESS_THRESHOLD
  }

  /** True when an address with `addr`'s ID is in the book. */
  hasAddress (addr: NetAddress): boolean {
    return this.#lookup.has(addr.id)
  }

  /** True when the address (by ID) is in an old bucket: it proved good and did nothing wrong since. */
  isGood (addr: NetAddress): boolean {
    return this.#lookup.get(addr.id)?.isOld() ?? false
  }

  /** True when the address (by ID) is on the ban list (until {@link AddrBook.reinstateBadPeers} takes it off). */
  isBanned (addr: NetAddress): boolean {
    return this.#badPeers.has(addr.id)
  }

  /** The entry for a node ID, read-only. */
  get (id: NodeId): KnownAddressInfo | undefined {
    return this.#lookup.get(id)
  }

  /** Every entry in the book, read-only. */
  entries (): IterableIterator<KnownAddressInfo> {
    return this.#lookup.values()
  }

  /** The entries of one bucket, read-only (for tests and diagnostics). */
  bucket (bucketType: BucketType, index: number): KnownAddressInfo[] {
    return [...this.#bucket(bucketType, index).values()]
  }

  // -------------------------------------------------------------------------------------------
  // Picking and selecting

  /**
   * Picks an address to dial. The side is chosen with weights `sqrt(nOld)·(100−bias)` for old and
   * `sqrt(nNew)·bias` for new; then a random non-empty bucket of that side, then a random entry in it.
   * `undefined` when the book is empty or the chosen side is.
   *
   * @param biasTowardsNewAddrs 0..100 (clamped): how much to prefer new addresses
   */
  pickAddress (biasTowardsNewAddrs: number): NetAddress | undefined {
    if (this.size === 0) return undefined
    const bias = Math.min(100, Math.max(0, biasTowardsNewAddrs))
    const oldCorrelation = Math.sqrt(this.#nOld) * (100 - bias)
    const newCorrelation = Math.sqrt(this.#nNew) * bias
    const pickOld = (newCorrelation + oldCorrelation) * this.#random() < oldCorrelation
    if ((pickOld && this.#nOld === 0) || (!pickOld && this.#nNew === 0)) return undefined
    const buckets = pickOld ? this.#bucketsOld : this.#bucketsNew
    // Uniform over the non-empty buckets: what CometBFT's "draw buckets until one is not empty" amounts to.
    const nonEmpty: number[] = []
    for (let i = 0; i < buckets.length; i++) if ((buckets[i]?.size ?? 0) > 0) nonEmpty.push(i)
    const bucket = buckets[nonEmpty[this.#intn(nonEmpty.length)]!]!
    let index = this.#intn(bucket.size)
    for (const ka of bucket.values()) if (index-- === 0) return ka.addr
    return undefined
  }

  /**
   * A random selection to send to a peer that asked (PEX): `min(250, max(min(32, size), size·23/100))`
   * distinct addresses, uniformly from the whole book.
   */
  getSelection (): NetAddress[] {
    const size = this.size
    if (size === 0) return []
    const n = selectionSize(size)
    const all: NetAddress[] = []
    for (const ka of this.#lookup.values()) all.push(ka.addr)
    for (let i = 0; i < n; i++) {
      const j = i + this.#intn(all.length - i)
      const t = all[i]!
      all[i] = all[j]!
      all[j] = t
    }
    return all.slice(0, n)
  }

  /**
   * A selection of the same size as {@link AddrBook.getSelection}, with `max(round(bias% · n), n − nOld)`
   * addresses from new buckets first and the rest from old ones (what a seed hands out).
   *
   * @param biasTowardsNewAddrs 0..100 (clamped)
   */
  getSelectionWithBias (biasTowardsNewAddrs: number): NetAddress[] {
    const size = this.size
    if (size === 0) return []
    const bias = Math.min(100, Math.max(0, biasTowardsNewAddrs))
    const n = selectionSize(size)
    const numNew = Math.max(Math.round((bias / 100) * n), n - this.#nOld)
    const selection = this.#randomPick(this.#bucketsNew, numNew)
    selection.push(...this.#randomPick(this.#bucketsOld, n - selection.length))
    return selection
  }

  // Up to `num` distinct addresses from one side. An address in several new buckets is that much more
  // likely to be drawn, as in CometBFT (which shuffles every bucket entry).
  #randomPick (buckets: ReadonlyArray<Map<string, KnownAddress> | undefined>, num: number): NetAddress[] {
    const out: NetAddress[] = []
    if (num <= 0) return out
    const all: KnownAddress[] = []
    for (const bucket of buckets) if (bucket !== undefined) for (const ka of bucket.values()) all.push(ka)
    const chosen = new Set<string>()
    for (let i = 0; i < all.length && out.length < num; i++) {
      const j = i + this.#intn(all.length - i)
      const ka = all[j]!
      all[j] = all[i]!
      all[i] = ka
      const key = ka.addr.toString()
      if (chosen.has(key)) continue
      chosen.add(key)
      out.push(ka.addr)
    }
    return out
  }

  // -------------------------------------------------------------------------------------------
  // Buckets

  #bucket (bucketType: BucketType, index: number): Map<string, KnownAddress> {
    const buckets = bucketType === BUCKET_TYPE_NEW ? this.#bucketsNew : this.#bucketsOld
    if (!Number.isInteger(index) || index < 0 || index >= buckets.length) throw new RangeError(`no ${bucketType === BUCKET_TYPE_NEW ? 'new' : 'old'} bucket ${index}`)
    return (buckets[index] ??= new Map())
  }

  #addToNewBucket (ka: KnownAddress, index: number): void {
    if (ka.isOld()) return // an old address is never put in a new bucket
    const key = ka.addr.toString()
    const bucket = this.#bucket(BUCKET_TYPE_NEW, index)
    if (bucket.has(key)) return
    // A bucket never holds more than NEW_BUCKET_SIZE (the loader keeps to it too): one expiry makes room, in
    // one scan of at most 64 entries.
    if (bucket.size >= NEW_BUCKET_SIZE) this.#expireNew(index)
    bucket.set(key, ka)
    this.#shareOf(ka, index, 1)
    if (ka.addBucketRef(index) === 1) {
      this.#nNew++
      this.#countOf(ka, 1)
    }
    this.#lookup.set(ka.id, ka)
  }

  // Returns false when the bucket is full.
  #addToOldBucket (ka: KnownAddress, index: number): boolean {
    if (ka.isNew() || ka.buckets.length !== 0) return false
    const key = ka.addr.toString()
    const bucket = this.#bucket(BUCKET_TYPE_OLD, index)
    if (bucket.has(key)) return true
    if (bucket.size >= OLD_BUCKET_SIZE) return false
    bucket.set(key, ka)
    if (ka.addBucketRef(index) === 1) {
      this.#nOld++
      this.#countOf(ka, 1)
    }
    this.#lookup.set(ka.id, ka)
    return true
  }

  // Removes one bucket reference; an address left in no bucket leaves the book. Returns true when it left.
  #removeFromBucket (ka: KnownAddress, bucketType: BucketType, index: number): boolean {
    if (ka.bucketType !== bucketType) return false
    if (this.#bucket(bucketType, index).delete(ka.addr.toString()) && bucketType === BUCKET_TYPE_NEW) this.#shareOf(ka, index, -1)
    if (ka.removeBucketRef(index) !== 0) return false
    if (bucketType === BUCKET_TYPE_NEW) this.#nNew--
    else this.#nOld--
    this.#countOf(ka, -1)
    this.#lookup.delete(ka.id)
    return true
  }

  #removeFromAllBuckets (ka: KnownAddress): void {
    const key = ka.addr.toString()
    const isNew = ka.isNew()
    for (const index of ka.buckets) {
      if (this.#bucket(ka.bucketType, index).delete(key) && isNew) this.#shareOf(ka, index, -1)
    }
    ka.buckets = []
    if (isNew) this.#nNew--
    else this.#nOld--
    this.#countOf(ka, -1)
    this.#lookup.delete(ka.id)
  }

  // Why an address new to the book, told by `src`, would take more than its sources' and group's share.
  #overLimit (addr: NetAddress, src: NetAddress): AddrBookRejection | undefined {
    if ((this.#bySource.get(src.id) ?? 0) >= this.#maxPerSource) return 'source-limit'
    if ((this.#bySourceGroup.get(src.groupKey(this.#strict)) ?? 0) >= this.#maxPerSourceGroup) return 'source-group-limit'
    if ((this.#byGroup.get(addr.groupKey(this.#strict)) ?? 0) >= this.#maxPerGroup) return 'group-limit'
    return undefined
  }

  // An entry entered (+1) or left (-1) the book: its source ID, source group and address group counts.
  #countOf (ka: KnownAddress, delta: 1 | -1): void {
    bump(this.#bySource, ka.src.id, delta)
    bump(this.#bySourceGroup, ka.src.groupKey(this.#strict), delta)
    bump(this.#byGroup, ka.addr.groupKey(this.#strict), delta)
  }

  // A new entry entered (+1) or left (-1) new bucket `index`: its source group's share of that bucket.
  #shareOf (ka: KnownAddress, index: number, delta: 1 | -1): void {
    bump(this.#bucketShares[index] ??= new Map(), ka.src.groupKey(this.#strict), delta)
  }

  // Makes room in a full new bucket: the first bad entry goes, else the oldest.
  #expireNew (index: number): void {
    const bucket = this.#bucket(BUCKET_TYPE_NEW, index)
    const now = this.#now()
    let victim: KnownAddress | undefined
    for (const ka of bucket.values()) {
      if (ka.isBad(now)) {
        victim = ka
        break
      }
    }
    victim ??= this.#pickOldest(bucket)
    if (victim === undefined) return
    if (this.#removeFromBucket(victim, BUCKET_TYPE_NEW, index)) {
      this.#events.next({ type: 'removed', addr: victim.addr, reason: 'expired' })
    }
  }

  #pickOldest (bucket: Map<string, KnownAddress>): KnownAddress | undefined {
    let oldest: KnownAddress | undefined
    for (const ka of bucket.values()) if (oldest === undefined || ka.lastAttempt < oldest.lastAttempt) oldest = ka
    return oldest
  }

  // Moves a new address to its old bucket; when that is full, its oldest entry goes back to a new bucket.
  #moveToOld (ka: KnownAddress): void {
    if (ka.isOld() || ka.buckets.length === 0) return
    this.#removeFromAllBuckets(ka)
    ka.bucketType = BUCKET_TYPE_OLD
    const index = this.#calcOldBucket(ka.addr)
    if (!this.#addToOldBucket(ka, index)) {
      const oldest = this.#pickOldest(this.#bucket(BUCKET_TYPE_OLD, index))!
      this.#removeFromBucket(oldest, BUCKET_TYPE_OLD, index)
      oldest.bucketType = BUCKET_TYPE_NEW
      this.#addToNewBucket(oldest, this.#calcNewBucket(oldest.addr, oldest.src))
      this.#events.next({ type: 'demoted', addr: oldest.addr })
      this.#addToOldBucket(ka, index)
    }
    this.#events.next({ type: 'promoted', addr: ka.addr })
  }

  // -------------------------------------------------------------------------------------------
  // Placement: SHA-256 keyed with the book's key (CometBFT uses a per-process HighwayHash; only the
  // shape matters: a source group reaches 32 new buckets, an address group 4 old buckets).

  // hash(key || group(src) || be64(hash(key || group(addr) || group(src)) % 32)) % 256
  // It depends only on the two groups, so it is cached per source group: the inner hash per address group, the
  // outer one per (source group, inner hash), at most 32 of them (cleared when the key changes).
  #calcNewBucket (addr: NetAddress, src: NetAddress): number {
    const srcGroup = src.groupKey(this.#strict)
    const addrGroup = addr.groupKey(this.#strict)
    let entry = this.#newBucketCache.get(srcGroup)
    if (entry === undefined) {
      if (this.#newBucketCache.size >= 4096) this.#newBucketCache.clear()
      entry = { h1: new Map(), buckets: new Int16Array(NEW_BUCKETS_PER_GROUP).fill(-1) }
      this.#newBucketCache.set(srcGroup, entry)
    }
    let h1 = entry.h1.get(addrGroup)
    if (h1 === undefined) {
      h1 = hashMod([this.#key, addrGroup, srcGroup], undefined, NEW_BUCKETS_PER_GROUP)
      if (entry.h1.size >= 65536) entry.h1.clear()
      entry.h1.set(addrGroup, h1)
    }
    let bucket = entry.buckets[h1]!
    if (bucket < 0) {
      bucket = hashMod([this.#key, srcGroup], h1, NEW_BUCKET_COUNT)
      entry.buckets[h1] = bucket
    }
    return bucket
  }

  // hash(key || group(addr) || be64(hash(key || addr) % 4)) % 64
  #calcOldBucket (addr: NetAddress): number {
    const h1 = hashMod([this.#key, addr.toString()], undefined, OLD_BUCKETS_PER_GROUP)
    return hashMod([this.#key, addr.groupKey(this.#strict)], h1, OLD_BUCKET_COUNT)
  }

  #now (): GoTime {
    return timeFromMs(this.#scheduler.now())
  }

  #intn (n: number): number {
    return Math.floor(this.#random() * n)
  }
}

// Adds `delta` to a count; a count back at zero leaves the map (so the maps hold no more keys than the book entries).
function bump<K> (counts: Map<K, number>, key: K, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta
  if (n <= 0) counts.delete(key)
  else counts.set(key, n)
}

/** How many addresses {@link AddrBook.getSelection} returns for a book of `size`. */
export function selectionSize (size: number): number {
  return Math.min(MAX_GET_SELECTION, Math.max(Math.min(MIN_GET_SELECTION, size), Math.floor(size * GET_SELECTION_PERCENT / 100)))
}

// SHA-256 of the strings (and an optional big-endian 64-bit number), read as a big-endian uint64 and
// reduced modulo `mod`. `mod` is a power of two below 2^32, so the low 32 bits decide.
function hashMod (parts: string[], be64: number | undefined, mod: number): number {
  // One-shot hashing of one string (Node ≥ 20.12) is about a third cheaper than a Hash object; a small `be64`
  // is the bytes 0 0 0 0 0 0 0 n, which in UTF-8 is the same string of eight characters.
  if (oneShotHash !== undefined && (be64 === undefined || (be64 >= 0 && be64 < 0x80))) {
    let text = parts.length === 1 ? parts[0]! : parts.join('')
    if (be64 !== undefined) text += '\0\0\0\0\0\0\0' + String.fromCharCode(be64)
    return oneShotHash('sha256', text, 'buffer').readUInt32BE(4) % mod
  }
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  if (be64 !== undefined) {
    const b = Buffer.alloc(8)
    b.writeUInt32BE(be64, 4)
    h.update(b)
  }
  return h.digest().readUInt32BE(4) % mod
}

const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash

function randomHexFrom (random: () => number, bytes: number): string {
  let out = ''
  for (let i = 0; i < bytes; i++) out += Math.floor(random() * 256).toString(16).padStart(2, '0')
  return out
}
