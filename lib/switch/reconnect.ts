/**
 * The persistent-peer redial schedule of CometBFT's `Switch.reconnectToPeer`, on an RxJS scheduler.
 *
 * @module
 */
import { asyncScheduler, defer, Observable, type ObservableInput, type SchedulerLike, type Subscription } from 'rxjs'
import {
  DIAL_RANDOMIZER_INTERVAL_MS,
  RECONNECT_ATTEMPTS,
  RECONNECT_BACKOFF_ATTEMPTS,
  RECONNECT_BACKOFF_BASE_SECONDS,
  RECONNECT_INTERVAL_MS
} from './defaults.js'

/** Options of the redial schedule of persistent peers ({@link rx-p2p!SwitchInit.reconnect}). The defaults are CometBFT's constants. */
export interface ReconnectInit {
  /** Phase 1 attempts, each followed by a fixed pause. @default 20 */
  attempts?: number
  /** Phase 1 pause in ms (plus jitter). @default 5000 */
  intervalMs?: number
  /** Phase 2 attempts, attempt i (1-based) preceded by a pause of `backoffBaseSeconds ** i` seconds (plus jitter). @default 10 */
  backoffAttempts?: number
  /** Phase 2 base. @default 3 */
  backoffBaseSeconds?: number
  /** Each pause gets a random extra of `floor(random() * jitterMs)` ms. @default 3000 */
  jitterMs?: number
  /** A source of numbers in [0, 1): inject a fixed one in tests. @default Math.random */
  random?: () => number
  /** Where the pauses are timed. @default asyncScheduler */
  scheduler?: SchedulerLike
  /**
   * Errors that end the loop at once instead of being retried (CometBFT stops on
   * `ErrCurrentlyDialingOrExistingAddress`). @default none
   */
  isFatal?: (error: unknown) => boolean
}

/** What {@link reconnect} reports. */
export type ReconnectEvent =
  /** Attempt `attempt` (1-based) failed; the next one starts in `nextDelayMs` (undefined: that was the last). */
  | { readonly type: 'failed', readonly attempt: number, readonly error: unknown, readonly nextDelayMs: number | undefined }
  /** Attempt `attempt` succeeded; the loop is over. */
  | { readonly type: 'connected', readonly attempt: number }
  /** Attempt `attempt` failed with an error `isFatal` accepted; the loop is over. */
  | { readonly type: 'stopped', readonly attempt: number, readonly error: unknown }
  /** Every attempt failed; the loop is over and the address is left to PEX. */
  | { readonly type: 'gaveUp', readonly attempts: number }

/**
 * The pause before each attempt, in ms, drawing jitter from `random` (the first attempt is immediate).
 *
 * CometBFT's loop (`reconnectToPeer`): phase 1 dials then sleeps `5 s + rand(0..3 s)`, 20 times; phase 2
 * then sleeps `3^i s + rand(0..3 s)` and dials, for i = 1..10 (since v0.38.14; older releases ran i = 0..9).
 * So the first backoff attempt follows two pauses, the trailing one of phase 1 and `3^1 s`. With zero
 * jitter the attempts start at 0, 5, 10, ... 95 s, then 103 s, 112 s, 139 s, ... about 24.6 h in all.
 *
 * @example
 * ```ts
 * reconnectDelays({ random: () => 0 }).slice(0, 3)  // [0, 5000, 5000]
 * reconnectDelays({ random: () => 0 })[20]           // 8000 = 5000 + 3000
 * ```
 */
export function reconnectDelays (init: ReconnectInit = {}): number[] {
  const out: number[] = []
  const pauses = pauseSequence(init)
  let pending = 0
  for (const step of pauses) {
    if (step.kind === 'pause') pending += step.ms
    else {
      out.push(pending)
      pending = 0
    }
  }
  return out
}

type Step = { kind: 'pause', ms: number } | { kind: 'attempt' }

function * pauseSequence (init: ReconnectInit): Generator<Step> {
  const attempts = init.attempts ?? RECONNECT_ATTEMPTS
  const interval = init.intervalMs ?? RECONNECT_INTERVAL_MS
  const backoffAttempts = init.backoffAttempts ?? RECONNECT_BACKOFF_ATTEMPTS
  const base = init.backoffBaseSeconds ?? RECONNECT_BACKOFF_BASE_SECONDS
  const jitterMs = init.jitterMs ?? DIAL_RANDOMIZER_INTERVAL_MS
  const random = init.random ?? Math.random
  // CometBFT `randomSleep`: interval + rng.Int63n(dialRandomizerIntervalMilliseconds) ms.
  const jitter = (): number => jitterMs > 0 ? Math.floor(random() * jitterMs) : 0
  for (let i = 0; i < attempts; i++) {
    yield { kind: 'attempt' }
    yield { kind: 'pause', ms: interval + jitter() }
  }
  for (let i = 1; i <= backoffAttempts; i++) {
    yield { kind: 'pause', ms: Math.pow(base, i) * 1000 + jitter() }
    yield { kind: 'attempt' }
  }
}

/**
 * Runs `attempt` on CometBFT's persistent-peer schedule until one succeeds: cold, each subscription runs
 * its own loop, and unsubscribing cancels the pending pause or attempt.
 *
 * `attempt(n)` (n from 1) returns a Promise or Observable: a value or completion is success, an error is a
 * failure (retried unless `isFatal` says otherwise). The next pause starts when an attempt has failed, as
 * CometBFT sleeps after `DialPeerWithAddress` returns. Jitter is drawn for each pause when it starts.
 *
 * ```
 * attempt: fails after 1 frame each time; intervalMs 4, jitter 0, attempts 3, backoffAttempts 1, base 2 s
 * result:  -f---f---f-------- ... ----f|   (f = 'failed'; the last is followed by 'gaveUp')
 * ```
 *
 * @example
 * ```ts
 * reconnect((n) => sw.dial(addr), { scheduler }).subscribe((e) => {
 *   if (e.type === 'failed') console.log(`attempt ${e.attempt} failed, next in ${e.nextDelayMs} ms`)
 * })
 * ```
 */
export function reconnect (attempt: (n: number) => ObservableInput<unknown>, init: ReconnectInit = {}): Observable<ReconnectEvent> {
  return new Observable<ReconnectEvent>((subscriber) => {
    const scheduler = init.scheduler ?? asyncScheduler
    const steps = pauseSequence(init)
    let n = 0
    let current: Subscription | undefined

    // The pauses up to the next attempt; undefined when the schedule is exhausted.
    const pauseBeforeNext = (): number | undefined => {
      let pause = 0
      let step = steps.next()
      while (!step.done && step.value.kind === 'pause') {
        pause += step.value.ms
        step = steps.next()
      }
      return step.done === true ? undefined : pause
    }

    const run = (): void => {
      n++
      const number = n
      let settled = false
      const sub = defer(() => attempt(number)).subscribe({
        next: () => {
          if (settled) return
          settled = true
          subscriber.next({ type: 'connected', attempt: number })
          subscriber.complete()
        },
        error: (error: unknown) => {
          if (settled) return
          settled = true
          if (init.isFatal?.(error) === true) {
            subscriber.next({ type: 'stopped', attempt: number, error })
            subscriber.complete()
            return
          }
          failed(number, error)
        },
        complete: () => {
          if (settled) return
          settled = true
          subscriber.next({ type: 'connected', attempt: number })
          subscriber.complete()
        }
      })
      if (settled) sub.unsubscribe()
      else current = sub
    }

    const failed = (number: number, error: unknown): void => {
      const pause = pauseBeforeNext()
      subscriber.next({ type: 'failed', attempt: number, error, nextDelayMs: pause })
      if (pause === undefined) {
        subscriber.next({ type: 'gaveUp', attempts: number })
        subscriber.complete()
        return
      }
      current = scheduler.schedule(run, pause)
    }

    const first = pauseBeforeNext()
    if (first === undefined) {
      subscriber.next({ type: 'gaveUp', attempts: 0 })
      subscriber.complete()
    } else if (first === 0) {
      run()
    } else {
      current = scheduler.schedule(run, first)
    }
    return () => { current?.unsubscribe() }
  })
}
