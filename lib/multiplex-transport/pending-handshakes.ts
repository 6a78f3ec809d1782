/**
 * Pending handshakes: the inbound connections that are accepted but not yet peers, counted apart from the
 * peers, with a limit of their own, a limit per remote IP, and eviction when full. CometBFT counts them
 * against `max_num_inbound_peers` (its `LimitListener`), so 40 sockets that never send a byte keep every honest
 * peer out; here they can only take pending slots, and a newcomer evicts one of them.
 *
 * @module
 */
import { PeerRejectedError } from '../errors.js'
import { DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP } from './defaults.js'

/** Options of {@link PendingHandshakes}. */
export interface PendingHandshakesInit {
  /** Connections in their handshakes at once. @default 32 */
  maxPending?: number
  /** Connections in their handshakes at once from one remote IP. @default 4 */
  maxPendingPerIp?: number
}

/** The outcome of {@link PendingHandshakes.add}. */
export type PendingAdmission<C> =
  /** Admitted; `evicted` is the connection that made room (close it), when the set was full. */
  | { readonly admitted: true, readonly evicted: C | undefined }
  /** Refused (`pending-per-ip`): the IP already has its share. */
  | { readonly admitted: false, readonly error: PeerRejectedError }

interface Entry {
  readonly ip: string
  progressed: boolean
}

/**
 * The set of connections in their handshakes. `C` is whatever names a connection (the Switch uses the raw
 * `DuplexConnection`). Eviction, when the set is full and a new connection comes:
 * 1. the oldest connection that has not {@link markProgressed | progressed} (not sent its ephemeral key: a
 *    squatter, or an honest peer slower than all of them), from the IP holding the most such connections;
 * 2. if every pending connection has progressed, the oldest of the IP holding the most pending connections.
 *
 * So an honest peer, which sends its key at once, is not evicted by squatters however many IPs they use, and
 * one IP cannot push the others out. Ties go to the oldest. The cost is linear in the set's size (small).
 *
 * @example
 * ```ts
 * const pending = new PendingHandshakes<DuplexConnection>({ maxPending: 32, maxPendingPerIp: 4 })
 * const a = pending.add(raw, ip)
 * if (!a.admitted) return raw.destroy(a.error)
 * a.evicted?.destroy(new PeerRejectedError('pending-evicted', 'made room for a newer handshake'))
 * // ... once the handshake ends, either way:
 * pending.delete(raw)
 * ```
 */
export class PendingHandshakes<C> {
  /** Connections in their handshakes at once. */
  readonly maxPending: number
  /** Connections in their handshakes at once from one remote IP. */
  readonly maxPendingPerIp: number
  // Insertion order is age order: the first entry is the oldest.
  readonly #entries = new Map<C, Entry>()
  readonly #perIp = new Map<string, number>()

  constructor (init: PendingHandshakesInit = {}) {
    this.maxPending = Math.max(1, init.maxPending ?? DEFAULT_MAX_PENDING_HANDSHAKES)
    this.maxPendingPerIp = Math.max(1, init.maxPendingPerIp ?? DEFAULT_MAX_PENDING_HANDSHAKES_PER_IP)
  }

  /** Connections pending now. */
  get size (): number {
    return this.#entries.size
  }

  /** Connections pending now from `ip`. */
  countOf (ip: string): number {
    return this.#perIp.get(ip) ?? 0
  }

  /** True when `conn` is pending. */
  has (conn: C): boolean {
    return this.#entries.has(conn)
  }

  /** The refusal `add` would give `ip` now (`pending-per-ip`), or `undefined`: a check that changes nothing. */
  check (ip: string): PeerRejectedError | undefined {
    const n = this.countOf(ip)
    if (n >= this.maxPendingPerIp) {
      return new PeerRejectedError('pending-per-ip', `ip ${ip} already has ${n} connections in their handshakes (max ${this.maxPendingPerIp})`)
    }
    return undefined
  }

  /**
   * Adds `conn` from `ip`: refused when the IP has its share; otherwise admitted, evicting one connection
   * (removed from the set, returned for the caller to close) when the set was full.
   */
  add (conn: C, ip: string): PendingAdmission<C> {
    const error = this.check(ip)
    if (error !== undefined) return { admitted: false, error }
    let evicted: C | undefined
    if (this.#entries.size >= this.maxPending) {
      evicted = this.#victim()
      if (evicted !== undefined) this.delete(evicted)
    }
    this.#entries.set(conn, { ip, progressed: false })
    this.#perIp.set(ip, this.countOf(ip) + 1)
    return { admitted: true, evicted }
  }

  /** Notes that `conn` sent its ephemeral key: it is now evicted only after every silent one. */
  markProgressed (conn: C): void {
    const entry = this.#entries.get(conn)
    if (entry !== undefined) entry.progressed = true
  }

  /** Removes `conn` (its handshake ended); false when it was not pending. */
  delete (conn: C): boolean {
    const entry = this.#entries.get(conn)
    if (entry === undefined) return false
    this.#entries.delete(conn)
    const n = this.countOf(entry.ip) - 1
    if (n <= 0) this.#perIp.delete(entry.ip)
    else this.#perIp.set(entry.ip, n)
    return true
  }

  /** Every pending connection, oldest first. */
  list (): C[] {
    return [...this.#entries.keys()]
  }

  /** Removes every connection and returns them, oldest first. */
  clear (): C[] {
    const all = this.list()
    this.#entries.clear()
    this.#perIp.clear()
    return all
  }

  #victim (): C | undefined {
    return this.#oldestOfBusiestIp(false) ?? this.#oldestOfBusiestIp(true)
  }

  /** The oldest connection of the IP holding the most connections of this kind (silent, or all). */
  #oldestOfBusiestIp (includeProgressed: boolean): C | undefined {
    const counts = new Map<string, number>()
    const oldest = new Map<string, C>()
    for (const [conn, entry] of this.#entries) {
      if (entry.progressed && !includeProgressed) continue
      counts.set(entry.ip, (counts.get(entry.ip) ?? 0) + 1)
      if (!oldest.has(entry.ip)) oldest.set(entry.ip, conn)
    }
    // Map order is age order of each IP's oldest connection, so the first IP reaching the top count wins ties.
    let best: string | undefined
    let bestCount = 0
    for (const [ip, n] of counts) {
      if (n > bestCount) {
        best = ip
        bestCount = n
      }
    }
    return best === undefined ? undefined : oldest.get(best)
  }
}
