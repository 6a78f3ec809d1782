/**
 * PEX's ensure-peers (CometBFT `ensurePeersRoutine`, `ensurePeers`, `dialPeer`, `dialSeeds`): keeping the
 * node at its outbound target by dialing from the book, with each address's backoff, falling back to the
 * seeds when the book has nothing, and marking outbound peers good. Builds on the exchange rules.
 *
 * @module
 */
import { AlreadyConnectedError, PeerRejectedError, SelfConnectionError } from '../errors.js'
import type { NodeId } from '../crypto/node-id.js'
import { actions } from '../switch/actions.js'
import type { Peer } from '../switch/peer.js'
import type { NetAddress } from '../transport/net-address.js'
import { requestAddrs } from './pex-exchange.js'
import { AT_TARGET_NEWS_PERIODS, AT_TARGET_QUIET_ASK_MAX_PERIODS, AT_TARGET_QUIET_ASK_PERIODS } from './pex-defaults.js'
import type { PendingDial, PexDialPurpose, PexScope } from './pex-state.js'

/**
 * CometBFT `ensurePeersRoutine`: at once when the node has no peer (so the seeds are dialed right away),
 * else after a random part of the period (no thundering herd); then every period.
 *
 * ```
 * no peer:    e-----------e-----------e     e = ensurePeers, period P
 * with peers: ----e-----------e--------     first after random()·P
 * ```
 */
export function startEnsurePeers (scope: PexScope): void {
  const { state, ctx } = scope
  const period = state.config.ensurePeersPeriodMs
  const { outbound, inbound, dialing } = ctx.numPeers()
  const jitter = outbound + inbound + dialing > 0 ? Math.floor(state.config.random() * period) : 0
  if (jitter === 0) {
    ensurePeers(scope, true)
    scope.schedule(() => { ensurePeers(scope, true) }, period, period)
  } else {
    scope.schedule(() => { ensurePeers(scope, true) }, jitter, period)
  }
}

/**
 * CometBFT `ensurePeers`: dial from the book up to the outbound target; when the book is short, reinstate
 * expired bans, ask a random peer (on the periodic runs only), and fall back to the seeds.
 */
export function ensurePeers (scope: PexScope, periodElapsed: boolean): void {
  const { state, ctx } = scope
  const { config } = state
  const book = state.book
  const { outbound, dialing } = ctx.numPeers()
  const numToDial = ctx.maxOutboundPeers - (outbound + dialing)
  if (numToDial <= 0) {
    state.events.next({ type: 'ensure-peers', outbound, dialing, toDial: numToDial, picked: 0 })
    // CometBFT returns here: a node at its target never asks for addresses again. rx-p2p keeps learning
    // (one random peer per period, when the book is short) unless told not to.
    // While answers bring news it asks every period; after 3 periods without, after 4, 4, 8, 16, 20, 20… periods.
    if (config.askWhenAtTarget && periodElapsed && book.needMoreAddrs()) {
      book.reinstateBadPeers()
      state.quietPeriods++
      const sinceNews = scope.now() - (state.lastNewsAt ?? state.startedAt)
      if (sinceNews < AT_TARGET_NEWS_PERIODS * config.ensurePeersPeriodMs) {
        state.quietPeriods = 0
        state.quietAsks = 0
        askRandomPeer(scope)
      } else if (state.quietPeriods >= Math.min(AT_TARGET_QUIET_ASK_PERIODS * 2 ** Math.max(0, state.quietAsks - 1), AT_TARGET_QUIET_ASK_MAX_PERIODS)) {
        // Quiet: after 4 periods, 4 again, then the wait doubles, up to AT_TARGET_QUIET_ASK_MAX_PERIODS.
        state.quietPeriods = 0
        state.quietAsks++
        askRandomPeer(scope)
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
  state.events.next({ type: 'ensure-peers', outbound, dialing, toDial: numToDial, picked: toDial.size })
  for (const address of toDial.values()) dialPeer(scope, address, 'ensure-peers')
  if (book.needMoreAddrs()) book.reinstateBadPeers()
  if (book.needMoreAddrs()) {
    if (periodElapsed) askRandomPeer(scope)
    if (toDial.size === 0) dialSeeds(scope)
  }
}

function askRandomPeer (scope: PexScope): void {
  const peers = scope.ctx.peers.list()
  if (peers.length > 0) requestAddrs(scope, peers[Math.floor(scope.state.config.random() * peers.length)]!)
}

/** An answer from a seed: CometBFT dials what it brought without waiting for the next tick (no new request). */
export function onSeedAnswered (scope: PexScope, peer: Peer): void {
  const { state } = scope
  if (state.ticking && state.config.seeds.some((s) => s.id === peer.id)) ensurePeers(scope, false)
}

/** CometBFT `dialPeer`: honours the backoff, bans an address that failed too often, then dials. */
export function dialPeer (scope: PexScope, address: NetAddress, purpose: PexDialPurpose): boolean {
  const { state } = scope
  const decision = state.backoff.check(address, scope.now(), state.config.isPersistent(address))
  if (decision.type === 'max-attempts') {
    state.book.markBad(address, state.config.banTimeMs)
    // Dial-only in the Switch: an address that failed too often may be honest, and is welcome when it calls us.
    scope.emit(actions.ban(address, state.config.banTimeMs, undefined, { scope: 'dial' }))
    state.events.next({ type: 'dial-skipped', address, reason: 'max-attempts' })
    return false
  }
  if (decision.type === 'too-early') {
    state.events.next({ type: 'dial-skipped', address, reason: 'too-early' })
    return false
  }
  dial(scope, address, purpose)
  return true
}

function dial (scope: PexScope, address: NetAddress, purpose: PexDialPurpose): void {
  scope.state.pendingDials.set(address.id, { address, purpose })
  scope.state.events.next({ type: 'dial', address, purpose })
  scope.emit(actions.dial(address))
}

/** CometBFT `dialSeeds`: the seeds in random order, one at a time, until one connects. */
export function dialSeeds (scope: PexScope): void {
  const { state } = scope
  const seeds = state.config.seeds
  if (state.seedQueue !== undefined || seeds.length === 0) return
  const order = [...seeds]
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(state.config.random() * (i + 1))
    const t = order[i]!
    order[i] = order[j]!
    order[j] = t
  }
  state.seedQueue = order
  dialNextSeed(scope)
}

function dialNextSeed (scope: PexScope): void {
  const next = scope.state.seedQueue?.shift()
  if (next === undefined) {
    scope.state.seedQueue = undefined
    return
  }
  dial(scope, next, 'seed')
}

/** The dial of `address` we asked for, if this outcome is of it (same ID and address), taken off the list. */
export function takePendingDial (scope: PexScope, address: NetAddress): PendingDial | undefined {
  const pending = scope.state.pendingDials.get(address.id)
  if (pending === undefined || !pending.address.equals(address)) return undefined
  scope.state.pendingDials.delete(address.id)
  return pending
}

/**
 * A dial of ours connected: a seed ends the seed round (CometBFT stops at the first seed that answers),
 * any other clears the address's dial history. `crawlDialDone` is called for a crawl dial.
 */
export function onDialed (scope: PexScope, address: NetAddress, crawlDialDone: () => void): void {
  const pending = takePendingDial(scope, address)
  if (pending === undefined) return
  if (pending.purpose === 'seed') {
    scope.state.seedQueue = undefined
    return
  }
  scope.state.backoff.succeeded(address)
  if (pending.purpose === 'crawl') crawlDialDone()
}

/**
 * A dial failed. Dialing ourselves takes the address out of the book for good (CometBFT's Switch). A seed
 * moves on to the next seed; any other failure but "already connected" counts as an attempt (backoff, and a
 * ban after too many). `crawlDialDone` is called for a crawl dial, before the attempt is counted.
 */
export function onDialFailed (scope: PexScope, address: NetAddress, error: Error, crawlDialDone: () => void): void {
  const { state } = scope
  if ((error instanceof PeerRejectedError && error.reason === 'self') || error instanceof SelfConnectionError) {
    state.book.removeAddress(address)
    state.book.addOurAddress(address)
  }
  const pending = takePendingDial(scope, address)
  if (pending === undefined) return
  if (pending.purpose === 'seed') {
    if (error instanceof AlreadyConnectedError) state.seedQueue = undefined
    else dialNextSeed(scope)
    return
  }
  if (pending.purpose === 'crawl') crawlDialDone()
  // CometBFT `dialPeer`: already dialing or connected is not a failure; anything else counts as an attempt.
  if (error instanceof AlreadyConnectedError) return
  state.book.markAttempt(address)
  state.backoff.failed(address, scope.now())
}

/**
 * An outbound peer is marked good after `markGoodAfterMs` connected (at once for 0, never for `Infinity`),
 * if it is still the connected peer of its ID then.
 */
export function scheduleMarkGood (scope: PexScope, peer: Peer): void {
  const { state, ctx } = scope
  const after = state.config.markGoodAfterMs
  if (!Number.isFinite(after)) return
  if (after <= 0) {
    markGood(scope, peer)
    return
  }
  // Not a run task: the map holds it, the peer's removal or the run's end cancels it.
  const timer = ctx.scheduler.schedule(() => {
    state.markGoodTimers.delete(peer.id)
    if (ctx.peers.get(peer.id) === peer) markGood(scope, peer)
  }, after)
  state.markGoodTimers.get(peer.id)?.unsubscribe()
  state.markGoodTimers.set(peer.id, timer)
}

function markGood (scope: PexScope, peer: Peer): void {
  const book = scope.state.book
  if (!book.hasAddress(peer.socketAddr)) return
  book.markGood(peer.id)
  scope.state.events.next({ type: 'marked-good', address: peer.socketAddr })
}

/** A peer left: its mark-good timer is cancelled. */
export function forgetMarkGood (scope: PexScope, peer: Peer): void {
  const timer = scope.state.markGoodTimers.get(peer.id)
  if (timer !== undefined) {
    timer.unsubscribe()
    scope.state.markGoodTimers.delete(peer.id)
  }
}

/** At a run's end: every mark-good timer is cancelled. */
export function cancelMarkGoodTimers (scope: PexScope): void {
  for (const t of scope.state.markGoodTimers.values()) t.unsubscribe()
  scope.state.markGoodTimers.clear()
}
