/**
 * Compliance suites: the tests every implementation of an interface runs, whatever sits underneath. Today one,
 * {@link duplexCompliance}, for the {@link DuplexConnection} contract; TCP, the in-memory pair, the it-pipe
 * adapter, {@link FaultyConnection} and the SecretConnection run it.
 *
 * The suites bring no test framework: they register their tests through the functions given in
 * {@link ComplianceTestApi} (mocha's, node:test's, jest's or vitest's `describe`/`it`/`beforeEach`/`afterEach`),
 * or through the global ones when none are given, looked up only when the suite is registered. They assert with
 * `node:assert`, so a failure is an `AssertionError` that every runner reports. Importing `rx-p2p/testing` loads
 * nothing of a test framework.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import { asyncScheduler, firstValueFrom, take, timeout, timer, toArray, type Subscription } from 'rxjs'
import { TransportError } from '../errors.js'
import type { DuplexConnection } from '../transport/duplex.js'

/** Two connected ends and a way to release what the factory set up. */
export interface DuplexPairFixture {
  /** One end: what is written here is read at `b`. */
  a: DuplexConnection
  /** The other end. */
  b: DuplexConnection
  /** Releases listeners and the like (the ends are destroyed by the suite before this is called). */
  close: () => Promise<void>
}

/** A test body: may return a promise; `this` is the runner's context, if it has one. */
export type ComplianceTestFn = (this: unknown) => void | Promise<void>

/**
 * The test-registration functions a suite uses; the shapes shared by mocha, node:test, jest and vitest.
 *
 * @example
 * ```ts
 * import { afterEach, beforeEach, describe, it } from 'node:test'
 * duplexCompliance('my transport', makePair, { describe, it, beforeEach, afterEach })
 * ```
 */
export interface ComplianceTestApi {
  /** Groups tests; `fn` registers them. */
  describe: (name: string, fn: (this: unknown) => void) => unknown
  /** Registers one test. */
  it: (name: string, fn: ComplianceTestFn) => unknown
  /** Runs `fn` before each test of the group. */
  beforeEach: (fn: ComplianceTestFn) => unknown
  /** Runs `fn` after each test of the group. */
  afterEach: (fn: ComplianceTestFn) => unknown
}

/** Options of {@link duplexCompliance}. */
export interface DuplexComplianceInit {
  /**
   * Longest run of one test in ms, set through the runner's `this.timeout(ms)` where it has one (mocha); each
   * wait of the suite also gives up after 5 s on its own. @default 10000
   */
  timeoutMs?: number
}

/** The global `describe`/`it`/`beforeEach`/`afterEach` (mocha, jest, vitest with globals). */
function globalTestApi (): ComplianceTestApi {
  const g = globalThis as Partial<Record<keyof ComplianceTestApi, unknown>>
  for (const name of ['describe', 'it', 'beforeEach', 'afterEach'] as const) {
    if (typeof g[name] !== 'function') {
      throw new TypeError(`no global ${name}(): run the suite under a test runner, or pass { describe, it, beforeEach, afterEach }`)
    }
  }
  return g as ComplianceTestApi
}

const sleep = async (ms: number): Promise<void> => { await firstValueFrom(timer(ms)) }
const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const concat = (chunks: Uint8Array[]): Uint8Array => Buffer.concat(chunks)
const hexOf = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('hex')

/** Reads from `conn` until `n` bytes have arrived; resolves with them (unsubscribes after). */
async function readBytes (conn: DuplexConnection, n: number, ms = 5000): Promise<Uint8Array> {
  return await new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = []
    let got = 0
    let finished = false
    let sub: Subscription | undefined
    const deadline = asyncScheduler.schedule(() => { finish(new Error(`timed out with ${got} of ${n} bytes`)) }, ms)
    const finish = (err?: Error): void => {
      if (finished) return
      finished = true
      deadline.unsubscribe()
      sub?.unsubscribe() // stop reading at once: what was not read stays with the connection
      if (err !== undefined) reject(err)
      else resolve(concat(chunks))
    }
    sub = conn.source$.subscribe({
      next: (chunk) => {
        chunks.push(chunk)
        got += chunk.byteLength
        if (got >= n) finish()
      },
      error: (err: Error) => { finish(err) },
      complete: () => { finish(new Error(`ended with ${got} of ${n} bytes`)) }
    })
    if (finished) sub.unsubscribe()
  })
}

/**
 * Registers the compliance tests of the {@link DuplexConnection} contract for one implementation: bytes in
 * order, `write()` false above the high-water mark then `drain$`, pause and resume, `unshift`, one reader at a
 * time, `end` and `destroy` on both ends, and what replays after the close.
 *
 * @param name shown in the test titles
 * @param makePair a fresh pair of connected ends per test
 * @param api the runner's registration functions @default the global ones
 * @throws {TypeError} no `api` was given and the globals are missing
 * @example
 * ```ts
 * import { duplexCompliance, memoryPair } from 'rx-p2p/testing'
 *
 * duplexCompliance('memoryPair', async () => {
 *   const [a, b] = memoryPair()
 *   return { a, b, close: async () => {} }
 * })
 * ```
 */
export function duplexCompliance (
  name: string, makePair: () => Promise<DuplexPairFixture>, api?: ComplianceTestApi, init: DuplexComplianceInit = {}
): void {
  const { describe, it, beforeEach, afterEach } = api ?? globalTestApi()
  const timeoutMs = init.timeoutMs ?? 10_000
  describe(`DuplexConnection compliance: ${name}`, function () {
    const ctx = this as { timeout?: unknown } | undefined
    if (typeof ctx?.timeout === 'function') (ctx.timeout as (ms: number) => void).call(ctx, timeoutMs)
    let fx: DuplexPairFixture

    beforeEach(async () => { fx = await makePair() })
    afterEach(async () => {
      fx.a.destroy()
      fx.b.destroy()
      await fx.close()
    })

    it('delivers written bytes in order', async () => {
      const chunks = [bytes(1, 1), bytes(1000, 2), bytes(30_000, 3), bytes(7, 4)]
      for (const c of chunks) fx.a.write(c)
      const got = await readBytes(fx.b, 31_008)
      strictEqual(Buffer.from(got).toString('hex'), hexOf(chunks))
    })

    it('write returns false above the high-water mark, and drain$ follows once the reader catches up', async () => {
      let written = 0
      let full = false
      for (let i = 0; i < 10_000 && !full; i++) {
        full = !fx.a.write(bytes(16_384, i))
        written += 16_384
      }
      strictEqual(full, true, 'write never reported a full buffer')
      strictEqual(fx.a.writableNeedDrain, true)
      const drained = firstValueFrom(fx.a.drain$.pipe(timeout(5000)))
      const got = await readBytes(fx.b, written)
      await drained
      strictEqual(fx.a.writableNeedDrain, false)
      strictEqual(got.byteLength, written)
    })

    it('holds chunks while paused and delivers them on resume', async () => {
      const seen: Uint8Array[] = []
      const sub = fx.b.source$.subscribe((c) => seen.push(c))
      fx.b.pause()
      strictEqual(fx.b.isPaused, true)
      fx.a.write(bytes(100, 9))
      await sleep(50)
      strictEqual(seen.length, 0, 'nothing is delivered while paused')
      fx.b.resume()
      strictEqual(fx.b.isPaused, false)
      for (let i = 0; i < 100 && seen.reduce((n, c) => n + c.byteLength, 0) < 100; i++) await sleep(5)
      strictEqual(hexOf(seen), hexOf([bytes(100, 9)]))
      sub.unsubscribe()
    })

    it('unshift puts bytes back in front for the next subscriber', async () => {
      fx.a.write(new TextEncoder().encode('hello world'))
      const first = await readBytes(fx.b, 11)
      fx.b.unshift(first.subarray(6))
      fx.a.write(new TextEncoder().encode('!'))
      const rest = await readBytes(fx.b, 6)
      strictEqual(new TextDecoder().decode(rest), 'world!')
    })

    it('refuses a second concurrent subscriber with TransportError', async () => {
      const sub = fx.b.source$.subscribe()
      let err: unknown
      fx.b.source$.subscribe({ error: (e) => { err = e } })
      ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`)
      sub.unsubscribe()
    })

    it('end: the remote reads everything, then its source completes; both close without error', async () => {
      const closedA = firstValueFrom(fx.a.closed$.pipe(timeout(5000)))
      const closedB = firstValueFrom(fx.b.closed$.pipe(timeout(5000)))
      fx.a.write(bytes(50_000, 5))
      fx.a.end()
      strictEqual(fx.a.write(bytes(1, 1)), false)
      const all = await firstValueFrom(fx.b.source$.pipe(toArray(), timeout(5000)))
      strictEqual(hexOf(all), hexOf([bytes(50_000, 5)]))
      fx.b.end()
      strictEqual(await closedA, undefined)
      strictEqual(await closedB, undefined)
      strictEqual(fx.a.closed && fx.b.closed, true)
    })

    it('destroy: closed$ emits the reason locally, the remote ends too', async () => {
      const reason = new TransportError('test abort')
      const remoteEnd = new Promise<string>((resolve) => {
        fx.b.source$.subscribe({ error: () => { resolve('error') }, complete: () => { resolve('complete') } })
      })
      fx.a.destroy(reason)
      strictEqual(await firstValueFrom(fx.a.closed$), reason)
      strictEqual(fx.a.closed, true)
      const ending = await remoteEnd
      ok(ending === 'error' || ending === 'complete', ending)
      await firstValueFrom(fx.b.closed$.pipe(timeout(5000)))
    })

    it('closed$ replays to late subscribers; writes after close return false; source$ replays the ending', async () => {
      fx.a.destroy()
      await firstValueFrom(fx.b.closed$.pipe(timeout(5000)))
      deepStrictEqual(await firstValueFrom(fx.a.closed$.pipe(toArray())), [undefined])
      const late = await firstValueFrom(fx.b.closed$.pipe(take(1)))
      ok(late === undefined || late instanceof Error, String(late))
      strictEqual(fx.a.write(bytes(1, 1)), false)
      const ending = await new Promise<string>((resolve) => {
        fx.a.source$.subscribe({ error: () => { resolve('error') }, complete: () => { resolve('complete') } })
      })
      ok(ending === 'error' || ending === 'complete', ending)
    })
  })
}
