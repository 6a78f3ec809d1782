/**
 * Actions: what a reactor asks the Switch to do. They are plain data, so a marble test compares a reactor's
 * output with the expected actions and needs no socket.
 *
 * @module
 */
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { Peer } from './peer.js'

/**
 * How a `send` waits for room in the peer's channel queue:
 * - `'trySend'`: queue now or drop (CometBFT `TrySend`); the usual choice for gossip.
 * - `'send'`: wait up to the MConnection send timeout (10 s) for room (CometBFT `Send`).
 */
export type SendMode = 'send' | 'trySend'

/**
 * Send one message to one peer.
 *
 * `to` is a {@link Peer} (as received in an envelope or event) or a node ID. A `Peer` names that very
 * connection: if it has been replaced by a new connection with the same ID, the message is dropped rather
 * than sent to the newcomer. An ID names whichever connection currently has that ID.
 */
export interface SendAction<M = Uint8Array> {
  readonly type: 'send'
  readonly to: Peer | NodeId
  readonly chId: number
  readonly message: M
  readonly mode: SendMode
}

/** Send one message to every peer that advertised the channel, except those listed. */
export interface BroadcastAction<M = Uint8Array> {
  readonly type: 'broadcast'
  readonly chId: number
  readonly message: M
  readonly mode: SendMode
  /** Peers (or IDs) to leave out, such as the one the message came from. */
  readonly except?: ReadonlyArray<Peer | NodeId>
}

/**
 * Disconnect a peer. With a `reason` this is CometBFT's `StopPeerForError`: the peer is removed from every
 * reactor with that reason and, when persistent, redialed. Without one it is `StopPeerGracefully`: queued
 * messages are flushed, and it is not redialed.
 */
export interface StopPeerAction {
  readonly type: 'stopPeer'
  readonly peer: Peer | NodeId
  readonly reason: Error | undefined
}

/**
 * Dial an address. The outcome arrives as a `dialed` or `dialFailed` peer event (and `added` on success).
 * `persistent` adds the address to the persistent peers, which are redialed after every disconnect.
 */
export interface DialAction {
  readonly type: 'dial'
  readonly address: NetAddress
  readonly persistent: boolean
}

/**
 * Ban a peer, node ID, address or IP for `durationMs` in the Switch's ban list (see `Switch.ban`): with scope
 * `'all'` it is refused at accept and at dial, and a connected peer it names is stopped (with `reason`); with
 * scope `'dial'` it is only not dialed.
 */
export interface BanAction {
  readonly type: 'ban'
  readonly target: Peer | NodeId | NetAddress | string
  readonly durationMs: number
  readonly reason: Error | undefined
  readonly scope: 'all' | 'dial'
}

/**
 * Everything a reactor can ask of the Switch: a union discriminated by `type`. Build them with
 * {@link actions}. `M` is the message type: bytes, or a typed message under {@link withCodec}.
 */
export type Action<M = Uint8Array> = SendAction<M> | BroadcastAction<M> | StopPeerAction | DialAction | BanAction

/**
 * Builders for {@link Action}s.
 *
 * @example
 * ```ts
 * import { actions } from 'rx-p2p'
 *
 * actions.trySend(env.from, 0x30, bytes)          // reply to the sender, drop if its queue is full
 * actions.broadcast(0x30, bytes, { except: [env.from] })
 * actions.stopPeer(env.from, new DecodeError('bad message'))
 * actions.dial(NetAddress.parse('id@127.0.0.1:26656'), { persistent: true })
 * actions.ban(env.from, 24 * 3600_000, new PexViolationError('request-too-soon', 'asked too soon'))
 * ```
 */
export const actions = {
  /** Send and wait (up to the send timeout) for room in the peer's channel queue. */
  send<M = Uint8Array> (to: Peer | NodeId, chId: number, message: M): SendAction<M> {
    return { type: 'send', to, chId, message, mode: 'send' }
  },
  /** Queue if there is room now, otherwise drop. */
  trySend<M = Uint8Array> (to: Peer | NodeId, chId: number, message: M): SendAction<M> {
    return { type: 'send', to, chId, message, mode: 'trySend' }
  },
  /** Send to every peer with the channel, without waiting (`trySend` per peer) unless `mode` says `'send'`. */
  broadcast<M = Uint8Array> (chId: number, message: M, options: { except?: ReadonlyArray<Peer | NodeId>, mode?: SendMode } = {}): BroadcastAction<M> {
    const action: { -readonly [K in keyof BroadcastAction<M>]: BroadcastAction<M>[K] } = { type: 'broadcast', chId, message, mode: options.mode ?? 'trySend' }
    if (options.except !== undefined && options.except.length > 0) action.except = options.except
    return action
  },
  /** Disconnect `peer`; with a `reason`, for that error (and redial it if persistent). */
  stopPeer (peer: Peer | NodeId, reason?: Error): StopPeerAction {
    return { type: 'stopPeer', peer, reason }
  },
  /** Dial `address`; `persistent` keeps redialing it after every disconnect. */
  dial (address: NetAddress, options: { persistent?: boolean } = {}): DialAction {
    return { type: 'dial', address, persistent: options.persistent ?? false }
  },
  /** Ban `target` for `durationMs` (scope `'all'`: refused at accept and at dial; `'dial'`: only not dialed). */
  ban (target: Peer | NodeId | NetAddress | string, durationMs: number, reason?: Error, options: { scope?: 'all' | 'dial' } = {}): BanAction {
    return { type: 'ban', target, durationMs, reason, scope: options.scope ?? 'all' }
  }
} as const
