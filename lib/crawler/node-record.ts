/**
 * What the crawler keeps of one node while it runs (internal; the report shows it as a {@link CrawlNode}).
 *
 * @module
 */
import type { Subscription } from 'rxjs'
import type { Peer } from '../switch/peer.js'
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import type { NodeInfo } from '../wire/node-info.js'
import type { CrawlSkipReason } from './report.js'

/**
 * Where a node stands in the crawl: `new` (heard of, not queued), `queued`, `dialing`, `connected` (a peer
 * now), `reached` (was a peer), `failed` (every dial failed).
 * @internal
 */
export type NodeRecordState = 'new' | 'queued' | 'dialing' | 'connected' | 'reached' | 'failed'

/** The crawler's record of one node ID. @internal */
export interface NodeRecord {
  readonly id: NodeId
  /** Every address heard of, in the order learned. */
  readonly addresses: NetAddress[]
  /** `addresses` as strings, to keep them distinct. */
  readonly addressKeys: Set<string>
  /** Addresses dialed (as strings). */
  readonly tried: Set<string>
  readonly heardFrom: Set<NodeId>
  seed: boolean
  state: NodeRecordState
  dials: number
  /** Reached at, or last tried. */
  address: NetAddress | undefined
  nodeInfo: NodeInfo | undefined
  error: Error | undefined
  skipped: CrawlSkipReason | undefined
  connectMs: number | undefined
  dialStartedAt: number
  peer: Peer | undefined
  pexTimer: Subscription | undefined
  pex: { answered: boolean, addresses?: number, error?: Error } | undefined
}

/** A record of a node just heard of, with no address yet. @internal */
export function newNodeRecord (id: NodeId): NodeRecord {
  return {
    id,
    addresses: [],
    addressKeys: new Set(),
    tried: new Set(),
    heardFrom: new Set(),
    seed: false,
    state: 'new',
    dials: 0,
    address: undefined,
    nodeInfo: undefined,
    error: undefined,
    skipped: undefined,
    connectMs: undefined,
    dialStartedAt: 0,
    peer: undefined,
    pexTimer: undefined,
    pex: undefined
  }
}
