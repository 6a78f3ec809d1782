import { expect } from 'chai'
import { FrameDecoder, LengthPrefix, encodeDelimited, readDelimited } from '../../lib/wire/delimited.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { FrameTooLargeError, DecodeError, ConnectionClosedError } from '../../lib/errors.js'
import { firstValueFrom, toArray } from 'rxjs'

describe('wire/delimited', () => {
  it('round-trips frames split across chunks and many frames in one chunk', () => {
    const msgs = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(7)]
    const wire = Buffer.concat(msgs.map(encodeDelimited))
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new FrameDecoder(1000)
      const out: Uint8Array[] = []
      for (const part of [wire.subarray(0, cut), wire.subarray(cut)]) {
        d.push(part)
        for (let f = d.next(); f !== undefined; f = d.next()) out.push(f.slice())
      }
      expect(out.map((m) => Buffer.from(m).toString('hex'))).to.deep.equal(msgs.map((m) => Buffer.from(m).toString('hex')))
    }
  })

  it('refuses a 5-byte prefix claiming 2^40 bytes at once, before buffering', () => {
    const d = new FrameDecoder(1 << 20)
    d.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80)) // incomplete prefix already over any limit? not yet
    d.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80))
    expect(() => d.next()).to.throw(DecodeError)
    const e = new FrameDecoder(1 << 20)
    e.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x10)) // 0x10 << 28 = 2^32 ... within 5 bytes
    expect(() => e.next()).to.throw(FrameTooLargeError)
    const f = new FrameDecoder(1 << 20)
    f.push(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x02)) // 2^41
    expect(() => f.next()).to.throw(FrameTooLargeError)
  })

  it('LengthPrefix: Go ReadUvarint rules (non-minimal forms accepted, a tenth byte above 1 refused), checked against the maximum as it reads', () => {
    const p = new LengthPrefix(1 << 20)
    expect(p.read(Uint8Array.of(0x09, 0xff), 0, 2)).to.equal(true)
    expect([p.value, p.size]).to.deep.equal([9, 1])
    expect(p.read(Uint8Array.of(0xee, 0x80, 0x00), 1, 3)).to.equal(true) // 0 in two bytes
    expect([p.value, p.size]).to.deep.equal([0, 2])
    expect(p.read(Uint8Array.of(0x80, 0x80), 0, 2)).to.equal(false)
    expect(() => new LengthPrefix(Infinity).read(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), 0, 10))
      .to.throw(DecodeError, 'varint length prefix overflows 64 bits')
    expect(() => p.read(Uint8Array.of(0x81, 0x80, 0x40), 0, 2)).to.not.throw()
    expect(() => p.read(Uint8Array.of(0x81, 0x80, 0x40), 0, 3)).to.throw(FrameTooLargeError) // 2^20 + 1
    // The one- and two-byte forms (every MConnection packet) check the maximum byte by byte too.
    const small = new LengthPrefix(100)
    expect(() => small.read(Uint8Array.of(0x65, 0x00), 0, 2)).to.throw(FrameTooLargeError, '101')
    expect(() => small.read(Uint8Array.of(0xff, 0x00), 0, 2)).to.throw(FrameTooLargeError, '127')
    expect(() => small.read(Uint8Array.of(0x80, 0x01), 0, 2)).to.throw(FrameTooLargeError, '128')
    expect(small.read(Uint8Array.of(0xe4, 0x00), 0, 2)).to.equal(true)
    expect([small.value, small.size]).to.deep.equal([100, 2])
  })

  it('readDelimited takes one message and leaves the rest for the next reader', async () => {
    const [a, b] = memoryPair()
    a.write(Buffer.concat([encodeDelimited(Uint8Array.of(9, 9)), Uint8Array.of(1, 2, 3)]))
    a.end()
    const msg = await readDelimited(b, 100)
    expect([...msg]).to.deep.equal([9, 9])
    const rest = await firstValueFrom(b.source$.pipe(toArray()))
    expect(Buffer.concat(rest).toString('hex')).to.equal('010203')
  })

  it('readDelimited rejects with ConnectionClosedError on EOF mid-message', async () => {
    const [a, b] = memoryPair()
    a.write(Uint8Array.of(5, 1, 2))
    a.end()
    let err: unknown
    try { await readDelimited(b, 100) } catch (e) { err = e }
    expect(err).to.be.instanceOf(ConnectionClosedError)
  })
})
