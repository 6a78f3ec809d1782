/**
 * PEX's seed mode (CometBFT `crawlPeersRoutine`, `crawlPeers`, `attemptDisconnects`, a seed's `Receive`):
 * crawl the network instead of keeping outbound peers, keep only short connections, and answer each inbound
 * peer once. Builds on the exchange rules and on ensure-peers' dialing.
 *
 * @module
 */
import { actions } from '../switch/actions.js'
import type { Peer } from '../switch/peer.js'
import type { NetAddress } from '../transport/net-address.js'
import { CRAWL_RECORD_TTL_MS, BIAS_TO_SELECT_NEW_PEERS } from './pex-defaults.js'
import { dialPeer, dialSeeds } from './pex-ensure-peers.js'
import { requestAddrs, sendAddrs } from './pex-exchange.js'
import type { PexScope } from './pex-state.js'

/**
 * CometBFT `crawlPeersRoutine`: consult the seeds first, else crawl the book; then every crawl period drop
 * the connections held too long, crawl `getSelection()` and forget old crawl records.
 *
 * ```
 * seeds:    s-----------c-----------c     s = dial the seeds, c = disconnect, crawl, clean up; period P
 * no seeds: c-----------c-----------c     (the first c only crawls)
 * ```
 */
export function startCrawl (scope: PexScope): void {
  const { state } = scope
  if (state.config.seeds.length > 0) dialSeeds(scope)
  else crawlPeers(scope, state.book.getSelection())
  const period = state.config.crawlPeerPeriodMs
  scope.schedule(() => {
    attemptDisconnects(scope)
    crawlPeers(scope, state.book.getSelection())
    cleanupCrawlRecords(scope)
  }, period, period)
}

/** CometBFT `crawlPeers`: each address at most every `minTimeBetweenCrawls`; a bounded number of dials at once. */
export function crawlPeers (scope: PexScope, addrs: readonly NetAddress[]): void {
  const { state } = scope
  const now = scope.now()
  for (const address of addrs) {
    const record = state.crawled.get(address.id)
    if (record !== undefined && now < record.next) continue
    state.crawled.set(address.id, { last: now, next: now + state.config.minTimeBetweenCrawlsMs })
    state.crawlQueue.push(address)
  }
  pumpCrawl(scope)
}

function pumpCrawl (scope: PexScope): void {
  const { state, ctx } = scope
  while (state.crawlDialsInFlight < state.config.maxConcurrentCrawlDials && state.crawlQueue.length > 0) {
    const address = state.crawlQueue.shift()!
    if (ctx.isDialingOrExistingAddress(address)) continue // CometBFT: no request to a peer already connected
    if (dialPeer(scope, address, 'crawl')) state.crawlDialsInFlight++
  }
}

/** A crawl dial has its outcome: the next queued address may be dialed. */
export function crawlDialDone (scope: PexScope): void {
  if (scope.state.crawlDialsInFlight > 0) scope.state.crawlDialsInFlight--
  pumpCrawl(scope)
}

/** Whether `peer` connected through a crawl dial of ours (its pending dial is still listed). */
export function isCrawlDial (scope: PexScope, peer: Peer): boolean {
  return scope.state.pendingDials.get(peer.id)?.purpose === 'crawl'
}

/** A crawled peer connected: CometBFT `crawlPeers` follows each successful crawl dial with a request. */
export function onCrawledPeerAdded (scope: PexScope, peer: Peer): void {
  scope.state.crawling.add(peer.id)
  requestAddrs(scope, peer)
}

/**
 * An accepted answer in seed mode: a crawled peer that answered is reachable and speaks PEX. It is marked
 * good, left alone for `recrawlAnsweredAfterMs` (CometBFT keeps it connected for up to 28 h and never asks
 * it again meanwhile) and, unless persistent, disconnected: a seed keeps only short connections.
 */
export function onCrawledAnswer (scope: PexScope, peer: Peer): void {
  const { state } = scope
  if (!state.crawling.has(peer.id)) return
  const record = state.crawled.get(peer.id)
  if (record !== undefined) record.next = Math.max(record.next, scope.now() + state.config.recrawlAnsweredAfterMs)
  state.book.markGood(peer.id)
  state.events.next({ type: 'marked-good', address: peer.socketAddr })
  if (!peer.isPersistent) {
    scope.emit(actions.stopPeer(peer))
    state.events.next({ type: 'disconnect', peer, reason: 'crawled' })
  }
}

/**
 * An inbound peer's request: CometBFT's seed answers it once with `getSelectionWithBias(30)`, then
 * disconnects it; later requests are ignored.
 */
export function answerOnce (scope: PexScope, peer: Peer): void {
  const { state } = scope
  if (state.lastReceivedRequests.has(peer.id)) return
  state.lastReceivedRequests.set(peer.id, scope.now())
  const count = sendAddrs(scope, peer, state.book.getSelectionWithBias(BIAS_TO_SELECT_NEW_PEERS))
  state.events.next({ type: 'request-answered', peer, count })
  scope.emit(actions.stopPeer(peer))
  state.events.next({ type: 'disconnect', peer, reason: 'answered-once' })
}

/**
 * CometBFT `attemptDisconnects`: drop non-persistent peers connected for the wait period; rx-p2p also drops
 * crawled peers that did not answer within a crawl period (a seed keeps only short connections).
 */
function attemptDisconnects (scope: PexScope): void {
  const { state, ctx } = scope
  const now = scope.now()
  const wait = state.config.seedDisconnectWaitPeriodMs
  const crawlPeriod = state.config.crawlPeerPeriodMs
  for (const peer of ctx.peers.list()) {
    if (peer.isPersistent) continue
    const since = now - (state.connectedAt.get(peer.id) ?? now)
    if (since >= wait) {
      scope.emit(actions.stopPeer(peer))
      state.events.next({ type: 'disconnect', peer, reason: 'wait-period' })
    } else if (state.crawling.has(peer.id) && since >= crawlPeriod) {
      scope.emit(actions.stopPeer(peer))
      state.events.next({ type: 'disconnect', peer, reason: 'crawl-timeout' })
    }
  }
}

function cleanupCrawlRecords (scope: PexScope): void {
  const now = scope.now()
  for (const [id, record] of scope.state.crawled) if (now - record.last > CRAWL_RECORD_TTL_MS) scope.state.crawled.delete(id)
}
