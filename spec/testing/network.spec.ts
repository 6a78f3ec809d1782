import { expect } from 'chai'
import { filter, map, merge } from 'rxjs'
import { actions } from '../../lib/switch/actions.js'
import { jsonCodec, withCodec } from '../../lib/switch/codec.js'
import { mapToActions } from '../../lib/switch/map-to-actions.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { TestNetwork } from '../../lib/testing/network.js'
import { SimulationScheduler } from '../../lib/testing/simulation.js'

const GOSSIP = 0x90

interface Rumor { id: string, origin: string, text: string }

/** Flood gossip: relay each rumor once to every peer but the one it came from; `heard` records what arrived. */
function gossipReactor (heard: Map<string, number>, now: () => number): Reactor {
  const codec = jsonCodec<Rumor>((v) => typeof (v as Rumor).id === 'string')
  return {
    name: 'gossip',
    channels: [{ id: GOSSIP, priority: 1, sendQueueCapacity: 100 }],
    run: withCodec(codec, (ctx) => merge(
      ctx.envelopes$.pipe(
        filter((env) => !heard.has(env.message.id)),
        mapToActions((env) => {
          heard.set(env.message.id, now())
          return actions.broadcast(GOSSIP, env.message, { except: [env.from] })
        })
      ),
      // an `added` event of a peer whose moniker is node1 makes node0 start a rumor (once)
      ctx.peerEvents$.pipe(
        filter((e) => e.type === 'added' && ctx.nodeInfo.moniker === 'node0' && e.peer.nodeInfo.moniker === 'node1' && !heard.has('r1')),
        map(() => {
          heard.set('r1', now())
          return actions.broadcast(GOSSIP, { id: 'r1', origin: ctx.nodeInfo.id, text: 'hello, 49 nodes' })
        })
      )
    ))
  }
}

describe('testing/TestNetwork', function () {
  this.timeout(30_000)

  it('runs 50 real Switches in virtual time: a ring forms and a rumor reaches every node', async () => {
    const t0 = performance.now()
    const heard: Array<Map<string, number>> = []
    // The reactors read the clock through `net`, assigned once the network exists (they may run before that).
    let net: TestNetwork | undefined
    // eslint-disable-next-line prefer-const
    net = await TestNetwork.create({
      size: 50,
      latencyMs: 2,
      reactors: (i) => {
        heard[i] = new Map()
        return [gossipReactor(heard[i]!, () => net?.now() ?? 0)]
      }
    })
    try {
      // ring in reverse so that node1 → node0 is the last link, and the rumor starts on a connected ring
      const pairs: Array<[number, number]> = []
      for (let i = 49; i >= 1; i--) pairs.push([i, (i + 1) % 50])
      await net.connectPairs(pairs)
      await net.connect(1, 0)
      expect(net.switches.map((sw) => sw.peers.size)).to.deep.equal(new Array(50).fill(2))
      const start = heard[0]!.get('r1')!
      await net.until(() => heard.every((h) => h.has('r1')), { timeoutMs: 10_000 })
      // the farthest node is 25 hops away on a ring; each hop costs the link latency (2 ms) and a flush (≤ 10 ms)
      const last = Math.max(...heard.map((h) => h.get('r1')!))
      expect(last - start).to.be.within(25 * 2, 25 * 12 + 5)
      // a minute of virtual time passes (pings, pongs) and every link holds
      await net.advance(60_000)
      expect(net.switches.every((sw) => sw.peers.size === 2)).to.equal(true)
    } finally {
      await net.stop()
    }
    expect(performance.now() - t0).to.be.below(20_000)
  })

  it('connectAll, connectRing and address work on a small network, and stop() leaves every node stopped', async () => {
    const net = await TestNetwork.create({ size: 4, seed: 'small' })
    expect(net.address(2).host).to.equal(TestNetwork.hostOf(2))
    expect(net.address(2).port).to.equal(26656)
    await net.connectAll()
    expect(net.switches.map((sw) => sw.peers.size)).to.deep.equal([3, 3, 3, 3])
    await net.stop()
    expect(net.switches.every((sw) => !sw.isRunning && sw.peers.size === 0)).to.equal(true)
    const again = await TestNetwork.create({ size: 4, seed: 'small' })
    expect(again.switches.map((sw) => sw.nodeId)).to.deep.equal(net.switches.map((sw) => sw.nodeId))
    await again.connectRing()
    expect(again.switches.map((sw) => sw.peers.size)).to.deep.equal([2, 2, 2, 2])
    await again.stop()
  })

  it('until() throws when the condition does not hold in time; settle() returns a value', async () => {
    const net = await TestNetwork.create({ size: 2 })
    try {
      let err: unknown
      await net.until(() => false, { timeoutMs: 100 }).catch((e: unknown) => { err = e })
      expect(err).to.be.instanceOf(RangeError)
      const peer = await net.connect(0, 1)
      expect(peer.id).to.equal(net.switches[1]!.nodeId)
      const before = net.now()
      await net.advance(1234)
      expect(net.now()).to.equal(before + 1234)
    } finally {
      await net.stop()
    }
  })

  it('runs on the simulation\'s clock: a SimulationScheduler handed in carries every node\'s timers, and advance() moves it', async () => {
    const clock = new SimulationScheduler(1_000_000)
    const net = await TestNetwork.create({ size: 2, scheduler: clock })
    try {
      expect(net.scheduler).to.equal(clock)
      expect((await TestNetwork.create({ size: 0 })).scheduler).to.be.instanceOf(SimulationScheduler)
      const before = clock.executed
      await net.connect(0, 1)
      expect(clock.executed).to.be.above(before)
      expect(clock.pending).to.be.above(0) // pings, flushes: the nodes' timers wait on this clock
      await net.advance(10_000)
      expect(clock.now()).to.equal(net.now())
      expect(net.now()).to.be.at.least(1_010_000)
    } finally {
      await net.stop()
    }
  })
})
