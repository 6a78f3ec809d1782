/**
 * The multiplex transport (CometBFT's `MultiplexTransport`): between raw byte streams and the Switch. It
 * listens behind a gate, filters connections (by IP, the inbound limit, duplicate IPs, the pending-handshake
 * limits and the handshake buckets), upgrades each one (SecretConnection, NodeInfo exchange and rules) and
 * hands out upgraded connections or typed refusals; it dials and upgrades too. The defaults are in
 * `rx-p2p/defaults`.
 *
 * @module
 */
export {
  MultiplexTransport, type MultiplexTransportInit, type AcceptEvent, type ConnFilter, type PeerConnection
} from './multiplex-transport.js'
export {
  upgradeConnection, authenticateConnection, exchangeNodeInfo, validatePeerNodeInfo, checkPeerCompatible,
  type UpgradeInit, type AuthenticateInit, type UpgradedConnection
} from './upgrade.js'
export { ConnSet } from './conn-set.js'
export type { HandshakeRateLimiterInit } from './handshake-rate.js'
