import { expect } from 'chai'
import { Channel, fillChannelDefaults } from '../../lib/conn/channel.js'
import { MessageTooLargeError } from '../../lib/errors.js'
import { decodePacket, maxPacketMsgSize } from '../../lib/wire/packet.js'

/** Cuts every pending packet of `ch` into frames and decodes them. */
function drain (ch: Channel): Array<{ len: number, eof: boolean, frame: number }> {
  const out: Array<{ len: number, eof: boolean, frame: number }> = []
  const buf = new Uint8Array(4096)
  while (ch.isSendPending) {
    const end = ch.writePacketTo(buf, 0)
    const prefix = buf[0]! < 0x80 ? 1 : 2
    const p = decodePacket(buf.subarray(prefix, end))
    if (p.type !== 'msg') throw new Error('not a msg')
    out.push({ len: p.data.byteLength, eof: p.eof, frame: end })
  }
  return out
}

describe('conn/Channel', () => {
  it('fills CometBFT defaults: send queue 1, receive buffer 4096, receive message capacity 21 MiB', () => {
    expect(fillChannelDefaults({ id: 0x30, priority: 5 })).to.deep.equal({
      id: 0x30, priority: 5, sendQueueCapacity: 1, recvBufferCapacity: 4096, recvMessageCapacity: 22_020_096
    })
  })

  it('rejects an id outside 0..255, a priority not above 0, and a capacity below 1', () => {
    expect(() => fillChannelDefaults({ id: -1, priority: 1 })).to.throw(RangeError)
    expect(() => fillChannelDefaults({ id: 256, priority: 1 })).to.throw(RangeError)
    expect(() => fillChannelDefaults({ id: 1, priority: 0 })).to.throw(RangeError)
    expect(() => fillChannelDefaults({ id: 1, priority: Number.NaN })).to.throw(RangeError)
    expect(() => fillChannelDefaults({ id: 1, priority: 1, recvMessageCapacity: 0 })).to.throw(RangeError)
  })

  it('queues up to its capacity; a message counts in sendQueueSize until its last packet is cut', () => {
    const ch = new Channel({ id: 1, priority: 1, sendQueueCapacity: 2 }, 1024)
    expect(ch.enqueue(new Uint8Array(3000))).to.equal(true)
    expect(ch.enqueue(new Uint8Array(10))).to.equal(true)
    expect(ch.enqueue(new Uint8Array(10))).to.equal(false)
    expect(ch.sendQueueSize).to.equal(2)
    ch.writePacketTo(new Uint8Array(2048), 0) // first packet of the 3000-byte message: a slot frees up
    expect(ch.tookFromQueue).to.equal(true)
    expect(ch.hasRoom).to.equal(true)
    expect(ch.sendQueueSize).to.equal(2) // 1 queued + 1 being sent
    expect(ch.enqueue(new Uint8Array(10))).to.equal(true)
    expect(ch.sendQueueSize).to.equal(3)
  })

  it('cuts a message into full packets and an eof packet; recentlySent grows by the encoded frame bytes', () => {
    const ch = new Channel({ id: 1, priority: 1, sendQueueCapacity: 3 }, 1024)
    ch.enqueue(new Uint8Array(2500))
    ch.enqueue(new Uint8Array(1024))
    ch.enqueue(new Uint8Array(0))
    const packets = drain(ch)
    expect(packets.map((p) => [p.len, p.eof])).to.deep.equal([[1024, false], [1024, false], [452, true], [1024, true], [0, true]])
    expect(ch.recentlySent).to.equal(packets.reduce((n, p) => n + p.frame, 0))
    expect(ch.bytesSent).to.equal(ch.recentlySent)
    expect(ch.sendQueueSize).to.equal(0)
  })

  it('keeps every frame within maxPacketMsgSize on channels 0x80 and above (their id takes two bytes)', () => {
    const ch = new Channel({ id: 0xc0, priority: 1 }, 1024)
    expect(ch.maxPayload).to.equal(1023)
    ch.enqueue(new Uint8Array(3000))
    for (const p of drain(ch)) expect(p.frame - 2).to.be.at.most(maxPacketMsgSize(1024))
  })

  it('hands a one-packet message on as a view of the received buffer, without a copy', () => {
    const ch = new Channel({ id: 1, priority: 1 }, 1024)
    const chunk = Uint8Array.of(9, 1, 2, 3, 9)
    const msg = ch.receive(chunk, 1, 4, true)!
    expect([...msg]).to.deep.equal([1, 2, 3])
    expect(msg.buffer).to.equal(chunk.buffer)
  })

  it('reassembles a message from packets in several buffers into one buffer of the exact size', () => {
    const ch = new Channel({ id: 1, priority: 1 }, 1024)
    const a = Uint8Array.of(0, 1, 2, 0)
    const b = Uint8Array.of(3, 4)
    expect(ch.receive(a, 1, 3, false)).to.equal(undefined)
    expect(ch.recvPending).to.equal(2)
    expect(ch.receive(a, 3, 3, false)).to.equal(undefined) // an empty packet
    const msg = ch.receive(b, 0, 2, true)!
    expect([...msg]).to.deep.equal([1, 2, 3, 4])
    expect(msg.byteLength).to.equal(msg.buffer.byteLength)
    expect(ch.recvPending).to.equal(0)
    expect(ch.status()).to.deep.include({ messagesReceived: 1, bytesReceived: 4 })
  })

  it('throws MessageTooLargeError naming the channel and sizes when a message outgrows recvMessageCapacity', () => {
    const ch = new Channel({ id: 0x30, priority: 1, recvMessageCapacity: 10 }, 1024)
    ch.receive(new Uint8Array(6), 0, 6, false)
    let err: unknown
    try { ch.receive(new Uint8Array(6), 0, 6, true) } catch (e) { err = e }
    expect(err).to.be.instanceOf(MessageTooLargeError)
    expect(err).to.deep.include({ chId: 0x30, size: 12, max: 10 })
    expect(() => new Channel({ id: 1, priority: 1, recvMessageCapacity: 2 }, 1024).receive(new Uint8Array(3), 0, 3, true)).to.throw(MessageTooLargeError)
  })

  it('decays recentlySent as Go does: int64(x * 0.8) once per period', () => {
    const ch = new Channel({ id: 1, priority: 1 }, 1024)
    ch.recentlySent = 1001
    ch.decay(1, 0.8)
    expect(ch.recentlySent).to.equal(800)
    ch.decay(3, 0.8)
    expect(ch.recentlySent).to.equal(Math.floor(Math.floor(Math.floor(800 * 0.8) * 0.8) * 0.8))
    ch.decay(1000, 0.8)
    expect(ch.recentlySent).to.equal(0)
  })
})
