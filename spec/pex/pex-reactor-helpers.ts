/**
 * Helpers for the PEX reactor specs: a virtual-time harness around runReactor, fake peers, readable actions
 * (seeded randomness and the clock's start come from `support.ts`).
 */
import { createHash } from 'node:crypto'
import { Subject, VirtualTimeScheduler, type Observable, type SchedulerLike } from 'rxjs'
import { DialBackoff } from '../../lib/pex/dial-backoff.js'
import { DEFAULT_BAN_TIME_MS } from '../../lib/pex/params.js'
import {
  DEFAULT_CRAWL_PEER_PERIOD_MS, DEFAULT_ENSURE_PEERS_PERIOD_MS, DEFAULT_MAX_ATTEMPTS_TO_DIAL, DEFAULT_MAX_CONCURRENT_CRAWL_DIALS,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS, DEFAULT_RECRAWL_ANSWERED_AFTER_MS, DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS
} from '../../lib/pex/pex-defaults.js'
import { PexState, type PexConfig } from '../../lib/pex/pex-state.js'
import { AddrBook, type AddrBookInit } from '../../lib/pex/addr-book.js'
import type { LearnedAddress, PexEvent, PexReactor } from '../../lib/pex/pex-reactor.js'
import type { Action } from '../../lib/switch/actions.js'
import type { Envelope } from '../../lib/switch/envelope.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import type { Peer } from '../../lib/switch/peer.js'
import type { ReactorContext } from '../../lib/switch/reactor.js'
import { fakeNodeId, fakePeer, runReactor, type FakePeer } from '../../lib/testing/reactor.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { decodePexMessage, encodePexAddrs, encodePexRequest, PEX_CHANNEL } from '../../lib/wire/pex.js'
import { seededRandom, T0 } from './support.js'

/** Our node: ID of 'us', listening on 9.9.9.9:26656, PEX channel. */
export const US = { id: fakeNodeId('us'), listenAddr: '9.9.9.9:26656', channels: Uint8Array.of(PEX_CHANNEL) }
export const OUR_ADDRESS = new NetAddress(US.id, '9.9.9.9', 26656)

/** A routable address for `n` (its own /16 group), with a stable ID. */
export function addr (n: number, port = 26656): NetAddress {
  const id = createHash('sha1').update(`addr-${n}`).digest('hex')
  return new NetAddress(id, `${20 + Math.floor(n / 256)}.${n % 256}.0.1`, port)
}

/** A fake peer that speaks PEX, at `host:26656` (its self-reported address too). */
export function pexPeer (name: string, host: string, outbound = false, extra: { id?: string, persistent?: boolean } = {}): FakePeer {
  return fakePeer(name, { outbound, channels: [PEX_CHANNEL], remoteAddress: { host, port: 26656 }, ...extra })
}

/** The peer whose address is `a` (same ID and host), outbound when we dialed it. */
export function peerFor (a: NetAddress, outbound: boolean, name = a.host): FakePeer {
  return pexPeer(name, a.host, outbound, { id: a.id })
}

/** A book on `scheduler`, seeded, non-strict unless told, already started. */
export async function startedBook (scheduler: VirtualTimeScheduler, init: AddrBookInit = {}): Promise<AddrBook> {
  const book = new AddrBook({ addrBookStrict: false, random: seededRandom(7), scheduler, key: '00112233445566778899aabb', ...init })
  await book.start()
  return book
}

/** A virtual clock starting at {@link T0}. */
export function clock (): VirtualTimeScheduler {
  const vts = new VirtualTimeScheduler()
  vts.frame = T0
  return vts
}

export const REQUEST = encodePexRequest()
export function addrsMessage (addrs: readonly NetAddress[]): Uint8Array {
  return encodePexAddrs(addrs)
}

/** A readable form of an action: `send peer request`, `send peer addrs:12`, `stop peer PexViolationError/request-too-soon`, `dial host`. */
export function describe (action: Action): string {
  const name = (p: Peer | string): string => typeof p === 'string' ? p.slice(0, 8) : ((p as FakePeer).name ?? p.id.slice(0, 8))
  switch (action.type) {
    case 'send': {
      const msg = decodePexMessage(action.message)
      return `send ${name(action.to)} ${msg.type === 'request' ? 'request' : `addrs:${msg.addrs.length}`}`
    }
    case 'stopPeer': {
      const r = action.reason as (Error & { rule?: string }) | undefined
      return `stop ${name(action.peer)} ${r === undefined ? 'graceful' : `${r.name}${r.rule !== undefined ? '/' + r.rule : ''}`}`
    }
    case 'dial': return `dial ${action.address.host}`
    case 'broadcast': return `broadcast ${action.chId}`
    case 'ban': return `ban ${typeof action.target === 'object' && 'host' in action.target && !('nodeInfo' in action.target) ? action.target.host : name(action.target as Peer | string)}${action.scope === 'dial' ? ' (dial)' : ''}`
  }
}

/** What a run recorded, with virtual times relative to its start. */
export interface Recorded {
  actions: Array<{ t: number, action: Action }>
  events: Array<{ t: number, event: PexEvent }>
  gossip: LearnedAddress[]
}

/** The inputs a script drives. */
export interface Harness {
  readonly scheduler: VirtualTimeScheduler
  /** Virtual ms since the start. */
  now: () => number
  /** Runs `fn` at `t` ms after the start. */
  at: (t: number, fn: () => void) => void
  event: (e: PeerEvent) => void
  envelope: (from: Peer, message: Uint8Array) => void
  /** Calls `fn` for every action, as it is emitted. */
  onAction: (fn: (action: Action) => void) => void
  recorded: Recorded
}

/**
 * Runs `pex` under runReactor on a virtual clock for `durationMs`, letting `script` feed events and
 * envelopes and react to actions; then unsubscribes (the Switch's stop) and returns what was recorded.
 */
export function drive (pex: PexReactor, scheduler: VirtualTimeScheduler, options: { durationMs: number, maxOutboundPeers?: number, allowDuplicateIp?: boolean, withContext?: (ctx: ReactorContext) => ReactorContext },
  script: (h: Harness) => void): Recorded {
  const start = scheduler.now()
  const events$ = new Subject<PeerEvent>()
  const envelopes$ = new Subject<Envelope>()
  const recorded: Recorded = { actions: [], events: [], gossip: [] }
  const listeners: Array<(a: Action) => void> = []
  const h: Harness = {
    scheduler,
    now: () => scheduler.now() - start,
    at: (t, fn) => { scheduler.schedule(fn, Math.max(0, start + t - scheduler.now())) },
    event: (e) => { events$.next(e) },
    envelope: (from, message) => { envelopes$.next({ from, chId: PEX_CHANNEL, message }) },
    onAction: (fn) => { listeners.push(fn) },
    recorded
  }
  pex.events$.subscribe((event) => { recorded.events.push({ t: h.now(), event }) })
  pex.gossip$.subscribe((l) => { recorded.gossip.push(l) })
  script(h)
  const reactor = options.withContext === undefined ? pex : { name: pex.name, channels: pex.channels, run: (ctx: ReactorContext) => pex.run(options.withContext!(ctx)) }
  const sub = runReactor(reactor, {
    envelopes$: envelopes$ as Observable<Envelope>,
    peerEvents$: events$,
    scheduler,
    nodeInfo: US,
    maxOutboundPeers: options.maxOutboundPeers ?? 10,
    allowDuplicateIp: options.allowDuplicateIp ?? false
  }).subscribe((action) => {
    recorded.actions.push({ t: h.now(), action })
    for (const fn of listeners) fn(action)
  })
  scheduler.schedule(() => { sub.unsubscribe() }, options.durationMs)
  scheduler.flush()
  return recorded
}

/** The described actions, `t: description`. */
export function timeline (r: Recorded): string[] {
  return r.actions.map(({ t, action }) => `${t}: ${describe(action)}`)
}

/**
 * A {@link PexState} over `book` for the section specs: CometBFT's defaults unless told, seeded randomness,
 * marking good left off (`Infinity`).
 */
export function sectionState (book: AddrBook, config: Partial<PexConfig> = {}): PexState {
  const full: PexConfig = {
    random: seededRandom(1),
    seedMode: false,
    seeds: [],
    ensurePeersPeriodMs: DEFAULT_ENSURE_PEERS_PERIOD_MS,
    banTimeMs: DEFAULT_BAN_TIME_MS,
    markGoodAfterMs: Infinity,
    askWhenAtTarget: true,
    isPersistent: () => false,
    crawlPeerPeriodMs: DEFAULT_CRAWL_PEER_PERIOD_MS,
    minTimeBetweenCrawlsMs: DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
    recrawlAnsweredAfterMs: DEFAULT_RECRAWL_ANSWERED_AFTER_MS,
    maxConcurrentCrawlDials: DEFAULT_MAX_CONCURRENT_CRAWL_DIALS,
    seedDisconnectWaitPeriodMs: DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS,
    ...config
  }
  const backoff = new DialBackoff({ random: full.random, maxAttempts: DEFAULT_MAX_ATTEMPTS_TO_DIAL, persistentMaxDialPeriodMs: 0 })
  return new PexState(full, backoff, book, () => book)
}

/** A book on `scheduler` (a TestScheduler), non-strict, seeded, already started. */
export async function sectionBook (scheduler: SchedulerLike, addrs: readonly NetAddress[] = []): Promise<AddrBook> {
  const book = new AddrBook({ addrBookStrict: false, random: seededRandom(7), scheduler, key: '00112233445566778899aabb' })
  await book.start()
  for (const a of addrs) book.addAddress(a, addr(999))
  return book
}
