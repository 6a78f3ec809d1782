import { expect } from 'chai'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { DecodeError, FrameTooLargeError, P2PError, UnknownPacketTypeError } from '../../lib/errors.js'
import {
  decodePacket, encodePacket, encodePacketFrame, encodePacketMsgFrameInto,
  maxPacketMsgSize, PacketStreamDecoder, packetMsgFrameSize, packetMsgSize, type Packet, type PacketSink
} from '../../lib/wire/packet.js'
import { decodePacketProtobuf, encodePacketProtobuf } from './reference-codec.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))

interface Vector { name: string, test: string, value: Record<string, any>, hex: string }
// The golden vectors, inside the repository (spec/fixtures/cometbft/), resolved from this file.
const vectorsUrl = new URL('../fixtures/cometbft/proto_vectors_from_tests.json', import.meta.url)
const vectors = (JSON.parse(readFileSync(vectorsUrl, 'utf8')) as { vectors: Vector[] }).vectors
  .filter((v) => v.test === 'TestConnVectors')

function packetOfVector (v: Vector): Packet {
  if ('packet_ping' in v.value) return { type: 'ping' }
  if ('packet_pong' in v.value) return { type: 'pong' }
  const m = v.value.packet_msg as { channel_id: number, eof: boolean, data_utf8: string }
  return { type: 'msg', channelId: m.channel_id, eof: m.eof, data: new TextEncoder().encode(m.data_utf8) }
}

const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.constant<Packet>({ type: 'ping' }),
  fc.constant<Packet>({ type: 'pong' }),
  fc.record({
    type: fc.constant('msg' as const),
    channelId: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0x7fffffff })),
    eof: fc.boolean(),
    data: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 100, maxLength: 3000 }))
  })
)

function normalize (p: Packet): unknown {
  return p.type === 'msg' ? { ...p, data: hex(p.data) } : p
}

describe('wire/packet', () => {
  it('finds the three Packet vectors of TestConnVectors', () => {
    expect(vectors.map((v) => v.name)).to.deep.equal(['Packet{packet_ping}', 'Packet{packet_pong}', 'Packet{packet_msg}'])
  })

  for (const v of vectors) {
    it(`encodes ${v.name} byte-exact with both codecs and decodes it back`, () => {
      const packet = packetOfVector(v)
      expect(hex(encodePacket(packet))).to.equal(v.hex)
      expect(hex(encodePacketProtobuf(packet))).to.equal(v.hex)
      expect(normalize(decodePacket(unhex(v.hex)))).to.deep.equal(normalize(packet))
      expect(normalize(decodePacketProtobuf(unhex(v.hex)))).to.deep.equal(normalize(packet))
      // On the wire: uvarint length prefix, e.g. a ping is 02 0a 00.
      const frame = encodePacketFrame(packet)
      expect(hex(frame)).to.equal(Buffer.from([v.hex.length / 2]).toString('hex') + v.hex)
    })
  }

  it('encodes ping and pong frames as 02 0a 00 and 02 12 00', () => {
    expect(hex(encodePacketFrame({ type: 'ping' }))).to.equal('020a00')
    expect(hex(encodePacketFrame({ type: 'pong' }))).to.equal('021200')
  })

  it('omits channel 0, eof false and empty data, as Go does', () => {
    expect(hex(encodePacket({ type: 'msg', channelId: 0, eof: false, data: new Uint8Array(0) }))).to.equal('1a00')
    expect(hex(encodePacket({ type: 'msg', channelId: 0x30, eof: true, data: new Uint8Array(0) }))).to.equal('1a0408301001')
  })

  it('computes CometBFT maxPacketMsgSize: 1034 bytes for a 1024-byte payload', () => {
    expect(maxPacketMsgSize(1024)).to.equal(1034)
    expect(packetMsgSize(1, true, 1024)).to.equal(encodePacket({ type: 'msg', channelId: 1, eof: true, data: new Uint8Array(1024) }).byteLength)
  })

  it('holds the hand-written encoder byte-equal to protobufjs (property)', () => {
    fc.assert(fc.property(packetArb, (p) => {
      expect(hex(encodePacket(p))).to.equal(hex(encodePacketProtobuf(p)))
    }), { numRuns: 500 })
  })

  it('encodes frames in place at any offset, of exactly packetMsgFrameSize bytes (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.uint8Array({ maxLength: 2000 }), fc.nat(20), fc.nat(20),
      (ch, eof, data, offset, cut) => {
        const start = Math.min(cut, data.byteLength)
        const size = packetMsgFrameSize(ch, eof, data.byteLength - start)
        const out = new Uint8Array(offset + size + 5).fill(0xee)
        const end = encodePacketMsgFrameInto(out, offset, ch, eof, data, start, data.byteLength)
        expect(end - offset).to.equal(size)
        expect(out[end]).to.equal(0xee)
        expect(hex(out.subarray(offset, end))).to.equal(hex(encodePacketFrame({ type: 'msg', channelId: ch, eof, data: data.subarray(start) })))
      }), { numRuns: 300 })
  })

  it('decodes what it encodes, and agrees with protobufjs (property)', () => {
    fc.assert(fc.property(packetArb, (p) => {
      const bytes = encodePacketProtobuf(p)
      expect(normalize(decodePacket(bytes))).to.deep.equal(normalize(p))
      expect(normalize(decodePacketProtobuf(bytes))).to.deep.equal(normalize(p))
    }), { numRuns: 500 })
  })

  it('skips unknown fields and keeps the last oneof case, as gogoproto does', () => {
    // unknown varint field 9, then a ping, then a msg: the msg wins
    const bytes = unhex('4801' + '0a00' + '1a0408021001')
    expect(normalize(decodePacket(bytes))).to.deep.equal({ type: 'msg', channelId: 2, eof: true, data: '' })
    // unknown fields inside PacketMsg (fixed64, an empty group, fixed32) are skipped
    const body = '0807' + '210102030405060708' + '2b2c' + '2d01020304'
    const msg = '1a' + (body.length / 2).toString(16).padStart(2, '0') + body
    expect(normalize(decodePacket(unhex(msg)))).to.deep.equal({ type: 'msg', channelId: 7, eof: false, data: '' })
    expect(normalize(decodePacketProtobuf(unhex(msg)))).to.deep.equal({ type: 'msg', channelId: 7, eof: false, data: '' })
  })

  it('reads channel_id as Go int32: a 10-byte -1 decodes to -1', () => {
    const p = decodePacket(unhex('1a0b08ffffffffffffffffff01'))
    expect(p).to.deep.include({ type: 'msg', channelId: -1 })
  })

  it('reports malformed packets with DecodeError and a packet of no known type with UnknownPacketTypeError', () => {
    const cases: Array<[string, typeof P2PError]> = [
      ['', UnknownPacketTypeError], // empty: oneof unset
      ['2200', UnknownPacketTypeError], // only an unknown field 4
      ['1a', DecodeError], // truncated length
      ['1a05', DecodeError], // length beyond the end
      ['0800', DecodeError], // field 1 with varint wire type
      ['1a0108', DecodeError], // PacketMsg ends inside a field
      ['1a021001ff', DecodeError], // trailing garbage tag
      ['0000', DecodeError], // field number 0
      ['0c', DecodeError], // end group at top level
      ['0f', DecodeError], // wire type 7
      ['1a0310ffff', DecodeError], // eof varint truncated
      ['ffffffffffffffffffff01', DecodeError] // 11-byte varint
    ]
    for (const [h, cls] of cases) {
      expect(() => decodePacket(unhex(h)), h).to.throw(cls)
      expect(() => decodePacketProtobuf(unhex(h)), `protobufjs ${h}`).to.throw(P2PError)
    }
  })

  describe('PacketStreamDecoder', () => {
    function collect (decoder: PacketStreamDecoder, chunks: Uint8Array[]): string[] {
      const out: string[] = []
      const sink: PacketSink = {
        ping: () => { out.push('ping'); return true },
        pong: () => { out.push('pong'); return true },
        msg: (ch, eof, buf, s, e) => { out.push(`${ch}:${eof ? 1 : 0}:${hex(buf.subarray(s, e))}`); return true }
      }
      for (const c of chunks) decoder.decode(c, 0, Infinity, sink)
      return out
    }

    it('decodes frames split at every position and many frames per chunk', () => {
      const packets: Packet[] = [
        { type: 'ping' },
        { type: 'msg', channelId: 0x30, eof: false, data: new Uint8Array(300).fill(1) },
        { type: 'pong' },
        { type: 'msg', channelId: 0x30, eof: true, data: Uint8Array.of(9, 8, 7) },
        { type: 'msg', channelId: 0, eof: true, data: new Uint8Array(0) }
      ]
      const wire = Buffer.concat(packets.map(encodePacketFrame))
      const expected = collect(new PacketStreamDecoder(1034), [wire])
      expect(expected).to.have.length(5)
      for (let a = 0; a <= wire.length; a += 7) {
        for (let b = a; b <= wire.length; b += 13) {
          const got = collect(new PacketStreamDecoder(1034), [wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)])
          expect(got).to.deep.equal(expected)
        }
      }
      // one byte at a time
      expect(collect(new PacketStreamDecoder(1034), [...wire].map((x) => Uint8Array.of(x)))).to.deep.equal(expected)
    })

    it('refuses a prefix over the maximum before buffering anything, even split across chunks', () => {
      const d = new PacketStreamDecoder(1034)
      const sink: PacketSink = { ping: () => true, pong: () => true, msg: () => true }
      expect(() => d.decode(Uint8Array.of(0x8b, 0x08), 0, Infinity, sink)).to.throw(FrameTooLargeError) // 1035
      const e = new PacketStreamDecoder(1034)
      e.decode(Uint8Array.of(0x80, 0x80), 0, Infinity, sink)
      expect(e.bufferedBytes).to.equal(2)
      expect(() => e.decode(Uint8Array.of(0x80, 0x80, 0x10), 0, Infinity, sink)).to.throw(FrameTooLargeError) // 2^32 within 5 bytes
    })

    it('stops at a frame boundary once the byte budget is used, and resumes where it stopped', () => {
      const wire = Buffer.concat([1, 2, 3].map((i) => encodePacketFrame({ type: 'msg', channelId: i, eof: true, data: new Uint8Array(10) })))
      const seen: number[] = []
      const sink: PacketSink = { ping: () => true, pong: () => true, msg: (ch) => { seen.push(ch); return true } }
      const d = new PacketStreamDecoder(1034)
      const pos = d.decode(wire, 0, 1, sink)
      expect(seen).to.deep.equal([1])
      d.decode(wire, pos, Infinity, sink)
      expect(seen).to.deep.equal([1, 2, 3])
    })
  })
})
