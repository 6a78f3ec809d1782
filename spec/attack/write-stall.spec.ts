import { expect } from 'chai'
import { encodePacketFrame } from '../../lib/wire/packet.js'
import { attackerHandshake, ECHO_CHANNEL, honestTraffic, LONG, mib, sampleStats, sleep, startTarget, waitFor, type Target } from './support/harness.js'

const MiB = 1024 * 1024

// Finding (4) of issue 13: a peer that never reads but pongs every second was never dropped (nor is it by
// CometBFT). Now our writes blocked for writeStallTimeoutMs (60 s by default; 2 s here) stop it with WriteStallError.
describe('attack: a peer that never reads', function () {
  this.timeout(LONG ? 120_000 : 30_000)
  let target: Target
  const stallMs = LONG ? 10_000 : 2000
  before(async () => {
    target = await startTarget({ echoReplyBytes: 65_536, switchInit: { mconnection: { writeStallTimeoutMs: stallMs } } })
  })
  after(async () => { await target.stop() })

  it('is stopped with WriteStallError once our writes stay blocked for the stall timeout, though it pings and pongs; honest peers go on', async () => {
    const honest = await honestTraffic(target, { peers: 2 })
    await sleep(300)
    const base = await target.gcStats()
    const sampler = sampleStats(target, 100)
    const a = await attackerHandshake(target, { sourceIp: '127.0.5.1' })
    // 400 requests answered with 64 KiB each: 25 MiB, more than loopback's socket buffers hold.
    const request = encodePacketFrame({ type: 'msg', channelId: ECHO_CHANNEL, eof: true, data: Uint8Array.of(0x78) })
    a.sc.write(Buffer.concat(Array.from({ length: 400 }, () => request)))
    const started = Date.now()
    // Keepalive as an honest peer would send it, every 500 ms, while reading nothing.
    const keepalive = setInterval(() => {
      try { a.sc.write(Buffer.concat([encodePacketFrame({ type: 'ping' }), encodePacketFrame({ type: 'pong' })])) } catch {}
    }, 500)
    try {
      await waitFor(async () => ((await target.stats()).removedBy.WriteStallError ?? 0) > 0, stallMs + 8000, 'the stalled peer to be stopped')
    } finally {
      clearInterval(keepalive)
    }
    const stoppedAfterMs = Date.now() - started
    const s = await sampler.stop()
    a.close()
    await honest.stop()
    const rssMoved = s.peakRss - base.rss
    console.log(`      stalled peer stopped ${(stoppedAfterMs / 1000).toFixed(1)} s after its requests (stall timeout ${stallMs / 1000} s); RSS +${mib(rssMoved)}`)
    expect(stoppedAfterMs).to.be.at.least(stallMs)
    expect(stoppedAfterMs).to.be.below(stallMs + 8000)
    expect(rssMoved).to.be.below(64 * MiB)
    honest.assertNoLoss() // the honest peers read: their writes never stall
  })
})
