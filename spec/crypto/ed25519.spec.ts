import { expect } from 'chai'
import { ed25519 } from '@noble/curves/ed25519.js'
import { verifyEd25519 } from '../../lib/crypto/ed25519.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { handshakeVector, hex } from '../conn/secret-support.js'

describe('crypto/ed25519', () => {
  const v = handshakeVector()

  it('reproduces the vector signatures over the challenge (RFC 8032, deterministic)', () => {
    const a = NodeKey.fromSeed(hex(v.inputs.A_ed25519_seed_hex))
    const b = NodeKey.fromSeed(hex(v.inputs.B_ed25519_seed_hex))
    const challenge = hex(v.step2_key_schedule.merlin_challenge_hex)
    expect(Buffer.from(a.sign(challenge)).toString('hex')).to.equal(v.step3_auth_sig.A_signature_hex)
    expect(Buffer.from(b.sign(challenge)).toString('hex')).to.equal(v.step3_auth_sig.B_signature_hex)
    expect(verifyEd25519(a.publicKey, challenge, hex(v.step3_auth_sig.A_signature_hex))).to.equal(true)
    expect(verifyEd25519(b.publicKey, challenge, hex(v.step3_auth_sig.A_signature_hex))).to.equal(false)
  })

  it('refuses a flipped signature bit, a wrong message, and malformed lengths without throwing', () => {
    const key = NodeKey.generate()
    const msg = new Uint8Array(32).fill(5)
    const sig = key.sign(msg)
    expect(verifyEd25519(key.publicKey, msg, sig)).to.equal(true)
    const bad = Uint8Array.from(sig)
    bad[10]! ^= 1
    expect(verifyEd25519(key.publicKey, msg, bad)).to.equal(false)
    expect(verifyEd25519(key.publicKey, new Uint8Array(32), sig)).to.equal(false)
    expect(verifyEd25519(key.publicKey, msg, sig.subarray(0, 63))).to.equal(false)
    expect(verifyEd25519(key.publicKey.subarray(1), msg, sig)).to.equal(false)
    expect(verifyEd25519(new Uint8Array(32).fill(0xff), msg, sig)).to.equal(false)
  })

  it('refuses a non-canonical S (S + L), as ZIP-215 requires', () => {
    const key = NodeKey.generate()
    const msg = Uint8Array.of(1, 2, 3)
    const sig = key.sign(msg)
    const L = (1n << 252n) + 27742317777372353535851937790883648493n
    let s = 0n
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!)
    s += L
    const big = Uint8Array.from(sig)
    for (let i = 0; i < 32; i++) { big[32 + i] = Number(s & 0xffn); s >>= 8n }
    expect(verifyEd25519(key.publicKey, msg, big)).to.equal(false)
  })

  it('accepts what ZIP-215 accepts and strict RFC 8032 refuses: a non-canonical small-order key and R', () => {
    // y = p + 1 is a non-canonical encoding of y = 1, the identity. With R = identity and S = 0 the cofactored
    // equation [8][S]B = [8]R + [8][k]A holds for every message.
    const nonCanonicalIdentity = hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')
    const sig = new Uint8Array(64)
    sig.set(hex('0100000000000000000000000000000000000000000000000000000000000000'), 0)
    const msg = new TextEncoder().encode('zip215')
    expect(ed25519.verify(sig, msg, nonCanonicalIdentity, { zip215: false })).to.equal(false)
    expect(verifyEd25519(nonCanonicalIdentity, msg, sig)).to.equal(true)
  })
})
