/**
 * The handshake CPU limit: token buckets, one per remote IP and one for the whole node, on a scheduler's clock.
 * A SecretConnection handshake costs the responder an X25519 key pair, an X25519 key agreement and an ed25519
 * signature (about 0.2 ms of CPU, 0.5 ms with the socket work around it) before it knows who is calling; these
 * buckets bound how many a stranger can make us run. CometBFT has no such limit.
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import {
  DEFAULT_HANDSHAKE_BURST,
  DEFAULT_HANDSHAKE_BURST_PER_IP,
  DEFAULT_HANDSHAKE_RATE,
  DEFAULT_HANDSHAKE_RATE_PER_IP,
  DEFAULT_HANDSHAKE_RATE_TRACKED_IPS
} from './defaults.js'

/**
 * A token bucket: holds up to `burst` tokens, refills at `ratePerSec`, starts full. Time is read from a
 * scheduler's `now()` when a token is asked for, so it costs nothing while idle and runs in virtual time.
 *
 * ```
 * burst 2, 1 token/s:   take at 0 ms: ok, ok, refused   take at 1000 ms: ok, refused
 * ```
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(10, 2, 0)
 * if (!bucket.take(scheduler.now())) refuse()
 * ```
 */
export class TokenBucket {
  #tokens: number
  #at: number

  /**
   * @param burst - the most tokens held (and the tokens at the start)
   * @param ratePerSec - tokens added per second
   * @param now - the clock's time at creation, in ms
   */
  constructor (readonly burst: number, readonly ratePerSec: number, now: number) {
    this.#tokens = burst
    this.#at = now
  }

  /** The tokens held at `now` (fractional). */
  tokens (now: number): number {
    this.#refill(now)
    return this.#tokens
  }

  /** True when the bucket is full at `now`: forgetting it changes nothing. */
  isFull (now: number): boolean {
    return this.tokens(now) >= this.burst
  }

  /** True when a token is available at `now` (does not take it). */
  canTake (now: number): boolean {
    return this.tokens(now) >= 1
  }

  /** Takes one token at `now`; false (and nothing taken) when there is none. */
  take (now: number): boolean {
    if (!this.canTake(now)) return false
    this.#tokens -= 1
    return true
  }

  #refill (now: number): void {
    const elapsed = now - this.#at
    if (elapsed > 0) this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.ratePerSec / 1000)
    this.#at = Math.max(this.#at, now)
  }
}

/** Options of `HandshakeRateLimiter`. */
export interface HandshakeRateLimiterInit {
  /** Handshakes one IP may start in a burst. @default 10 */
  burstPerIp?: number
  /** Handshakes per second one IP may start after its burst. @default 2 */
  ratePerIp?: number
  /** Key agreements the node runs in a burst, all IPs together. @default 100 */
  burst?: number
  /** Key agreements per second, all IPs together, after the burst. @default 50 */
  rate?: number
  /**
   * IPs whose buckets are remembered at once. Past it, full buckets (which say nothing) are forgotten, then the
   * oldest; a forgotten IP starts again with a full burst, still under the node-wide bucket. @default 10000
   */
  maxTrackedIps?: number
  /** The clock. @default asyncScheduler */
  scheduler?: SchedulerLike
}

/**
 * The handshake CPU limit of a Switch, in two steps:
 * - {@link admit} at accept, before any handshake work (before our ephemeral key is even made): one token from
 *   the remote IP's bucket. A connection that does not get one is closed at once.
 * - {@link beginKeyAgreement} when the remote's ephemeral key has arrived, before the X25519 agreement and our
 *   signature: one token from the node-wide bucket. Charging the node-wide bucket only here means that
 *   sockets that never send a byte (squatters, whatever their number of IPs) cannot drain it and lock honest
 *   peers out; only handshakes that make us compute do.
 *
 * @example
 * ```ts
 * const limiter = new HandshakeRateLimiter({ scheduler })
 * if (!limiter.admit(ip)) return socket.destroy()
 * // ... once the remote's ephemeral key is read:
 * if (!limiter.beginKeyAgreement()) throw new PeerRejectedError('handshake-rate', 'too many handshakes')
 * ```
 */
export class HandshakeRateLimiter {
  /** Handshakes one IP may start in a burst. */
  readonly burstPerIp: number
  /** Handshakes per second one IP may start after its burst. */
  readonly ratePerIp: number
  readonly #total: TokenBucket
  readonly #byIp = new Map<string, TokenBucket>()
  readonly #maxTrackedIps: number
  readonly #scheduler: SchedulerLike

  constructor (init: HandshakeRateLimiterInit = {}) {
    this.#scheduler = init.scheduler ?? asyncScheduler
    this.burstPerIp = init.burstPerIp ?? DEFAULT_HANDSHAKE_BURST_PER_IP
    this.ratePerIp = init.ratePerIp ?? DEFAULT_HANDSHAKE_RATE_PER_IP
    this.#maxTrackedIps = Math.max(1, init.maxTrackedIps ?? DEFAULT_HANDSHAKE_RATE_TRACKED_IPS)
    this.#total = new TokenBucket(init.burst ?? DEFAULT_HANDSHAKE_BURST, init.rate ?? DEFAULT_HANDSHAKE_RATE, this.#scheduler.now())
  }

  /** IPs whose buckets are remembered now. */
  get trackedIps (): number {
    return this.#byIp.size
  }

  /** Takes a token from `ip`'s bucket; false when it has none (refuse the connection). */
  admit (ip: string): boolean {
    const now = this.#scheduler.now()
    let bucket = this.#byIp.get(ip)
    if (bucket === undefined) {
      if (this.#byIp.size >= this.#maxTrackedIps) this.#forget(now)
      bucket = new TokenBucket(this.burstPerIp, this.ratePerIp, now)
      this.#byIp.set(ip, bucket)
    }
    return bucket.take(now)
  }

  /** Takes a token from the node-wide bucket; false when it has none (abandon the handshake). */
  beginKeyAgreement (): boolean {
    return this.#total.take(this.#scheduler.now())
  }

  /**
   * Makes room: drops every full bucket, then the oldest until a tenth of the room is free, so that the scan
   * runs at most once per tenth of `maxTrackedIps` new IPs (linear in total, not per accept).
   */
  #forget (now: number): void {
    for (const [ip, bucket] of this.#byIp) if (bucket.isFull(now)) this.#byIp.delete(ip)
    const keep = Math.floor(this.#maxTrackedIps * 0.9)
    for (const ip of this.#byIp.keys()) {
      if (this.#byIp.size <= keep) break
      this.#byIp.delete(ip)
    }
  }
}
