/**
 * PEX's exchange rules (CometBFT `Receive`, `RequestAddrs`, `ReceiveAddrs`, `SendAddrs`, `receiveRequest`):
 * how requests are asked and answered, which answers are accepted, and what a rule breaker gets. The other
 * sections call these; they call nothing of theirs.
 *
 * @module
 */
import { PexViolationError } from '../errors.js'
import { actions } from '../switch/actions.js'
import type { Envelope } from '../switch/envelope.js'
import { asPeerError } from '../switch/map-to-actions.js'
import type { Peer } from '../switch/peer.js'
import { NetAddress } from '../transport/net-address.js'
import { nodeInfoAddress } from '../wire/node-info.js'
import { MAX_PEX_ADDRESSES, PEX_CHANNEL, decodePexMessage, encodePexAddrs, encodePexRequest, type PexMessage } from '../wire/pex.js'
import type { PexScope } from './pex-state.js'

const REQUEST_BYTES = encodePexRequest()
const FIRST_FREE = -Infinity // a peer's first request: accepted without a time (CometBFT's zero time.Time)

/**
 * `id@ip:port` of the socket's remote end: the IP an inbound peer connected from, or the IP we dialed (a
 * dialed hostname is resolved by then). What the book takes as the source of what the peer tells us.
 *
 * @example
 * ```ts
 * book.addAddress(address, observedAddress(peer))
 * ```
 */
export function observedAddress (peer: Peer): NetAddress {
  return new NetAddress(peer.id, peer.remoteAddress.host, peer.remoteAddress.port)
}

/**
 * A PEX envelope's message, or undefined when there is nothing to handle: its sender is no longer the
 * connected peer of its ID (stopped or replaced, with messages still on the way), or the bytes broke a rule
 * ({@link violation}: `DecodeError` stops, a bad address in `PexAddrs` stops and bans).
 */
export function receivePex (scope: PexScope, env: Envelope): PexMessage | undefined {
  const peer = env.from
  if (scope.ctx.peers.get(peer.id) !== peer) return undefined
  try {
    return decodePexMessage(env.message)
  } catch (err) {
    violation(scope, peer, asPeerError(err))
    return undefined
  }
}

/**
 * A request, outside seed mode's inbound peers: answered with `getSelection()` unless it came too soon
 * (`'request-too-soon'`).
 */
export function onRequest (scope: PexScope, peer: Peer): void {
  const { state } = scope
  const tooSoon = receiveRequest(scope, peer)
  if (tooSoon !== undefined) {
    violation(scope, peer, tooSoon)
    return
  }
  const count = sendAddrs(scope, peer, state.book.getSelection())
  state.events.next({ type: 'request-answered', peer, count })
}

/**
 * CometBFT `receiveRequest`: the first request is free, the second starts the clock, each later one must
 * come at least a third of the ensure-peers period after the previous one. Returns the violation, if any.
 */
export function receiveRequest (scope: PexScope, peer: Peer): PexViolationError | undefined {
  const { state } = scope
  const last = state.lastReceivedRequests.get(peer.id)
  const now = scope.now()
  if (last === undefined) {
    state.lastReceivedRequests.set(peer.id, FIRST_FREE)
    return undefined
  }
  if (last === FIRST_FREE) {
    state.lastReceivedRequests.set(peer.id, now)
    return undefined
  }
  const minInterval = state.config.ensurePeersPeriodMs / 3
  if (now - last < minInterval) {
    return new PexViolationError('request-too-soon',
      `peer ${peer.id} sent its next PEX request ${now - last} ms after the previous one (at least ${minInterval} ms apart)`)
  }
  state.lastReceivedRequests.set(peer.id, now)
  return undefined
}

/**
 * CometBFT `ReceiveAddrs`: an answer to no request of ours (`'unsolicited-addrs'`) or with more than 250
 * addresses (`'too-many-addrs'`) is a violation; an accepted one goes into the book with the peer's observed
 * address as source, each address on `gossip$`. Returns true when the answer was accepted.
 *
 * @throws {InvalidAddressError} the peer's NodeInfo has no usable address (the sender is stopped)
 */
export function onAddrs (scope: PexScope, peer: Peer, addrs: readonly NetAddress[]): boolean {
  const { state } = scope
  if (!state.requestsSent.has(peer.id)) {
    violation(scope, peer, new PexViolationError('unsolicited-addrs', `peer ${peer.id} sent ${addrs.length} addresses we did not ask for`))
    return false
  }
  if (addrs.length > MAX_PEX_ADDRESSES) {
    violation(scope, peer, new PexViolationError('too-many-addrs', `peer ${peer.id} sent ${addrs.length} addresses (at most ${MAX_PEX_ADDRESSES})`))
    return false
  }
  state.requestsSent.delete(peer.id)
  nodeInfoAddress(peer.nodeInfo) // CometBFT: StopPeerForError when the peer's NodeInfo has no usable address
  // rx-p2p: the source is the IP we saw (CometBFT takes the self-reported address: tendermint#4846).
  const src = observedAddress(peer)
  const book = state.book
  let added = 0
  const gossip = state.gossip
  const observed = gossip.observed
  for (const address of addrs) {
    const result = book.addAddress(address, src)
    if (result === 'added') added++
    if (observed) gossip.next({ address, source: src, from: peer, result })
  }
  // News: at least one new address, and at least 1 % of the book (the last few missing addresses of a big
  // network are left to the slower pace).
  if (added > 0 && added * 100 >= book.size) state.lastNewsAt = scope.now()
  state.events.next({ type: 'addrs-received', peer, count: addrs.length, added })
  return true
}

/**
 * An inbound peer vouches for its own address (NodeInfo `id@listen_addr`); it is not asked right away
 * (ensure-peers will, if need be). rx-p2p: the source is the IP the peer connected from, not the address it
 * reports (CometBFT's `src` is the address itself, so each self-reported /16 was a source group of its own:
 * tendermint#4846). A NodeInfo without a usable address is ignored.
 */
export function addSelfReportedAddress (scope: PexScope, peer: Peer): void {
  const { state } = scope
  let addr: NetAddress
  try {
    addr = nodeInfoAddress(peer.nodeInfo)
  } catch {
    return
  }
  const src = observedAddress(peer)
  const result = state.book.addAddress(addr, src)
  if (state.gossip.observed) state.gossip.next({ address: addr, source: src, from: peer, result })
}

/** Sends a selection (ours and, in a strict book, unroutable addresses left out; at most 250); returns its size. */
export function sendAddrs (scope: PexScope, peer: Peer, selection: readonly NetAddress[]): number {
  const strict = scope.state.book.addrBookStrict
  const ourId = scope.ctx.nodeInfo.id
  const addrs: NetAddress[] = []
  for (const a of selection) {
    if (addrs.length >= MAX_PEX_ADDRESSES) break
    // isValid() requires an IP; the book never holds an address of ours added after addOurAddress, so only
    // our ID (an entry from before, e.g. a loaded file) needs checking here. NetAddress caches both answers.
    if (a.id === ourId || !a.isValid() || (strict && !a.isRoutable())) continue
    addrs.push(a)
  }
  scope.emit(actions.send(peer, PEX_CHANNEL, encodePexAddrs(addrs)))
  return addrs.length
}

/** CometBFT `RequestAddrs`: at most one request outstanding per peer, and only to a peer with the channel. */
export function requestAddrs (scope: PexScope, peer: Peer): void {
  const { state } = scope
  if (state.requestsSent.has(peer.id) || !peer.hasChannel(PEX_CHANNEL)) return
  state.requestsSent.add(peer.id)
  scope.emit(actions.send(peer, PEX_CHANNEL, REQUEST_BYTES))
  state.events.next({ type: 'request-sent', peer })
}

/**
 * Stops `peer` for `error`; a PEX rule breaker (or a bad address in its list) is banned as well, in the book
 * (no dials) and in the Switch (refused when it connects again).
 */
export function violation (scope: PexScope, peer: Peer, error: Error): void {
  const { state } = scope
  scope.emit(actions.stopPeer(peer, error))
  if (error instanceof PexViolationError) {
    state.book.markBad(peer.socketAddr, state.config.banTimeMs)
    // The Switch holds the ban too, so that the peer is refused when it connects again (the book only stops dials).
    scope.emit(actions.ban(peer, state.config.banTimeMs, error))
  }
  state.events.next({ type: 'violation', peer, error })
}

/** A peer left: its outstanding request and its request clock are forgotten. */
export function forgetExchange (scope: PexScope, peer: Peer): void {
  scope.state.requestsSent.delete(peer.id)
  scope.state.lastReceivedRequests.delete(peer.id)
}

/** At a run's start: entries about peers that left while the pipeline was down are stale. */
export function pruneExchange (scope: PexScope): void {
  const { state, ctx } = scope
  for (const id of [...state.requestsSent]) if (!ctx.peers.has(id)) state.requestsSent.delete(id)
  for (const id of [...state.lastReceivedRequests.keys()]) if (!ctx.peers.has(id)) state.lastReceivedRequests.delete(id)
}
