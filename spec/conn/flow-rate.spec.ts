import { expect } from 'chai'
import { FlowMonitor } from '../../lib/conn/flow-rate.js'
import { advanceTo, newTestScheduler } from './helpers.js'

describe('conn/FlowMonitor (virtual time)', () => {
  it('lets rate × 100 ms through per sample, then 0 until the next sample', () => {
    const scheduler = newTestScheduler()
    const m = new FlowMonitor({ scheduler })
    expect(m.limit(1034, 10_000)).to.equal(1000) // at most what is left of this sample
    m.update(600)
    expect(m.limit(1034, 10_000)).to.equal(400)
    m.update(500)
    expect(m.limit(1034, 10_000)).to.equal(0)
    expect(m.nextSampleDelay()).to.equal(100)
    advanceTo(scheduler, 60)
    expect(m.limit(1034, 10_000)).to.equal(0)
    expect(m.nextSampleDelay()).to.equal(40)
    advanceTo(scheduler, 100)
    expect(m.limit(1034, 10_000)).to.equal(1000)
  })

  it('reads a 20 ms clock: 89 ms still counts as 80, 90 ms as 100', () => {
    const scheduler = newTestScheduler()
    const m = new FlowMonitor({ scheduler })
    m.update(1000)
    advanceTo(scheduler, 89)
    expect(m.limit(1, 10_000)).to.equal(0)
    advanceTo(scheduler, 90)
    expect(m.limit(1, 10_000)).to.equal(1)
  })

  it('waits at least 5 ms, and lets at least one byte through per sample at tiny rates', () => {
    const scheduler = newTestScheduler()
    const m = new FlowMonitor({ scheduler })
    expect(m.limit(100, 1)).to.equal(1)
    m.update(1)
    expect(m.limit(100, 1)).to.equal(0)
    advanceTo(scheduler, 99)
    expect(m.nextSampleDelay()).to.equal(5)
  })

  it('does not limit with rate 0 (unlimited) or after done()', () => {
    const scheduler = newTestScheduler()
    const m = new FlowMonitor({ scheduler })
    expect(m.limit(5000, 0)).to.equal(5000)
    m.update(10)
    expect(m.done()).to.equal(10)
    expect(m.limit(5000, 1)).to.equal(5000)
    expect(m.status().active).to.equal(false)
  })

  it('reports average, current (moving average) and peak rates per sample', () => {
    const scheduler = newTestScheduler()
    const m = new FlowMonitor({ scheduler })
    // 1000 bytes reported at the end of each 100 ms sample (Go counts bytes in the sample they close)
    for (let t = 100; t <= 1000; t += 100) {
      advanceTo(scheduler, t)
      m.update(1000)
    }
    const s = m.status()
    expect(s.bytes).to.equal(10_000)
    expect(s.duration).to.equal(1000)
    expect(s.avgRate).to.equal(10_000)
    expect(s.instRate).to.equal(10_000)
    expect(s.curRate).to.equal(10_000)
    expect(s.peakRate).to.equal(10_000)
    expect(s.samples).to.equal(10)
    advanceTo(scheduler, 1500)
    expect(m.status().idle).to.equal(500)
    expect(m.status().curRate).to.be.below(10_000) // idle samples pull the moving average down
  })
})
