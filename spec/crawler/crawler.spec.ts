import { expect } from 'chai'
import { createServer, type AddressInfo } from 'node:net'
import { EMPTY } from 'rxjs'
import { Crawler } from '../../lib/crawler/crawler.js'
import type { CrawlEvent } from '../../lib/crawler/events.js'
import type { CrawlNode, CrawlReport } from '../../lib/crawler/report.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { PEX_CHANNEL_DESCRIPTOR, pexReactor, type PexReactor } from '../../lib/pex/pex-reactor.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { Switch } from '../../lib/switch/switch.js'
import { TestNetwork } from '../../lib/testing/network.js'
import { NetAddress } from '../../lib/transport/net-address.js'

interface TcpNode { sw: Switch, pex: PexReactor, address: NetAddress }

/** rx-p2p nodes with PEX on 127.0.0.1 that never dial on their own (no outbound target): only what we tell their books. */
async function tcpNodes (count: number, init: { network?: (i: number) => string, moniker?: (i: number) => string } = {}): Promise<TcpNode[]> {
  const nodes: TcpNode[] = []
  for (let i = 0; i < count; i++) {
    const pex = pexReactor({ addrBookStrict: false })
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      moniker: init.moniker?.(i) ?? `chain-${i}`,
      network: init.network?.(i) ?? 'crawl-net',
      listenAddress: '127.0.0.1:0',
      allowDuplicateIp: true,
      maxOutboundPeers: 0,
      dialRandomizerMs: 0,
      reactors: [pex]
    })
    await sw.start()
    nodes.push({ sw, pex, address: sw.listenAddress! })
  }
  return nodes
}

async function stopNodes (nodes: readonly TcpNode[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => { await n.sw.stop() }))
}

/** `a` tells whoever asks about `b`. */
function tell (a: TcpNode, b: NetAddress): void {
  expect(a.pex.book.addAddress(b, a.address)).to.equal('added')
}

/** A port with nothing listening on it. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  return port
}

function byId (report: CrawlReport, id: string): CrawlNode {
  const node = report.nodes.find((n) => n.id === id)
  expect(node, `node ${id} in the report`).to.not.equal(undefined)
  return node!
}

describe('crawler/Crawler', function () {
  this.timeout(20_000)

  describe('over TCP (127.0.0.1)', () => {
    it('a chain of six nodes where each knows only the next one: the crawl from the first finds all six, with monikers, edges and a dead address', async () => {
      const nodes = await tcpNodes(6)
      const deadId = NodeKey.generate().id
      const dead = new NetAddress(deadId, '127.0.0.1', await closedPort())
      for (let i = 0; i < 5; i++) tell(nodes[i]!, nodes[i + 1]!.address)
      tell(nodes[5]!, dead)
      const events: CrawlEvent[] = []
      try {
        const crawler = new Crawler({ seeds: [nodes[0]!.address.toString()], allowPrivate: true, timeoutMs: 15_000 })
        crawler.events$.subscribe((e) => events.push(e))
        const report = await crawler.run()

        expect(report.stopReason).to.equal('complete')
        expect(report.network).to.equal('crawl-net') // learned from the seed's NodeInfo
        expect(report.seeds).to.deep.equal([nodes[0]!.address.toString()])
        expect(report.crawler.id).to.equal(crawler.nodeKey.id)
        expect(report.summary).to.deep.equal({ heard: 7, reached: 6, failed: 1, neverTried: 0, answered: 6, edges: 6 })
        nodes.forEach((n, i) => {
          const node = byId(report, n.sw.nodeId)
          expect(node.status).to.equal('reached')
          expect(node.moniker).to.equal(`chain-${i}`)
          expect(node.network).to.equal('crawl-net')
          expect(node.version).to.equal(n.sw.nodeInfo.version)
          expect(node.channels).to.equal('00')
          expect(node.address).to.equal(n.address.toString())
          expect(node.listenAddr).to.equal(n.address.hostPort)
          expect(node.seed).to.equal(i === 0)
          expect(node.heardFrom).to.deep.equal(i === 0 ? [] : [nodes[i - 1]!.sw.nodeId])
          expect(node.pex).to.deep.equal({ answered: true, addresses: 1 })
          expect(node.connectMs).to.be.a('number')
        })
        const deadNode = byId(report, deadId)
        expect(deadNode.status).to.equal('failed')
        expect(deadNode.error?.name).to.equal('TransportError')
        expect(deadNode.heardFrom).to.deep.equal([nodes[5]!.sw.nodeId])
        expect(deadNode.moniker).to.equal(undefined)
        // Who told us about whom: the chain, in order.
        expect(report.edges).to.deep.equal([
          ...nodes.slice(1).map((n, i) => ({ from: nodes[i]!.sw.nodeId, to: n.sw.nodeId, address: n.address.toString() })),
          { from: nodes[5]!.sw.nodeId, to: deadId, address: dead.toString() }
        ])
        // Seeds first, then in the order heard of.
        expect(report.nodes.map((n) => n.id)).to.deep.equal([...nodes.map((n) => n.sw.nodeId), deadId])
        // The report is plain JSON.
        expect(JSON.parse(JSON.stringify(report))).to.deep.equal(report)

        expect(events.at(-1)?.type).to.equal('done')
        expect(events[0]).to.deep.include({ type: 'heard', id: nodes[0]!.sw.nodeId, from: undefined })
        expect(events.filter((e) => e.type === 'reached')).to.have.length(6)
        expect(events.filter((e) => e.type === 'answered').map((e) => e.type === 'answered' && e.fresh)).to.deep.equal([1, 1, 1, 1, 1, 1])
        const failed = events.find((e) => e.type === 'failed')
        expect(failed).to.deep.include({ final: true })
        // Every connection was closed: the nodes have no peer left.
        for (const n of nodes) expect(n.sw.peers.size).to.equal(0)
      } finally {
        await stopNodes(nodes)
      }
    })

    it('without allowPrivate, loopback addresses heard through PEX are reported but never dialed (the seed is)', async () => {
      const nodes = await tcpNodes(2)
      tell(nodes[0]!, nodes[1]!.address)
      try {
        const report = await new Crawler({ seeds: [nodes[0]!.address], network: 'crawl-net' }).run()
        expect(report.stopReason).to.equal('complete')
        expect(byId(report, nodes[0]!.sw.nodeId).status).to.equal('reached')
        const second = byId(report, nodes[1]!.sw.nodeId)
        expect(second).to.deep.include({ status: 'never-tried', skipped: 'unroutable', dials: 0 })
        expect(second.heardFrom).to.deep.equal([nodes[0]!.sw.nodeId])
      } finally {
        await stopNodes(nodes)
      }
    })

    it('a node of another network is reported failed (IncompatiblePeerError, rule network) with the NodeInfo it showed', async () => {
      const nodes = await tcpNodes(3, { network: (i) => i === 2 ? 'other-net' : 'crawl-net' })
      tell(nodes[0]!, nodes[1]!.address)
      tell(nodes[0]!, nodes[2]!.address)
      try {
        const report = await new Crawler({ seeds: [nodes[0]!.address], allowPrivate: true }).run()
        expect(report.network).to.equal('crawl-net')
        expect(report.summary).to.include({ reached: 2, failed: 1 })
        const other = byId(report, nodes[2]!.sw.nodeId)
        expect(other.status).to.equal('failed')
        expect(other.error).to.deep.include({ name: 'IncompatiblePeerError', code: 'ERR_INCOMPATIBLE_PEER', rule: 'network' })
        expect(other).to.deep.include({ network: 'other-net', moniker: 'chain-2' })
      } finally {
        await stopNodes(nodes)
      }
    })

    it('the first seed is dead: the network is learned from the next one, and the dead seed is reported failed', async () => {
      const nodes = await tcpNodes(1)
      const dead = new NetAddress(NodeKey.generate().id, '127.0.0.1', await closedPort())
      try {
        const report = await new Crawler({ seeds: [dead, nodes[0]!.address], allowPrivate: true }).run()
        expect(report.network).to.equal('crawl-net')
        expect(byId(report, dead.id)).to.deep.include({ status: 'failed', seed: true, dials: 1 })
        expect(byId(report, nodes[0]!.sw.nodeId)).to.deep.include({ status: 'reached', seed: true, dials: 1 })
      } finally {
        await stopNodes(nodes)
      }
    })

    it('no seed answers: the crawl ends at once with no-network', async () => {
      const dead = new NetAddress(NodeKey.generate().id, '127.0.0.1', await closedPort())
      const report = await new Crawler({ seeds: [dead] }).run()
      expect(report.stopReason).to.equal('no-network')
      expect(report.network).to.equal(undefined)
      expect(report.summary).to.deep.include({ heard: 1, reached: 0, failed: 1 })
    })

    it('maxNodes: contacts that many nodes, leaves the rest never tried (max-nodes)', async () => {
      const nodes = await tcpNodes(5)
      for (let i = 0; i < 4; i++) tell(nodes[i]!, nodes[i + 1]!.address)
      try {
        const report = await new Crawler({ seeds: [nodes[0]!.address], allowPrivate: true, maxNodes: 3 }).run()
        expect(report.stopReason).to.equal('max-nodes')
        expect(report.nodes.map((n) => n.status)).to.deep.equal(['reached', 'reached', 'reached', 'never-tried'])
        expect(report.nodes[3]).to.deep.include({ skipped: 'max-nodes', id: nodes[3]!.sw.nodeId })
      } finally {
        await stopNodes(nodes)
      }
    })

    it('concurrency: a hub that knows eight nodes, crawled two at a time, never has more than two in flight', async () => {
      const nodes = await tcpNodes(9)
      for (let i = 1; i < 9; i++) tell(nodes[0]!, nodes[i]!.address)
      try {
        const crawler = new Crawler({ seeds: [nodes[0]!.address], allowPrivate: true, concurrency: 2 })
        let most = 0
        crawler.events$.subscribe(() => { most = Math.max(most, crawler.stats().inFlight) })
        const report = await crawler.run()
        expect(report.summary).to.include({ reached: 9, answered: 9 })
        expect(most).to.equal(2)
      } finally {
        await stopNodes(nodes)
      }
    })

    it('stop() ends the crawl early and still gives the report', async () => {
      const nodes = await tcpNodes(2)
      tell(nodes[0]!, nodes[1]!.address)
      try {
        const crawler = new Crawler({ seeds: [nodes[0]!.address], allowPrivate: true })
        crawler.events$.subscribe((e) => { if (e.type === 'reached') crawler.stop() })
        const report = await crawler.run()
        expect(report.stopReason).to.equal('stopped')
        const first = byId(report, nodes[0]!.sw.nodeId)
        expect(first.status).to.equal('reached')
        expect(first.pex?.answered).to.equal(false)
        expect(await crawler.run()).to.equal(report) // run() is one crawl
      } finally {
        await stopNodes(nodes)
      }
    })
  })

  describe('in virtual time (TestNetwork)', () => {
    /** A node that owns the PEX channel and never answers. */
    const mute: Reactor = { name: 'mute', channels: [PEX_CHANNEL_DESCRIPTOR], run: () => EMPTY }

    async function network (): Promise<{ net: TestNetwork, pex: PexReactor }> {
      const pex = pexReactor({ addrBookStrict: false })
      const net = await TestNetwork.create({ size: 2, reactors: (i) => i === 0 ? [pex] : [mute], switchInit: () => ({ maxOutboundPeers: 0 }) })
      pex.book.addAddress(net.address(1), net.address(0))
      return { net, pex }
    }

    it('a node that never answers the PexRequest is dropped after pexTimeoutMs (reached, not answered)', async () => {
      const { net } = await network()
      try {
        const crawler = new Crawler({
          seeds: [net.address(0)],
          allowPrivate: true,
          pexTimeoutMs: 7000,
          transport: net.memory.transport('10.9.0.1'),
          scheduler: net.scheduler
        })
        const report = await net.settle(crawler.run())
        expect(report.stopReason).to.equal('complete')
        const muteNode = byId(report, net.switches[1]!.nodeId)
        expect(muteNode.status).to.equal('reached')
        expect(muteNode.pex).to.deep.equal({ answered: false, error: { name: 'TimeoutError', code: 'ERR_TIMEOUT', message: 'no PEX answer within 7000 ms' } })
        expect(report.durationMs).to.be.within(7000, 7100)
      } finally {
        await net.stop()
      }
    })

    it('timeoutMs ends the crawl at that virtual time with what it found', async () => {
      const { net } = await network()
      try {
        const crawler = new Crawler({
          seeds: [net.address(0)],
          allowPrivate: true,
          pexTimeoutMs: 60_000,
          timeoutMs: 5000,
          transport: net.memory.transport('10.9.0.1'),
          scheduler: net.scheduler
        })
        const report = await net.settle(crawler.run())
        expect(report.stopReason).to.equal('timeout')
        expect(report.durationMs).to.be.within(5000, 5100)
        expect(report.summary).to.include({ heard: 2, reached: 2, answered: 1 })
        expect(byId(report, net.switches[1]!.nodeId).pex?.error?.message).to.equal('crawl timeout before the node answered')
      } finally {
        await net.stop()
      }
    })
  })
})
