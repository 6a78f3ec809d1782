/**
 * The Switch, peers and reactors: the Switch's options and events, the reactor contract and runtime, actions,
 * operators and codecs. The defaults are in `rx-p2p/defaults`.
 *
 * @module
 */
export { Switch, type SwitchInit, type DialOptions, type BroadcastResult, type BroadcastOptions, type AdmissionStats } from './switch.js'
export type { BanEntry, BanScope, BanTarget } from './ban-list.js'
export type { Peer, PeerSendOptions } from './peer.js'
export type { ReadonlyPeerSet, PeerCounts } from './peer-set.js'
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
export type { ReconnectInit } from './reconnect.js'
export type { PeerFilter } from './filters.js'
