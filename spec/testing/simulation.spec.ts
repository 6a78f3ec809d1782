import { expect } from 'chai'
import { interval, take, timer } from 'rxjs'
import { seededRandom, Simulation, SimulationScheduler, type SimulationStats } from '../../lib/testing/simulation.js'

describe('testing/SimulationScheduler', () => {
  it('runs actions in time order, same-time actions in the order they were scheduled, and skips cancelled ones', () => {
    const clock = new SimulationScheduler(1000)
    const seen: string[] = []
    clock.schedule(() => { seen.push(`b@${clock.now()}`) }, 20)
    clock.schedule(() => { seen.push(`a@${clock.now()}`) }, 10)
    clock.schedule(() => { seen.push(`c@${clock.now()}`) }, 20)
    const cancelled = clock.schedule(() => { seen.push('never') }, 15)
    clock.schedule(() => {
      seen.push(`d@${clock.now()}`)
      clock.schedule(() => { seen.push(`e@${clock.now()}`) }) // same instant, after the others due now
    }, 20)
    cancelled.unsubscribe()
    clock.runUntil(1030)
    expect(seen).to.deep.equal(['a@1010', 'b@1020', 'c@1020', 'd@1020', 'e@1020'])
    expect(clock.now()).to.equal(1030)
    expect(clock.executed).to.equal(5)
  })

  it('supports rescheduling from inside the work (RxJS timer and interval run on it)', () => {
    const clock = new SimulationScheduler(0)
    const ticks: number[] = []
    interval(100, clock).pipe(take(3)).subscribe(() => { ticks.push(clock.now()) })
    timer(250, clock).subscribe(() => { ticks.push(-clock.now()) })
    clock.runUntil(1000)
    expect(ticks).to.deep.equal([100, 200, -250, 300])
    expect(clock.nextTime()).to.equal(undefined)
  })

  it('holds only live actions: a cancelled one leaves at once, a rescheduled one moves (heap order kept under churn)', () => {
    const clock = new SimulationScheduler(0)
    const random = seededRandom('churn')
    const live = new Map<number, { due: number, sub: { unsubscribe: () => void } }>()
    const fired: Array<[number, number]> = []
    for (let i = 0; i < 2000; i++) {
      const due = Math.floor(random() * 500)
      live.set(i, { due, sub: clock.schedule(() => { fired.push([i, clock.now()]) }, due) })
    }
    // Cancel a third of them at random, as pong timeouts are cancelled by their pongs.
    for (let i = 0; i < 2000; i++) {
      if (random() < 1 / 3) {
        live.get(i)!.sub.unsubscribe()
        live.delete(i)
      }
    }
    expect(clock.pending).to.equal(live.size)
    // A periodic action re-queues itself: one entry however often it runs.
    let runs = 0
    clock.schedule(function () { if (++runs < 100) this.schedule(undefined, 7) }, 7)
    clock.runUntil(100)
    expect(runs).to.equal(14)
    expect(clock.pending).to.equal([...live.values()].filter((x) => x.due > 100).length + 1)
    clock.runUntil(10_000)
    expect(clock.pending).to.equal(0)
    expect(fired.map(([i]) => i).sort((a, b) => a - b)).to.deep.equal([...live.keys()])
    for (const [i, t] of fired) expect(t).to.equal(live.get(i)!.due)
    const times = fired.map(([, t]) => t)
    expect(times).to.deep.equal([...times].sort((a, b) => a - b))
  })

  it('rethrows an action\'s error and goes on with the next one afterwards', () => {
    const clock = new SimulationScheduler(0)
    const seen: number[] = []
    clock.schedule(() => { throw new Error('bad action') }, 5)
    clock.schedule(() => { seen.push(clock.now()) }, 6)
    expect(() => { clock.runUntil(10) }).to.throw('bad action')
    clock.runUntil(10)
    expect(seen).to.deep.equal([6])
  })
})

describe('testing/seededRandom', () => {
  it('gives the same sequence for the same seed and another for another seed, in [0, 1)', () => {
    const a = seededRandom('x')
    const b = seededRandom('x')
    const c = seededRandom('y')
    const sa = Array.from({ length: 1000 }, () => a())
    expect(Array.from({ length: 1000 }, () => b())).to.deep.equal(sa)
    expect(Array.from({ length: 1000 }, () => c())).to.not.deep.equal(sa)
    expect(sa.every((v) => v >= 0 && v < 1)).to.equal(true)
    const mean = sa.reduce((s, v) => s + v, 0) / sa.length
    expect(mean).to.be.within(0.45, 0.55)
  })
})

describe('testing/Simulation', function () {
  this.timeout(60_000)

  interface Outcome { stats: SimulationStats, digest: string, reachedAt: number, books: number[], outbound: number[] }

  async function bootstrap (seed: string): Promise<Outcome> {
    const sim = await Simulation.create({ size: 100, seed })
    try {
      const nodes = sim.stats().nodes
      expect(nodes).to.equal(99)
      // every non-seed node at its outbound target (10) and knowing ≥ 90 % of the others, within 10 virtual minutes
      await sim.until(() => { const s = sim.stats(); return s.atTarget === nodes && s.learned90 === nodes }, { timeoutMs: 10 * 60_000 })
      const reachedAt = sim.now()
      const outcome: Outcome = {
        stats: sim.stats(),
        digest: sim.digest(),
        reachedAt,
        books: sim.nodes.map((n) => n.pex.book.size),
        outbound: sim.nodes.map((n) => n.switch.numPeers().outbound)
      }
      return outcome
    } finally {
      await sim.stop()
    }
  }

  it('100 nodes bootstrapped from one seed all reach their outbound target and learn ≥ 90 % of the network within 10 virtual minutes; the same seed gives the same run', async () => {
    const t0 = performance.now()
    const first = await bootstrap('sim-spec')
    const second = await bootstrap('sim-spec')
    expect(first.reachedAt).to.be.below(10 * 60_000)
    expect(first.outbound.slice(1).every((n) => n >= 10)).to.equal(true)
    expect(first.books.slice(1).every((n) => n >= Math.ceil(0.9 * 99))).to.equal(true)
    expect(first.stats.outboundTarget.all).to.be.a('number')
    expect(first.stats.learned.all).to.be.a('number')
    // identical runs: same trace (digest), same instant, same books, same peers
    expect(second.digest).to.equal(first.digest)
    expect(second.reachedAt).to.equal(first.reachedAt)
    expect(second.books).to.deep.equal(first.books)
    expect(second.outbound).to.deep.equal(first.outbound)
    expect(second.stats).to.deep.equal(first.stats)
    expect(performance.now() - t0).to.be.below(50_000)
  })

  it('another seed gives another run; trace$ reports every peer event; until() gives up after its timeout', async () => {
    const digests: string[] = []
    for (const seed of ['small-a', 'small-b']) {
      const sim = await Simulation.create({ size: 12, seed, maxOutboundPeers: 4, startSpreadMs: 5_000 })
      let traced = 0
      let adds = 0
      sim.trace$.subscribe((e) => {
        traced++
        if (e.type === 'added') {
          adds++
          expect(e.peer).to.be.within(0, 11)
          expect(e.outbound).to.be.a('boolean')
        }
      })
      await sim.advance(90_000)
      expect(sim.now()).to.equal(90_000)
      expect(traced).to.equal(sim.stats().traceEvents)
      expect(adds).to.be.above(0)
      digests.push(sim.digest())
      let error: unknown
      await sim.until(() => false, { timeoutMs: 1_000 }).catch((err: unknown) => { error = err })
      expect(error).to.be.instanceOf(RangeError)
      await sim.stop()
    }
    expect(digests[0]).to.not.equal(digests[1])
  })
})
