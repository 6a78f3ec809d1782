import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { ed25519, x25519 as nobleX25519 } from '@noble/curves/ed25519.js'
import { LowOrderPointError } from '../../lib/errors.js'
import { x25519, x25519KeyPair } from '../../lib/crypto/x25519.js'
import { LOW_ORDER_POINTS } from '../conn/secret-support.js'

describe('crypto/x25519', () => {
  it('derives the public key of a given private key as RFC 7748 does (checked against @noble/curves)', () => {
    for (let i = 0; i < 64; i++) {
      const priv = ed25519.utils.randomSecretKey()
      const pair = x25519KeyPair(priv)
      expect(Buffer.from(pair.publicKey).toString('hex')).to.equal(Buffer.from(nobleX25519.getPublicKey(priv)).toString('hex'))
      expect(Buffer.from(pair.privateKey).toString('hex')).to.equal(Buffer.from(priv).toString('hex'))
      const random = x25519KeyPair()
      expect(Buffer.from(random.publicKey).toString('hex')).to.equal(Buffer.from(nobleX25519.getPublicKey(random.privateKey)).toString('hex'))
    }
  })

  it('makes 30,000 random key pairs in a row without hanging the process (Node 20 deadlock in generateKeyPairSync + export)', async function () {
    this.timeout(60_000)
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/keygen-loop.ts', import.meta.url).pathname, '30000'], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
    const killer = setTimeout(() => { child.kill('SIGKILL') }, 45_000)
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    clearTimeout(killer)
    expect(out.trim(), 'the child hung (killed after 45 s) or failed').to.equal('done 30000')
    expect(code).to.equal(0)
  })

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
