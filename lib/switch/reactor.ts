/**
 * Reactors: the protocols that run over the Switch. A reactor declares its channels and is a pure function
 * from what it sees (envelopes on its channels, peer events, the peer set) to what it wants done
 * ({@link Action}s). It makes no call into the Switch; the Switch subscribes to it, executes its actions and
 * isolates its failures.
 *
 * @module
 */
import type { Observable, SchedulerLike } from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { NodeInfo } from '../wire/node-info.js'
import type { Action } from './actions.js'
import type { Envelope } from './envelope.js'
import type { PeerEvent } from './events.js'
import type { Peer } from './peer.js'
import type { PeerCounts, ReadonlyPeerSet } from './peer-set.js'

/**
 * What a reactor is given. Everything is read-only: a reactor acts only by returning actions.
 *
 * `M` is the message type of {@link envelopes$}: bytes, or a typed message under {@link withCodec}.
 */
export interface ReactorContext<M = Uint8Array> {
  /** Hot: every message received on this reactor's channels, in arrival order; a peer's `added` event comes first. */
  readonly envelopes$: Observable<Envelope<M>>
  /** Hot: peer events (added, removed with the reason, dial outcomes, rejected inbound connections). */
  readonly peerEvents$: Observable<PeerEvent>
  /** Hot, replays the current list on subscribe: the connected peers after each change. */
  readonly peers$: Observable<readonly Peer[]>
  /** The connected peers, live. */
  readonly peers: ReadonlyPeerSet
  /** The scheduler for every timer the reactor sets (ticks, timeouts): the Switch's. */
  readonly scheduler: SchedulerLike
  /** Our own NodeInfo, as sent in handshakes. */
  readonly nodeInfo: NodeInfo
  /** The inbound-peer limit (CometBFT `max_num_inbound_peers`). */
  readonly maxInboundPeers: number
  /** The outbound-peer limit (CometBFT `max_num_outbound_peers`, enforced by PEX's `ensurePeers`). */
  readonly maxOutboundPeers: number
  /** Peers by direction, unconditional peers not counted, and dials in progress (CometBFT `NumPeers`). */
  numPeers (): PeerCounts
  /**
   * True when `address`'s ID is being dialed or is connected, or (unless duplicate IPs are allowed) a
   * connected peer has its IP (CometBFT `IsDialingOrExistingAddress`).
   */
  isDialingOrExistingAddress (address: NetAddress): boolean
  /** True for the IDs configured as unconditional (exempt from the peer limits). */
  isPeerUnconditional (id: NodeId): boolean
}

/** The pipeline of a reactor: a pure function from its context to the actions it wants executed. */
export type ReactorRun<M = Uint8Array> = (ctx: ReactorContext<M>) => Observable<Action<M>>

/**
 * A reactor: a name, the channels it owns, and its pipeline.
 *
 * - No two reactors on a Switch may claim the same channel (`DuplicateChannelError`).
 * - If `run`'s Observable errors, the Switch reports it on `reactorErrors$`, stops the peer whose message
 *   was being delivered when it failed (when there was one), and subscribes to `run(ctx)` again after a
 *   pause. A reactor that completes is not restarted.
 * - A reactor that keeps state or takes commands from outside is best built with {@link statefulReactor}.
 *
 * @example
 * ```ts
 * import { actions, mapToActions, type Reactor } from 'rx-p2p'
 *
 * const ECHO = 0x70
 * export const echoReactor: Reactor = {
 *   name: 'echo',
 *   channels: [{ id: ECHO, priority: 1, sendQueueCapacity: 10 }],
 *   run: (ctx) => ctx.envelopes$.pipe(
 *     mapToActions((env) => actions.trySend(env.from, ECHO, env.message))
 *   )
 * }
 * ```
 */
export interface Reactor {
  /** A name for logs and error reports. */
  readonly name: string
  /** The channels this reactor owns; they are announced in our NodeInfo and opened on every peer. */
  readonly channels: readonly ChannelDescriptor[]
  /** The pipeline. Called once at start, and again after each error. */
  readonly run: ReactorRun
  /**
   * Called by `Switch.stop()` once the pipeline is unsubscribed; the Switch's stop awaits it (a reactor that
   * saves a file resolves once it is saved, and rejects when that failed). Reactors built with
   * {@link statefulReactor} have one. @default none
   */
  stop? (): Promise<void>
}

/**
 * A reactor failure, as reported on `Switch.reactorErrors$`.
 */
export interface ReactorFailure {
  /** The reactor's name. */
  readonly reactor: string
  /** What went wrong: a `ReactorError` whose `cause` is the pipeline's error. */
  readonly error: Error
  /** The peer whose message was being delivered when the pipeline failed, when there was one; it has been stopped. */
  readonly peer: Peer | undefined
}
