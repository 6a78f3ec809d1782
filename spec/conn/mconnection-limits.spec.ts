import { expect } from 'chai'
import { map } from 'rxjs'
import { MConnection } from '../../lib/conn/mconnection.js'
import { RecvBudget } from '../../lib/conn/recv-budget.js'
import { RecvBudgetExceededError, WriteStallError } from '../../lib/errors.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { encodePacketFrame, type Packet } from '../../lib/wire/packet.js'
import { advanceTo, hex, newTestScheduler, settle, spyWrites, unlimited } from './helpers.js'

const frames = (...packets: Packet[]): Uint8Array => Buffer.concat(packets.map(encodePacketFrame))
/** `count` PacketMsgs of `size` bytes each on `chId`, none of them eof. */
const partial = (chId: number, count: number, size: number): Uint8Array =>
  frames(...Array.from({ length: count }, () => ({ type: 'msg' as const, channelId: chId, eof: false, data: new Uint8Array(size) })))
const PONG = '021200'

describe('conn/MConnection limits (virtual time)', () => {
  describe('receive budgets', () => {
    it('stops a connection whose partial messages pass its own budget with RecvBudgetExceededError (connection)', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ expectObservable }) => {
        const [a, b] = memoryPair({ scheduler })
        const node = new RecvBudget({ limit: 1 << 20 })
        const ma = new MConnection(a, [{ id: 1, priority: 1 }, { id: 2, priority: 1 }], unlimited(scheduler, { connRecvBudget: 20_000, recvBudget: node }))
        ma.start()
        // 8 KiB partial on channel 1 (buffer 8 KiB), then 12 KiB on channel 2: its buffer would reach 16 KiB.
        scheduler.schedule(() => b.write(partial(1, 8, 1024)), 5)
        scheduler.schedule(() => { expect(node.used).to.equal(8192) }, 6)
        scheduler.schedule(() => b.write(partial(2, 12, 1024)), 10)
        expectObservable(ma.closed$.pipe(map((e) => e instanceof RecvBudgetExceededError ? `${e.budget}:${e.limit}` : String(e)))).toBe('10ms (x|)', { x: 'connection:20000' })
        scheduler.schedule(() => { expect(node.used).to.equal(0); expect(node.children).to.equal(0) }, 11)
      })
    })

    it('2.5 MiB of 1-byte packets (20 MiB on the wire) on one channel hold one buffer of about the payload', () => {
      const scheduler = newTestScheduler()
      const [a, b] = memoryPair({ scheduler, highWaterMark: 1 << 30 })
      const node = new RecvBudget({ limit: 1 << 30 })
      const ma = new MConnection(a, [{ id: 1, priority: 1 }], unlimited(scheduler, { recvBudget: node }))
      ma.start()
      const packet = encodePacketFrame({ type: 'msg', channelId: 1, eof: false, data: Uint8Array.of(1) })
      const chunk = Buffer.concat(Array.from({ length: 65_536 }, () => packet)) // 64 Ki packets, 8 bytes each
      for (let i = 0; i < 40; i++) b.write(chunk) // 2.5 MiB of payload in 20 MiB of packets
      advanceTo(scheduler, 10)
      expect(ma.isClosed).to.equal(false)
      expect(node.used).to.equal(4 * 1024 * 1024) // 2.5 MiB in a buffer of 4 MiB: the payload, rounded up to a power of two
      ma.stop()
      expect(node.used).to.equal(0)
    })

    it('at the node budget stops the connection holding the most (an attacker), not the honest one asking for a little', async () => {
      const scheduler = newTestScheduler()
      const node = new RecvBudget({ limit: 150_000 })
      const [a1, b1] = memoryPair({ scheduler })
      const [a2, b2] = memoryPair({ scheduler })
      const attacker = new MConnection(a1, [{ id: 1, priority: 1 }], unlimited(scheduler, { recvBudget: node }))
      const honest = new MConnection(a2, [{ id: 1, priority: 1 }], unlimited(scheduler, { recvBudget: node }))
      const got: number[] = []
      honest.inbound$.subscribe(({ message }) => got.push(message.byteLength))
      let reason: Error | undefined
      attacker.closed$.subscribe((e) => { reason = e })
      attacker.start()
      honest.start()
      b1.write(partial(1, 120, 1024)) // 120 KiB: a 128 KiB buffer
      advanceTo(scheduler, 5)
      expect(node.used).to.equal(131_072)
      b2.write(Buffer.concat([partial(1, 20, 1024), // its buffer grows to 32 KiB: 128 + 32 KiB > 150,000
        frames({ type: 'msg', channelId: 1, eof: true, data: new Uint8Array(1) })]))
      advanceTo(scheduler, 10)
      await settle()
      expect(reason).to.be.instanceOf(RecvBudgetExceededError)
      expect((reason as RecvBudgetExceededError).budget).to.equal('node')
      expect(honest.isClosed).to.equal(false)
      expect(got).to.deep.equal([20 * 1024 + 1])
      honest.stop()
      expect(node.used).to.equal(0)
    })
  })

  describe('send waiters', () => {
    it('lets at most maxSendWaiters sends wait; past it send resolves false at once, the waiting ones go on', async () => {
      const scheduler = newTestScheduler()
      const [a, b] = memoryPair({ scheduler })
      const ma = new MConnection(a, [{ id: 1, priority: 1, sendQueueCapacity: 2 }], unlimited(scheduler, { sendTimeoutMs: 10_000 }))
      const mb = new MConnection(b, [{ id: 1, priority: 1 }], unlimited(scheduler))
      let received = 0
      mb.inbound$.subscribe(() => { received++ })
      ma.start() // mb is not started: nothing is read, the link fills
      for (let i = 0; i < 3; i++) ma.trySend(1, new Uint8Array(70_000)) // one being sent, two queued
      const results: Array<[number, boolean]> = []
      for (let i = 0; i < 5; i++) void ma.send(1, new Uint8Array(1000)).then((ok) => { results.push([i, ok]) })
      await settle()
      // The default bound is the queue capacity (2): sends 2, 3 and 4 are refused before any time passes.
      expect(results).to.deep.equal([[2, false], [3, false], [4, false]])
      mb.start()
      advanceTo(scheduler, 100)
      await settle()
      expect(results.slice(3)).to.deep.equal([[0, true], [1, true]])
      advanceTo(scheduler, 200)
      expect(received).to.equal(5)
      ma.stop()
      mb.stop()
    })
  })

  describe('write stall', () => {
    it('stops a peer that reads nothing but pings every second with WriteStallError after writeStallTimeoutMs, writing no pong meanwhile', () => {
      const scheduler = newTestScheduler()
      let writes: Array<{ t: number, bytes: Uint8Array }> = []
      scheduler.run(({ expectObservable }) => {
        const [a, b] = memoryPair({ scheduler })
        writes = spyWrites(a, scheduler)
        const ma = new MConnection(a, [{ id: 1, priority: 1, sendQueueCapacity: 4 }], unlimited(scheduler, { writeStallTimeoutMs: 5000 }))
        ma.start()
        for (let i = 0; i < 4; i++) ma.trySend(1, new Uint8Array(70_000)) // b never reads: blocked at once
        for (let t = 1000; t <= 8000; t += 1000) scheduler.schedule(() => b.write(frames({ type: 'ping' }, { type: 'pong' })), t)
        expectObservable(ma.closed$.pipe(map((e) => e instanceof WriteStallError ? `${e.name}:${e.stalledMs}` : String(e)))).toBe('5000ms (x|)', { x: 'WriteStallError:5000' })
      })
      expect(writes.filter((w) => w.t > 0)).to.deep.equal([]) // four pings, no pong into the full socket
    })

    it('owes one pong while blocked and writes it first on drain; a reader that catches up within the timeout is not stopped', () => {
      const scheduler = newTestScheduler()
      const seen: string[] = []
      let closed: Error | undefined | null = null
      scheduler.run(() => {
        const [a, b] = memoryPair({ scheduler })
        const ma = new MConnection(a, [{ id: 1, priority: 1, sendQueueCapacity: 2 }], unlimited(scheduler, { writeStallTimeoutMs: 5000 }))
        ma.closed$.subscribe((e) => { closed = e })
        ma.start()
        for (let i = 0; i < 3; i++) ma.trySend(1, new Uint8Array(70_000))
        for (const t of [1000, 2000, 3000]) scheduler.schedule(() => b.write(frames({ type: 'ping' })), t)
        // At 4 s the remote starts reading: everything drains; then it stalls again for less than the timeout.
        scheduler.schedule(() => {
          b.source$.subscribe((chunk) => {
            const h = hex(chunk)
            for (let i = h.indexOf(PONG); i >= 0; i = h.indexOf(PONG, i + 1)) seen.push(`${scheduler.now()}:pong`)
          })
        }, 4000)
        scheduler.schedule(() => { for (let i = 0; i < 3; i++) ma.trySend(1, new Uint8Array(70_000)) }, 4500)
        scheduler.schedule(() => { expect(closed).to.equal(null); ma.stop() }, 9000)
      })
      expect(seen).to.deep.equal(['4000:pong']) // three pings while blocked: one pong, on the first drain
      expect(closed).to.equal(undefined)
    })
  })
})
