/**
 * Dialing with a deadline on a scheduler.
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { AbortError, TimeoutError } from '../errors.js'
import type { DuplexConnection, HostPort } from '../transport/duplex.js'
import type { Transport } from '../transport/transport.js'
import { DEFAULT_DIAL_TIMEOUT_MS } from './defaults.js'

/** Options of {@link dialWithTimeout}. */
export interface DialInit {
  /** The deadline in ms (CometBFT `defaultDialTimeout`). @default 1000 */
  timeoutMs?: number
  /** Where the deadline is timed. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Aborts the dial. */
  signal?: AbortSignal
}

/**
 * Opens a raw connection to `addr` through `transport`, failing with a `TimeoutError` when it takes longer
 * than `timeoutMs` on `scheduler` (the transport's own dial is aborted then), or an `AbortError` when
 * `signal` aborts. A connection that arrives after the deadline is destroyed.
 *
 * @example
 * ```ts
 * const raw = await dialWithTimeout(new TcpTransport(), { host: '127.0.0.1', port: 26656 }, { timeoutMs: 1000 })
 * ```
 */
export function dialWithTimeout (transport: Transport, addr: HostPort, init: DialInit = {}): Promise<DuplexConnection> {
  const timeoutMs = init.timeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS
  const scheduler = init.scheduler ?? asyncScheduler
  const outer = init.signal
  return new Promise<DuplexConnection>((resolve, reject) => {
    if (outer?.aborted === true) {
      reject(new AbortError('dial aborted'))
      return
    }
    const controller = new AbortController()
    let settled = false
    const finish = (): void => {
      settled = true
      timer.unsubscribe()
      outer?.removeEventListener('abort', onAbort)
    }
    const fail = (err: Error): void => {
      if (settled) return
      finish()
      controller.abort(err)
      reject(err)
    }
    const onAbort = (): void => { fail(new AbortError('dial aborted')) }
    const timer = scheduler.schedule(() => {
      fail(new TimeoutError(`dial ${addr.host}:${addr.port}: no connection within ${timeoutMs} ms`))
    }, timeoutMs)
    outer?.addEventListener('abort', onAbort, { once: true })
    transport.dial(addr, { signal: controller.signal }).then((conn) => {
      if (settled) {
        conn.destroy()
        return
      }
      finish()
      resolve(conn)
    }, (err: unknown) => {
      fail(err instanceof Error ? err : new Error(String(err)))
    })
  })
}
