import { expect } from 'chai'
import { Channel, fillChannelDefaults } from '../../lib/conn/channel.js'
import { RecvBudget } from '../../lib/conn/recv-budget.js'
import { MessageTooLargeError, RecvBudgetExceededError } from '../../lib/errors.js'
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
  it('fills CometBFT defaults: send queue 1, receive buffer 4096, receive message capacity 21 MiB; send waiters = the queue capacity', () => {
    expect(fillChannelDefaults({ id: 0x30, priority: 5 })).to.deep.equal({
      id: 0x30, priority: 5, sendQueueCapacity: 1, maxSendWaiters: 1, recvBufferCapacity: 4096, recvMessageCapacity: 22_020_096
    })
    expect(fillChannelDefaults({ id: 1, priority: 1, sendQueueCapacity: 7 }).maxSendWaiters).to.equal(7)
    expect(fillChannelDefaults({ id: 1, priority: 1, sendQueueCapacity: 7, maxSendWaiters: 0 }).maxSendWaiters).to.equal(0)
    expect(() => fillChannelDefaults({ id: 1, priority: 1, maxSendWaiters: -1 })).to.throw(RangeError)
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

  it('reassembles 1-byte packets into one buffer that doubles: memory is the payload, not the packet count', () => {
    const ch = new Channel({ id: 1, priority: 1 }, 1024)
    const chunk = new Uint8Array(1 << 16)
    for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff
    const sizes: number[] = []
    for (let i = 0; i < 20_000; i++) {
      expect(ch.receive(chunk, i, i + 1, false)).to.equal(undefined)
      if (sizes[sizes.length - 1] !== ch.recvBufferSize) sizes.push(ch.recvBufferSize)
      expect(ch.recvBufferSize).to.be.at.most(2 * ch.recvPending + 4096)
    }
    expect(sizes).to.deep.equal([4096, 8192, 16_384, 32_768])
    const msg = ch.receive(chunk, 20_000, 20_001, true)!
    expect(msg.byteLength).to.equal(20_001)
    for (let i = 0; i < msg.length; i++) if (msg[i] !== (i & 0xff)) throw new Error(`byte ${i} is ${msg[i]}`)
    // 20,001 of 32,768 bytes: more than half, so the buffer itself is the message (no second copy) ...
    expect(msg.buffer.byteLength).to.equal(32_768)
    expect(msg.buffer).to.not.equal(chunk.buffer)
    // ... and the channel holds nothing until the next message of several packets.
    expect(ch.recvBufferSize).to.equal(0)
    expect(ch.recvPending).to.equal(0)
  })

  it('never grows the reassembly buffer past recvMessageCapacity', () => {
    const ch = new Channel({ id: 1, priority: 1, recvMessageCapacity: 10_000 }, 1024)
    const data = new Uint8Array(1000)
    for (let i = 0; i < 9; i++) ch.receive(data, 0, 1000, false)
    expect(ch.recvBufferSize).to.equal(10_000)
    expect(ch.receive(data, 0, 1000, true)!.byteLength).to.equal(10_000)
    expect(() => { for (let i = 0; i < 11; i++) ch.receive(data, 0, 1000, false) }).to.throw(MessageTooLargeError)
  })

  it('copies a small message out at its exact size and keeps a recvBufferCapacity buffer; drops a large one after its message', () => {
    const ch = new Channel({ id: 1, priority: 1, recvBufferCapacity: 4096 }, 1024)
    const data = new Uint8Array(1024).fill(7)
    ch.receive(data, 0, 1024, false)
    const small = ch.receive(data, 0, 100, true)!
    expect(small.byteLength).to.equal(1124)
    expect(small.buffer.byteLength).to.equal(1124)
    expect(ch.recvBufferSize).to.equal(4096) // kept for the next message
    for (let i = 0; i < 20; i++) ch.receive(data, 0, 1024, false) // 20 KiB: grown to 32 KiB
    expect(ch.recvBufferSize).to.equal(32_768)
    expect(ch.receive(data, 0, 1, true)!.byteLength).to.equal(20_481)
    expect(ch.recvBufferSize).to.equal(0)
    ch.receive(data, 0, 1024, false)
    for (let i = 0; i < 3; i++) ch.receive(data, 0, 1024, false) // 4 KiB: grown to 8 KiB
    expect(ch.receive(data, 0, 1, true)!.byteLength).to.equal(4097) // over half of 8 KiB: handed on
    expect(ch.recvBufferSize).to.equal(0)
  })

  it('takes its buffer from the budget, gives it back when the message is handed on or dropped, and throws RecvBudgetExceededError past it', () => {
    const budget = new RecvBudget({ limit: 20_000, kind: 'connection' })
    const ch = new Channel({ id: 1, priority: 1 }, 1024, budget)
    const data = new Uint8Array(1024)
    ch.receive(data, 0, 1024, false)
    expect(budget.used).to.equal(4096)
    for (let i = 0; i < 4; i++) ch.receive(data, 0, 1024, false)
    expect(budget.used).to.equal(8192)
    ch.receive(data, 0, 10, true)
    expect(budget.used).to.equal(0)
    for (let i = 0; i < 8; i++) ch.receive(data, 0, 1024, false) // 8 KiB in 8 KiB
    expect(budget.used).to.equal(8192)
    ch.receive(data, 0, 1024, false) // grows to 16 KiB: 16,384 <= 20,000
    expect(budget.used).to.equal(16_384)
    let err: unknown
    const other = new Channel({ id: 2, priority: 1 }, 1024, budget)
    try { other.receive(data, 0, 1024, false) } catch (e) { err = e } // 16,384 + 4096 > 20,000
    expect(err).to.be.instanceOf(RecvBudgetExceededError)
    expect(err).to.deep.include({ budget: 'connection', requested: 4096, used: 16_384, limit: 20_000 })
    expect(other.recvBufferSize).to.equal(0)
    ch.clearRecv()
    expect(budget.used).to.equal(0)
    expect(ch.recvPending).to.equal(0)
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
  it('send waiters: at most maxSendWaiters wait; room admits them in order; releasing ends the rest with false', () => {
    const ch = new Channel({ id: 1, priority: 1, sendQueueCapacity: 1, maxSendWaiters: 2 }, 1024)
    const ended: Array<[number, boolean]> = []
    const waiter = (n: number) => ({ msg: new Uint8Array(n), finish: (queued: boolean) => { ended.push([n, queued]) } })
    expect(ch.canQueueNow).to.equal(true)
    expect(ch.enqueue(new Uint8Array(1))).to.equal(true)
    expect(ch.canQueueNow).to.equal(false)
    const [w2, w3, w4] = [waiter(2), waiter(3), waiter(4)]
    expect(ch.wait(w2)).to.equal(true)
    expect(ch.wait(w3)).to.equal(true)
    expect(ch.wait(w4)).to.equal(false) // past the bound: not kept
    expect(ch.waiting).to.equal(2)
    ch.admitWaiters() // no room yet
    expect(ended).to.deep.equal([])
    ch.writePacketTo(new Uint8Array(2048), 0)
    ch.admitWaiters()
    expect(ended).to.deep.equal([[2, true]])
    expect(ch.waiting).to.equal(1)
    expect(ch.canQueueNow).to.equal(false) // the queue is full again, and one still waits
    expect(ch.unwait(w3)).to.equal(true)
    expect(ch.unwait(w3)).to.equal(false)
    expect(ended).to.deep.equal([[2, true]]) // unwait does not end it: its owner does
    ch.wait(w4)
    ch.releaseWaiters()
    expect(ended).to.deep.equal([[2, true], [4, false]])
    expect(ch.waiting).to.equal(0)
    const none = new Channel({ id: 2, priority: 1, maxSendWaiters: 0 }, 1024)
    expect(none.wait(waiter(5))).to.equal(false)
  })
})
