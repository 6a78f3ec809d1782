/**
 * The write buffer on its own (PooledWriteBuffer, WriteBufferPool) and injected into an MConnection: a factory is
 * asked once with the room of one frame, a buffer of one's own carries the same bytes, a buffer too small for a
 * frame is refused, and a pool of one's own is the one the bursts use.
 */
import { expect } from 'chai'
import { MConnection } from '../../lib/conn/mconnection.js'
import { PooledWriteBuffer, WriteBufferPool, type WriteBuffer } from '../../lib/conn/write-buffer.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { maxPacketMsgSize, PING_PONG_FRAME_SIZE } from '../../lib/wire/packet.js'
import { varintSize } from '../../lib/wire/proto.js'
import { isPayload, newTestScheduler, payload, unlimited } from './helpers.js'

const CH = [{ id: 1, priority: 1, sendQueueCapacity: 200 }]
/** The room of one frame at the default packet payload (1024): length prefix, packet, a ping after it. */
const FRAME_ROOM = varintSize(maxPacketMsgSize(1024)) + maxPacketMsgSize(1024) + PING_PONG_FRAME_SIZE

const fill = (wb: WriteBuffer, n: number, seed: number): void => {
  for (let i = 0; i < n; i++) wb.bytes[wb.pos + i] = (seed + i) & 0xff
  wb.pos += n
}
const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (seed + i) & 0xff)

/** A WriteBuffer of one fixed buffer, no pool: every chunk is a copy. */
class FixedWriteBuffer implements WriteBuffer {
  readonly bytes: Uint8Array
  pos = 0
  readonly growAt = Infinity
  readonly highWaterMark = 8192
  takes = 0
  constructor (readonly frameRoom: number) { this.bytes = new Uint8Array(this.highWaterMark + frameRoom) }
  grow (): Uint8Array { return this.bytes }
  take (): Uint8Array {
    this.takes++
    const chunk = this.bytes.slice(0, this.pos)
    this.pos = 0
    return chunk
  }

  clear (): void { this.pos = 0 }
}

describe('conn/WriteBuffer', () => {
  describe('PooledWriteBuffer', () => {
    it('fills its small buffer first; a frame past smallSize moves the bytes so far to a large buffer from the pool', () => {
      const pool = new WriteBufferPool()
      const wb = new PooledWriteBuffer({ frameRoom: 100, smallSize: 1000, highWaterMark: 5000, pool })
      expect(wb.growAt).to.equal(1000)
      expect(wb.bytes.byteLength).to.equal(1100)
      const small = wb.bytes
      fill(wb, 1000, 7)
      const large = wb.grow()
      expect(large).to.equal(wb.bytes)
      expect(large).to.not.equal(small)
      expect(large.byteLength).to.equal(5100)
      expect(wb.growAt).to.equal(Infinity)
      expect(Buffer.from(large.subarray(0, 1000)).equals(Buffer.from(pattern(1000, 7)))).to.equal(true)
    })

    it('take: a short chunk is a copy and the buffer is kept (a large one goes back to the pool); a long one hands the large buffer over', () => {
      const pool = new WriteBufferPool()
      const wb = new PooledWriteBuffer({ frameRoom: 100, smallSize: 1000, highWaterMark: 50_000, copyBelow: 16_384, pool })
      const small = wb.bytes
      // short, in the small buffer: a copy
      fill(wb, 10, 1)
      const c1 = wb.take()
      expect(c1.buffer).to.not.equal(small.buffer)
      expect(wb.pos).to.equal(0)
      expect(wb.bytes).to.equal(small)
      // short, in a large buffer: a copy, the large buffer back in the pool
      fill(wb, 900, 2)
      wb.pos += 200
      const large = wb.grow()
      const c2 = wb.take()
      expect(c2.byteLength).to.equal(1100)
      expect(c2.buffer).to.not.equal(large.buffer)
      expect(wb.bytes).to.equal(small)
      expect(wb.growAt).to.equal(1000)
      expect(pool.held).to.equal(1)
      // long, in a large buffer: the buffer itself; the burst goes on in a fresh one (growAt 0, nothing to move)
      fill(wb, 1000, 3)
      const again = wb.grow()
      expect(again).to.equal(large) // reused from the pool
      expect(pool.held).to.equal(0)
      fill(wb, 20_000, 4)
      const c3 = wb.take()
      expect(c3.buffer).to.equal(large.buffer)
      expect(c3.byteLength).to.equal(21_000)
      expect(wb.growAt).to.equal(0)
      expect(wb.bytes).to.equal(small)
      const next = wb.grow()
      expect(next).to.not.equal(large) // never written again: the transport holds it
      expect(Buffer.from(c3).equals(Buffer.concat([pattern(1000, 3), pattern(20_000, 4)]))).to.equal(true)
    })

    it('clear drops the content and gives a large buffer back; the pool keeps at most `size` per capacity', () => {
      const pool = new WriteBufferPool({ size: 2 })
      const wbs = Array.from({ length: 3 }, () => new PooledWriteBuffer({ frameRoom: 10, smallSize: 100, pool }))
      for (const wb of wbs) {
        fill(wb, 150, 0)
        wb.grow()
      }
      for (const wb of wbs) wb.clear()
      expect(pool.held).to.equal(2)
      for (const wb of wbs) expect(wb.pos).to.equal(0)
      expect(new WriteBufferPool({ size: 0 }).held).to.equal(0)
    })

    it('refuses sizes that are not integers, a frameRoom or high-water mark below 1, and a pool size below 0', () => {
      expect(() => new PooledWriteBuffer({ frameRoom: 0 })).to.throw(RangeError)
      expect(() => new PooledWriteBuffer({ frameRoom: 1.5 })).to.throw(RangeError)
      expect(() => new PooledWriteBuffer({ frameRoom: 10, highWaterMark: 0 })).to.throw(RangeError)
      expect(() => new PooledWriteBuffer({ frameRoom: 10, smallSize: -1 })).to.throw(RangeError)
      expect(() => new WriteBufferPool({ size: -1 })).to.throw(RangeError)
    })
  })

  describe('injected into an MConnection', () => {
    it('a factory is called once, with the room of the largest frame and a ping', () => {
      const [a] = memoryPair()
      const rooms: number[] = []
      const m = new MConnection(a, CH, { writeBuffer: (frameRoom) => { rooms.push(frameRoom); return new PooledWriteBuffer({ frameRoom }) } })
      expect(rooms).to.deep.equal([FRAME_ROOM])
      m.stop()
      const [c] = memoryPair()
      const rooms2: number[] = []
      new MConnection(c, CH, { maxPacketMsgPayloadSize: 100, writeBuffer: (frameRoom) => { rooms2.push(frameRoom); return new FixedWriteBuffer(frameRoom) } }).stop()
      expect(rooms2).to.deep.equal([varintSize(maxPacketMsgSize(100)) + maxPacketMsgSize(100) + PING_PONG_FRAME_SIZE])
    })

    it('a buffer of its own with too little room for a frame is refused with RangeError', () => {
      const [a] = memoryPair()
      expect(() => new MConnection(a, CH, { writeBuffer: new FixedWriteBuffer(FRAME_ROOM - 1) })).to.throw(RangeError, /frameRoom/)
    })

    it('a buffer of its own carries every message intact, written at its high-water mark and at each flush', () => {
      const scheduler = newTestScheduler()
      const got: Uint8Array[] = []
      const fixed = new FixedWriteBuffer(FRAME_ROOM)
      const sizes = [10, 30_000, 500, 70_000, 1]
      scheduler.run(() => {
        const [a, b] = memoryPair({ scheduler, highWaterMark: 1 << 30 })
        const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 5, writeBuffer: fixed }))
        const mb = new MConnection(b, CH, unlimited(scheduler))
        mb.inbound$.subscribe(({ message }) => { got.push(message.slice()) })
        ma.start()
        mb.start()
        sizes.forEach((size, i) => { scheduler.schedule(() => { ma.trySend(1, payload(1, i, size)) }, i * 10) })
        scheduler.schedule(() => { ma.stop(); mb.stop() }, 200)
      })
      expect(got.map((m) => m.byteLength)).to.deep.equal(sizes)
      got.forEach((m, i) => { expect(isPayload(m, 1, i, sizes[i]!), `message ${i}`).to.equal(true) })
      // 30 KB and 70 KB pass the 8 KiB high-water mark several times each: more writes than messages
      expect(fixed.takes).to.be.above(sizes.length + 8)
    })

    it('bursts on connections given a pool of their own take their large buffers from it, not the shared one', () => {
      const scheduler = newTestScheduler()
      const pool = new WriteBufferPool({ size: 4 })
      const sharedBefore = WriteBufferPool.shared.held
      scheduler.run(() => {
        for (let c = 0; c < 2; c++) {
          const [a, b] = memoryPair({ scheduler, highWaterMark: 1 << 30 })
          const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 5, writeBuffer: (frameRoom) => new PooledWriteBuffer({ frameRoom, pool }) }))
          const mb = new MConnection(b, CH, unlimited(scheduler))
          ma.start()
          mb.start()
          // 12 KB in one flush: past the small buffer, shorter than a handed-over chunk, so the large buffer comes back
          for (let i = 0; i < 12; i++) scheduler.schedule(() => { ma.trySend(1, payload(c, i, 1000)) }, c * 20)
          scheduler.schedule(() => { ma.stop(); mb.stop() }, 100)
        }
      })
      expect(pool.held).to.equal(1) // one buffer, taken and given back by each connection in turn
      expect(WriteBufferPool.shared.held).to.equal(sharedBefore)
    })
  })
})
