/**
 * The MConnection's write buffers: each connection keeps a small buffer of its own, a burst moves on to a large
 * buffer shared through a process-wide pool, and a large buffer handed to the transport never comes back.
 * These specs check what a user can see of that: every byte arrives in order whatever the buffer it went
 * through, the writes are batched as before (one write per flush, a write per 64 KiB in a burst), and no
 * chunk the transport was given is ever modified afterwards, even when connections reuse pooled buffers.
 */
import { expect } from 'chai'
import { MConnection } from '../../lib/conn/mconnection.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { isPayload, newTestScheduler, payload, unlimited } from './helpers.js'

const CH = [{ id: 1, priority: 1, sendQueueCapacity: 200 }]

/** Records every chunk written to `conn` by reference, with a copy taken at the time of the write. */
function keepWrites (conn: DuplexConnection, scheduler: { now: () => number }): Array<{ t: number, chunk: Uint8Array, copy: Uint8Array }> {
  const writes: Array<{ t: number, chunk: Uint8Array, copy: Uint8Array }> = []
  const original = conn.write.bind(conn)
  ;(conn as { write: (c: Uint8Array) => boolean }).write = (chunk: Uint8Array): boolean => {
    writes.push({ t: scheduler.now(), chunk, copy: chunk.slice() })
    return original(chunk)
  }
  return writes
}

describe('conn/MConnection write buffers', () => {
  it('a flush that outgrows the small buffer is still one write, and every message arrives intact', () => {
    const scheduler = newTestScheduler()
    const got: Uint8Array[] = []
    let writes: Array<{ t: number, chunk: Uint8Array }> = []
    scheduler.run(() => {
      const [a, b] = memoryPair({ scheduler, highWaterMark: 1 << 30 })
      writes = keepWrites(a, scheduler)
      const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 10 }))
      const mb = new MConnection(b, CH, unlimited(scheduler))
      mb.inbound$.subscribe(({ message }) => { got.push(message.slice()) })
      ma.start()
      mb.start()
      // 12 × 1000 bytes within one throttle period: about 12 KiB, three times the small buffer
      for (let i = 0; i < 12; i++) scheduler.schedule(() => { ma.trySend(1, payload(1, i, 1000)) }, Math.floor(i / 3))
      scheduler.schedule(() => { ma.stop(); mb.stop() }, 100)
    })
    expect(writes.map((w) => w.t)).to.deep.equal([10])
    expect(got).to.have.length(12)
    got.forEach((m, i) => { expect(isPayload(m, 1, i, 1000), `message ${i}`).to.equal(true) })
  })

  it('alternating bursts and small messages on several connections: bytes in order, no written chunk ever changes', () => {
    const scheduler = newTestScheduler()
    const sizes = [300, 70_000, 1_000, 2_000, 150_000, 10, 5_000, 66_000, 4_000, 20_000, 1]
    const conns = 3
    const got: Uint8Array[][] = Array.from({ length: conns }, () => [])
    const writes: Array<Array<{ t: number, chunk: Uint8Array, copy: Uint8Array }>> = []
    scheduler.run(() => {
      for (let c = 0; c < conns; c++) {
        const [a, b] = memoryPair({ scheduler, highWaterMark: 1 << 30 })
        writes.push(keepWrites(a, scheduler))
        const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 5 }))
        const mb = new MConnection(b, CH, unlimited(scheduler))
        mb.inbound$.subscribe(({ message }) => { got[c]!.push(message.slice()) })
        ma.start()
        mb.start()
        // The connections take turns, so a pooled large buffer given back by one is reused by another.
        sizes.forEach((size, i) => { scheduler.schedule(() => { ma.trySend(1, payload(c, i, size)) }, i * 7 + c * 2) })
        scheduler.schedule(() => { ma.stop(); mb.stop() }, 1000)
      }
    })
    for (let c = 0; c < conns; c++) {
      expect(got[c]!.map((m) => m.byteLength), `connection ${c}`).to.deep.equal(sizes)
      got[c]!.forEach((m, i) => { expect(isPayload(m, c, i, sizes[i]!), `connection ${c} message ${i}`).to.equal(true) })
      for (const [k, w] of writes[c]!.entries()) {
        expect(Buffer.from(w.chunk).equals(Buffer.from(w.copy)), `connection ${c} write ${k} (t=${w.t}) changed after it was written`).to.equal(true)
      }
    }
    // the large messages went out in 64 KiB writes, at once
    const big = writes[0]!.filter((w) => w.chunk.byteLength >= 65_536)
    expect(big.length).to.be.at.least(3)
    for (const w of big) expect(w.chunk.byteLength).to.be.within(65_536, 65_536 + 1040)
  })

  it('pings and pongs written between bursts keep the frame order intact', () => {
    const scheduler = newTestScheduler()
    const got: number[] = []
    let stoppedWith: Error | undefined
    scheduler.run(() => {
      const [a, b] = memoryPair({ scheduler, highWaterMark: 1 << 30 })
      const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 10, pingIntervalMs: 20, pongTimeoutMs: 15 }))
      const mb = new MConnection(b, CH, unlimited(scheduler, { pingIntervalMs: 25, pongTimeoutMs: 20 }))
      mb.inbound$.subscribe(({ message }) => { got.push(message.byteLength) })
      ma.closed$.subscribe((e) => { stoppedWith ??= e })
      ma.start()
      mb.start()
      for (let i = 0; i < 10; i++) {
        scheduler.schedule(() => { ma.trySend(1, payload(1, i, i % 2 === 0 ? 3_000 : 80_000)) }, i * 19)
      }
      scheduler.schedule(() => { ma.stop(); mb.stop() }, 400)
    })
    expect(got).to.deep.equal(Array.from({ length: 10 }, (_, i) => i % 2 === 0 ? 3_000 : 80_000))
    expect(stoppedWith).to.equal(undefined)
  })
})
