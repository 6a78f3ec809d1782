import { expect } from 'chai'
import { compareBytes, deriveSecrets, handshakeChallenge, hkdfOutput } from '../../lib/crypto/key-schedule.js'
import { x25519, x25519KeyPair } from '../../lib/crypto/x25519.js'
import { handshakeVector, hex, vectorText } from '../conn/secret-support.js'

const h = (b: Uint8Array): string => Buffer.from(b).toString('hex')

describe('crypto/key-schedule', () => {
  describe('TestDeriveSecretsAndChallengeGolden.golden', () => {
    const rows = vectorText('TestDeriveSecretsAndChallengeGolden.golden').split('\n').filter((l) => l.trim() !== '')

    it('has 32 rows of 5 columns', () => {
      expect(rows).to.have.length(32)
      for (const r of rows) expect(r.split(',')).to.have.length(5)
    })

    rows.forEach((row, i) => {
      it(`row ${i + 1}: recv/send keys (and the legacy HKDF bytes 64..95) match`, () => {
        const [dh, least, recv, send, legacy] = row.split(',') as [string, string, string, string, string]
        expect(least === 'true' || least === 'false').to.equal(true)
        const keys = deriveSecrets(hex(dh), least === 'true')
        expect(h(keys.recvKey)).to.equal(recv)
        expect(h(keys.sendKey)).to.equal(send)
        expect(h(hkdfOutput(hex(dh)).subarray(64))).to.equal(legacy)
      })
    })
  })

  describe('derived handshake vector, step 2', () => {
    const v = handshakeVector()
    const s = v.step2_key_schedule

    it('derives both ephemeral public keys from the fixed private keys', () => {
      expect(h(x25519KeyPair(hex(v.inputs.A_x25519_ephemeral_private_hex)).publicKey)).to.equal(v.step1_ephemeral_exchange.A_eph_pub_hex)
      expect(h(x25519KeyPair(hex(v.inputs.B_x25519_ephemeral_private_hex)).publicKey)).to.equal(v.step1_ephemeral_exchange.B_eph_pub_hex)
    })

    it('sorts lo/hi, computes the same DH secret on both sides, the HKDF output, the keys and the challenge', () => {
      const a = hex(v.step1_ephemeral_exchange.A_eph_pub_hex)
      const b = hex(v.step1_ephemeral_exchange.B_eph_pub_hex)
      const aLeast = compareBytes(a, b) < 0
      expect(aLeast).to.equal(s.A_is_least)
      const [lo, hi] = aLeast ? [a, b] : [b, a]
      expect(h(lo)).to.equal(s.lo_eph_pub_hex)
      expect(h(hi)).to.equal(s.hi_eph_pub_hex)
      const dhA = x25519(hex(v.inputs.A_x25519_ephemeral_private_hex), b)
      const dhB = x25519(hex(v.inputs.B_x25519_ephemeral_private_hex), a)
      expect(h(dhA)).to.equal(s.dh_secret_hex)
      expect(h(dhB)).to.equal(s.dh_secret_hex)
      expect(h(hkdfOutput(dhA))).to.equal(s.hkdf_output_96_hex)
      const ka = deriveSecrets(dhA, aLeast)
      const kb = deriveSecrets(dhB, !aLeast)
      expect(h(ka.recvKey)).to.equal(s.A_recv_key_hex)
      expect(h(ka.sendKey)).to.equal(s.A_send_key_hex)
      expect(h(kb.recvKey)).to.equal(s.B_recv_key_hex)
      expect(h(kb.sendKey)).to.equal(s.B_send_key_hex)
      expect(h(handshakeChallenge(lo, hi, dhA))).to.equal(s.merlin_challenge_hex)
    })
  })

  it('compareBytes orders bytewise like Go bytes.Compare', () => {
    expect(compareBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).to.be.lessThan(0)
    expect(compareBytes(Uint8Array.of(2), Uint8Array.of(1, 9))).to.be.greaterThan(0)
    expect(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0))).to.be.lessThan(0)
    expect(compareBytes(Uint8Array.of(7, 7), Uint8Array.of(7, 7))).to.equal(0)
  })
})
