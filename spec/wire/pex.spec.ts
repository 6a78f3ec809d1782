import { readFileSync } from 'node:fs'
import { expect } from 'chai'
import fc from 'fast-check'
import {
  MAX_PEX_ADDRESSES, MAX_PEX_MESSAGE_SIZE, PEX_CHANNEL, decodePexMessage, encodePexAddrs, encodePexMessage, encodePexRequest
} from '../../lib/wire/pex.js'
import type { PexMessage } from '../../lib/wire/pex.js'
import { NetAddress, formatIp } from '../../lib/transport/net-address.js'
import { DecodeError, InvalidAddressError, PexViolationError } from '../../lib/errors.js'

interface Vector { name: string, test: string, value: any, hex: string }
const vectors = (JSON.parse(readFileSync(new URL('../fixtures/cometbft/proto_vectors_from_tests.json', import.meta.url), 'utf8')) as { vectors: Vector[] })
  .vectors.filter((v) => v.test === 'TestPexVectors')

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'))

function messageOf (value: any): PexMessage {
  if ('pex_request' in value) return { type: 'request' }
  return { type: 'addrs', addrs: value.pex_addrs.addrs.map((a: any) => new NetAddress(a.id, a.ip, a.port)) }
}

// Hand-encodes a NetAddress field by field (tag, length, bytes), independent of the codec under test.
function pbString (field: number, s: string | Uint8Array): string {
  const b = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s)
  return ((field << 3) | 2).toString(16).padStart(2, '0') + varint(b.length) + b.toString('hex')
}
function varint (n: number | bigint): string {
  let v = BigInt(n)
  let out = ''
  do {
    let byte = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) byte |= 0x80
    out += byte.toString(16).padStart(2, '0')
  } while (v > 0n)
  return out
}
function netAddr (id: string, ip: string, port?: number | bigint): string {
  return (id !== '' ? pbString(1, id) : '') + (ip !== '' ? pbString(2, ip) : '') + (port !== undefined ? '18' + varint(port) : '')
}
function addrsMsg (...addrHex: string[]): string {
  const inner = addrHex.map((a) => '0a' + varint(a.length / 2) + a).join('')
  return '12' + varint(inner.length / 2) + inner
}

const ID = '56475aa75463474c0285df5dbf2bcab73da65135'

describe('wire/pex', () => {
  it('has the PEX vectors to check against', () => {
    expect(vectors.map((v) => v.name)).to.have.members(['pex Message{pex_request}', 'pex Message{pex_addrs}'])
  })

  for (const v of vectors) {
    it(`encodes ${v.name} byte for byte as CometBFT (${v.test})`, () => {
      expect(hex(encodePexMessage(messageOf(v.value)))).to.equal(v.hex)
    })

    it(`decodes ${v.name} from CometBFT's bytes`, () => {
      const msg = decodePexMessage(bytes(v.hex))
      const want = messageOf(v.value)
      expect(msg.type).to.equal(want.type)
      if (msg.type === 'addrs' && want.type === 'addrs') {
        expect(msg.addrs.map(String)).to.deep.equal(want.addrs.map(String))
      }
    })
  }

  it('exposes the channel and the limits: channel 0x00, 250 addresses, 64000 bytes', () => {
    expect(PEX_CHANNEL).to.equal(0)
    expect(MAX_PEX_ADDRESSES).to.equal(250)
    expect(MAX_PEX_MESSAGE_SIZE).to.equal(64000)
  })

  it('keeps an invalid ID as it came (the book skips it later), as the vector with id "1" shows', () => {
    const msg = decodePexMessage(bytes(addrsMsg(netAddr('1', '127.0.0.1', 9090), netAddr('', '1.2.3.4', 1))))
    expect(msg).to.have.property('type', 'addrs')
    const addrs = (msg as { addrs: NetAddress[] }).addrs
    expect(addrs.map((a) => [a.id, a.host, a.port])).to.deep.equal([['1', '127.0.0.1', 9090], ['', '1.2.3.4', 1]])
  })

  it('writes request as 0a00 and an empty address list as 1200', () => {
    expect(hex(encodePexRequest())).to.equal('0a00')
    expect(hex(encodePexAddrs([]))).to.equal('1200')
    expect(decodePexMessage(bytes('1200'))).to.deep.equal({ type: 'addrs', addrs: [] })
  })

  it('omits an empty ID and port 0 as proto3 does, and writes IPs in Go text form', () => {
    expect(hex(encodePexAddrs([new NetAddress('', '1.2.3.4', 0)]))).to.equal(addrsMsg(netAddr('', '1.2.3.4')))
    expect(hex(encodePexAddrs([new NetAddress(ID, '::ffff:1.2.3.4', 26656)]))).to.equal(addrsMsg(netAddr(ID, '1.2.3.4', 26656)))
    expect(hex(encodePexAddrs([new NetAddress(ID, '2001:DB8:0:0:1:0:0:1', 1)]))).to.equal(addrsMsg(netAddr(ID, '2001:db8::1:0:0:1', 1)))
  })

  it('decodes IPs into Go text form (::ffff:a.b.c.d arrives as a.b.c.d, IPv6 compressed)', () => {
    const msg = decodePexMessage(bytes(addrsMsg(netAddr(ID, '::FFFF:10.0.0.1', 1), netAddr(ID, '2001:0db8:0000:0000:0000:0000:0000:0001', 2))))
    expect((msg as { addrs: NetAddress[] }).addrs.map((a) => a.host)).to.deep.equal(['10.0.0.1', '2001:db8::1'])
  })

  describe('a bad address fails the whole message with PexViolationError(bad-address)', () => {
    const good = netAddr(ID, '1.2.3.4', 26656)
    for (const [what, bad] of [
      ['an IP that does not parse', netAddr(ID, 'not-an-ip', 26656)],
      ['an empty IP', netAddr(ID, '', 26656)],
      ['an IPv4 with a leading zero (Go refuses it)', netAddr(ID, '1.02.3.4', 26656)],
      ['an IPv6 with a zone', netAddr(ID, 'fe80::1%eth0', 26656)],
      ['a hostname', netAddr(ID, 'example.com', 26656)],
      ['port 65536', netAddr(ID, '1.2.3.4', 65536)],
      ['port 2^32 - 1', netAddr(ID, '1.2.3.4', 0xffffffff)]
    ] as const) {
      it(what, () => {
        let err: unknown
        try { decodePexMessage(bytes(addrsMsg(good, bad, good))) } catch (e) { err = e }
        expect(err).to.be.instanceOf(PexViolationError)
        expect((err as PexViolationError).rule).to.equal('bad-address')
      })
    }
  })

  it('keeps the low 32 bits of a port varint, as Go\'s uint32 decoding does (2^32 + 80 is port 80)', () => {
    const msg = decodePexMessage(bytes(addrsMsg(netAddr(ID, '1.2.3.4', (1n << 32n) + 80n))))
    expect((msg as { addrs: NetAddress[] }).addrs[0]!.port).to.equal(80)
  })

  describe('malformed protobuf is a DecodeError', () => {
    for (const [what, h] of [
      ['an empty Message (no oneof set)', ''],
      ['a Message with only unknown fields', '1801'],
      ['a truncated length', '12'],
      ['a length past the end', '1205'],
      ['an address running past its list', '12030a05'],
      ['a truncated varint', '12020a'],
      ['pex_addrs with the varint wire type', '1000'],
      ['pex_request with the varint wire type', '0800'],
      ['addrs with the varint wire type', '12020801'],
      ['port with the bytes wire type', '1204' + '0a02' + '1a00'],
      ['ip with the varint wire type', '1204' + '0a02' + '1001'],
      ['field number 0', '0000'],
      ['an end-group without a start', '0c'],
      ['wire type 6', '0e'],
      ['a varint longer than 10 bytes', '1801'.slice(0, 2) + 'ffffffffffffffffffff01'],
      ['a string running past its NetAddress', '1206' + '0a04' + '0a05' + '6162']
    ] as const) {
      it(what, () => {
        expect(() => decodePexMessage(bytes(h))).to.throw(DecodeError)
      })
    }
  })

  it('skips unknown fields of every wire type, groups included, as gogoproto does', () => {
    const unknown = '2801' + '31' + '0102030405060708' + '3a0161' + '3d01020304' + '43' + '0801' + '44'
    const addr = netAddr(ID, '1.2.3.4', 26656) + '2005' + '2a03616263'
    const h = unknown + '12' + varint(2 + addr.length / 2 + 2) + '0a' + varint(addr.length / 2) + addr + '1800' + unknown
    const msg = decodePexMessage(bytes(h))
    expect((msg as { addrs: NetAddress[] }).addrs.map(String)).to.deep.equal([`${ID}@1.2.3.4:26656`])
  })

  it('takes the last oneof field when both are present, as Go does', () => {
    expect(decodePexMessage(bytes('0a00' + addrsMsg(netAddr(ID, '1.2.3.4', 1)))).type).to.equal('addrs')
    expect(decodePexMessage(bytes(addrsMsg(netAddr(ID, '1.2.3.4', 1)) + '0a00')).type).to.equal('request')
  })

  it('refuses to encode a hostname or an out-of-range port (InvalidAddressError)', () => {
    expect(() => encodePexAddrs([new NetAddress(ID, 'example.com', 26656)])).to.throw(InvalidAddressError)
    expect(() => encodePexAddrs([new NetAddress(ID, '1.2.3.4', 70000)])).to.throw(InvalidAddressError)
  })

  it('fits 250 of the longest addresses within the 64000-byte channel capacity', () => {
    const longest = new NetAddress(ID, 'abcd:abcd:abcd:abcd:abcd:abcd:abcd:abcd', 65535)
    const msg = encodePexAddrs(Array.from({ length: MAX_PEX_ADDRESSES }, () => longest))
    expect(msg.length).to.be.lessThan(MAX_PEX_MESSAGE_SIZE)
    expect((decodePexMessage(msg) as { addrs: NetAddress[] }).addrs).to.have.length(250)
  })

  it('round-trips any list of addresses (property)', () => {
    const ip = fc.oneof(
      fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.')),
      fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIp(b))
    )
    const addr = fc.record({ id: fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9a-f]{40}$/)), ip, port: fc.nat(65535) })
    fc.assert(fc.property(fc.array(addr, { maxLength: 40 }), (list) => {
      const addrs = list.map((a) => new NetAddress(a.id, a.ip, a.port))
      const back = decodePexMessage(encodePexAddrs(addrs))
      expect(back.type).to.equal('addrs')
      expect((back as { addrs: NetAddress[] }).addrs.map(String)).to.deep.equal(addrs.map((a) => a.canonical().toString()))
    }), { numRuns: 200 })
  })

  it('never throws anything but DecodeError or PexViolationError on random bytes (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        decodePexMessage(b)
      } catch (err) {
        expect(err instanceof DecodeError || err instanceof PexViolationError, String(err)).to.equal(true)
      }
    }), { numRuns: 2000 })
  })
})
