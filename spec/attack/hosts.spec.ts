// Several hosts for real: rx-p2p nodes and attackers in Linux network namespaces with distinct IPs in distinct
// /16s on one bridge (support/netns.ts), so the per-IP rules are tested across real source addresses instead
// of 127.0.0.x. Skipped with the reason where namespaces cannot be made (not Linux, not root, no iproute2).
import { expect } from 'chai'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AddrBook } from '../../lib/pex/addr-book.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import {
  createHostNetwork, netnsUnavailable, removeLeftovers, startTargetIn, startToolIn,
  type Host, type HostNetwork, type HostNode
} from './support/netns.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Writes an addrbook.json of `count` addresses, each in a /16 of its own starting at `firstOctet`.0.0.0. */
async function bookFile (file: string, firstOctet: number, count: number): Promise<void> {
  const book = new AddrBook({ filePath: file, addrBookStrict: false, maxAddrsPerSource: Infinity })
  await book.start()
  const src = NetAddress.parse(`${randomBytes(20).toString('hex')}@${firstOctet}.255.255.1:26656`)
  for (let i = 0; i < count; i++) {
    const addr = NetAddress.parse(`${randomBytes(20).toString('hex')}@${firstOctet + (i >> 8)}.${i & 255}.0.1:26656`)
    expect(book.addAddress(addr, src)).to.equal('added')
  }
  await book.stop()
}

/** The /16 of an `id@ip:port`. */
const groupOf = (address: string): string => NetAddress.parse(address).groupKey(false)

async function waitFor (pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(25)
  }
}

describe('attack/hosts: per-IP rules across real addresses (network namespaces)', function () {
  this.timeout(30_000)
  let net: HostNetwork | undefined
  // 10.1.0.2 runs the nodes under test; 10.2.0.2 is an honest host; 10.3.0.2 and 10.3.0.3 share a /16.
  let server: Host, honest: Host, attacker: Host, neighbour: Host
  const nodes: HostNode[] = []
  let dialers: HostNode[] = []
  const node = async (host: Host, config: Parameters<typeof startTargetIn>[1] = {}): Promise<HostNode> => {
    const n = await startTargetIn(host, config)
    nodes.push(n)
    return n
  }

  before(async function () {
    const why = await netnsUnavailable()
    if (why !== undefined) {
      console.log(`      skipped: ${why}`)
      this.skip()
    }
    await removeLeftovers()
    net = await createHostNetwork(['10.1.0.2', '10.2.0.2', '10.3.0.2', '10.3.0.3'])
    ;[server, honest, attacker, neighbour] = net.hosts as [Host, Host, Host, Host]
    // Dialing nodes every test shares: three at 10.3.0.2, one at 10.3.0.3, one at 10.2.0.2.
    dialers = await Promise.all([attacker, attacker, attacker, neighbour, honest].map(async (h) => await startTargetIn(h)))
  })

  let dir: string | undefined
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (n) => { await n.stop() }))
    // The shared dialers see their peers go before the next test dials the same IP again.
    await waitFor(async () => (await Promise.all(dialers.map(async (d) => (await d.stats()).peers))).every((n) => n === 0), 3000, 'the dialers to lose their peers')
  })

  after(async () => {
    await Promise.all(dialers.map(async (n) => { await n.stop() }))
    await net?.destroy()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('duplicate IP: a second connection from 10.3.0.2 is refused, 10.3.0.3 (same /16) and 10.2.0.2 get in; allowDuplicateIp accepts both', async () => {
    const [a1, a2, a3, b, c] = dialers as [HostNode, HostNode, HostNode, HostNode, HostNode]
    const [strict, loose] = await Promise.all([node(server), node(server, { switchInit: { allowDuplicateIp: true } })])
    expect(strict.address).to.match(/@10\.1\.0\.2:\d+$/)

    const first = await a1.dial(strict.address)
    expect(first.ok, JSON.stringify(first.error)).to.equal(true)
    expect((await a2.dial(strict.address)).ok, 'a second peer from 10.3.0.2').to.equal(false)
    expect((await b.dial(strict.address)).ok, 'a peer from 10.3.0.3').to.equal(true)
    expect((await c.dial(strict.address)).ok, 'a peer from 10.2.0.2').to.equal(true)
    const s = await strict.stats()
    expect(s.rejected['duplicate-ip']).to.equal(1)
    expect(s.inbound).to.equal(3)

    // The rule holds at dial too (CometBFT filters dialed connections as well): a1 has a peer at 10.1.0.2, so
    // it does not dial another node there (Switch.dial: AlreadyConnectedError, the IP is taken).
    const again = await a1.dial(loose.address)
    expect(again.ok).to.equal(false)
    expect(again.error?.name, JSON.stringify(again.error)).to.equal('AlreadyConnectedError')
    // A node with allowDuplicateIp takes two peers from 10.3.0.2.
    expect((await a2.dial(loose.address)).ok).to.equal(true)
    expect((await a3.dial(loose.address)).ok, 'the second peer from 10.3.0.2 with allowDuplicateIp').to.equal(true)
    const l = await loose.stats()
    expect(l.inbound).to.equal(2)
    expect(l.rejected['duplicate-ip'] ?? 0).to.equal(0)
  })

  it('pending handshakes per IP: 20 idle sockets from 10.3.0.2 hold at most the per-IP limit; peers from 10.3.0.3 and 10.2.0.2 get in at once', async () => {
    const perIp = 4
    const [b, c] = dialers.slice(3) as [HostNode, HostNode]
    // A generous handshake rate, so that the pending limit is the one the squatter meets.
    const target = await node(server, { switchInit: { allowDuplicateIp: true, maxPendingHandshakesPerIp: perIp, handshakeRate: { burstPerIp: 10_000, ratePerIp: 1000 } } })
    const tool = await startToolIn(attacker)
    try {
      const squatStart = Date.now()
      await tool.squat({ ip: server.ip, port: target.port }, 20, 20)
      await waitFor(async () => ((await target.stats()).rejected['pending-per-ip'] ?? 0) >= 16, 5000, 'the refusals of the extra squatters')
        .catch(async (err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(await target.stats())} ${JSON.stringify(await tool.counts())}`) })
      for (const dialer of [b, c]) {
        const t0 = Date.now()
        expect((await dialer.dial(target.address)).ok).to.equal(true)
        expect(Date.now() - t0, `${dialer.host.ip} got in`).to.be.below(1000)
      }
      await sleep(Math.max(0, squatStart + 800 - Date.now()))
      const counts = await tool.counts()
      // The squatter reopens every socket closed on it; the node closes each one past the limit at accept, so
      // only the first `perIp` stay open (until the handshake deadline, 3 s).
      expect(counts.closedByPeer).to.be.at.least(16)
      expect(counts.heldOver500Ms).to.be.within(1, perIp)
      const s = await target.stats()
      expect(s.inbound).to.equal(2)
    } finally {
      await tool.stop()
    }
  })

  it('handshake rate per IP: half handshakes at 200/s from 10.3.0.2 are refused past the burst; 10.3.0.3 and 10.2.0.2 keep their own allowance', async () => {
    const burst = 10
    const rate = 2
    const [b, c] = dialers.slice(3) as [HostNode, HostNode]
    const target = await node(server, { switchInit: { allowDuplicateIp: true, handshakeRate: { burstPerIp: burst, ratePerIp: rate } } })
    const tool = await startToolIn(attacker)
    try {
      const t0 = Date.now()
      await tool.halfHandshakes({ ip: server.ip, port: target.port }, 200)
      await sleep(2000)
      for (const dialer of [b, c]) expect((await dialer.dial(target.address)).ok, `${dialer.host.ip} dials in`).to.equal(true)
      const counts = await tool.counts()
      const elapsed = (Date.now() - t0) / 1000
      await tool.stop()
      await sleep(200)
      const s = await target.stats()
      const refused = (s.rejected['handshake-rate'] ?? 0) + (s.rejected['pending-per-ip'] ?? 0)
      expect(counts.opened, 'half handshakes opened').to.be.greaterThan(200)
      // What got through to the key agreement: the burst, then the refill rate (and a few connections in flight).
      expect(counts.opened - refused, 'handshakes from 10.3.0.2 let through').to.be.at.most(burst + rate * elapsed + 5)
      expect(s.rejected['handshake-rate'] ?? 0).to.be.greaterThan(100)
      expect(s.inbound).to.equal(2)
    } finally {
      await tool.stop()
    }
  })

  it('address book groups: what 10.3.0.2 and 10.3.0.3 tell us counts against one source group (10.3/16), 10.2.0.2 against its own; the source is the IP we dialed, not the listen_addr a peer reports', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rx-p2p-hosts-'))
    const perSource = 64
    const perSourceGroup = 100
    const files = [join(dir, 'p.json'), join(dir, 'q.json'), join(dir, 'r.json')]
    await Promise.all([bookFile(files[0]!, 30, 1000), bookFile(files[1]!, 40, 1000), bookFile(files[2]!, 50, 1000)])
    const [target, p, q, r] = await Promise.all([
      node(server, { pex: true, bookLimits: { maxAddrsPerSource: perSource, maxAddrsPerSourceGroup: perSourceGroup } }),
      node(attacker, { pex: true, addrBookFile: files[0] }),
      // q reports a listen_addr in another /16: the book must still file what q says under 10.3/16.
      node(neighbour, { pex: true, addrBookFile: files[1], switchInit: { externalAddress: '10.77.0.3:26656' } }),
      node(honest, { pex: true, addrBookFile: files[2] })
    ])
    for (const peer of [p, q, r]) expect((await target.dial(peer.address)).ok, `dial ${peer.host.ip}`).to.equal(true)
    // Each answers our PexRequest with a selection of ~230 of its 1,000 addresses.
    const bySourceGroup = async (): Promise<Map<string, number>> => {
      const counts = new Map<string, number>()
      for (const e of await target.book()) counts.set(groupOf(e.src), (counts.get(groupOf(e.src)) ?? 0) + 1)
      return counts
    }
    await waitFor(async () => {
      const counts = await bySourceGroup()
      return (counts.get('10.3.0.0') ?? 0) >= perSourceGroup && (counts.get('10.2.0.0') ?? 0) >= perSource
    }, 10_000, 'the three answers')
    await sleep(300)
    const entries = await target.book()
    const fromIp = (ip: string): number => entries.filter((e) => NetAddress.parse(e.src).host === ip).length
    expect(await bySourceGroup()).to.deep.equal(new Map([['10.3.0.0', perSourceGroup], ['10.2.0.0', perSource]]))
    // Both 10.3 hosts placed some, each at most its own per-source bound, together the group's bound.
    expect(fromIp('10.3.0.2')).to.be.within(perSourceGroup - perSource, perSource)
    expect(fromIp('10.3.0.3')).to.be.within(perSourceGroup - perSource, perSource)
    expect(fromIp('10.3.0.2') + fromIp('10.3.0.3')).to.equal(perSourceGroup)
    expect(fromIp('10.2.0.2')).to.equal(perSource)
    expect(entries.some((e) => e.src.includes('10.77.'))).to.equal(false)
  })
})
