/**
 * The set of connected peers, by ID.
 *
 * @module
 */
import type { NodeId } from '../crypto/node-id.js'
import type { Peer } from './peer.js'

/** Peer counts by direction and dials in progress (CometBFT `Switch.NumPeers`). */
export interface PeerCounts {
  /** Outbound peers, unconditional peers not counted. */
  outbound: number
  /** Inbound peers, unconditional peers not counted. */
  inbound: number
  /** Dials in progress. */
  dialing: number
}

/** A read-only view of the connected peers (CometBFT `IPeerSet`). */
export interface ReadonlyPeerSet extends Iterable<Peer> {
  /** Number of peers. */
  readonly size: number
  /** True when a peer with this ID is connected. */
  has (id: NodeId): boolean
  /** True when a connected peer's remote IP is `ip` (CometBFT `HasIP`). */
  hasIp (ip: string): boolean
  /** The peer with this ID. */
  get (id: NodeId): Peer | undefined
  /** The peers, in the order they were added; a snapshot that does not change afterwards. */
  list (): readonly Peer[]
}

/**
 * The peer set: a map by ID that also answers "is there a peer at this IP", with a cached list snapshot so
 * that iterating during a broadcast costs no allocation.
 *
 * @example
 * ```ts
 * const set = new PeerSet()
 * set.add(peer)
 * set.has(peer.id) // true
 * set.remove(peer) // true
 * ```
 */
export class PeerSet implements ReadonlyPeerSet {
  readonly #byId = new Map<NodeId, Peer>()
  #list: readonly Peer[] | undefined = []

  get size (): number {
    return this.#byId.size
  }

  has (id: NodeId): boolean {
    return this.#byId.has(id)
  }

  hasIp (ip: string): boolean {
    for (const peer of this.#byId.values()) {
      if (peer.remoteAddress.host === ip) return true
    }
    return false
  }

  get (id: NodeId): Peer | undefined {
    return this.#byId.get(id)
  }

  /** True when this very peer object (not only its ID) is in the set. */
  contains (peer: Peer): boolean {
    return this.#byId.get(peer.id) === peer
  }

  list (): readonly Peer[] {
    if (this.#list === undefined) this.#list = Object.freeze([...this.#byId.values()])
    return this.#list
  }

  [Symbol.iterator] (): Iterator<Peer> {
    return this.list()[Symbol.iterator]()
  }

  /** Adds `peer`; false (and nothing changes) when its ID is already present. */
  add (peer: Peer): boolean {
    if (this.#byId.has(peer.id)) return false
    this.#byId.set(peer.id, peer)
    this.#list = undefined
    return true
  }

  /** Removes this very peer object; false when it is not in the set (another peer with its ID stays). */
  remove (peer: Peer): boolean {
    if (this.#byId.get(peer.id) !== peer) return false
    this.#byId.delete(peer.id)
    this.#list = undefined
    return true
  }

  /**
   * Counts inbound and outbound peers, leaving out those `isUnconditional` names, as CometBFT's `NumPeers`.
   */
  count (isUnconditional: (id: NodeId) => boolean = () => false, dialing = 0): PeerCounts {
    let outbound = 0
    let inbound = 0
    for (const peer of this.#byId.values()) {
      if (isUnconditional(peer.id)) continue
      if (peer.isOutbound) outbound++
      else inbound++
    }
    return { outbound, inbound, dialing }
  }
}
