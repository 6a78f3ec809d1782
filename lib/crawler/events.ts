/**
 * What the crawler does, as it happens: the events of {@link Crawler.events$} and {@link crawl}.
 *
 * @module
 */
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { NodeInfo } from '../wire/node-info.js'
import type { CrawlReport } from './report.js'

/** What the crawler does, on {@link Crawler.events$}. */
export type CrawlEvent =
  /** The network in use: given, or learned from `from`'s NodeInfo. */
  | { readonly type: 'network', readonly network: string, readonly from: NetAddress | undefined }
  /** A node ID we did not know, heard of from `from` (undefined for a seed). */
  | { readonly type: 'heard', readonly id: NodeId, readonly address: NetAddress, readonly from: NodeId | undefined }
  /** We read the NodeInfo of seed `address` to learn the network (then drop the connection). */
  | { readonly type: 'probing', readonly address: NetAddress }
  /** We dial `address`. */
  | { readonly type: 'dialing', readonly address: NetAddress }
  /** The handshake with `address` succeeded. */
  | { readonly type: 'reached', readonly address: NetAddress, readonly nodeInfo: NodeInfo }
  /** A dial of `address` failed; `final` when no other address of that node is left to try. */
  | { readonly type: 'failed', readonly address: NetAddress, readonly error: Error, readonly final: boolean }
  /** Node `id` answered with `count` addresses, `fresh` of them of nodes new to us. */
  | { readonly type: 'answered', readonly id: NodeId, readonly count: number, readonly fresh: number }
  /** Node `id` did not answer our PexRequest (timeout, no PEX channel, it hung up, it broke a rule). */
  | { readonly type: 'no-answer', readonly id: NodeId, readonly error: Error }
  /** The crawl is over; the report is final. Always the last event. */
  | { readonly type: 'done', readonly report: CrawlReport }
