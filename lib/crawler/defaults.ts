/**
 * The crawler's defaults, in one place (see {@link CrawlInit}).
 *
 * @module
 */

/** Default of {@link rx-p2p!CrawlInit.concurrency}: nodes contacted at once. */
export const DEFAULT_CRAWL_CONCURRENCY = 16

/** Default of {@link rx-p2p!CrawlInit.pexTimeoutMs}: how long a reached node has to answer our PexRequest. */
export const DEFAULT_CRAWL_PEX_TIMEOUT_MS = 10_000

/** Default of {@link rx-p2p!CrawlInit.dialTimeoutMs} (longer than a node's 1 s: a crawler meets far-away nodes). */
export const DEFAULT_CRAWL_DIAL_TIMEOUT_MS = 3000

/** Default of {@link rx-p2p!CrawlInit.maxAddressesPerNode}: addresses tried for one node ID before giving up on it. */
export const DEFAULT_CRAWL_MAX_ADDRESSES_PER_NODE = 3

/** Default of {@link rx-p2p!CrawlInit.moniker}. */
export const DEFAULT_CRAWLER_MONIKER = 'rx-p2p-crawler'

/** The network our NodeInfo names while we only read a seed's NodeInfo to learn its network. */
export const PROBE_NETWORK = 'rx-p2p-crawler-probe'
