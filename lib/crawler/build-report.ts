/**
 * The report writer: the crawler's records turned into the plain-JSON {@link CrawlReport} (internal; the
 * Crawler calls it once, at the end).
 *
 * @module
 */
import type { NetAddress } from '../transport/net-address.js'
import type { NodeRecord } from './node-record.js'
import {
  CRAWL_REPORT_FORMAT, describeCrawlError, type CrawlEdge, type CrawlerIdentity, type CrawlNode, type CrawlNodeStatus,
  type CrawlReport, type CrawlStopReason
} from './report.js'

/** What {@link buildCrawlReport} reports on. @internal */
export interface CrawlReportInput {
  /** The network crawled. */
  readonly network: string | undefined
  /** The seeds, parsed. */
  readonly seeds: readonly NetAddress[]
  /** Who crawled. */
  readonly crawler: CrawlerIdentity
  /** Start time, milliseconds on the crawl's scheduler. */
  readonly startedAt: number
  /** End time, same clock. */
  readonly finishedAt: number
  /** Why the crawl ended (undefined reads as `stopped`). */
  readonly stopReason: CrawlStopReason | undefined
  /** Every node record, in the order heard of. */
  readonly records: Iterable<NodeRecord>
  /** Who told us about whom. */
  readonly edges: readonly CrawlEdge[]
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** The status a record shows in the report. @internal */
export function reportedStatus (r: NodeRecord): CrawlNodeStatus {
  return r.state === 'reached' ? 'reached' : r.state === 'failed' ? 'failed' : 'never-tried'
}

/** One record as a report entry (fields in a fixed order: the JSON file keeps it). @internal */
export function crawlNodeOf (r: NodeRecord): CrawlNode {
  const status = reportedStatus(r)
  const info = r.nodeInfo
  const node: Mutable<CrawlNode> = {
    id: r.id,
    address: (r.address ?? r.addresses[0]!).toString(),
    addresses: r.addresses.map((a) => a.toString()),
    status,
    seed: r.seed,
    heardFrom: [...r.heardFrom],
    dials: r.dials
  }
  if (status === 'failed' && r.error !== undefined) node.error = describeCrawlError(r.error)
  if (status === 'never-tried') node.skipped = r.skipped ?? 'stopped'
  if (status === 'reached' && r.connectMs !== undefined) node.connectMs = r.connectMs
  if (info !== undefined) {
    node.moniker = info.moniker
    node.network = info.network
    node.version = info.version
    node.channels = Buffer.from(info.channels).toString('hex')
    node.listenAddr = info.listenAddr
    node.protocolVersion = { ...info.protocolVersion }
    node.txIndex = info.other.txIndex
    node.rpcAddress = info.other.rpcAddress
  }
  if (status === 'reached' && r.pex !== undefined) {
    node.pex = r.pex.answered
      ? { answered: true, addresses: r.pex.addresses }
      : { answered: false, ...(r.pex.error !== undefined ? { error: describeCrawlError(r.pex.error) } : {}) }
  }
  return node
}

/** The report of a crawl, from its records. @internal */
export function buildCrawlReport (input: CrawlReportInput): CrawlReport {
  const nodes: CrawlNode[] = []
  let reached = 0
  let failed = 0
  let neverTried = 0
  let answered = 0
  for (const r of input.records) {
    const node = crawlNodeOf(r)
    if (node.status === 'reached') reached++
    else if (node.status === 'failed') failed++
    else neverTried++
    if (r.pex?.answered === true) answered++
    nodes.push(node)
  }
  return {
    format: CRAWL_REPORT_FORMAT,
    network: input.network,
    seeds: input.seeds.map((s) => s.toString()),
    crawler: input.crawler,
    startedAt: new Date(input.startedAt).toISOString(),
    finishedAt: new Date(input.finishedAt).toISOString(),
    durationMs: input.finishedAt - input.startedAt,
    stopReason: input.stopReason ?? 'stopped',
    summary: { heard: nodes.length, reached, failed, neverTried, answered, edges: input.edges.length },
    nodes,
    edges: [...input.edges]
  }
}
