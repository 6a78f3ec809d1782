import { readFileSync } from 'node:fs'
import { expect } from 'chai'
import fc from 'fast-check'
import { isValidNodeId, parseNodeId } from '../../lib/crypto/node-id.js'
import { NetAddress, formatIp, isIpv4, parseIp } from '../../lib/transport/net-address.js'
import { InvalidAddressError } from '../../lib/errors.js'

const ID = '56475aa75463474c0285df5dbf2bcab73da65135'
const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'))
const at = (host: string, id = ID): NetAddress => new NetAddress(id, host, 26656)

describe('transport/net-address', () => {
  describe('parsing (unchanged API)', () => {
    it('parses id@host:port with and without a scheme, lowercasing the ID', () => {
      const a = NetAddress.parse(`tcp://${ID.toUpperCase()}@127.0.0.1:26656`)
      expect([a.id, a.host, a.port]).to.deep.equal([ID, '127.0.0.1', 26656])
      expect(NetAddress.parse(`${ID}@[::1]:1`).toString()).to.equal(`${ID}@[::1]:1`)
      expect(NetAddress.parse('example.com:80', false).hostPort).to.equal('example.com:80')
    })

    it('refuses a missing ID, a bad ID, a bad port and unbracketed IPv6 with InvalidAddressError', () => {
      for (const s of ['1.2.3.4:1', 'zz@1.2.3.4:1', `${ID}@1.2.3.4:65536`, `${ID}@1.2.3.4`, `${ID}@::1:5`]) {
        expect(() => NetAddress.parse(s), s).to.throw(InvalidAddressError)
      }
      expect(isValidNodeId(ID)).to.equal(true)
      expect(() => parseNodeId('abc')).to.throw(InvalidAddressError)
    })
  })

  describe('IP text forms as Go has them', () => {
    const pairs = fixture('go-parseip.json') as Array<[string, string | null]>

    it(`parses and prints ${pairs.length} inputs exactly as Go's net.ParseIP(s).String() does`, () => {
      const wrong: string[] = []
      for (const [input, want] of pairs) {
        const ip = parseIp(input)
        const got = ip === undefined ? null : formatIp(ip)
        if (got !== want) wrong.push(`${JSON.stringify(input)}: Go ${want}, ours ${got}`)
      }
      expect(wrong).to.deep.equal([])
      expect(pairs.filter(([, w]) => w !== null).length).to.be.greaterThan(400)
    })

    it('stores IPv4 as ::ffff:a.b.c.d, as Go does, and prints it as IPv4', () => {
      expect([...parseIp('1.2.3.4')!]).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4])
      expect(isIpv4(parseIp('::ffff:1.2.3.4')!)).to.equal(true)
      expect(formatIp(parseIp('::ffff:1.2.3.4')!)).to.equal('1.2.3.4')
      expect(formatIp(Uint8Array.of(10, 0, 0, 1))).to.equal('10.0.0.1')
    })

    it('compresses the longest run of two or more zero groups, the first on a tie, never a single group', () => {
      expect(formatIp(parseIp('1:0:0:1:0:0:0:1')!)).to.equal('1:0:0:1::1')
      expect(formatIp(parseIp('1:0:0:1:0:0:1:1')!)).to.equal('1::1:0:0:1:1')
      expect(formatIp(parseIp('1:2:3:4:5:6:0:8')!)).to.equal('1:2:3:4:5:6:0:8')
    })

    it('round-trips any 16 bytes through text (property)', () => {
      fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect([...parseIp(formatIp(b))!]).to.deep.equal([...b])
      }), { numRuns: 2000 })
    })

    it('canonical() rewrites the host in Go text form and keeps hostnames', () => {
      expect(at('::FFFF:1.2.3.4').canonical().toString()).to.equal(`${ID}@1.2.3.4:26656`)
      const same = at('1.2.3.4')
      expect(same.canonical()).to.equal(same)
      expect(at('example.com').canonical().host).to.equal('example.com')
    })
  })

  describe('routability and groups match CometBFT v0.38.26', () => {
    const rows = fixture('netaddress-cometbft.json') as Array<Record<string, string | boolean>>
    const checks: Record<string, (a: NetAddress) => string | boolean> = {
      text: (a) => a.canonical().host,
      valid: (a) => a.isValid(),
      local: (a) => a.isLocal(),
      routable: (a) => a.isRoutable(),
      rfc1918: (a) => a.isRfc1918(),
      rfc3849: (a) => a.isRfc3849(),
      rfc3927: (a) => a.isRfc3927(),
      rfc3964: (a) => a.isRfc3964(),
      rfc4193: (a) => a.isRfc4193(),
      rfc4380: (a) => a.isRfc4380(),
      rfc4843: (a) => a.isRfc4843(),
      rfc4862: (a) => a.isRfc4862(),
      rfc6052: (a) => a.isRfc6052(),
      rfc6145: (a) => a.isRfc6145(),
      tor: (a) => a.isOnionCatTor(),
      group_strict: (a) => a.groupKey(true),
      group_loose: (a) => a.groupKey(false)
    }

    it(`agrees on every property of ${rows.length} addresses recorded from CometBFT`, () => {
      const wrong: string[] = []
      for (const row of rows) {
        const a = at(row.ip as string)
        for (const [name, check] of Object.entries(checks)) {
          const got = check(a)
          if (got !== row[name]) wrong.push(`${row.ip as string} ${name}: CometBFT ${String(row[name])}, ours ${String(got)}`)
        }
      }
      expect(wrong).to.deep.equal([])
    })

    it('covers every range the spec lists (each is true for some recorded address)', () => {
      for (const name of ['rfc1918', 'rfc3849', 'rfc3927', 'rfc3964', 'rfc4193', 'rfc4380', 'rfc4843', 'rfc4862', 'rfc6052', 'rfc6145', 'tor', 'local']) {
        expect(rows.some((r) => r[name] === true), name).to.equal(true)
      }
    })
  })

  describe('isValid (CometBFT Valid)', () => {
    it('needs a 40-hex ID', () => {
      expect(at('1.2.3.4', '').validityError()).to.equal('invalid ID')
      expect(at('1.2.3.4', '1').validityError()).to.equal('invalid ID')
      expect(at('1.2.3.4', 'g'.repeat(40)).isValid()).to.equal(false)
      expect(at('1.2.3.4', ID.toUpperCase()).isValid()).to.equal(true) // Go's hex decoder takes either case
    })

    it('needs an IP: a hostname or an empty host has none', () => {
      expect(at('example.com').validityError()).to.equal('no IP')
      expect(at('').validityError()).to.equal('no IP')
    })

    it('refuses unspecified, RFC 3849 documentation and broadcast addresses', () => {
      for (const ip of ['0.0.0.0', '::', '2001:db8::1', '255.255.255.255', '::ffff:0.0.0.0']) {
        expect(at(ip).validityError(), ip).to.equal('invalid IP')
      }
      for (const ip of ['0.0.0.1', '255.255.255.254', '127.0.0.1', '10.0.0.1', '::1']) expect(at(ip).isValid(), ip).to.equal(true)
    })
  })

  describe('isLocal and isRoutable', () => {
    it('local is loopback or 0.0.0.0/8', () => {
      for (const ip of ['127.0.0.1', '127.9.9.9', '::1', '0.1.2.3', '::ffff:127.0.0.1']) expect(at(ip).isLocal(), ip).to.equal(true)
      for (const ip of ['128.0.0.1', '::2', '1.0.0.0', 'example.com']) expect(at(ip).isLocal(), ip).to.equal(false)
    })

    it('private, link-local, unique-local, ORCHID and local addresses are not routable; public ones are', () => {
      for (const ip of ['10.1.1.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.1.1', 'fe80::1', 'fc00::1',
        'fd12::1', '2001:10::1', '127.0.0.1', '0.0.0.1', '2001:db8::1']) {
        expect(at(ip).isRoutable(), ip).to.equal(false)
      }
      for (const ip of ['1.2.3.4', '172.32.0.1', '192.169.0.1', '2600::1', '2001::1', '2002::1', '64:ff9b::1.2.3.4']) {
        expect(at(ip).isRoutable(), ip).to.equal(true)
      }
      expect(at('1.2.3.4', 'bad').isRoutable()).to.equal(false)
    })
  })

  describe('groupKey (CometBFT group(addr))', () => {
    it('IPv4 /16; embedded IPv4 for RFC 6145, RFC 6052, 6to4 and Teredo; tor:<n>; IPv6 /32, /36 in he.net', () => {
      expect(at('1.2.3.4').groupKey()).to.equal('1.2.0.0')
      expect(at('::ffff:0:9.8.7.6').groupKey()).to.equal('9.8.0.0')
      expect(at('64:ff9b::9.8.7.6').groupKey()).to.equal('9.8.0.0')
      expect(at('2002:908:706::1').groupKey()).to.equal('9.8.0.0')
      expect(at('2001:0:4136:e378:8000:63bf:f6f7:f8f9').groupKey()).to.equal('9.8.0.0')
      expect(at('fd87:d87e:eb43:f500::1').groupKey(false)).to.equal('tor:5')
      expect(at('2600:1f18:1234::1').groupKey()).to.equal('2600:1f18::')
      expect(at('2001:470:abcd::1').groupKey()).to.equal('2001:470:a000::')
    })

    it('is "local" or "unroutable" when strict, the plain group when loose', () => {
      expect(at('127.0.0.1').groupKey()).to.equal('local')
      expect(at('10.1.2.3').groupKey()).to.equal('unroutable')
      expect(at('fd87:d87e:eb43:5::1').groupKey()).to.equal('unroutable')
      expect(at('127.0.0.1').groupKey(false)).to.equal('127.0.0.0')
      expect(at('10.1.2.3').groupKey(false)).to.equal('10.1.0.0')
    })

    it('a host without an IP has Go\'s nil-IP group when loose', () => {
      expect(at('example.com').groupKey()).to.equal('unroutable')
      expect(at('example.com').groupKey(false)).to.equal('<nil>')
    })
  })
})
