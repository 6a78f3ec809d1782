/**
 * `Peer`: one connected, authenticated remote node, as the Switch and its reactors see it.
 *
 * @module
 */
import type { Observable } from 'rxjs'
import type { ConnectionStatus } from '../conn/mconnection.js'
import type { HostPort } from '../transport/duplex.js'
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { NodeInfo } from '../wire/node-info.js'

/** Options of {@link Peer.send}. */
export interface PeerSendOptions {
  /** Gives up waiting for queue room when aborted (resolves `false`). */
  signal?: AbortSignal
  /** How long to wait for room in the channel's queue. @default the MConnection's `sendTimeoutMs` (10 s) */
  timeoutMs?: number
}

/**
 * A connected peer: its identity, its address, how it was connected, and its channels.
 *
 * @example
 * ```ts
 * sw.peerEvents$.pipe(ofEventType('added')).subscribe(({ peer }) => {
 *   console.log(peer.id, peer.nodeInfo.moniker, peer.isOutbound ? 'outbound' : 'inbound')
 *   peer.trySend(0x30, new TextEncoder().encode('hello'))
 * })
 * ```
 */
export interface Peer {
  /** The node ID, authenticated by the secret handshake. */
  readonly id: NodeId
  /** The NodeInfo the peer sent in the handshake (validated). */
  readonly nodeInfo: NodeInfo
  /** The remote end of the socket. */
  readonly remoteAddress: HostPort
  /**
   * `id@ip:port` of the socket's remote end; for an outbound peer, the address we dialed (CometBFT
   * `SocketAddr`).
   */
  readonly socketAddr: NetAddress
  /** True when we dialed it, false when it connected to us. */
  readonly isOutbound: boolean
  /**
   * True when its address is one of the persistent peers: the dialed address for an outbound peer, the
   * self-reported `listen_addr` for an inbound one (as CometBFT's `wrapPeer`).
   */
  readonly isPersistent: boolean
  /** True while connected; false once stopped or closed. */
  readonly isRunning: boolean
  /** Hot, replays: emits once when the connection ends (`undefined` = stopped locally without error), then completes. */
  readonly closed$: Observable<Error | undefined>
  /** True when the peer advertised `chId` in its NodeInfo.channels. */
  hasChannel (chId: number): boolean
  /**
   * Queues `message` on channel `chId`, waiting for room (CometBFT `Peer.Send`). Resolves `false` when the
   * peer is not running, did not advertise the channel, or no room came in time. Never rejects.
   */
  send (chId: number, message: Uint8Array, options?: PeerSendOptions): Promise<boolean>
  /**
   * Queues `message` if there is room now (CometBFT `Peer.TrySend`). `false` when the queue is full, the
   * peer is not running, or the remote did not advertise the channel.
   */
  trySend (chId: number, message: Uint8Array): boolean
  /** True when a `trySend` on `chId` would find room now. */
  canSend (chId: number): boolean
  /** The connection's statistics: duration, send and receive rates, channel queues. */
  status (): ConnectionStatus
  /**
   * Pauses reading from this peer until the returned function is called. Holds from several callers add
   * up; reading resumes when all are released. The remote then feels TCP backpressure. Used by
   * `mergeMapPerPeer`.
   */
  holdReading (): () => void
}
