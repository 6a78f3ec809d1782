/**
 * The one compliance suite of the {@link DuplexConnection} contract. Every transport runs it: TCP, the in-memory
 * pair, the it-pipe adapter (and anything else that claims to be a DuplexConnection).
 */
import { expect } from 'chai'
import { firstValueFrom, take, timeout, toArray, type Subscription } from 'rxjs'
import { TransportError } from '../../lib/errors.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'

/** Two connected ends and a way to release what the factory set up. */
export interface DuplexPairFixture {
  a: DuplexConnection
  b: DuplexConnection
  /** Releases listeners and the like (the ends are closed by the tests or here). */
  close: () => Promise<void>
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const bytes = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)
const hexOf = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('hex')

/** Reads from `conn` until `n` bytes have arrived; resolves with them (unsubscribes after). */
async function readBytes (conn: DuplexConnection, n: number, ms = 5000): Promise<Uint8Array> {
  return await new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = []
    let got = 0
    let finished = false
    let sub: Subscription | undefined
    const timer = setTimeout(() => { finish(new Error(`timed out with ${got} of ${n} bytes`)) }, ms)
    const finish = (err?: Error): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      sub?.unsubscribe() // stop reading at once: what was not read stays with the connection
      if (err !== undefined) reject(err)
      else resolve(Buffer.concat(chunks))
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
 * Registers the compliance tests for a transport.
 *
 * @param name shown in the test titles
 * @param makePair a fresh pair of connected ends per test
 */
export function duplexCompliance (name: string, makePair: () => Promise<DuplexPairFixture>): void {
  describe(`DuplexConnection compliance: ${name}`, function () {
    this.timeout(10_000)
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
      expect(Buffer.from(got).toString('hex')).to.equal(hexOf(chunks))
    })

    it('write returns false above the high-water mark, and drain$ follows once the reader catches up', async () => {
      let written = 0
      let full = false
      for (let i = 0; i < 10_000 && !full; i++) {
        full = !fx.a.write(bytes(16_384, i))
        written += 16_384
      }
      expect(full, 'write never reported a full buffer').to.equal(true)
      expect(fx.a.writableNeedDrain).to.equal(true)
      const drained = firstValueFrom(fx.a.drain$.pipe(timeout(5000)))
      const got = await readBytes(fx.b, written)
      await drained
      expect(fx.a.writableNeedDrain).to.equal(false)
      expect(got.byteLength).to.equal(written)
    })

    it('holds chunks while paused and delivers them on resume', async () => {
      const seen: Uint8Array[] = []
      const sub = fx.b.source$.subscribe((c) => seen.push(c))
      fx.b.pause()
      expect(fx.b.isPaused).to.equal(true)
      fx.a.write(bytes(100, 9))
      await sleep(50)
      expect(seen).to.deep.equal([])
      fx.b.resume()
      expect(fx.b.isPaused).to.equal(false)
      for (let i = 0; i < 100 && seen.reduce((n, c) => n + c.byteLength, 0) < 100; i++) await sleep(5)
      expect(hexOf(seen)).to.equal(hexOf([bytes(100, 9)]))
      sub.unsubscribe()
    })

    it('unshift puts bytes back in front for the next subscriber', async () => {
      fx.a.write(new TextEncoder().encode('hello world'))
      const first = await readBytes(fx.b, 11)
      fx.b.unshift(first.subarray(6))
      fx.a.write(new TextEncoder().encode('!'))
      const rest = await readBytes(fx.b, 6)
      expect(new TextDecoder().decode(rest)).to.equal('world!')
    })

    it('refuses a second concurrent subscriber with TransportError', async () => {
      const sub = fx.b.source$.subscribe()
      let err: unknown
      fx.b.source$.subscribe({ error: (e) => { err = e } })
      expect(err).to.be.instanceOf(TransportError)
      sub.unsubscribe()
    })

    it('end: the remote reads everything, then its source completes; both close without error', async () => {
      const closedA = firstValueFrom(fx.a.closed$.pipe(timeout(5000)))
      const closedB = firstValueFrom(fx.b.closed$.pipe(timeout(5000)))
      fx.a.write(bytes(50_000, 5))
      fx.a.end()
      expect(fx.a.write(bytes(1, 1))).to.equal(false)
      const all = await firstValueFrom(fx.b.source$.pipe(toArray(), timeout(5000)))
      expect(hexOf(all)).to.equal(hexOf([bytes(50_000, 5)]))
      fx.b.end()
      expect(await closedA).to.equal(undefined)
      expect(await closedB).to.equal(undefined)
      expect(fx.a.closed && fx.b.closed).to.equal(true)
    })

    it('destroy: closed$ emits the reason locally, the remote ends too', async () => {
      const reason = new TransportError('test abort')
      const remoteEnd = new Promise<string>((resolve) => {
        fx.b.source$.subscribe({ error: () => { resolve('error') }, complete: () => { resolve('complete') } })
      })
      fx.a.destroy(reason)
      expect(await firstValueFrom(fx.a.closed$)).to.equal(reason)
      expect(fx.a.closed).to.equal(true)
      expect(await remoteEnd).to.be.oneOf(['error', 'complete'])
      await firstValueFrom(fx.b.closed$.pipe(timeout(5000)))
    })

    it('closed$ replays to late subscribers; writes after close return false; source$ replays the ending', async () => {
      fx.a.destroy()
      await firstValueFrom(fx.b.closed$.pipe(timeout(5000)))
      expect(await firstValueFrom(fx.a.closed$.pipe(toArray()))).to.deep.equal([undefined])
      expect(await firstValueFrom(fx.b.closed$.pipe(take(1)))).to.satisfy((r: unknown) => r === undefined || r instanceof Error)
      expect(fx.a.write(bytes(1, 1))).to.equal(false)
      const ending = await new Promise<string>((resolve) => {
        fx.a.source$.subscribe({ error: () => { resolve('error') }, complete: () => { resolve('complete') } })
      })
      expect(ending).to.be.oneOf(['error', 'complete'])
    })
  })
}
