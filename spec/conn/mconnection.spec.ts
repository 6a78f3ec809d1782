import { expect } from 'chai'
import { map } from 'rxjs'
import { MConnection } from '../../lib/conn/mconnection.js'
import {
  AbortError, ConnectionClosedError, DecodeError, FrameTooLargeError, MessageTooLargeError,
  TransportError, UnknownChannelError, UnknownPacketTypeError
} from '../../lib/errors.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { decodePacket, encodePacketFrame, packetMsgFrameSize, type Packet } from '../../lib/wire/packet.js'
import { advanceTo, hex, mconnPair, newTestScheduler, payload, settle, spyWrites, str, text, unhex, unlimited } from './helpers.js'

const CH = [{ id: 1, priority: 1, sendQueueCapacity: 10 }, { id: 2, priority: 4, sendQueueCapacity: 10 }]

function frames (...packets: Packet[]): Uint8Array {
  return Buffer.concat(packets.map(encodePacketFrame))
}

describe('conn/MConnection (virtual time)', () => {
  describe('flush throttle', () => {
    it('collects a burst and writes it once when the 10 ms throttle fires', () => {
      const scheduler = newTestScheduler()
      let writes: Array<{ t: number }> = []
      scheduler.run(({ cold, expectObservable }) => {
        const [a, b] = memoryPair({ scheduler })
        writes = spyWrites(a, scheduler)
        const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 10 }))
        const mb = new MConnection(b, CH, unlimited(scheduler))
        ma.start()
        mb.start()
        cold('a 2ms b 3ms c').subscribe((x) => { ma.trySend(1, text(x)) }) // at 0, 3 and 7 ms
        expectObservable(mb.inbound$.pipe(map(({ message }) => str(message))), '^ 50ms !').toBe('10ms (abc)')
        scheduler.schedule(() => { ma.stop(); mb.stop() }, 60)
      })
      expect(writes.map((w) => w.t)).to.deep.equal([10])
    })

    it('arms one flush per burst: a second burst after the flush gets its own', () => {
      const scheduler = newTestScheduler()
      let writes: Array<{ t: number }> = []
      scheduler.run(({ cold, expectObservable }) => {
        const [a, b] = memoryPair({ scheduler })
        writes = spyWrites(a, scheduler)
        const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 10 }))
        const mb = new MConnection(b, CH, unlimited(scheduler))
        ma.start()
        mb.start()
        cold('a 19ms b').subscribe((x) => { ma.trySend(1, text(x)) }) // at 0 and 20 ms
        expectObservable(mb.inbound$.pipe(map(({ message }) => str(message))), '^ 50ms !').toBe('10ms a 19ms b')
        scheduler.schedule(() => { ma.stop(); mb.stop() }, 60)
      })
      expect(writes.map((w) => w.t)).to.deep.equal([10, 30])
    })

    it('with flushThrottleMs 0 writes at the end of the current turn: one write per burst', () => {
      const scheduler = newTestScheduler()
      let writes: Array<{ t: number }> = []
      scheduler.run(({ cold, expectObservable }) => {
        const [a, b] = memoryPair({ scheduler })
        writes = spyWrites(a, scheduler)
        const ma = new MConnection(a, CH, unlimited(scheduler, { flushThrottleMs: 0 }))
        const mb = new MConnection(b, CH, unlimited(scheduler))
        ma.start()
        mb.start()
        cold('(abc) 4ms d').subscribe((x) => { ma.trySend(1, text(x)) })
        expectObservable(mb.inbound$.pipe(map(({ message }) => str(message))), '^ 50ms !').toBe('(abc) 4ms d')
        scheduler.schedule(() => { ma.stop(); mb.stop() }, 60)
      })
      expect(writes.map((w) => w.t)).to.deep.equal([0, 9])
    })

    it('with flushThrottleMs 0 on the default scheduler flushes in a microtask, one write for a synchronous burst', async () => {
      const [a, b] = memoryPair()
      const writes = spyWrites(a, { now: () => 0, schedule: () => { throw new Error('unused') } } as never)
      const ma = new MConnection(a, CH, { flushThrottleMs: 0, sendRate: 0, recvRate: 0 })
      const mb = new MConnection(b, CH, { sendRate: 0, recvRate: 0 })
      const got: string[] = []
      mb.inbound$.subscribe(({ message }) => got.push(str(message)))
      ma.start()
      mb.start()
      for (const x of ['a', 'b', 'c']) ma.trySend(1, text(x))
      expect(writes).to.have.length(0)
      await Promise.resolve()
      expect(writes).to.have.length(1)
      await new Promise((resolve) => { setImmediate(resolve) })
      expect(got).to.deep.equal(['a', 'b', 'c'])
      ma.stop()
      mb.stop()
    })

    it('writes at once when the buffer passes 64 KiB, without waiting for the throttle', () => {
      const scheduler = newTestScheduler()
      let writes: Array<{ t: number, bytes: Uint8Array }> = []
      scheduler.run(() => {
        const [a, b] = memoryPair({ scheduler, highWaterMark: 1 << 30 })
        writes = spyWrites(a, scheduler)
        const ma = new MConnection(a, [{ id: 1, priority: 1 }], unlimited(scheduler, { flushThrottleMs: 100 }))
        const mb = new MConnection(b, [{ id: 1, priority: 1 }], unlimited(scheduler))
        ma.start()
        mb.start()
        ma.trySend(1, new Uint8Array(150_000))
        scheduler.schedule(() => { ma.stop(); mb.stop() }, 500)
      })
      // two full buffers at once, the tail when the throttle fires
      expect(writes.map((w) => w.t)).to.deep.equal([0, 0, 100])
      expect(writes[0]!.bytes.byteLength).to.be.within(65_536, 65_536 + 1040)
    })
  })

  describe('priority scheduling', () => {
    it('shares the bytes of two saturated channels with priorities 1 and 4 about 1:4', () => {
      const scheduler = newTestScheduler()
      const received = new Map<number, number>([[1, 0], [2, 0]])
      scheduler.run(() => {
        const channels = [{ id: 1, priority: 1, sendQueueCapacity: 300 }, { id: 2, priority: 4, sendQueueCapacity: 300 }]
        // A 1 MB/s link: the socket, not the queues, is the bottleneck.
        const { ma, mb } = mconnPair(scheduler, channels, { link: { bandwidth: 1_000_000 }, stopAt: 3000 })
        const msg = new Uint8Array(1000)
        for (let i = 0; i < 300; i++) { ma.trySend(1, msg); ma.trySend(2, msg) }
        mb.inbound$.subscribe(({ chId, message }) => {
          // Keep both queues full: replace every message that arrives.
          if (scheduler.now() < 2500) expect(ma.trySend(chId, msg)).to.equal(true)
          received.set(chId, received.get(chId)! + message.byteLength)
        })
        scheduler.schedule(() => {
          const one = received.get(1)!
          const four = received.get(2)!
          expect(one + four).to.be.within(1_500_000, 2_100_000)
          expect(four / one).to.be.within(3.6, 4.4)
        }, 2000)
      })
    })

    it('does not keep a small message on a high-priority channel behind a 4 MiB message on a low one', () => {
      const scheduler = newTestScheduler()
      const arrivals: Array<[number, number]> = []
      scheduler.run(() => {
        const channels = [{ id: 1, priority: 1 }, { id: 2, priority: 5 }]
        const { ma, mb } = mconnPair(scheduler, channels, { link: { bandwidth: 1_000_000 }, stopAt: 6000 })
        mb.inbound$.subscribe(({ chId }) => arrivals.push([chId, scheduler.now()]))
        ma.trySend(1, new Uint8Array(4 << 20))
        scheduler.schedule(() => { expect(ma.trySend(2, text('urgent'))).to.equal(true) }, 500)
      })
      const urgent = arrivals.find(([ch]) => ch === 2)![1]
      const big = arrivals.find(([ch]) => ch === 1)![1]
      expect(urgent - 500).to.be.below(250) // a write buffer or two of link time, not the 4 s of the big one
      expect(big).to.be.above(4000)
    })

    it('decays recentlySent by 0.8 every 2 s, as CometBFT updateStats', () => {
      const scheduler = newTestScheduler()
      scheduler.run(() => {
        const { ma } = mconnPair(scheduler, CH, { stopAt: 10_000 })
        ma.trySend(1, new Uint8Array(5000))
        const sent = (): number => ma.status().channels[0]!.recentlySent
        let initial = 0
        const encoded = 4 * packetMsgFrameSize(1, false, 1024) + packetMsgFrameSize(1, true, 5000 - 4 * 1024)
        scheduler.schedule(() => { initial = sent(); expect(initial).to.equal(encoded) }, 1999)
        scheduler.schedule(() => { expect(sent()).to.equal(Math.floor(initial * 0.8)) }, 2000)
        scheduler.schedule(() => { expect(sent()).to.equal(Math.floor(Math.floor(initial * 0.8) * 0.8)) }, 5999)
        scheduler.schedule(() => { expect(sent()).to.equal(Math.floor(Math.floor(Math.floor(initial * 0.8) * 0.8) * 0.8)) }, 6000)
      })
    })
  })

  describe('ping and pong', () => {
    it('pings every pingIntervalMs and stays up while the remote answers', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ expectObservable }) => {
        const { a, ma } = mconnPair(scheduler, CH, { a: { pingIntervalMs: 1000, pongTimeoutMs: 500 }, stopAt: 5500 })
        const writes = spyWrites(a, scheduler)
        expectObservable(ma.closed$.pipe(map((e) => e?.name ?? 'stopped'))).toBe('5500ms (x|)', { x: 'stopped' })
        scheduler.schedule(() => {
          expect(writes.map((w) => [w.t, hex(w.bytes)])).to.deep.equal([[1000, '020a00'], [2000, '020a00'], [3000, '020a00'], [4000, '020a00'], [5000, '020a00']])
        }, 5400)
      })
    })

    it('stops with PongTimeoutError when no pong comes within pongTimeoutMs', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ expectObservable }) => {
        const [a, b] = memoryPair({ scheduler })
        b.source$.subscribe() // reads, never answers
        const ma = new MConnection(a, CH, unlimited(scheduler, { pingIntervalMs: 1000, pongTimeoutMs: 500 }))
        ma.start()
        expectObservable(ma.closed$.pipe(map((e) => e?.constructor.name))).toBe('1500ms (x|)', { x: 'PongTimeoutError' })
        expectObservable(ma.inbound$).toBe('1500ms |')
      })
    })

    it('answers pings with pongs at once, one pong for several pings in one chunk, and ignores unsolicited pongs', () => {
      const scheduler = newTestScheduler()
      const seen: Array<[number, string]> = []
      scheduler.run(() => {
        const [a, b] = memoryPair({ scheduler })
        const ma = new MConnection(a, CH, unlimited(scheduler))
        ma.start()
        b.source$.subscribe((chunk) => seen.push([scheduler.now(), hex(chunk)]))
        scheduler.schedule(() => b.write(frames({ type: 'ping' })), 5)
        scheduler.schedule(() => b.write(frames({ type: 'ping' }, { type: 'ping' }, { type: 'ping' })), 20)
        scheduler.schedule(() => b.write(frames({ type: 'pong' }, { type: 'pong' })), 30)
        scheduler.schedule(() => { expect(ma.isClosed).to.equal(false); ma.stop() }, 100)
      })
      expect(seen).to.deep.equal([[5, '021200'], [20, '021200']])
    })
  })

  describe('send, trySend, canSend', () => {
    it('send resolves false after the send timeout when the queue stays full', async () => {
      const scheduler = newTestScheduler()
      const [a, b] = memoryPair({ scheduler })
      void b // nobody reads: the link fills up and the queue stays full
      const ma = new MConnection(a, [{ id: 1, priority: 1 }], unlimited(scheduler, { sendTimeoutMs: 10_000 }))
      ma.start()
      for (let i = 0; i < 3; i++) ma.trySend(1, new Uint8Array(70_000))
      expect(ma.canSend(1)).to.equal(false)
      expect(ma.trySend(1, text('x'))).to.equal(false)
      let result: boolean | undefined
      void ma.send(1, text('late')).then((ok) => { result = ok })
      advanceTo(scheduler, 9999)
      await settle()
      expect(result).to.equal(undefined)
      advanceTo(scheduler, 10_000)
      await settle()
      expect(result).to.equal(false)
      let custom: boolean | undefined
      void ma.send(1, text('later'), { timeoutMs: 50 }).then((ok) => { custom = ok })
      advanceTo(scheduler, 10_049)
      await settle()
      expect(custom).to.equal(undefined)
      advanceTo(scheduler, 10_050)
      await settle()
      expect(custom).to.equal(false)
      ma.stop()
    })

    it('send waits for room and resolves true, first come first served', async () => {
      const scheduler = newTestScheduler()
      const [a, b] = memoryPair({ scheduler })
      const ma = new MConnection(a, [{ id: 1, priority: 1, maxSendWaiters: 2 }], unlimited(scheduler))
      const mb = new MConnection(b, [{ id: 1, priority: 1 }], unlimited(scheduler))
      b.pause() // the remote holds its reader: the link fills up
      const got: number[] = []
      mb.inbound$.subscribe(({ message }) => got.push(message.byteLength))
      ma.start()
      expect(ma.trySend(1, new Uint8Array(70_000))).to.equal(true) // being sent, the link is full
      expect(ma.trySend(1, new Uint8Array(70_000))).to.equal(true) // queued (capacity 1)
      expect(ma.trySend(1, new Uint8Array(70_000))).to.equal(false)
      const results: boolean[] = []
      const p1 = ma.send(1, new Uint8Array(1)).then((ok) => { results.push(ok) })
      const p2 = ma.send(1, new Uint8Array(2)).then((ok) => { results.push(ok) })
      expect(ma.trySend(1, new Uint8Array(3))).to.equal(false) // others are waiting
      advanceTo(scheduler, 100)
      await settle()
      expect(results).to.deep.equal([])
      mb.start()
      advanceTo(scheduler, 200)
      await Promise.all([p1, p2])
      expect(results).to.deep.equal([true, true])
      advanceTo(scheduler, 300)
      expect(got).to.deep.equal([70_000, 70_000, 1, 2])
      ma.stop()
      mb.stop()
    })

    it('send rejects with AbortError when its signal aborts, and resolves false once the connection stops', async () => {
      const scheduler = newTestScheduler()
      const [a] = memoryPair({ scheduler })
      const ma = new MConnection(a, [{ id: 1, priority: 1 }], unlimited(scheduler))
      ma.start()
      for (let i = 0; i < 3; i++) ma.trySend(1, new Uint8Array(70_000))
      const ac = new AbortController()
      const aborted = ma.send(1, text('a'), { signal: ac.signal })
      const pending = ma.send(1, text('b'))
      ac.abort()
      let err: unknown
      try { await aborted } catch (e) { err = e }
      expect(err).to.be.instanceOf(AbortError)
      ma.stop()
      expect(await pending).to.equal(false)
      expect(await ma.send(1, text('c'))).to.equal(false)
      expect(ma.trySend(1, text('d'))).to.equal(false)
      expect(ma.canSend(1)).to.equal(false)
    })

    it('refuses unknown channels without closing the connection', async () => {
      const scheduler = newTestScheduler()
      const [a] = memoryPair({ scheduler })
      const ma = new MConnection(a, CH, unlimited(scheduler))
      expect(ma.trySend(7, text('x'))).to.equal(false)
      expect(ma.canSend(7)).to.equal(false)
      expect(await ma.send(7, text('x'))).to.equal(false)
      expect(ma.canSend(1)).to.equal(true)
      expect(ma.isClosed).to.equal(false)
      ma.stop()
    })

    it('queues messages before start and sends them once started', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ expectObservable }) => {
        const { ma, mb } = mconnPair(scheduler, CH, { start: false, stopAt: 100 })
        expect(ma.trySend(2, text('early'))).to.equal(true)
        expectObservable(mb.inbound$.pipe(map(({ chId, message }) => `${chId}:${str(message)}`)), '^ 50ms !').toBe('20ms x', { x: '2:early' })
        scheduler.schedule(() => { mb.start(); ma.start() }, 10)
      })
    })

    it('cuts messages into packets of at most maxPacketMsgPayloadSize and reassembles them', () => {
      const scheduler = newTestScheduler()
      const sizes = [0, 1, 99, 100, 101, 250, 1000]
      const got: Array<[number, boolean]> = []
      let writes: Array<{ bytes: Uint8Array }> = []
      scheduler.run(() => {
        const { a, ma, mb } = mconnPair(scheduler, [{ id: 1, priority: 1, sendQueueCapacity: 20 }], {
          a: { maxPacketMsgPayloadSize: 100 }, b: { maxPacketMsgPayloadSize: 100 }, stopAt: 200
        })
        writes = spyWrites(a, scheduler)
        mb.inbound$.subscribe(({ message }) => got.push([message.byteLength, hex(message) === hex(payload(1, message.byteLength, message.byteLength))]))
        for (const n of sizes) ma.trySend(1, payload(1, n, n))
      })
      expect(got).to.deep.equal(sizes.map((n) => [n, true]))
      const wire = Buffer.concat(writes.map((w) => w.bytes))
      // walk the frames: no payload over 100 bytes, eof only on the last packet of each message
      const packets: Array<[number, boolean]> = []
      for (let pos = 0; pos < wire.length; pos += 1 + wire[pos]!) {
        const p = decodePacket(wire.subarray(pos + 1, pos + 1 + wire[pos]!))
        if (p.type === 'msg') packets.push([p.data.byteLength, p.eof])
      }
      expect(packets).to.deep.equal([
        [0, true], [1, true], [99, true], [100, true], [100, false], [1, true], [100, false], [100, false], [50, true],
        ...Array.from({ length: 9 }, (): [number, boolean] => [100, false]), [100, true]
      ])
    })
  })

  describe('errors from the remote stop the connection with a typed error', () => {
    const cases: Array<[string, () => Uint8Array, new (...args: never[]) => Error]> = [
      ['an unknown channel', () => frames({ type: 'msg', channelId: 9, eof: true, data: text('x') }), UnknownChannelError],
      ['a channel id above 255', () => frames({ type: 'msg', channelId: 257, eof: true, data: text('x') }), UnknownChannelError],
      ['a message over recvMessageCapacity', () => frames(
        { type: 'msg', channelId: 1, eof: false, data: new Uint8Array(60) },
        { type: 'msg', channelId: 1, eof: true, data: new Uint8Array(60) }), MessageTooLargeError],
      ['a malformed packet', () => unhex('031a0208'), DecodeError],
      ['an unknown packet type', () => unhex('022200'), UnknownPacketTypeError],
      ['a frame over maxPacketMsgSize', () => unhex('8b08'), FrameTooLargeError],
      ['a length prefix over 64 bits', () => unhex('80808080808080808002'), DecodeError]
    ]
    for (const [what, bytes, cls] of cases) {
      it(`stops on ${what} with ${cls.name}; closed$ emits it and inbound$ completes`, () => {
        const scheduler = newTestScheduler()
        scheduler.run(({ expectObservable }) => {
          const [a, b] = memoryPair({ scheduler })
          const ma = new MConnection(a, [{ id: 1, priority: 1, recvMessageCapacity: 100 }], unlimited(scheduler))
          ma.start()
          let remoteClosed: Error | undefined | null = null
          b.closed$.subscribe((r) => { remoteClosed = r })
          scheduler.schedule(() => b.write(bytes()), 10)
          expectObservable(ma.closed$.pipe(map((e) => e instanceof cls ? 'typed' : String(e)))).toBe('10ms (x|)', { x: 'typed' })
          expectObservable(ma.inbound$).toBe('10ms |')
          scheduler.schedule(() => { expect(remoteClosed).to.not.equal(null) }, 20)
        })
      })
    }

    it('reports the remote closing as ConnectionClosedError, a local stop as undefined', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ expectObservable }) => {
        const { ma, mb } = mconnPair(scheduler, CH)
        scheduler.schedule(() => { ma.stop() }, 30)
        expectObservable(ma.closed$.pipe(map((e) => e?.constructor.name ?? 'undefined'))).toBe('30ms (x|)', { x: 'undefined' })
        expectObservable(mb.closed$.pipe(map((e) => e?.constructor.name ?? 'undefined'))).toBe('30ms (x|)', { x: 'ConnectionClosedError' })
      })
    })

    it('reports a transport reset as TransportError', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ expectObservable }) => {
        const [a, b] = memoryPair({ scheduler })
        const ma = new MConnection(a, CH, unlimited(scheduler))
        ma.start()
        scheduler.schedule(() => { b.destroy() }, 40)
        expectObservable(ma.closed$.pipe(map((e) => e instanceof TransportError ? 'reset' : String(e)))).toBe('40ms (x|)', { x: 'reset' })
      })
    })

    it('passes a reason given to stop() on to closed$', () => {
      const scheduler = newTestScheduler()
      const [a] = memoryPair({ scheduler })
      const ma = new MConnection(a, CH, unlimited(scheduler))
      ma.start()
      const reason = new ConnectionClosedError('peer banned')
      let seen: unknown
      ma.closed$.subscribe((r) => { seen = r })
      ma.stop(reason)
      ma.stop(new Error('second stop is ignored'))
      expect(seen).to.equal(reason)
      expect(ma.isClosed).to.equal(true)
    })
  })

  describe('rate limits', () => {
    it('holds the send rate to sendRate bytes per second', () => {
      const scheduler = newTestScheduler()
      const progress: number[] = []
      scheduler.run(() => {
        const { ma } = mconnPair(scheduler, [{ id: 1, priority: 1 }], { a: { sendRate: 10_000 }, stopAt: 6000 })
        ma.trySend(1, new Uint8Array(100_000))
        for (let t = 1000; t <= 5000; t += 1000) scheduler.schedule(() => { progress.push(ma.status().channels[0]!.bytesSent) }, t)
      })
      // 1000 bytes per 100 ms sample, plus at most one packet over each sample
      for (let i = 0; i < progress.length; i++) {
        const t = i + 1
        expect(progress[i]).to.be.within(10_000 * t, 10_000 * t + (10 * t + 1) * 1034)
      }
      const perSecond = (progress[4]! - progress[0]!) / 4
      expect(perSecond).to.be.within(10_000, 10_000 * 1.05)
    })

    it('holds the receive rate to recvRate by pausing the reader; the sender feels backpressure', () => {
      const scheduler = newTestScheduler()
      const received: Array<[number, number]> = []
      let pausedSeen = false
      let senderBlocked = false
      scheduler.run(() => {
        const { a, b, ma, mb } = mconnPair(scheduler, [{ id: 1, priority: 1, sendQueueCapacity: 300 }], { b: { recvRate: 20_000 }, stopAt: 4100 })
        mb.inbound$.subscribe(({ message }) => received.push([scheduler.now(), message.byteLength]))
        for (let i = 0; i < 300; i++) expect(ma.trySend(1, new Uint8Array(1000))).to.equal(true)
        for (let t = 50; t < 4000; t += 50) {
          scheduler.schedule(() => {
            if (b.isPaused) pausedSeen = true
            if (a.writableNeedDrain) senderBlocked = true
          }, t)
        }
        // the sender's queue is still full of messages: it waits for the reader, not for nothing
        scheduler.schedule(() => { expect(ma.status().channels[0]!.sendQueueSize).to.be.above(50) }, 2000)
      })
      expect(pausedSeen).to.equal(true)
      expect(senderBlocked).to.equal(true)
      const upTo = (ms: number): number => received.filter(([t]) => t < ms).reduce((n, [, size]) => n + size, 0)
      // 2000 bytes per 100 ms sample, plus at most one packet over each sample
      expect(upTo(2000)).to.be.within(38_000, 40_000 + 20 * 1008)
      expect(upTo(4000) - upTo(2000)).to.be.within(38_000, 40_000 + 20 * 1008)
    })
  })

  describe('flushStop, holdReading, status', () => {
    it('flushStop sends everything queued, then ends: the remote gets every message, then EOF', async () => {
      const scheduler = newTestScheduler()
      const { ma, mb } = mconnPair(scheduler, [{ id: 1, priority: 1, sendQueueCapacity: 10 }], { a: { flushThrottleMs: 1000 } })
      const got: number[] = []
      let remoteReason: unknown = null
      mb.inbound$.subscribe(({ message }) => got.push(message.byteLength))
      mb.closed$.subscribe((r) => { remoteReason = r })
      for (let i = 1; i <= 5; i++) ma.trySend(1, new Uint8Array(i * 10_000))
      let localReason: unknown = null
      ma.closed$.subscribe((r) => { localReason = r })
      const done = ma.flushStop()
      expect(ma.trySend(1, text('too late'))).to.equal(false)
      advanceTo(scheduler, 50)
      await done
      expect(localReason).to.equal(undefined)
      expect(got).to.deep.equal([10_000, 20_000, 30_000, 40_000, 50_000])
      expect(remoteReason).to.be.instanceOf(ConnectionClosedError)
    })

    it('holdReading pauses emissions and the transport until every hold is released', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ cold, expectObservable }) => {
        const { b, ma, mb } = mconnPair(scheduler, CH, { a: { flushThrottleMs: 0 }, stopAt: 200 })
        const release1 = mb.holdReading()
        const release2 = mb.holdReading()
        cold('a 9ms b').subscribe((x) => { ma.trySend(1, text(x)) })
        scheduler.schedule(() => { expect(b.isPaused).to.equal(true); release1(); release1() }, 20)
        scheduler.schedule(() => { expect(b.isPaused).to.equal(true); release2() }, 30)
        scheduler.schedule(() => { expect(b.isPaused).to.equal(false) }, 31)
        expectObservable(mb.inbound$.pipe(map(({ message }) => str(message))), '^ 100ms !').toBe('30ms (ab)')
      })
    })

    it('holds a chunk cut in the middle by holdReading from inside a subscriber, losing nothing', () => {
      const scheduler = newTestScheduler()
      scheduler.run(({ expectObservable }) => {
        const { ma, mb } = mconnPair(scheduler, CH, { stopAt: 200 })
        for (const x of ['a', 'b', 'c']) ma.trySend(1, text(x))
        let release: (() => void) | undefined
        mb.inbound$.subscribe(({ message }) => {
          if (str(message) === 'a') {
            release = mb.holdReading()
            scheduler.schedule(() => release!(), 40)
          }
        })
        expectObservable(mb.inbound$.pipe(map(({ message }) => str(message))), '^ 100ms !').toBe('10ms a 39ms (bc)')
      })
    })

    it('reports a status snapshot: duration, monitors and per-channel queues', () => {
      const scheduler = newTestScheduler()
      scheduler.run(() => {
        const { ma, mb } = mconnPair(scheduler, CH, { stopAt: 2000 })
        ma.trySend(2, new Uint8Array(3000))
        scheduler.schedule(() => {
          const s = ma.status()
          expect(s.duration).to.equal(1000)
          expect(s.channels.map((c) => [c.id, c.priority, c.sendQueueCapacity, c.sendQueueSize])).to.deep.equal([[1, 1, 10, 0], [2, 4, 10, 0]])
          expect(s.channels[1]!.bytesSent).to.equal(s.channels[1]!.recentlySent)
          expect(s.sendMonitor.bytes).to.equal(s.channels[1]!.bytesSent)
          const r = mb.status()
          expect(r.recvMonitor.bytes).to.equal(s.sendMonitor.bytes)
          expect(r.channels[1]).to.deep.include({ messagesReceived: 1, bytesReceived: 3000 })
        }, 1000)
      })
    })
  })

  describe('construction', () => {
    it('rejects bad descriptors and options with RangeError', () => {
      const [a] = memoryPair()
      expect(() => new MConnection(a, [])).to.throw(RangeError)
      expect(() => new MConnection(a, [{ id: 1, priority: 0 }])).to.throw(RangeError)
      expect(() => new MConnection(a, [{ id: 256, priority: 1 }])).to.throw(RangeError)
      expect(() => new MConnection(a, [{ id: 1, priority: 1 }, { id: 1, priority: 2 }])).to.throw(RangeError)
      expect(() => new MConnection(a, [{ id: 1, priority: 1 }], { pongTimeoutMs: 60_000, pingIntervalMs: 60_000 })).to.throw(RangeError)
      expect(() => new MConnection(a, [{ id: 1, priority: 1, sendQueueCapacity: 0 }])).to.throw(RangeError)
    })

    it('stops with ConnectionClosedError when started on a connection that is already closed', () => {
      const [a] = memoryPair()
      a.destroy()
      const ma = new MConnection(a, CH)
      let reason: unknown
      ma.closed$.subscribe((r) => { reason = r })
      ma.start()
      expect(reason).to.be.instanceOf(ConnectionClosedError)
    })
  })
})
