/**
 * One entry of the address book (CometBFT's `knownAddress`), and the nanosecond timestamps it keeps.
 *
 * @module
 */
import type { NodeId } from '../crypto/node-id.js'
import type { NetAddress } from '../transport/net-address.js'
import { BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, MAX_FAILURES, MIN_BAD_DAYS, NUM_MISSING_DAYS, NUM_RETRIES } from './params.js'
import type { BucketType } from './params.js'

/**
 * A point in time as nanoseconds since the Unix epoch, the precision of Go's `time.Time`. Times in
 * `addrbook.json` carry nanoseconds, so they are kept exactly rather than as milliseconds.
 */
export type GoTime = bigint

/** Go's zero `time.Time` (`0001-01-01T00:00:00Z`): "never". It sorts before every other time. */
export const ZERO_TIME: GoTime = -62135596800n * 1_000_000_000n

const NS_PER_MS = 1_000_000n

/**
 * Converts milliseconds since the epoch (what `scheduler.now()` returns) to a {@link GoTime}, keeping
 * fractions of a millisecond down to the nanosecond.
 *
 * @example
 * ```ts
 * timeFromMs(scheduler.now())
 * ```
 */
export function timeFromMs (ms: number): GoTime {
  const whole = Math.floor(ms)
  return BigInt(whole) * NS_PER_MS + BigInt(Math.round((ms - whole) * 1e6))
}

/** Converts a {@link GoTime} to milliseconds since the epoch (fractions of a millisecond kept as a fraction). */
export function timeToMs (t: GoTime): number {
  const whole = t / NS_PER_MS
  const rest = t - whole * NS_PER_MS
  return Number(whole) + Number(rest) / 1e6
}

/** Converts a duration in milliseconds to nanoseconds. */
export function durationFromMs (ms: number): bigint {
  return timeFromMs(ms)
}

const MINUTE = 60n * 1000n * NS_PER_MS
const DAY = 24n * 60n * MINUTE

/** A read-only view of a known address, as the book hands it out. */
export interface KnownAddressInfo {
  /** The address. */
  readonly addr: NetAddress
  /** The address of the peer that told us about it. */
  readonly src: NetAddress
  /** The buckets it is in: up to 4 new buckets, or exactly one old bucket. */
  readonly buckets: readonly number[]
  /** Dial attempts since the last success. */
  readonly attempts: number
  /** 1 = new (untried), 2 = old (tried and good). */
  readonly bucketType: BucketType
  /** When it was last dialed, or added. */
  readonly lastAttempt: GoTime
  /** When it last proved good ({@link ZERO_TIME} for never). */
  readonly lastSuccess: GoTime
  /** Until when it is banned ({@link ZERO_TIME} for never banned). */
  readonly lastBanTime: GoTime
}

/**
 * An address the book knows, with its buckets and its history of attempts (CometBFT's `knownAddress`).
 * Only the book changes these; read them through {@link KnownAddressInfo}.
 */
export class KnownAddress implements KnownAddressInfo {
  constructor (
    public addr: NetAddress,
    public src: NetAddress,
    public buckets: number[] = [],
    public attempts = 0,
    public bucketType: BucketType = BUCKET_TYPE_NEW,
    public lastAttempt: GoTime = ZERO_TIME,
    public lastSuccess: GoTime = ZERO_TIME,
    public lastBanTime: GoTime = ZERO_TIME
  ) {}

  /** The address's node ID. */
  get id (): NodeId {
    return this.addr.id
  }

  /** In an old bucket. */
  isOld (): boolean {
    return this.bucketType === BUCKET_TYPE_OLD
  }

  /** In new buckets. */
  isNew (): boolean {
    return this.bucketType === BUCKET_TYPE_NEW
  }

  /** A dial attempt: `lastAttempt = now`, one more attempt. */
  markAttempt (now: GoTime): void {
    this.lastAttempt = now
    this.attempts++
  }

  /** A success: attempts reset, `lastAttempt = lastSuccess = now`. */
  markGood (now: GoTime): void {
    this.lastAttempt = now
    this.attempts = 0
    this.lastSuccess = now
  }

  /** Bans until `now + durationNs`, unless already banned until later. */
  ban (now: GoTime, durationNs: bigint): void {
    const until = now + durationNs
    if (this.lastBanTime < until) this.lastBanTime = until
  }

  /** The ban has not expired yet. */
  isBanned (now: GoTime): boolean {
    return this.lastBanTime > now
  }

  /**
   * CometBFT's `isBad`: only a new address, not attempted within the last minute, that was last attempted
   * over 7 days ago, or has 3 attempts and never a success, or has 10 attempts and no success for 7 days.
   */
  isBad (now: GoTime): boolean {
    if (this.bucketType === BUCKET_TYPE_OLD) return false
    if (this.lastAttempt > now - MINUTE) return false
    if (this.lastAttempt < now - BigInt(NUM_MISSING_DAYS) * DAY) return true
    if (this.lastSuccess === ZERO_TIME && this.attempts >= NUM_RETRIES) return true
    if (this.lastSuccess < now - BigInt(MIN_BAD_DAYS) * DAY && this.attempts >= MAX_FAILURES) return true
    return false
  }

  /** Adds a bucket; returns the new number of buckets, or -1 when it was already there. */
  addBucketRef (bucket: number): number {
    if (this.buckets.includes(bucket)) return -1
    this.buckets.push(bucket)
    return this.buckets.length
  }

  /** Removes a bucket; returns the number of buckets left, or -1 when it was not there. */
  removeBucketRef (bucket: number): number {
    const i = this.buckets.indexOf(bucket)
    if (i < 0) return -1
    this.buckets.splice(i, 1)
    return this.buckets.length
  }
}
