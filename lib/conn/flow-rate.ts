/**
 * A transfer-rate monitor and limiter in the manner of CometBFT's `flowrate.Monitor`, with time taken from an
 * RxJS scheduler so that it runs in virtual time.
 *
 * The rate is sampled every 100 ms on a clock rounded to 20 ms; each sample feeds an exponential moving average
 * with a 1 s window. {@link FlowMonitor.limit} lets at most `rate × 0.1 s` bytes through per sample. Unlike Go's
 * `Limit(…, block=true)` it never blocks: it returns 0 when the sample is used up, and
 * {@link FlowMonitor.nextSampleDelay} says how long to wait (the caller schedules one wake-up).
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { FLOW_CLOCK_RATE_MS, FLOW_MIN_WAIT_MS, FLOW_SAMPLE_RATE_MS, FLOW_WINDOW_MS } from './defaults.js'

/** A snapshot of a `FlowMonitor`; rates in bytes per second, times in milliseconds. */
export interface FlowStatus {
  /** Transfer start time (scheduler time, ms). */
  start: number
  /** Total bytes transferred. */
  bytes: number
  /** Samples taken. */
  samples: number
  /** Rate of the most recent sample. */
  instRate: number
  /** Exponential moving average of the sample rates. */
  curRate: number
  /** Bytes divided by duration. */
  avgRate: number
  /** Highest sample rate seen. */
  peakRate: number
  /** Time covered by the statistics. */
  duration: number
  /** Time since the last transfer of at least one byte. */
  idle: number
  /** False after `FlowMonitor.done()`. */
  active: boolean
}

/** Options of {@link FlowMonitor}. */
export interface FlowMonitorInit {
  /** Clock. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Sample period in ms (rounded to the 20 ms clock). @default 100 */
  sampleRateMs?: number
  /** Window of the moving average in ms. @default 1000 */
  windowMs?: number
}

function roundHalfUp (x: number): number {
  return Math.floor(x + 0.5)
}

/**
 * Measures a byte stream and decides how much of it may pass now under a rate limit.
 *
 * @example
 * ```ts
 * const monitor = new FlowMonitor({ scheduler })
 * const allowed = monitor.limit(1034, 5_120_000)   // 0: wait monitor.nextSampleDelay() ms
 * monitor.update(bytesSent)
 * ```
 */
export class FlowMonitor {
  readonly #scheduler: SchedulerLike
  readonly #origin: number
  #active = true
  readonly #start: number
  #bytes = 0
  #samples = 0
  #rSample = 0
  #rEMA = 0
  #rPeak = 0
  readonly #rWindow: number // seconds
  #sBytes = 0
  #sLast: number
  readonly #sRate: number // ms
  #tLast: number

  constructor (init: FlowMonitorInit = {}) {
    this.#scheduler = init.scheduler ?? asyncScheduler
    this.#origin = this.#scheduler.now()
    let sRate = this.#clockRound(init.sampleRateMs ?? FLOW_SAMPLE_RATE_MS)
    if (sRate <= 0) sRate = 5 * FLOW_CLOCK_RATE_MS
    this.#sRate = sRate
    const window = init.windowMs ?? FLOW_WINDOW_MS
    this.#rWindow = (window > 0 ? window : FLOW_WINDOW_MS) / 1000
    const now = this.#clock()
    this.#start = now
    this.#sLast = now
    this.#tLast = now
  }

  #clockRound (ms: number): number {
    return Math.floor((ms + FLOW_CLOCK_RATE_MS / 2) / FLOW_CLOCK_RATE_MS) * FLOW_CLOCK_RATE_MS
  }

  /** Milliseconds since creation, rounded to the nearest 20 ms. */
  #clock (at?: number): number {
    return this.#clockRound((at ?? this.#scheduler.now()) - this.#origin)
  }

  /**
   * Records the transfer of `n` bytes (call it with 0 to just advance the samples). Returns `n`.
   *
   * @param at the scheduler's current time, when the caller already has it
   */
  update (n: number, at?: number): number {
    this.#update(n, at)
    return n
  }

  #update (n: number, at?: number): number {
    if (!this.#active) return 0
    const now = this.#clock(at)
    if (n > 0) this.#tLast = now
    this.#sBytes += n
    const sTime = now - this.#sLast
    if (sTime >= this.#sRate) {
      const t = sTime / 1000
      this.#rSample = this.#sBytes / t
      if (this.#rSample > this.#rPeak) this.#rPeak = this.#rSample
      if (this.#samples > 0) {
        const w = Math.exp(-t / this.#rWindow)
        this.#rEMA = this.#rSample + w * (this.#rEMA - this.#rSample)
      } else {
        this.#rEMA = this.#rSample
      }
      this.#reset(now)
    }
    return now
  }

  #reset (sampleTime: number): void {
    this.#bytes += this.#sBytes
    this.#samples++
    this.#sBytes = 0
    this.#sLast = sampleTime
  }

  /**
   * How many of `want` bytes may pass now under `rate` bytes/s: at most what is left of this sample's
   * `rate × sampleRate` allowance (at least 1 byte per sample). 0 means the sample is used up: wait
   * {@link nextSampleDelay}. Returns `want` unchanged when `want < 1`, `rate < 1` (unlimited) or after
   * {@link done}.
   *
   * @param at the scheduler's current time, when the caller already has it
   */
  limit (want: number, rate: number, at?: number): number {
    if (want < 1 || rate < 1 || !this.#active) return want
    let limit = roundHalfUp(rate * this.#sRate / 1000)
    if (limit <= 0) limit = 1
    this.#update(0, at)
    if (this.#sBytes >= limit) return 0
    return Math.min(limit - this.#sBytes, want)
  }

  /** Milliseconds until the current sample ends (at least 5 ms, as Go's minimum wait). */
  nextSampleDelay (): number {
    const now = this.#clock()
    const d = this.#sLast + this.#sRate - now
    return Math.max(FLOW_MIN_WAIT_MS, d)
  }

  /** Marks the transfer finished: further updates and limits are no-ops. Returns the total bytes. */
  done (): number {
    const now = this.#update(0)
    if (this.#sBytes > 0) this.#reset(now)
    this.#active = false
    return this.#bytes
  }

  /** Total bytes recorded so far (including the current, unfinished sample). */
  get totalBytes (): number {
    return this.#bytes + this.#sBytes
  }

  /** A snapshot of the statistics. */
  status (): FlowStatus {
    const now = this.#active ? this.#update(0) : this.#clock()
    const duration = this.#sLast - this.#start
    const bytes = this.#bytes
    const s: FlowStatus = {
      start: this.#origin + this.#start,
      bytes,
      samples: this.#samples,
      instRate: 0,
      curRate: 0,
      avgRate: 0,
      peakRate: roundHalfUp(this.#rPeak),
      duration,
      idle: this.#active ? now - this.#tLast : 0,
      active: this.#active
    }
    if (duration > 0) {
      s.avgRate = roundHalfUp(bytes / (duration / 1000))
      if (this.#active) {
        s.instRate = roundHalfUp(this.#rSample)
        s.curRate = roundHalfUp(this.#rEMA)
      }
    }
    return s
  }
}
