import { expect } from 'chai'
import { DecodeError } from '../../lib/errors.js'
import { decodeAuthSig, encodeAuthSig } from '../../lib/wire/auth-sig.js'
import { encodeDelimited } from '../../lib/wire/delimited.js'
import { handshakeVector, hex } from '../conn/secret-support.js'

describe('wire/auth-sig', () => {
  const v = handshakeVector()

  it('encodes both vector AuthSigMessages byte for byte (with the delimiter: 103 bytes)', () => {
    for (const side of ['A', 'B'] as const) {
      const msg = encodeAuthSig(hex(v.identities[`${side}_ed25519_pub_hex`]), hex(v.step3_auth_sig[`${side}_signature_hex`]))
      expect(msg).to.have.length(102)
      expect(Buffer.from(encodeDelimited(msg)).toString('hex')).to.equal(v.step3_auth_sig[`${side}_auth_sig_delimited_hex`])
    }
  })

  it('decodes them back', () => {
    const got = decodeAuthSig(hex(v.step3_auth_sig.A_auth_sig_delimited_hex).subarray(1))
    expect(got.keyType).to.equal('ed25519')
    expect(Buffer.from(got.publicKey).toString('hex')).to.equal(v.identities.A_ed25519_pub_hex)
    expect(Buffer.from(got.sig).toString('hex')).to.equal(v.step3_auth_sig.A_signature_hex)
  })

  it('reports other key types and an unset key', () => {
    expect(decodeAuthSig(hex('0a03120102')).keyType).to.equal('secp256k1')
    expect(decodeAuthSig(hex('0a031a0102')).keyType).to.equal('bls12381')
    expect(decodeAuthSig(hex('0a00')).keyType).to.equal(undefined)
    expect(decodeAuthSig(new Uint8Array(0)).keyType).to.equal(undefined)
    expect(decodeAuthSig(hex('0a03320102')).keyType).to.equal(undefined) // unknown case 6
  })

  it('writes field 1 even with an empty key, as gogoproto does for non-nullable fields', () => {
    expect(Buffer.from(encodeAuthSig(new Uint8Array(0), new Uint8Array(0))).toString('hex')).to.equal('0a020a00')
  })

  for (const [what, bytes] of [['a truncated message', '0a220a20'], ['a wrong wire type', '0805'], ['field 0', '0000']]) {
    it(`refuses ${what} with DecodeError`, () => {
      expect(() => decodeAuthSig(hex(bytes))).to.throw(DecodeError)
    })
  }
})
