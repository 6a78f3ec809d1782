import { expect } from 'chai'
import { LowOrderPointError } from '../../lib/errors.js'
import { x25519, x25519KeyPair } from '../../lib/crypto/x25519.js'
import { LOW_ORDER_POINTS } from '../conn/secret-support.js'


describe('crypto/x25519', () => {
  it('two random key pairs agree on the shared secret', () => {
    const a = x25519KeyPair()
    const b = x25519KeyPair()
    expect(Buffer.from(x25519(a.privateKey, b.publicKey)).equals(Buffer.from(x25519(b.privateKey, a.publicKey)))).to.equal(true)
  })

  for (const p of LOW_ORDER_POINTS) {
    it(`refuses the low-order point ${p.slice(0, 8)}… with LowOrderPointError (all-zero secret)`, () => {
      expect(() => x25519(x25519KeyPair().privateKey, Buffer.from(p, 'hex'))).to.throw(LowOrderPointError)
    })
  }
})
