/**
 * The live raw connections by remote IP (CometBFT's `ConnSet` in `p2p/conn_set.go`) and the duplicate-IP
 * connection filter that reads it (CometBFT `ConnDuplicateIPFilter`).
 *
 * @module
 */
import { PeerRejectedError } from '../errors.js'
import type { DuplexConnection } from '../transport/duplex.js'

/**
 * The raw connections open now, counted by remote IP, with the inbound ones counted apart. A connection is
 * counted from {@link ConnSet.add} until its `closed$` fires, whether it is still in its handshakes or is a
 * peer's: the duplicate-IP filter and the inbound-connection limit read these counts.
 *
 * @example
 * ```ts
 * const conns = new ConnSet()
 * conns.add(raw, '10.0.0.1', true)
 * conns.has('10.0.0.1') // true, until raw closes
 * conns.inbound         // 1
 * ```
 */
export class ConnSet {
  readonly #byIp = new Map<string, number>()
  #inbound = 0

  /** Open connections per remote IP (IPs with none are absent). */
  get byIp (): ReadonlyMap<string, number> {
    return this.#byIp
  }

  /** Inbound connections open now. */
  get inbound (): number {
    return this.#inbound
  }

  /** True when a connection from or to `ip` is open. */
  has (ip: string): boolean {
    return (this.#byIp.get(ip) ?? 0) > 0
  }

  /** Counts `raw` under `ip` (and among the inbound connections when `inbound`) until it closes. */
  add (raw: DuplexConnection, ip: string, inbound: boolean): void {
    this.#byIp.set(ip, (this.#byIp.get(ip) ?? 0) + 1)
    if (inbound) this.#inbound++
    // One subscription per connection for both counts.
    raw.closed$.subscribe(() => {
      if (inbound) this.#inbound--
      const n = (this.#byIp.get(ip) ?? 1) - 1
      if (n <= 0) this.#byIp.delete(ip)
      else this.#byIp.set(ip, n)
    })
  }
}

/**
 * The duplicate-IP connection filter (CometBFT `ConnDuplicateIPFilter`, on by default through
 * `allow_duplicate_ip = false`): refuses a connection whose remote IP already has a connection, whether
 * that one is still in its handshake or is a peer. `connectionsByIp` counts the live connections per IP
 * ({@link ConnSet.byIp}).
 *
 * @example
 * ```ts
 * checkDuplicateIp(new Map([['10.0.0.1', 1]]), '10.0.0.1', false)?.reason // 'duplicate-ip'
 * ```
 */
export function checkDuplicateIp (connectionsByIp: ReadonlyMap<string, number>, ip: string, allowDuplicateIp: boolean): PeerRejectedError | undefined {
  if (allowDuplicateIp) return undefined
  if ((connectionsByIp.get(ip) ?? 0) > 0) return new PeerRejectedError('duplicate-ip', `ip ${ip} already connected`)
  return undefined
}
