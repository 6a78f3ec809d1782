/**
 * The crawl report: plain JSON, the crawler's one output. Every reader of a crawl (the `rx-p2p crawl` JSON
 * file, a later HTML page or address book) starts from a {@link CrawlReport} alone, never from the crawler.
 *
 * @module
 */
import type { NodeId } from '../crypto/node-id.js'

/** The version of the {@link CrawlReport} format, in its `format` field. */
export const CRAWL_REPORT_FORMAT = 1

/** What the crawl knows of a node's outcome. */
export type CrawlNodeStatus = 'reached' | 'failed' | 'never-tried'

/** Why a node heard of was never dialed. */
export type CrawlSkipReason =
  /** Its addresses are unroutable (private, loopback…) and `allowPrivate` is off. */
  | 'unroutable'
  /** Its addresses are not dialable (unspecified or broadcast IP, no IP). */
  | 'invalid'
  /** The `maxNodes` limit was reached first. */
  | 'max-nodes'
  /** The crawl stopped first (time limit, {@link Crawler.stop}). */
  | 'stopped'

/** A typed error as plain JSON: class name, code, message, and the rule or reason when it has one. */
export interface CrawlError {
  /** The error class (`TimeoutError`, `IncompatiblePeerError`…). */
  readonly name: string
  /** The stable code (`ERR_TIMEOUT`…), when it is an rx-p2p error. */
  readonly code?: string
  /** The rule or reason field of the error (`network`, `channels`, `max-inbound`…), when it has one. */
  readonly rule?: string
  /** The message. */
  readonly message: string
}

/** NodeInfo protocol versions, as a {@link CrawlNode} shows them. */
export interface CrawlProtocolVersion {
  /** P2P protocol version. */
  readonly p2p: number
  /** Block protocol version. */
  readonly block: number
  /** Application version. */
  readonly app: number
}

/** How a reached node took our PexRequest: answered with how many addresses, or why not. */
export interface CrawlPexOutcome {
  /** It answered. */
  readonly answered: boolean
  /** Addresses in its answer, when it answered. */
  readonly addresses?: number
  /** Why it gave none, when it did not answer. */
  readonly error?: CrawlError
}

/** One node of a {@link CrawlReport}. Fields from the node's NodeInfo are present once we read it. */
export interface CrawlNode {
  /** The node ID. */
  readonly id: NodeId
  /** `id@host:port`: where we reached it, else the last address tried, else the first heard of. */
  readonly address: string
  /** Every address heard of (or given) for this ID, in the order learned. */
  readonly addresses: readonly string[]
  /** Reached (handshake done), failed (every dial failed; see `error`), or never tried (see `skipped`). */
  readonly status: CrawlNodeStatus
  /** One of the seeds we were given. */
  readonly seed: boolean
  /** IDs of the nodes that told us about it (empty for a seed nobody mentioned). */
  readonly heardFrom: readonly NodeId[]
  /** Dials made. */
  readonly dials: number
  /** The last dial's error, for a failed node. */
  readonly error?: CrawlError
  /** Why it was never dialed, for a never-tried node. */
  readonly skipped?: CrawlSkipReason
  /** Milliseconds from the dial to the end of the handshake, for a reached node. */
  readonly connectMs?: number
  /** NodeInfo: moniker. */
  readonly moniker?: string
  /** NodeInfo: network (chain ID). */
  readonly network?: string
  /** NodeInfo: software version. */
  readonly version?: string
  /** NodeInfo: channels as hex, as CometBFT's `/net_info` shows them (`40202122233038606100`). */
  readonly channels?: string
  /** NodeInfo: the address it says it listens on. */
  readonly listenAddr?: string
  /** NodeInfo: protocol versions. */
  readonly protocolVersion?: CrawlProtocolVersion
  /** NodeInfo: `other.tx_index`. */
  readonly txIndex?: string
  /** NodeInfo: `other.rpc_address`. */
  readonly rpcAddress?: string
  /** For a reached node: whether it answered our PexRequest, with how many addresses, or why not. */
  readonly pex?: CrawlPexOutcome
}

/** "`from` told us about `to` at `address`" (each distinct triple once). */
export interface CrawlEdge {
  /** The ID of the node that sent the address. */
  readonly from: NodeId
  /** The ID in the address. */
  readonly to: NodeId
  /** The address as sent, `id@host:port`. */
  readonly address: string
}

/** Why the crawl ended. */
export type CrawlStopReason =
  /** Every node heard of was tried (or is not dialable). */
  | 'complete'
  /** `maxNodes` nodes were contacted. */
  | 'max-nodes'
  /** `timeoutMs` elapsed. */
  | 'timeout'
  /** {@link Crawler.stop} or the abort signal. */
  | 'stopped'
  /** No seed could be reached to learn the network from. */
  | 'no-network'

/** Who crawled, as the report names it. */
export interface CrawlerIdentity {
  /** Our node ID. */
  readonly id: NodeId
  /** Our moniker. */
  readonly moniker: string
  /** Our software version. */
  readonly version: string
}

/** The counts of a finished crawl, in {@link CrawlReport.summary}. */
export interface CrawlSummary {
  /** Nodes in the report. */
  readonly heard: number
  /** Nodes whose handshake succeeded. */
  readonly reached: number
  /** Nodes whose every dial failed. */
  readonly failed: number
  /** Nodes never dialed (see {@link CrawlNode.skipped}). */
  readonly neverTried: number
  /** Reached nodes that answered our PexRequest. */
  readonly answered: number
  /** Distinct "who told us about whom" edges. */
  readonly edges: number
}

/** The result of a crawl: plain JSON (`JSON.stringify` it as it is). */
export interface CrawlReport {
  /** The report format's version ({@link CRAWL_REPORT_FORMAT}). */
  readonly format: typeof CRAWL_REPORT_FORMAT
  /** The network crawled (undefined when it could not be learned). */
  readonly network: string | undefined
  /** The seeds we were given. */
  readonly seeds: readonly string[]
  /** Who crawled. */
  readonly crawler: CrawlerIdentity
  /** ISO time of the start (on the crawl's scheduler). */
  readonly startedAt: string
  /** ISO time of the end. */
  readonly finishedAt: string
  /** Milliseconds the crawl took. */
  readonly durationMs: number
  /** Why it ended. */
  readonly stopReason: CrawlStopReason
  /** Counts. */
  readonly summary: CrawlSummary
  /** Every node reached or heard of, in the order we learned of them (seeds first). */
  readonly nodes: readonly CrawlNode[]
  /** Who told us about whom. */
  readonly edges: readonly CrawlEdge[]
}

/** An error as {@link CrawlError} JSON. */
export function describeCrawlError (error: Error): CrawlError {
  const e = error as Error & { code?: unknown, rule?: unknown, reason?: unknown }
  const out: { name: string, code?: string, rule?: string, message: string } = { name: e.name, message: e.message }
  if (typeof e.code === 'string') out.code = e.code
  const rule = typeof e.rule === 'string' ? e.rule : typeof e.reason === 'string' ? e.reason : undefined
  if (rule !== undefined) out.rule = rule
  return out
}
