/**
 * Every default of the ready-made reactors in one place, with the CometBFT setting each one mirrors.
 * `docs/CONFIGURATION.md` lists them.
 *
 * @module
 */

/** CometBFT's default `mempool.max_tx_bytes`: 1 MiB. */
export const DEFAULT_MAX_TX_BYTES = 1_048_576

/** How many transaction hashes `mempoolReactor` remembers to drop duplicates (CometBFT's `cache_size`). */
export const DEFAULT_SEEN_TX_CACHE_SIZE = 10_000

/** The mempool channel's send queue in `mempoolReactor` (CometBFT leaves it at 1; broadcasts wait for room). */
export const DEFAULT_MEMPOOL_SEND_QUEUE_CAPACITY = 100
