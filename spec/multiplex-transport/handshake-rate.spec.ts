import { expect } from 'chai'
import { VirtualTimeScheduler } from 'rxjs'
import { HandshakeRateLimiter, TokenBucket } from '../../lib/multiplex-transport/handshake-rate.js'

describe('multiplex-transport/HandshakeRateLimiter (virtual time)', () => {
  it('TokenBucket: a burst, then one token per 1/rate s, never more than the burst', () => {
    const b = new TokenBucket(3, 2, 0)
    expect([b.take(0), b.take(0), b.take(0), b.take(0)]).to.deep.equal([true, true, true, false])
    expect(b.take(499)).to.equal(false)
    expect(b.take(500)).to.equal(true)
    expect(b.take(500)).to.equal(false)
    // an hour idle refills to the burst, not beyond
    expect(b.tokens(3_600_000)).to.equal(3)
    expect(b.isFull(3_600_000)).to.equal(true)
  })

  it('admits burstPerIp handshakes from one IP, then ratePerIp per second; other IPs have their own buckets', () => {
    const scheduler = new VirtualTimeScheduler()
    const limiter = new HandshakeRateLimiter({ burstPerIp: 3, ratePerIp: 1, scheduler })
    const from = (ip: string, n: number): boolean[] => Array.from({ length: n }, () => limiter.admit(ip))
    expect(from('1.1.1.1', 5)).to.deep.equal([true, true, true, false, false])
    expect(from('2.2.2.2', 3)).to.deep.equal([true, true, true])
    scheduler.schedule(() => {}, 1000)
    scheduler.flush()
    expect(from('1.1.1.1', 2)).to.deep.equal([true, false])
  })

  it('the node-wide bucket bounds key agreements, whatever the number of IPs', () => {
    const scheduler = new VirtualTimeScheduler()
    const limiter = new HandshakeRateLimiter({ burst: 4, rate: 2, scheduler })
    const agreements = Array.from({ length: 10 }, (_, i) => limiter.admit(`10.0.0.${i}`) && limiter.beginKeyAgreement())
    expect(agreements.filter(Boolean)).to.have.length(4)
    scheduler.schedule(() => {}, 1500)
    scheduler.flush()
    expect([limiter.beginKeyAgreement(), limiter.beginKeyAgreement(), limiter.beginKeyAgreement(), limiter.beginKeyAgreement()]).to.deep.equal([true, true, true, false])
  })

  it('remembers at most maxTrackedIps buckets: full ones go first, then the oldest', () => {
    const scheduler = new VirtualTimeScheduler()
    const limiter = new HandshakeRateLimiter({ burstPerIp: 2, ratePerIp: 1, maxTrackedIps: 10, scheduler })
    for (let i = 0; i < 10; i++) limiter.admit(`10.0.0.${i}`)
    expect(limiter.trackedIps).to.equal(10)
    for (let i = 0; i < 1000; i++) limiter.admit(`10.1.${i >> 8}.${i & 255}`)
    expect(limiter.trackedIps).to.be.at.most(10)
    // an IP still draining keeps its bucket while it stays among the remembered ones
    const ip = '10.9.9.9'
    expect([limiter.admit(ip), limiter.admit(ip), limiter.admit(ip)]).to.deep.equal([true, true, false])
  })
})
