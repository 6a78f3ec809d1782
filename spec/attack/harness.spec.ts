import { expect } from 'chai'
import { encodePacketFrame } from '../../lib/wire/packet.js'
import { attackerHandshake, ECHO_CHANNEL, honestTraffic, sampleStats, startTarget, type Target } from './support/harness.js'

// The harness itself: a target in its own process, honest traffic that is checked, an attacker connection.
describe('attack harness', function () {
  this.timeout(30_000)
  let target: Target
  before(async () => { target = await startTarget() })
  after(async () => { await target.stop() })

  it('honest peers exchange numbered messages with the target and lose none', async () => {
    const sampler = sampleStats(target, 50)
    const honest = await honestTraffic(target, { peers: 2, intervalMs: 10 })
    await new Promise((resolve) => setTimeout(resolve, 500))
    await honest.stop()
    const s = await sampler.stop()
    expect(honest.sent).to.be.greaterThan(20)
    honest.assertNoLoss()
    expect(s.samples.length).to.be.greaterThan(3)
    expect(s.peakRss).to.be.greaterThan(10 * 1024 * 1024)
    expect(s.samples.some((x) => x.peers === 2)).to.equal(true)
  })

  it('an attacker connection completes the handshake and its raw packets reach the reactor', async () => {
    const a = await attackerHandshake(target, { sourceIp: '127.0.2.1' })
    expect(a.theirInfo.id).to.equal(target.id)
    a.sc.write(encodePacketFrame({ type: 'msg', channelId: ECHO_CHANNEL, eof: true, data: new TextEncoder().encode('x:0') }))
    const answered = await new Promise<boolean>((resolve) => {
      a.sc.source$.subscribe({ next: () => { resolve(true) }, error: () => { resolve(false) }, complete: () => { resolve(false) } })
      setTimeout(() => { resolve(false) }, 3000)
    })
    a.close()
    expect(answered).to.equal(true)
  })
})
