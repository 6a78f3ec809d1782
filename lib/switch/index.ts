/**
 * The Switch, peers and reactors.
 *
 * @module
 */
export { Switch, type SwitchInit, type DialOptions, type BroadcastResult, type BroadcastOptions, type AdmissionStats } from './switch.js'
export { BanList, type BanListInit, type BanEntry, type BanScope, type BanTarget } from './ban-list.js'
export type { Peer, PeerSendOptions } from './peer.js'
export { PeerSet, type ReadonlyPeerSet, type PeerCounts } from './peer-set.js'
export type { Reactor, ReactorContext, ReactorRun, ReactorFailure } from './reactor.js'
export { statefulReactor, type StatefulReactor, type StatefulReactorInit, type ReactorScope } from './reactor-runtime.js'
export type { Envelope } from './envelope.js'
export type {
  PeerEvent, PeerEventType, PeerAddedEvent, PeerRemovedEvent, DialSucceededEvent, DialFailedEvent, PeerRejectedEvent
} from './events.js'
export { actions, type Action, type SendAction, type BroadcastAction, type StopPeerAction, type DialAction, type BanAction, type SendMode } from './actions.js'
export { mapToActions, type ActionsResult } from './map-to-actions.js'
export { mergeMapPerPeer, type MergeMapPerPeerInit } from './merge-map-per-peer.js'
export { ofEventType } from './of-event-type.js'
export { withCodec, utf8Codec, jsonCodec, protobufCodec, type Codec, type ChannelCodecs } from './codec.js'
export { reconnect, reconnectDelays, type ReconnectInit, type ReconnectEvent } from './reconnect.js'
export { runPeerFilters, admitPeer, type PeerFilter, type PeerFilterInit, type AdmissionLimits } from './filters.js'
export {
  DEFAULT_MAX_INBOUND_PEERS, DEFAULT_MAX_OUTBOUND_PEERS, DEFAULT_FILTER_TIMEOUT_MS, DEFAULT_STOP_FLUSH_TIMEOUT_MS,
  DEFAULT_REACTOR_RESTART_DELAY_MS, RECONNECT_ATTEMPTS, RECONNECT_INTERVAL_MS, RECONNECT_BACKOFF_ATTEMPTS, RECONNECT_BACKOFF_BASE_SECONDS,
  DIAL_RANDOMIZER_INTERVAL_MS
} from './defaults.js'
export { DEFAULT_MAX_BANS } from './defaults.js'
