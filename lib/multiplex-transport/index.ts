/**
 * The multiplex transport (CometBFT's `MultiplexTransport`): between raw byte streams and the Switch. It
 * listens behind a gate, filters connections (by IP, the inbound limit, duplicate IPs, the pending-handshake
 * limits and the handshake buckets), upgrades each one (SecretConnection, NodeInfo exchange and rules) and
 * hands out upgraded connections or typed refusals; it dials and upgrades too.
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
export { ConnSet, checkDuplicateIp } from './conn-set.js'
export { PendingHandshakes, type PendingHandshakesInit, type PendingAdmission } from './pending-handshakes.js'
export { HandshakeRateLimiter, TokenBucket, type HandshakeRateLimiterInit } from './handshake-rate.js'
export { dialWithTimeout, type DialInit } from './dial.js'
export {
  DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP, DEFAULT_HANDSHAKE_BURST_PER_IP,
  DEFAULT_HANDSHAKE_RATE_PER_IP, DEFAULT_HANDSHAKE_BURST, DEFAULT_HANDSHAKE_RATE, DEFAULT_HANDSHAKE_RATE_TRACKED_IPS
} from './defaults.js'
