import { expect } from 'chai'
import fc from 'fast-check'
import { DecodeError, IncompatiblePeerError, InvalidNodeInfoError } from '../../lib/errors.js'
import { checkCompatible, decodeNodeInfo, encodeNodeInfo, nodeInfoAddress, validateNodeInfo, type NodeInfo } from '../../lib/wire/node-info.js'
import { handshakeVector, hex, vectorNodeInfo } from '../conn/secret-support.js'

const h = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('wire/node-info', () => {
  const v = handshakeVector()
  const infoA = (): NodeInfo => vectorNodeInfo(v.step4_node_info.A_fields)
  const infoB = (): NodeInfo => vectorNodeInfo(v.step4_node_info.B_fields)

  describe('encoding', () => {
    it('encodes both vector NodeInfos byte for byte (gogoproto field order, zero values omitted)', () => {
      expect(h(encodeNodeInfo(infoA()))).to.equal(v.step4_node_info.A_node_info_proto_hex)
      expect(h(encodeNodeInfo(infoB()))).to.equal(v.step4_node_info.B_node_info_proto_hex)
    })

    it('decodes both vector NodeInfos to their fields', () => {
      expect(decodeNodeInfo(hex(v.step4_node_info.A_node_info_proto_hex))).to.deep.equal(infoA())
      expect(decodeNodeInfo(hex(v.step4_node_info.B_node_info_proto_hex))).to.deep.equal(infoB())
    })

    it('always writes the non-nullable fields 1 and 8, even when empty, as gogoproto does', () => {
      const empty: NodeInfo = {
        protocolVersion: { p2p: 0, block: 0, app: 0 },
        id: '',
        listenAddr: '',
        network: '',
        version: '',
        channels: new Uint8Array(0),
        moniker: '',
        other: { txIndex: '', rpcAddress: '' }
      }
      expect(h(encodeNodeInfo(empty))).to.equal('0a004200')
      expect(decodeNodeInfo(hex('0a004200'))).to.deep.equal(empty)
      expect(decodeNodeInfo(new Uint8Array(0))).to.deep.equal(empty)
    })

    it('round-trips any NodeInfo (property)', () => {
      const text = fc.string({ maxLength: 30 })
      const u53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })
      fc.assert(fc.property(u53, u53, u53, text, text, text, text, fc.uint8Array({ maxLength: 20 }), text, text, text,
        (p2p, block, app, id, listenAddr, network, version, channels, moniker, txIndex, rpcAddress) => {
          const info: NodeInfo = { protocolVersion: { p2p, block, app }, id, listenAddr, network, version, channels, moniker, other: { txIndex, rpcAddress } }
          expect(decodeNodeInfo(encodeNodeInfo(info))).to.deep.equal(info)
        }), { numRuns: 200 })
    })

    it('skips unknown fields, keeps the last value of a repeated field and merges repeated sub-messages (as Go)', () => {
      const base = h(encodeNodeInfo(infoB()))
      // + field 9 (varint), + field 20 (bytes), + network again, + protocol_version {app: 5} again
      const extra = '4801' + 'a2010141' + '2203' + Buffer.from('xyz').toString('hex') + '0a021805'
      const got = decodeNodeInfo(hex(base + extra))
      expect(got.network).to.equal('xyz')
      expect(got.protocolVersion).to.deep.equal({ p2p: 8, block: 11, app: 5 })
      expect(got.moniker).to.equal('ts-peer-b')
    })

    const malformed: Array<[string, string]> = [
      ['a truncated field', '1a0574637'],
      ['a wrong wire type for a string field', '1805'],
      ['a wrong wire type inside protocol_version', '0a020a00'],
      ['field number 0', '0200'],
      ['a varint that never ends', '08ffffffffffffffffffff'],
      ['a length past the end', '3a09616263']
    ]
    for (const [what, bytes] of malformed) {
      it(`refuses ${what} with DecodeError`, () => {
        expect(() => decodeNodeInfo(hex(bytes))).to.throw(DecodeError)
      })
    }
  })

  describe('validateNodeInfo (CometBFT DefaultNodeInfo.Validate)', () => {
    it('accepts both vector NodeInfos and CometBFT\'s usual shapes', () => {
      validateNodeInfo(infoA())
      validateNodeInfo(infoB())
      for (const listenAddr of ['tcp://0.0.0.0:26656', '127.0.0.1:1', '[::1]:26656', 'tcp://[2001:db8::1]:80', 'localhost:26656', 'node-1.example.com:26656', 'example.com.:0080']) {
        validateNodeInfo({ ...infoA(), listenAddr })
      }
      validateNodeInfo({ ...infoA(), id: infoA().id.toUpperCase() }) // Go's hex decoder accepts either case
      validateNodeInfo({ ...infoA(), version: '', other: { txIndex: '', rpcAddress: '' } })
      validateNodeInfo({ ...infoA(), channels: Uint8Array.from({ length: 16 }, (_, i) => i) })
    })

    const cases: Array<[string, Partial<NodeInfo>, string]> = [
      ['an empty ID', { id: '' }, 'id'],
      ['an ID that is not hex', { id: 'zz475aa75463474c0285df5dbf2bcab73da65135' }, 'id'],
      ['an ID of 19 bytes', { id: '56475aa75463474c0285df5dbf2bcab73da651' }, 'id'],
      ['an ID of odd length', { id: '56475aa75463474c0285df5dbf2bcab73da6513' }, 'id'],
      ['a listen address without port', { listenAddr: 'tcp://127.0.0.1' }, 'listen-addr'],
      ['a listen address with an empty host', { listenAddr: ':26656' }, 'listen-addr'],
      ['a listen address with a port over 65535', { listenAddr: '127.0.0.1:65536' }, 'listen-addr'],
      ['a listen address with a signed port', { listenAddr: '127.0.0.1:+80' }, 'listen-addr'],
      ['a listen address with an empty port', { listenAddr: '127.0.0.1:' }, 'listen-addr'],
      ['an unbracketed IPv6 listen address', { listenAddr: '::1:26656' }, 'listen-addr'],
      ['a listen address with an @', { listenAddr: 'x@127.0.0.1:1' }, 'listen-addr'],
      ['a host that cannot be a domain name', { listenAddr: 'bad host!:26656' }, 'listen-addr'],
      ['a stray bracket', { listenAddr: '[::1]]:26656' }, 'listen-addr'],
      ['a version with a tab', { version: '1.0\t' }, 'version'],
      ['a version of only spaces', { version: '   ' }, 'version'],
      ['a non-ASCII version', { version: 'v1é' }, 'version'],
      ['17 channels', { channels: Uint8Array.from({ length: 17 }, (_, i) => i) }, 'channels-count'],
      ['a duplicate channel', { channels: Uint8Array.of(0x30, 0x20, 0x30) }, 'channels-duplicate'],
      ['an empty moniker', { moniker: '' }, 'moniker'],
      ['a moniker of spaces', { moniker: '  ' }, 'moniker'],
      ['a moniker with a newline', { moniker: 'a\nb' }, 'moniker'],
      ['a moniker decoded from invalid UTF-8', { moniker: 'a\ufffd' }, 'moniker'],
      ['tx_index "yes"', { other: { txIndex: 'yes', rpcAddress: '' } }, 'tx-index'],
      ['an rpc_address of spaces', { other: { txIndex: 'on', rpcAddress: ' ' } }, 'rpc-address'],
      ['an rpc_address with a control character', { other: { txIndex: 'on', rpcAddress: 'tcp://\u0001' } }, 'rpc-address']
    ]
    for (const [what, change, rule] of cases) {
      it(`refuses ${what}: InvalidNodeInfoError, rule "${rule}"`, () => {
        let err: unknown
        try { validateNodeInfo({ ...infoA(), ...change }) } catch (e) { err = e }
        expect(err).to.be.instanceOf(InvalidNodeInfoError)
        expect((err as InvalidNodeInfoError).rule).to.equal(rule)
      })
    }

    it('a moniker with invalid UTF-8 on the wire decodes to U+FFFD and is refused, as Go refuses the byte', () => {
      const bytes = Buffer.concat([encodeNodeInfo({ ...infoA(), moniker: '' }), hex('3a03618041')])
      expect(() => { validateNodeInfo(decodeNodeInfo(bytes)) }).to.throw(InvalidNodeInfoError)
    })
  })

  describe('checkCompatible (CometBFT CompatibleWith)', () => {
    it('accepts A and B (same block version and network, shared channels 0x30, 0x20, 0x00)', () => {
      checkCompatible(infoA(), infoB())
      checkCompatible(infoB(), infoA())
    })

    it('ignores the p2p, app and software versions', () => {
      checkCompatible(infoA(), { ...infoB(), protocolVersion: { p2p: 9, block: 11, app: 77 }, version: '1.0.1' })
    })

    it('accepts anyone on the network when we list no channels', () => {
      checkCompatible({ ...infoA(), channels: new Uint8Array(0) }, { ...infoB(), channels: Uint8Array.of(0x99) })
    })

    const cases: Array<[string, Partial<NodeInfo>, IncompatiblePeerError['rule']]> = [
      ['another block version', { protocolVersion: { p2p: 8, block: 12, app: 0 } }, 'block-version'],
      ['another network', { network: 'other-chain' }, 'network'],
      ['no shared channel', { channels: Uint8Array.of(0x99) }, 'channels'],
      ['no channels at all', { channels: new Uint8Array(0) }, 'channels']
    ]
    for (const [what, change, rule] of cases) {
      it(`refuses ${what}: IncompatiblePeerError, rule "${rule}"`, () => {
        let err: unknown
        try { checkCompatible(infoA(), { ...infoB(), ...change }) } catch (e) { err = e }
        expect(err).to.be.instanceOf(IncompatiblePeerError)
        expect((err as IncompatiblePeerError).rule).to.equal(rule)
      })
    }
  })

  it('nodeInfoAddress gives id@listen address without the scheme', () => {
    expect(nodeInfoAddress(infoA()).toString()).to.equal(`${v.identities.A_node_id}@127.0.0.1:26656`)
  })
})
