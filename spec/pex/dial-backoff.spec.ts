import { expect } from 'chai'
import { DialBackoff, dialBackoffMs } from '../../lib/pex/dial-backoff.js'
import { NetAddress } from '../../lib/transport/net-address.js'

const A = new NetAddress('a'.repeat(40), '20.0.0.1', 26656)
const SAME_HOSTPORT = new NetAddress('b'.repeat(40), '20.0.0.1', 26656)
const B = new NetAddress('c'.repeat(40), '20.0.0.2', 26656)

describe('pex/DialBackoff', () => {
  it('waits 2^attempts s plus a jitter under 1 s (CometBFT dialPeer)', () => {
    expect(dialBackoffMs(0, () => 0.99)).to.equal(0)
    expect(dialBackoffMs(1, () => 0)).to.equal(2000)
    expect(dialBackoffMs(3, () => 0.5)).to.equal(8500)
    expect(dialBackoffMs(16, () => 0.999)).to.equal(65_536_000 + 999)
  })

  it('lets a first dial through, then holds an address back until its backoff has passed', () => {
    const backoff = new DialBackoff({ random: () => 0.25 })
    expect(backoff.check(A, 0, false)).to.deep.equal({ type: 'dial', attempts: 0 })
    expect(backoff.failed(A, 1000)).to.equal(1)
    expect(backoff.check(A, 3249, false)).to.deep.equal({ type: 'too-early', attempts: 1, backoffMs: 2250, lastDialedMs: 1000 })
    expect(backoff.check(A, 3250, false)).to.deep.equal({ type: 'dial', attempts: 1 })
    backoff.failed(A, 3250)
    expect(backoff.check(A, 3250 + 4249, false).type).to.equal('too-early')
    expect(backoff.check(A, 3250 + 4250, false).type).to.equal('dial')
    expect(backoff.attempts(A)).to.equal(2)
    expect(backoff.lastDialed(A)).to.equal(3250)
  })

  it('counts per dial string (host:port), as CometBFT does, whatever the ID', () => {
    const backoff = new DialBackoff({ random: () => 0 })
    backoff.failed(A, 0)
    expect(backoff.attempts(SAME_HOSTPORT)).to.equal(1)
    expect(backoff.attempts(B)).to.equal(0)
    expect(backoff.size).to.equal(1)
  })

  it('gives up a non-persistent address after more than maxAttempts failures; a persistent one is never given up and its wait is capped', () => {
    const backoff = new DialBackoff({ random: () => 0, maxAttempts: 3, persistentMaxDialPeriodMs: 5000 })
    for (let i = 0; i < 3; i++) backoff.failed(A, 0)
    expect(backoff.check(A, 1e9, false).type).to.equal('dial')
    backoff.failed(A, 0)
    expect(backoff.check(A, 1e9, false)).to.deep.equal({ type: 'max-attempts', attempts: 4 })
    // persistent: 2^4 s = 16 s capped to 5 s
    expect(backoff.check(A, 4999, true)).to.deep.equal({ type: 'too-early', attempts: 4, backoffMs: 5000, lastDialedMs: 0 })
    expect(backoff.check(A, 5000, true).type).to.equal('dial')
  })

  it('forgets an address on success, and everything on clear()', () => {
    const backoff = new DialBackoff()
    backoff.failed(A, 0)
    backoff.failed(B, 0)
    backoff.succeeded(A)
    expect(backoff.attempts(A)).to.equal(0)
    expect(backoff.check(A, 0, false).type).to.equal('dial')
    backoff.clear()
    expect(backoff.size).to.equal(0)
  })
})
