import { expect } from 'chai'
import { firstValueFrom, filter, take, timeout, type Subscription } from 'rxjs'
import { MConnection, type MConnectionInit } from '../../lib/conn/mconnection.js'
import type { ChannelDescriptor } from '../../lib/conn/channel.js'
import {
  ConnectionClosedError, DecodeError, FrameTooLargeError, MessageTooLargeError, PongTimeoutError, UnknownChannelError,
  UnknownPacketTypeError
} from '../../lib/errors.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import type { Listener } from '../../lib/transport/transport.js'
import { encodePacketFrame, type Packet } from '../../lib/wire/packet.js'
import { isPayload, payload, text, unhex } from './helpers.js'

const tcp = new TcpTransport()

/** A connected pair of raw TCP connections on 127.0.0.1. */
async function tcpPair (): Promise<[DuplexConnection, DuplexConnection, Listener]> {
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
  const accepted = firstValueFrom(listener.connections$)
  const dialed = await tcp.dial(listener.address)
  return [dialed, await accepted, listener]
}

const frames = (...packets: Packet[]): Uint8Array => Buffer.concat(packets.map(encodePacketFrame))

describe('conn/MConnection over TCP', function () {
  this.timeout(30_000)

  it('carries three channels of messages from 0 bytes to 4 MiB, in order per channel, every byte intact', async () => {
    const channels: ChannelDescriptor[] = [
      { id: 0x20, priority: 5, sendQueueCapacity: 2 },
      { id: 0x30, priority: 3, sendQueueCapacity: 10 },
      { id: 0x40, priority: 1 }
    ]
    const sizes = [0, 1, 1023, 1024, 1025, 2048, 65_535, 65_536, 65_537, 300_000, 1 << 20, 4 << 20]
    const plan = new Map<number, number[]>(channels.map((c, i) => [c.id, sizes.map((_, j) => sizes[(j + 4 * i) % sizes.length]!)]))
    const [x, y, listener] = await tcpPair()
    const init: MConnectionInit = { sendRate: 0, recvRate: 0 }
    const a = new MConnection(x, channels, init)
    const b = new MConnection(y, channels, init)
    try {
      const next = new Map<number, number>(channels.map((c) => [c.id, 0]))
      const problems: string[] = []
      let total = 0
      const allIn = new Promise<void>((resolve) => {
        b.inbound$.subscribe(({ chId, message }) => {
          const index = next.get(chId)!
          const size = plan.get(chId)![index]!
          if (!isPayload(message, chId, index, size)) problems.push(`channel ${chId} message ${index}: ${message.byteLength} bytes, expected ${size}`)
          next.set(chId, index + 1)
          if (++total === channels.length * sizes.length) resolve()
        })
      })
      // the other direction at the same time, smaller
      const back: number[] = []
      a.inbound$.subscribe(({ message }) => back.push(message.byteLength))
      a.start()
      b.start()
      await Promise.all([
        ...channels.map(async (c) => {
          let i = 0
          for (const size of plan.get(c.id)!) expect(await a.send(c.id, payload(c.id, i++, size))).to.equal(true)
        }),
        (async () => { for (const size of [5, 50_000, 500]) expect(await b.send(0x30, new Uint8Array(size))).to.equal(true) })()
      ])
      await allIn
      expect(problems).to.deep.equal([])
      expect([...next.values()]).to.deep.equal([sizes.length, sizes.length, sizes.length])
      while (back.length < 3) await new Promise((resolve) => setTimeout(resolve, 5))
      expect(back).to.deep.equal([5, 50_000, 500])
      const status = a.status()
      expect(status.channels.map((c) => c.sendQueueSize)).to.deep.equal([0, 0, 0])
      const payloadBytes = 3 * sizes.reduce((n, s) => n + s, 0)
      const framed = status.channels.reduce((n, c) => n + c.bytesSent, 0)
      expect(framed).to.be.within(payloadBytes, payloadBytes * 1.01) // ~10 bytes of framing per KiB
      expect(b.status().channels.reduce((n, c) => n + c.bytesReceived, 0)).to.equal(payloadBytes)
      await a.flushStop()
      const remote = await firstValueFrom(b.closed$)
      expect(remote).to.be.instanceOf(ConnectionClosedError)
    } finally {
      a.stop()
      b.stop()
      await listener.close()
    }
  })

  describe('each bad input ends its connection with its typed error, while another connection keeps working', () => {
    let listener: Listener
    let victims: MConnection[] = []
    let healthy: { a: MConnection, b: MConnection, echoes: number, sub: Subscription }
    let healthyListener: Listener

    before(async () => {
      listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
      listener.connections$.subscribe((conn) => {
        const m = new MConnection(conn, [{ id: 1, priority: 1, recvMessageCapacity: 100 }], { pingIntervalMs: 300, pongTimeoutMs: 150 })
        victims.push(m)
        m.start()
      })
      // A healthy pair in the same process, echoing messages back and forth the whole time.
      const [x, y, l] = await tcpPair()
      healthyListener = l
      const ch = [{ id: 0x30, priority: 1 }]
      const a = new MConnection(x, ch, { pingIntervalMs: 200, pongTimeoutMs: 100 })
      const b = new MConnection(y, ch, { pingIntervalMs: 200, pongTimeoutMs: 100 })
      healthy = { a, b, echoes: 0, sub: b.inbound$.subscribe(({ message }) => { b.trySend(0x30, message.slice()) }) }
      healthy.sub.add(a.inbound$.subscribe(({ message }) => { healthy.echoes++; a.trySend(0x30, message.slice()) }))
      a.start()
      b.start()
      a.trySend(0x30, text('ping-pong'))
    })

    after(async () => {
      healthy.sub.unsubscribe()
      healthy.a.stop()
      healthy.b.stop()
      for (const v of victims) v.stop()
      await listener.close()
      await healthyListener.close()
    })

    async function victimFor (write: (raw: DuplexConnection) => void): Promise<{ reason: Error | undefined, raw: DuplexConnection }> {
      victims = []
      const raw = await tcp.dial(listener.address)
      raw.source$.subscribe({ error: () => {} }) // read what comes (pongs), ignore the ending
      while (victims.length === 0) await new Promise((resolve) => setTimeout(resolve, 2))
      const victim = victims[0]!
      write(raw)
      const reason = await firstValueFrom(victim.closed$.pipe(timeout(5000)))
      return { reason, raw }
    }

    const cases: Array<[string, () => Uint8Array, new (...args: never[]) => Error]> = [
      ['an unknown channel', () => frames({ type: 'msg', channelId: 0x99, eof: true, data: text('x') }), UnknownChannelError],
      ['a message over recvMessageCapacity', () => frames(
        { type: 'msg', channelId: 1, eof: false, data: new Uint8Array(80) },
        { type: 'msg', channelId: 1, eof: true, data: new Uint8Array(80) }), MessageTooLargeError],
      ['a malformed packet', () => unhex('031a0208'), DecodeError],
      ['an unknown packet type', () => unhex('022200'), UnknownPacketTypeError],
      ['a frame over maxPacketMsgSize', () => unhex('ffff03'), FrameTooLargeError]
    ]
    for (const [what, bytes, cls] of cases) {
      it(`${what}: ${cls.name}`, async () => {
        const before = healthy.echoes
        const { reason, raw } = await victimFor((r) => { r.write(bytes()) })
        expect(reason).to.be.instanceOf(cls)
        await firstValueFrom(raw.closed$.pipe(timeout(5000))) // the socket is closed for the remote too
        await firstValueFrom(healthy.a.inbound$.pipe(filter(() => healthy.echoes > before + 10), take(1), timeout(5000)))
        expect(healthy.a.isClosed || healthy.b.isClosed).to.equal(false)
      })
    }

    it('a remote that never answers pings: PongTimeoutError', async () => {
      const before = healthy.echoes
      const started = Date.now()
      const { reason } = await victimFor(() => {})
      expect(reason).to.be.instanceOf(PongTimeoutError)
      expect(Date.now() - started).to.be.within(400, 5000)
      expect(healthy.echoes).to.be.above(before)
      expect(healthy.a.isClosed || healthy.b.isClosed).to.equal(false)
    })

    it('a remote that closes: ConnectionClosedError', async () => {
      const { reason } = await victimFor((r) => { r.end() })
      expect(reason).to.be.instanceOf(ConnectionClosedError)
    })
  })
})
