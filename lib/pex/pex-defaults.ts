/**
 * The PEX reactor's constants: CometBFT's `p2p/pex/pex_reactor.go` (identical in v0.38 and v1.0), plus the
 * rx-p2p choices that CometBFT leaves to other parts of a node. The address book's are in `params.ts`
 * (CometBFT's `p2p/pex/params.go`).
 *
 * @module
 */

/** How often `ensurePeers` runs (CometBFT `defaultEnsurePeersPeriod`): 30 s. */
export const DEFAULT_ENSURE_PEERS_PERIOD_MS = 30_000

/** How often a seed crawls (CometBFT `crawlPeerPeriod`): 30 s. */
export const DEFAULT_CRAWL_PEER_PERIOD_MS = 30_000

/** A seed does not crawl the same address again within this time (CometBFT `minTimeBetweenCrawls`): 2 min. */
export const DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS = 2 * 60_000

/**
 * rx-p2p: a seed crawls a peer that answered again only after this long: 30 min. CometBFT keeps a crawled peer
 * connected (up to 28 h) and never asks it again meanwhile; rx-p2p disconnects it at once.
 */
export const DEFAULT_RECRAWL_ANSWERED_AFTER_MS = 30 * 60_000

/** Crawl records older than this are dropped (CometBFT `cleanupCrawlPeerInfos`): 24 h. */
export const CRAWL_RECORD_TTL_MS = 24 * 60 * 60_000

/**
 * A seed disconnects any non-persistent peer connected this long (CometBFT `SeedDisconnectWaitPeriod`, which
 * CometBFT's node sets to 28 h).
 */
export const DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS = 28 * 60 * 60_000

/** A non-persistent address that failed this many dials in a row is banned (CometBFT `maxAttemptsToDial`). */
export const DEFAULT_MAX_ATTEMPTS_TO_DIAL = 16

/** What a seed hands out: this percentage of new (untried) addresses (CometBFT `biasToSelectNewPeers`). */
export const BIAS_TO_SELECT_NEW_PEERS = 30

/**
 * rx-p2p: an outbound peer that stays connected this long is marked good (moved to an old bucket). CometBFT
 * leaves `MarkGood` to its consensus reactor; a PEX-only node needs its own evidence, and a peer that accepted
 * our dial and kept the connection up for a minute is reachable and cooperative.
 */
export const DEFAULT_MARK_GOOD_AFTER_MS = 60_000

/**
 * rx-p2p: at most this many crawl dials of a seed run at once. CometBFT dials one address at a time
 * (`DialPeerWithAddress` blocks); a small bound keeps a seed's crawl gentle without making it that slow.
 */
export const DEFAULT_MAX_CONCURRENT_CRAWL_DIALS = 10

/**
 * rx-p2p (`askWhenAtTarget`): at its outbound target a node whose answers brought no news (new addresses, at
 * least 1 % of its book) for {@link AT_TARGET_NEWS_PERIODS} periods asks a random peer for addresses only every
 * this many `ensurePeers` periods (every period while answers bring news).
 */
export const AT_TARGET_QUIET_ASK_PERIODS = 4

/** rx-p2p (`askWhenAtTarget`): the quiet wait doubles after each quiet request, up to this many periods (10 min). */
export const AT_TARGET_QUIET_ASK_MAX_PERIODS = 20

/** rx-p2p (`askWhenAtTarget`): periods without news before a node at its target asks less often. */
export const AT_TARGET_NEWS_PERIODS = 3

/** The PEX channel's send queue (CometBFT `SendQueueCapacity: 10`). */
export const PEX_SEND_QUEUE_CAPACITY = 10

/** The PEX channel's priority (CometBFT `Priority: 1`). */
export const PEX_CHANNEL_PRIORITY = 1
