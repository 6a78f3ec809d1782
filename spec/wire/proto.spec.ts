import { expect } from 'chai'
import fc from 'fast-check'
import { DecodeError } from '../../lib/errors.js'
import {
  delimitedFieldSize, ProtoReader, ProtoWriter, utf8Size, varint64Size, varintFieldSize, varintSize, WIRE_BYTES, WIRE_FIXED32,
  WIRE_FIXED64, WIRE_VARINT, writeVarint, writeVarint64
} from '../../lib/wire/proto.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'))

/** Walks a message's fields with key() and skip(), returning the field numbers seen. */
function fieldsOf (r: ProtoReader): number[] {
  const out: number[] = []
  while (!r.done) {
    out.push(r.key())
    r.skip()
  }
  return out
}

describe('wire/proto', () => {
  describe('ProtoReader: varints with Go rules', () => {
    it('reads int32 -1 from its 10-byte form and keeps the low 32 bits of a uint32', () => {
      expect(new ProtoReader(bytes('ffffffffffffffffff01')).int32()).to.equal(-1)
      expect(new ProtoReader(bytes('d0808080 10')).uint32()).to.equal(80) // 2^32 + 80
      expect(new ProtoReader(bytes('ffffffffffffffffff01')).uint64()).to.equal((1n << 64n) - 1n)
      expect(new ProtoReader(bytes('ffffffffffffffffff01')).int64()).to.equal(-1n)
      expect(new ProtoReader(bytes('8080808080808080 8001')).bool()).to.equal(true) // only bit 63 set
    })

    it('drops the bits of a tenth byte beyond bit 63, and refuses an eleventh byte or a truncated varint', () => {
      expect(new ProtoReader(bytes('ffffffffffffffffff7f')).uint64()).to.equal((1n << 64n) - 1n)
      expect(() => new ProtoReader(bytes('ffffffffffffffffffff01'), 'M').uint64()).to.throw(DecodeError, 'M: varint overflows 64 bits')
      expect(() => new ProtoReader(bytes('ff'), 'M').uint32()).to.throw(DecodeError, 'M: truncated varint')
    })

    it('agrees with writeVarint / writeVarint64 and their sizes on any value (property)', () => {
      fc.assert(fc.property(fc.maxSafeNat(), (n) => {
        const buf = new Uint8Array(10)
        const end = writeVarint(buf, 0, n)
        expect(end).to.equal(varintSize(n))
        expect(new ProtoReader(buf, 'v', 0, end).uint64Number()).to.equal(n)
      }), { numRuns: 500 })
      fc.assert(fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }), (v) => {
        const buf = new Uint8Array(10)
        const end = writeVarint64(buf, 0, v)
        expect(end).to.equal(varint64Size(v))
        expect(new ProtoReader(buf, 'v', 0, end).uint64()).to.equal(BigInt.asUintN(64, v))
      }), { numRuns: 500 })
    })
  })

  describe('ProtoReader: keys, lengths and skipping, as gogoproto Unmarshal', () => {
    it('takes the field number as Go int32(key >> 3), and refuses field 0, a negative field and an end-group key', () => {
      const r = new ProtoReader(bytes('8a8080808001')) // key 2^35 + 8 | 2: int32 gives field 1
      expect(r.key()).to.equal(1)
      expect(r.wireType).to.equal(WIRE_BYTES)
      expect(() => new ProtoReader(bytes('00'), 'M').key()).to.throw(DecodeError, 'M: illegal field number 0')
      expect(() => new ProtoReader(bytes('f8ffffffff01'), 'M').key()).to.throw(DecodeError, 'M: illegal field number -1') // key 2^36 - 8
      expect(() => new ProtoReader(bytes('0c'), 'M').key()).to.throw(DecodeError, 'M: end-group wire type for a non-group')
    })

    it('reads length-delimited fields as views, and refuses a length past the end or a negative one', () => {
      const buf = bytes('0a03616263 1200')
      const r = new ProtoReader(buf, 'M')
      expect(r.key()).to.equal(1)
      const v = r.bytes()
      expect(hex(v)).to.equal('616263')
      expect(v.buffer).to.equal(buf.buffer)
      expect(r.key()).to.equal(2)
      expect(r.string()).to.equal('')
      expect(r.done).to.equal(true)
      expect(() => new ProtoReader(bytes('04616263'), 'M').bytes()).to.throw(DecodeError, 'M: length 4 runs past the end of the message')
      expect(() => new ProtoReader(bytes('ffffffffffffffff ff01'), 'M').bytes()).to.throw(DecodeError, 'M: negative length')
    })

    it('keeps a leading byte order mark in a string, as Go keeps the bytes', () => {
      expect(new ProtoReader(bytes('05efbbbf6869')).string()).to.equal('\ufeffhi')
    })

    it('skips unknown fields of every wire type, nested groups included, whatever the keys inside a group', () => {
      const msg = '0801' + '110102030405060708' + '1a0161' + '25' + '01020304' + '2b' + '3b' + '0005' + '3c' + '2c' + '3001'
      expect(fieldsOf(new ProtoReader(bytes(msg)))).to.deep.equal([1, 2, 3, 4, 5, 6])
    })

    it('refuses a truncated fixed field or group, a stray end-group inside a skip, and wire types 6 and 7', () => {
      for (const [h, message] of [
        ['09010203', 'M: truncated field'], ['0d0102', 'M: truncated field'], ['0b0801', 'M: truncated group'],
        ['0b0a05', 'M: length 5 runs past the end of the message'], ['0e', 'M: illegal wire type 6'], ['0f', 'M: illegal wire type 7']
      ] as const) {
        expect(() => fieldsOf(new ProtoReader(bytes(h), 'M')), h).to.throw(DecodeError, message)
      }
      const r = new ProtoReader(bytes('08'), 'M')
      r.key()
      expect(() => { r.skip(4) }).to.throw(DecodeError, 'M: unexpected end of group')
    })

    it('names the field and wire type in expect(), and the embedded message in its errors', () => {
      const r = new ProtoReader(bytes('0801'), 'M')
      r.key()
      expect(() => { r.expect(WIRE_BYTES, 'txs') }).to.throw(DecodeError, 'M: wrong wire type 0 for field txs')
      const outer = new ProtoReader(bytes('0a02 08ff'), 'Outer')
      outer.key()
      const inner = outer.message('Inner')
      expect(outer.done).to.equal(true)
      inner.key()
      expect(() => inner.uint32()).to.throw(DecodeError, 'Inner: truncated varint')
    })

    it('is reused across messages with reset(), keeping nothing of the last one', () => {
      const r = new ProtoReader()
      expect(fieldsOf(r.reset(bytes('0801 1000'), 0, 4, 'A'))).to.deep.equal([1, 2])
      expect(() => fieldsOf(r.reset(bytes('ff'), 0, 1, 'B'))).to.throw(DecodeError, 'B: truncated varint')
      expect(fieldsOf(r.reset(bytes('ff 1801'), 1, 3, 'C'))).to.deep.equal([3])
    })
  })

  describe('sizes and ProtoWriter', () => {
    it('counts UTF-8 bytes as TextEncoder writes them, lone surrogates included (property)', () => {
      const enc = new TextEncoder()
      fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => { expect(utf8Size(s)).to.equal(enc.encode(s).byteLength) }), { numRuns: 500 })
      for (const s of ['\ud800', '\udc00x', 'a\ud83d\ude00b', '\ud83d']) expect(utf8Size(s), JSON.stringify(s)).to.equal(enc.encode(s).byteLength)
    })

    it('writes a measured message into one buffer of exactly its size, and reads back what it wrote', () => {
      const text = 'h\u00e9llo \ud83d\ude00'
      const size = varintFieldSize(1, 300) + delimitedFieldSize(2, utf8Size(text)) + delimitedFieldSize(3, 2) + varintSize(4 * 8 + WIRE_FIXED32) + 4
      const w = new ProtoWriter(size)
      w.key(1, WIRE_VARINT).varint(300).key(2, WIRE_BYTES).string(text).key(3, WIRE_BYTES).bytes(Uint8Array.of(7, 8))
      w.key(4, WIRE_FIXED32)
      w.buf.set([1, 2, 3, 4], w.pos)
      w.pos += 4
      const out = w.finish()
      expect(out.byteLength).to.equal(size)
      const r = new ProtoReader(out, 'M')
      expect([r.key(), r.uint32()]).to.deep.equal([1, 300])
      expect([r.key(), r.string()]).to.deep.equal([2, text])
      expect([r.key(), hex(r.bytes())]).to.deep.equal([3, '0708'])
      expect(r.key()).to.equal(4)
      r.skip()
      expect(r.done).to.equal(true)
    })

    it('refuses to finish a buffer that is not exactly full', () => {
      expect(() => new ProtoWriter(3).key(1, WIRE_FIXED64).finish()).to.throw(RangeError)
    })
  })
})
