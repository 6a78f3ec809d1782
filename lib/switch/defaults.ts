/**
 * The Switch's defaults in one place. Each value mirrors the CometBFT constant or config default named
 * beside it (v0.38 `p2p/switch.go`, `p2p/transport.go`, `config/config.go`).
 *
 * @module
 */

/** Maximum inbound peers, unconditional peers not counted (CometBFT `max_num_inbound_peers`). */
export const DEFAULT_MAX_INBOUND_PEERS = 40

/** Maximum outbound peers, unconditional peers not counted (CometBFT `max_num_outbound_peers`). */
export const DEFAULT_MAX_OUTBOUND_PEERS = 10

/** Deadline for the user peer filters in ms (CometBFT `defaultFilterTimeout` = 5 s). */
export const DEFAULT_FILTER_TIMEOUT_MS = 5000

/** Persistent-peer redial, phase 1: attempts (CometBFT `reconnectAttempts`). */
export const RECONNECT_ATTEMPTS = 20

/** Persistent-peer redial, phase 1: pause between attempts in ms (CometBFT `reconnectInterval` = 5 s). */
export const RECONNECT_INTERVAL_MS = 5000

/** Persistent-peer redial, phase 2: attempts with exponential backoff (CometBFT `reconnectBackOffAttempts`). */
export const RECONNECT_BACKOFF_ATTEMPTS = 10

/** Persistent-peer redial, phase 2: the pause before attempt i is base^i seconds (CometBFT `reconnectBackOffBaseSeconds`). */
export const RECONNECT_BACKOFF_BASE_SECONDS = 3

/** Random extra pause of 0 to this many ms before each redial (CometBFT `dialRandomizerIntervalMilliseconds`). */
export const DIAL_RANDOMIZER_INTERVAL_MS = 3000

/** How long `stop()` waits for a peer's queued messages to flush before closing it anyway, in ms. */
export const DEFAULT_STOP_FLUSH_TIMEOUT_MS = 1000

/** Pause before a reactor whose pipeline errored is subscribed again, in ms. */
export const DEFAULT_REACTOR_RESTART_DELAY_MS = 1000

/** The network (chain ID) announced when none is given. */
export const DEFAULT_NETWORK = 'rx-p2p'

/** The moniker announced when none is given (CometBFT requires a non-empty moniker). */
export const DEFAULT_MONIKER = 'rx-p2p'

/** The software version announced in NodeInfo.version. */
export const RX_P2P_VERSION = '0.1.0'

/**
 * Bytes of partial messages all peers of a node may hold together, 128 MiB: six messages of the largest default
 * size (21 MiB) at once, far above what honest peers hold (64 KiB block parts, blocks of a few MiB), and low
 * enough that twelve connections filling it move the node's RSS by less than 256 MiB (the buffers, plus the
 * smaller buffers they grew from, garbage until the next GC, and what the allocator has not yet given back). Beyond CometBFT, which bounds each channel only.
 */
export const DEFAULT_NODE_RECV_BUDGET = 128 * 1024 * 1024

/** Bans held at once (IDs and IPs); past it the ban that ends soonest is dropped. */
export const DEFAULT_MAX_BANS = 10_000
