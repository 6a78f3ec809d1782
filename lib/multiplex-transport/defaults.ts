/**
 * The multiplex transport's defaults in one place: the dial deadline (CometBFT `defaultDialTimeout` in
 * `p2p/transport.go`) and the limits on connections in their handshakes, which CometBFT does not have.
 *
 * @module
 */

/** TCP dial deadline in ms (CometBFT `defaultDialTimeout` = 1 s in `p2p/transport.go`). */
export const DEFAULT_DIAL_TIMEOUT_MS = 1000

/**
 * Connections in their handshakes (accepted, not yet peers) allowed at once; past it the oldest one that has
 * sent nothing yet is evicted for the newcomer. Beyond CometBFT, which counts them against `max_num_inbound_peers`.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 32

/** Connections in their handshakes allowed at once from one remote IP; more are refused at accept. Beyond CometBFT. */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP = 4

/** Handshakes one remote IP may start in a burst (the per-IP token bucket's size). Beyond CometBFT. */
export const DEFAULT_HANDSHAKE_BURST_PER_IP = 10

/** Handshakes per second one remote IP may start once its burst is spent (the per-IP refill rate). Beyond CometBFT. */
export const DEFAULT_HANDSHAKE_RATE_PER_IP = 2

/** Key agreements (X25519 + signature) the node runs in a burst, all IPs together. Beyond CometBFT. */
export const DEFAULT_HANDSHAKE_BURST = 100

/** Key agreements per second, all IPs together, once the burst is spent (about 1% of a core). Beyond CometBFT. */
export const DEFAULT_HANDSHAKE_RATE = 50

/** Remote IPs whose handshake buckets are remembered at once; full buckets are forgotten first. */
export const DEFAULT_HANDSHAKE_RATE_TRACKED_IPS = 10_000
