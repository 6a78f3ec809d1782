import { expect } from 'chai'
import { EMPTY, map, merge, NEVER, Subject, tap, timer, VirtualTimeScheduler } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { ConnectionClosedError, PeerRejectedError, TimeoutError, TransportError } from '../../lib/errors.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { mergeMapPerPeer } from '../../lib/switch/merge-map-per-peer.js'
import { Switch } from '../../lib/switch/switch.js'
import type { Transport } from '../../lib/transport/transport.js'
import { TestNetwork } from '../../lib/testing/network.js'

const SILENT: Reactor = { name: 'silent', channels: [{ id: 0x7f, priority: 1 }], run: () => EMPTY }
const BULK = 0x60
const bulk: Reactor = { name: 'bulk', channels: [{ id: BULK, priority: 1, sendQueueCapacity: 1000 }], run: () => EMPTY }

/** Records a switch's events with their virtual time. */
function record (net: TestNetwork, sw: Switch): Array<{ t: number, e: PeerEvent }> {
  const out: Array<{ t: number, e: PeerEvent }> = []
  sw.peerEvents$.subscribe((e) => { out.push({ t: net.now(), e }) })
  return out
}

describe('switch/Switch in virtual time (MemoryNetwork)', () => {
  let net: TestNetwork | undefined
  afterEach(async () => {
    await net?.stop()
    net = undefined
  })

  it('redials a persistent peer on CometBFT\'s schedule (0 s, 5 s, 10 s, ...) until it is back', async () => {
    net = await TestNetwork.create({ size: 2, switchInit: () => ({ random: () => 0 }) })
    const events = record(net, net.switches[1]!)
    await net.connect(1, 0, { persistent: true })
    const key = net.switches[0]!.nodeKey
    await net.settle(net.switches[0]!.stop())
    const down = events.find((r) => r.e.type === 'removed')!
    expect(down.e.type === 'removed' && down.e.reason).to.be.instanceOf(ConnectionClosedError)
    await net.advance(12_000)
    const failedAt = events.filter((r) => r.e.type === 'dialFailed').map((r) => r.t - down.t)
    expect(failedAt).to.deep.equal([0, 5000, 10000])
    // node 0 comes back at the same address with the same key
    const back = new Switch({
      nodeKey: key,
      transport: net.memory.transport(TestNetwork.hostOf(0)),
      listenAddress: { host: TestNetwork.hostOf(0), port: 26656 },
      network: 'rx-p2p-test',
      reactors: [SILENT],
      scheduler: net.scheduler
    })
    await net.settle(back.start())
    await net.until(() => net!.switches[1]!.peers.has(key.id), { timeoutMs: 10_000 })
    const added = events.filter((r) => r.e.type === 'added').map((r) => r.t - down.t)
    expect(added.slice(1)).to.have.length(1)
    expect(added[1]).to.be.within(15_000, 15_010)
    await net.settle(back.stop())
  })

  it('redials an inbound persistent peer at its self-reported listen address', async () => {
    net = await TestNetwork.create({ size: 2, switchInit: () => ({ random: () => 0 }) })
    // node 0 knows node 1's address as persistent, but node 1 dials first: node 1 is an inbound persistent peer of node 0
    net.switches[0]!.addPersistentPeers([net.address(1)])
    await net.connect(1, 0)
    const inbound = net.switches[0]!.peers.get(net.switches[1]!.nodeId)!
    expect(inbound.isOutbound).to.equal(false)
    expect(inbound.isPersistent).to.equal(true)
    const events = record(net, net.switches[0]!)
    await net.settle(net.switches[1]!.stopPeer(net.switches[0]!.nodeId))
    await net.until(() => net!.switches[0]!.peers.get(net!.switches[1]!.nodeId)?.isOutbound === true, { timeoutMs: 9000 })
    // the first redial can race the old connection's teardown at node 1 (its duplicate-IP filter); the next one is 5 s later
    const dialed = events.find((r) => r.e.type === 'dialed')!.e
    expect(dialed.type === 'dialed' && dialed.address.equals(net.address(1))).to.equal(true)
  })

  it('closes inbound connections beyond maxInboundPeers before any handshake (CometBFT LimitListener)', async () => {
    net = await TestNetwork.create({ size: 3, switchInit: (i) => i === 0 ? { maxInboundPeers: 1 } : {} })
    const events = record(net, net.switches[0]!)
    await net.connect(1, 0)
    await net.settle(net.switches[2]!.dial(net.address(0)).catch(() => undefined))
    const rejected = events.find((r) => r.e.type === 'rejected')?.e
    expect(rejected?.type === 'rejected' && rejected.error).to.be.instanceOf(PeerRejectedError)
    expect(rejected?.type === 'rejected' && (rejected.error as PeerRejectedError).reason).to.equal('max-inbound')
    expect(rejected?.type === 'rejected' && rejected.peerId).to.equal(undefined) // refused before the handshake
    expect(net.switches[0]!.peers.size).to.equal(1)
  })

  it('refuses a second connection from the same IP unless allowDuplicateIp (ConnDuplicateIPFilter)', async () => {
    net = await TestNetwork.create({ size: 2 })
    const events = record(net, net.switches[0]!)
    await net.connect(1, 0)
    const twin = new Switch({
      nodeKey: NodeKey.fromSeed(new Uint8Array(32).fill(7)),
      transport: net.memory.transport(TestNetwork.hostOf(1)), // same host as node 1
      network: 'rx-p2p-test',
      reactors: [SILENT],
      scheduler: net.scheduler
    })
    await net.settle(twin.start())
    let err: unknown
    await net.settle(twin.dial(net.address(0)).catch((e: unknown) => { err = e }))
    expect(err).to.be.instanceOf(Error)
    const rejected = events.find((r) => r.e.type === 'rejected')?.e
    expect(rejected?.type === 'rejected' && (rejected.error as PeerRejectedError).reason).to.equal('duplicate-ip')
    // and the dialer does not even try an address whose IP is already a peer of its own
    expect(net.switches[1]!.isDialingOrExistingAddress(net.address(0))).to.equal(true)
    await net.settle(twin.stop())
  })

  it('refuses a peer whose filters do not answer within 5 s', async () => {
    net = await TestNetwork.create({ size: 2, switchInit: (i) => i === 0 ? { peerFilters: [() => NEVER] } : {} })
    const events = record(net, net.switches[0]!)
    const start = net.now()
    await net.settle(net.switches[1]!.dial(net.address(0)).catch(() => undefined))
    await net.until(() => events.some((r) => r.e.type === 'rejected'), { timeoutMs: 10_000 })
    const r = events.find((x) => x.e.type === 'rejected')!
    expect(r.e.type === 'rejected' && (r.e.error as PeerRejectedError).reason).to.equal('filter-timeout')
    expect(r.t - start).to.be.within(5000, 5010)
    expect(net.switches[0]!.peers.size).to.equal(0)
  })

  it('lets a peer filter refuse a peer by its NodeInfo', async () => {
    net = await TestNetwork.create({ size: 3, switchInit: (i) => i === 0 ? { peerFilters: [(peer) => peer.nodeInfo.moniker !== 'node2'] } : {} })
    await net.connect(1, 0)
    await net.settle(net.switches[2]!.dial(net.address(0)).catch(() => undefined))
    await net.advance(10)
    expect(net.switches[0]!.peers.list().map((p) => p.nodeInfo.moniker)).to.deep.equal(['node1'])
  })

  it('reports a failed accept as a rejection without a remote and goes on accepting; says so when the listener dies', async () => {
    net = await TestNetwork.create({ size: 1 })
    const acceptErrors = new Subject<Error>()
    const failure = new Subject<never>()
    const base = net.memory.transport(TestNetwork.hostOf(5))
    const flaky: Transport = {
      dial: async (addr, options) => await base.dial(addr, options),
      listen: async (addr) => {
        const l = await base.listen(addr)
        return { ...l, connections$: merge(l.connections$, failure), acceptErrors$: acceptErrors, close: async () => { await l.close() } }
      }
    }
    const sw = new Switch({ nodeKey: NodeKey.generate(), transport: flaky, listenAddress: { host: TestNetwork.hostOf(5), port: 26656 }, network: 'rx-p2p-test', reactors: [SILENT], scheduler: net.scheduler })
    const events: PeerEvent[] = []
    sw.peerEvents$.subscribe((e) => { events.push(e) })
    await net.settle(sw.start())
    const emfile = new TransportError('accept on 10.0.0.6:26656: EMFILE')
    acceptErrors.next(emfile)
    expect(events).to.deep.equal([{ type: 'rejected', remoteAddress: undefined, peerId: undefined, error: emfile }])
    await net.settle(net.switches[0]!.dial(`${sw.nodeId}@${TestNetwork.hostOf(5)}:26656`))
    expect(sw.peers.has(net.switches[0]!.nodeId)).to.equal(true)
    failure.error(new Error('listener gone'))
    const last = events.at(-1)
    expect(last?.type).to.equal('rejected')
    expect(last?.type === 'rejected' && last.error).to.be.instanceOf(TransportError)
    expect(last?.type === 'rejected' && last.error.message).to.match(/listener failed .*listener gone/)
    await net.settle(sw.stop())
  })

  it('fails a dial that gets no connection within dialTimeoutMs', async () => {
    const scheduler = new VirtualTimeScheduler()
    const never: Transport = { dial: async () => await new Promise(() => {}), listen: async () => { throw new Error('no') } }
    const sw = new Switch({ nodeKey: NodeKey.generate(), transport: never, reactors: [SILENT], scheduler })
    await sw.start()
    const dial = sw.dial(`${NodeKey.generate().id}@10.9.9.9:26656`)
    dial.catch(() => {})
    scheduler.flush()
    let err: unknown
    await dial.catch((e: unknown) => { err = e })
    expect(err).to.be.instanceOf(TimeoutError)
    expect(scheduler.now()).to.equal(1000)
    await sw.stop()
  })

  it('flushes what was queued before a graceful stopPeer', async () => {
    net = await TestNetwork.create({ size: 2, reactors: () => [bulk] })
    await net.connect(0, 1)
    let received = 0
    net.switches[1]!.inbound$.subscribe(() => { received++ })
    const peer = net.switches[0]!.peers.get(net.switches[1]!.nodeId)!
    for (let i = 0; i < 200; i++) expect(peer.trySend(BULK, new Uint8Array(100).fill(i))).to.equal(true)
    await net.settle(net.switches[0]!.stopPeer(peer))
    expect(received).to.equal(200)
    await net.until(() => net!.switches[1]!.peers.size === 0, { timeoutMs: 1000 })
  })

  it('lets unconditional peers in beyond the inbound limit', async () => {
    net = await TestNetwork.create({ size: 4, switchInit: (i) => i === 0 ? { maxInboundPeers: 1 } : {} })
    net.switches[0]!.addUnconditionalPeerIds([net.switches[2]!.nodeId, net.switches[3]!.nodeId])
    await net.connect(1, 0)
    await net.connect(2, 0)
    await net.connect(3, 0)
    await net.advance(10)
    expect(net.switches[0]!.peers.size).to.equal(3)
    expect(net.switches[0]!.numPeers()).to.deep.equal({ outbound: 0, inbound: 1, dialing: 0 })
  })

  it('a slow reactor under mergeMapPerPeer slows the sender down to its pace (backpressure to the socket)', async () => {
    const SLOW = 0x61
    let processed = 0
    const slow: Reactor = {
      name: 'slow',
      channels: [{ id: SLOW, priority: 1, sendQueueCapacity: 10 }],
      run: (ctx) => ctx.envelopes$.pipe(
        mergeMapPerPeer(() => timer(100, ctx.scheduler).pipe(tap(() => { processed++ }), map(() => []))) // 10 messages/s
      )
    }
    net = await TestNetwork.create({ size: 2, reactors: () => [slow], yieldToEventLoop: async () => { await new Promise((resolve) => setImmediate(resolve)) } })
    await net.connect(0, 1)
    const peer = net.switches[0]!.peers.get(net.switches[1]!.nodeId)!
    let offered = 0
    let accepted = 0
    let sending = true
    const offer = (): void => {
      if (!sending) return
      offered++
      if (peer.trySend(SLOW, new Uint8Array(8192))) accepted++
      net!.scheduler.schedule(offer, 5) // a fresh action each time (a VirtualAction rescheduling itself nests)
    }
    net.scheduler.schedule(offer, 5)
    const samples: Array<{ accepted: number, processed: number }> = []
    for (let i = 0; i < 6; i++) {
      await net.advance(5000)
      samples.push({ accepted, processed })
    }
    sending = false
    expect(offered).to.be.greaterThan(5900) // 200 offers a second for 30 s
    expect(processed).to.be.within(295, 301) // the reader's pace: 10 a second
    for (const { accepted, processed } of samples) {
      // the sender is held to the reader: what it got queued is what was handled plus the buffers on the way
      // (its channel queue, the MConnection write buffer, the link, one held chunk), a bounded amount
      expect(accepted - processed).to.be.within(0, 60)
    }
    expect(net.switches[0]!.peers.size).to.equal(1)
  })
})
