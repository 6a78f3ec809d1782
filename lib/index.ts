/**
 * rx-p2p: peer-to-peer networking on RxJS, wire-compatible with CometBFT's p2p protocol.
 *
 * - **Transport**: connections are duplex Observables ({@link DuplexConnection}) over TCP or in memory.
 * - **MConnection**: many prioritized channels over one connection.
 * - **SecretConnection**: the authenticated, encrypted handshake, node keys and IDs, NodeInfo.
 * - **MultiplexTransport**: listens, dials, filters connections and upgrades them (CometBFT's transport).
 * - **Switch / Peer / Reactor**: dialing, listening, limits, and reactors as RxJS pipelines.
 * - **PEX / AddrBook**: peer exchange and CometBFT's address book.
 * - **Crawler**: maps a network through PEX into a plain-JSON report (`rx-p2p crawl`).
 * - **Reactors**: a mempool listener with height mirroring, for joining a CometBFT network.
 *
 * @packageDocumentation
 */
export * from './errors.js'
export * from './transport/index.js'
export * from './wire/index.js'
export * from './conn/index.js'
export {
  MultiplexTransport, type MultiplexTransportInit, type AcceptEvent, type ConnFilter, type PeerConnection,
  upgradeConnection, authenticateConnection, exchangeNodeInfo, validatePeerNodeInfo, checkPeerCompatible,
  type UpgradeInit, type AuthenticateInit, type UpgradedConnection,
  ConnSet, checkDuplicateIp, PendingHandshakes, type PendingHandshakesInit, type PendingAdmission,
  HandshakeRateLimiter, TokenBucket, type HandshakeRateLimiterInit, dialWithTimeout, type DialInit,
  DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP, DEFAULT_HANDSHAKE_BURST_PER_IP,
  DEFAULT_HANDSHAKE_RATE_PER_IP, DEFAULT_HANDSHAKE_BURST, DEFAULT_HANDSHAKE_RATE, DEFAULT_HANDSHAKE_RATE_TRACKED_IPS
} from './multiplex-transport/index.js'
export * from './crypto/index.js'
export * from './pex/index.js'
export * from './switch/index.js'
export * from './reactors/index.js'
export {
  CRAWL_REPORT_FORMAT, Crawler, crawl, DEFAULT_CRAWL_CONCURRENCY, DEFAULT_CRAWL_DIAL_TIMEOUT_MS,
  DEFAULT_CRAWL_MAX_ADDRESSES_PER_NODE, DEFAULT_CRAWL_PEX_TIMEOUT_MS, DEFAULT_CRAWLER_MONIKER, describeCrawlError,
  type CrawlEdge, type CrawlError, type CrawlerIdentity, type CrawlEvent, type CrawlInit, type CrawlNode, type CrawlNodeStatus,
  type CrawlPexOutcome, type CrawlProtocolVersion, type CrawlReport, type CrawlSkipReason, type CrawlStats,
  type CrawlStopReason, type CrawlSummary
} from './crawler/index.js'
