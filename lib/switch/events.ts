/**
 * Peer events: what the Switch reports about peers joining, leaving and being dialed.
 *
 * @module
 */
import type { HostPort } from '../transport/duplex.js'
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { Peer } from './peer.js'

/** A peer finished its handshakes, passed the limits and filters, and is now in the peer set. */
export interface PeerAddedEvent {
  readonly type: 'added'
  readonly peer: Peer
}

/**
 * A peer left the peer set. `reason` is `undefined` when it was stopped gracefully (by us, without an
 * error); otherwise it is the error: a `ConnectionClosedError` when the remote closed the connection, a
 * `PongTimeoutError`, a `DecodeError` from a codec, a `ReactorError`, or whatever a reactor stopped it with.
 */
export interface PeerRemovedEvent {
  readonly type: 'removed'
  readonly peer: Peer
  readonly reason: Error | undefined
}

/** A dial succeeded: `address` was dialed and `peer` is now in the peer set (its `added` event came first). */
export interface DialSucceededEvent {
  readonly type: 'dialed'
  readonly address: NetAddress
  readonly peer: Peer
}

/**
 * A dial failed: the TCP connect, a handshake, a limit or a filter. `error` is typed (`TransportError`,
 * `TimeoutError`, `HandshakeError`, `PeerRejectedError`, `AlreadyConnectedError`, ...).
 */
export interface DialFailedEvent {
  readonly type: 'dialFailed'
  readonly address: NetAddress
  readonly error: Error
}

/**
 * An inbound connection was refused or failed before becoming a peer: a limit, a filter, a failed handshake.
 * `peerId` is known once the secret handshake has authenticated the remote. Without a `remoteAddress`, the
 * listener could not accept a connection at all (a `TransportError`: out of file descriptors, say); the Switch
 * goes on accepting unless the message says that the listener failed.
 */
export interface PeerRejectedEvent {
  readonly type: 'rejected'
  readonly remoteAddress: HostPort | undefined
  readonly peerId: NodeId | undefined
  readonly error: Error
}

/**
 * Everything {@link Switch.peerEvents$} reports, a union discriminated by `type`. Narrow it with
 * {@link ofEventType}.
 *
 * @example
 * ```ts
 * sw.peerEvents$.subscribe((e) => {
 *   if (e.type === 'added') console.log('+', e.peer.id)
 *   if (e.type === 'removed') console.log('-', e.peer.id, e.reason?.message ?? 'stopped')
 * })
 * ```
 */
export type PeerEvent = PeerAddedEvent | PeerRemovedEvent | DialSucceededEvent | DialFailedEvent | PeerRejectedEvent

/** The `type` tags of {@link PeerEvent}. */
export type PeerEventType = PeerEvent['type']
