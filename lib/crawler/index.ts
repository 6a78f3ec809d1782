/**
 * The crawler: a tool on the Switch and PEX that maps a CometBFT network (`rx-p2p crawl`). It walks the network
 * from its seeds, reads each node's NodeInfo with the upgrade's own steps, and gives back a plain-JSON report.
 * The defaults are in `rx-p2p/defaults`.
 *
 * @module
 */
export { Crawler, type CrawlInit, type CrawlStats } from './crawler.js'
export { crawl } from './crawl.js'
export type { CrawlEvent } from './events.js'
export {
  CRAWL_REPORT_FORMAT, describeCrawlError, type CrawlEdge, type CrawlError, type CrawlerIdentity, type CrawlNode,
  type CrawlNodeStatus, type CrawlPexOutcome, type CrawlProtocolVersion, type CrawlReport, type CrawlSkipReason,
  type CrawlStopReason, type CrawlSummary
} from './report.js'
export { formatCrawlReport, writeCrawlReport } from './report-file.js'
