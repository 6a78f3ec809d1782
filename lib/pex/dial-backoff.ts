/**
 * The PEX reactor's per-address dial backoff (CometBFT `Reactor.dialPeer` and its `attemptsToDial` map).
 *
 * @module
 */
import type { NetAddress } from '../transport/net-address.js'
import { DEFAULT_MAX_ATTEMPTS_TO_DIAL } from './pex-defaults.js'

/** Options of {@link DialBackoff}. */
export interface DialBackoffInit {
  /** Numbers in [0, 1) for the jitter. @default Math.random */
  random?: () => number
  /** A non-persistent address with more failed attempts than this is not dialed again (and gets banned). @default 16 */
  maxAttempts?: number
  /** Caps the wait of persistent addresses (CometBFT `persistent_peers_max_dial_period`); 0 = no cap. @default 0 */
  persistentMaxDialPeriodMs?: number
}

/** What {@link DialBackoff.check} decided. */
export type DialDecision =
  /** Dial now. */
  | { readonly type: 'dial', readonly attempts: number }
  /** The last failure was less than `backoffMs` ago (CometBFT `errTooEarlyToDial`). */
  | { readonly type: 'too-early', readonly attempts: number, readonly backoffMs: number, readonly lastDialedMs: number }
  /** Too many failures: give up on the address (CometBFT `errMaxAttemptsToDial`; the reactor bans it). */
  | { readonly type: 'max-attempts', readonly attempts: number }

/**
 * The wait before dialing an address again after `attempts` failed dials, as CometBFT computes it: none for a
 * first dial, else `2^attempts` seconds plus a random jitter under one second.
 *
 * ```
 * attempts:  0    1       2       3       4        …  16
 * wait (s):  0    2+j     4+j     8+j     16+j     …  65536+j     (j in [0, 1))
 * ```
 *
 * @example
 * ```ts
 * dialBackoffMs(3, () => 0.5) // 8500
 * ```
 */
export function dialBackoffMs (attempts: number, random: () => number = Math.random): number {
  if (attempts <= 0) return 0
  return Math.floor(random() * 1000) + 2 ** attempts * 1000
}

interface Attempts { number: number, lastDialedMs: number }

/**
 * Failed dials per address (`host:port`, CometBFT's dial string), and whether an address may be dialed now:
 * after `n` failures the next dial waits {@link dialBackoffMs}`(n)` from the last one; after more than
 * `maxAttempts` failures a non-persistent address is given up. A successful dial clears the record.
 *
 * @example
 * ```ts
 * const backoff = new DialBackoff({ random })
 * const d = backoff.check(addr, scheduler.now(), false)
 * if (d.type === 'dial') dial(addr)
 * // later, on the outcome:
 * backoff.failed(addr, scheduler.now())   // or backoff.succeeded(addr)
 * ```
 */
export class DialBackoff {
  readonly #random: () => number
  readonly #maxAttempts: number
  readonly #persistentMax: number
  readonly #attempts = new Map<string, Attempts>()

  constructor (init: DialBackoffInit = {}) {
    this.#random = init.random ?? Math.random
    this.#maxAttempts = init.maxAttempts ?? DEFAULT_MAX_ATTEMPTS_TO_DIAL
    this.#persistentMax = init.persistentMaxDialPeriodMs ?? 0
  }

  /** Failed dials of `address` since its last success (CometBFT `AttemptsToDial`). */
  attempts (address: NetAddress): number {
    return this.#attempts.get(address.hostPort)?.number ?? 0
  }

  /** When `address` was last dialed without success, in scheduler ms; `undefined` when it has no failure on record. */
  lastDialed (address: NetAddress): number | undefined {
    return this.#attempts.get(address.hostPort)?.lastDialedMs
  }

  /** Addresses with failures on record. */
  get size (): number {
    return this.#attempts.size
  }

  /**
   * May `address` be dialed at `nowMs`? The jitter is drawn anew on every check, as CometBFT does.
   *
   * @param persistent a persistent address is never given up, and its wait is capped by `persistentMaxDialPeriodMs`
   */
  check (address: NetAddress, nowMs: number, persistent: boolean): DialDecision {
    const record = this.#attempts.get(address.hostPort)
    const attempts = record?.number ?? 0
    if (!persistent && attempts > this.#maxAttempts) return { type: 'max-attempts', attempts }
    if (record === undefined || attempts === 0) return { type: 'dial', attempts }
    let backoffMs = dialBackoffMs(attempts, this.#random)
    if (persistent && this.#persistentMax > 0 && backoffMs > this.#persistentMax) backoffMs = this.#persistentMax
    if (nowMs - record.lastDialedMs < backoffMs) return { type: 'too-early', attempts, backoffMs, lastDialedMs: record.lastDialedMs }
    return { type: 'dial', attempts }
  }

  /** Records a failed dial at `nowMs`; returns the number of failures now on record. */
  failed (address: NetAddress, nowMs: number): number {
    const key = address.hostPort
    const number = (this.#attempts.get(key)?.number ?? 0) + 1
    this.#attempts.set(key, { number, lastDialedMs: nowMs })
    return number
  }

  /** A dial succeeded: its history is cleared. */
  succeeded (address: NetAddress): void {
    this.#attempts.delete(address.hostPort)
  }

  /** Forgets every record. */
  clear (): void {
    this.#attempts.clear()
  }
}
