// Interop with the real PEX reactor and the crawler, against a three-node CometBFT network with PEX on (node 0
// is the validator; every node is a persistent peer of the others).
//
// 1. `rx-p2p crawl`, as a process (`node bin/rx-p2p.js crawl <node 0>`), finds all three nodes, reaches each
//    and gets a PEX answer from each.
// 2. rx-p2p learns addresses from CometBFT: a Switch with pexReactor({ seeds: [node 0] }) dials the seed,
//    asks it, gets the other two nodes into its book, and (the seed's answer triggering ensurePeers at once,
//    as in CometBFT) dials them.
// 3. CometBFT learns rx-p2p's address: node 0 put our self-reported listen address in its book when we
//    connected; a fresh node started with node 0 as its seed gets it in node 0's PexAddrs and dials us.
import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CrawlReport } from '../../lib/crawler/report.js'
import { pexReactor, type LearnedAddress, type PexReactor } from '../../lib/pex/pex-reactor.js'
import { COMET_VERSIONS, CometNode, createCometNetwork, requireCometBinary, startAll } from './support/cometbft.js'
import { startSwitch, type RxSwitch } from './support/rx-switch.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(REPO, 'bin', 'rx-p2p.js')

/** Runs `node bin/rx-p2p.js args…` to its end. */
async function rxP2p (args: string[], timeoutMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const killer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>((resolveExit) => { child.once('close', (c) => { resolveExit(c) }) })
  clearTimeout(killer)
  return { code, stdout, stderr }
}

for (const version of COMET_VERSIONS) {
  describe(`interop PEX through the Switch and the crawler: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let bin: string
    const nodes: CometNode[] = []
    let rx: RxSwitch | undefined
    let pex: PexReactor | undefined
    const learned: LearnedAddress[] = []
    const pexDials: string[] = []

    before(async function () {
      bin = requireCometBinary(this, version)
      nodes.push(...await createCometNetwork(bin, 3, { moniker: `swpex-${version.key}`, pex: true }))
      await startAll(nodes)
      for (const n of nodes) for (const other of nodes) if (other !== n) await n.waitForPeer(other.id)
    })

    after(async function () {
      await rx?.stop()
      for (const n of nodes) await n.stop()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed') {
        for (const n of nodes) console.log(`      [interop] ${n.moniker} log (${n.logPath}), last lines:\n${n.logTail(12)}`)
        if (rx !== undefined) console.log(`      [interop] rx events:\n        ${rx.log.join('\n        ')}`)
      }
    })

    it('`rx-p2p crawl` (a process) from one node finds all three, reaches each and gets a PEX answer from each', async function () {
      const r = await rxP2p(['crawl', nodes[0]!.address, '--allow-private', '--timeout', '20s', '--moniker', `rx-crawler-${version.key}`], 40_000)
      expect(r.code, r.stderr).to.equal(0)
      const report = JSON.parse(r.stdout) as CrawlReport
      expect(report.network).to.equal(nodes[0]!.chainId)
      expect(report.stopReason).to.equal('complete')
      expect(report.summary).to.deep.include({ heard: 3, reached: 3, failed: 0, neverTried: 0, answered: 3 })
      const byId = new Map(report.nodes.map((n) => [n.id, n]))
      for (const n of nodes) {
        const found = byId.get(n.id)
        expect(found, `${n.moniker} in the report`).to.not.equal(undefined)
        expect(found).to.deep.include({ status: 'reached', moniker: n.moniker, network: n.chainId, version: version.tag.slice(1), address: n.address })
        expect(found!.pex).to.deep.include({ answered: true })
      }
      // node 0 (the seed) told us about the other two.
      const fromSeed = report.edges.filter((e) => e.from === nodes[0]!.id).map((e) => e.to)
      expect(fromSeed).to.have.members([nodes[1]!.id, nodes[2]!.id])
      expect(r.stderr).to.match(/crawl complete in [\d.]+ s: 3 reached, 3 heard of, 0 failed/)
    })

    it('rx-p2p learns addresses from a CometBFT node: the PEX reactor asks the seed, books the other two nodes and dials them', async function () {
      const sw = await startSwitchWithPex()
      const gotBoth = (): boolean => nodes.slice(1).every((n) => learned.some((l) => l.from.id === nodes[0]!.id && l.address.toString() === n.address))
      await nodes[0]!.waitFor('PexAddrs from the seed with the other two nodes', async () => gotBoth(), 15_000)
      for (const n of nodes.slice(1)) expect(pex!.book.get(n.id)?.addr.toString(), `${n.moniker} in the book`).to.equal(n.address)
      // The seed's answer starts ensurePeers at once: the Switch dials the two nodes it just learned. (Either
      // direction is accepted: a node that learned our address from node 0 may have been quicker.)
      for (const n of nodes) await sw.event('added', (e) => e.peer.id === n.id)
      expect(pexDials.filter((a) => a !== nodes[0]!.address), 'ensure-peers dials').to.include.members(
        nodes.slice(1).filter((n) => sw.sw.peers.get(n.id)?.isOutbound === true).map((n) => n.address))
      for (const n of nodes) await n.waitForPeer(sw.sw.nodeId)
      expect(sw.recorded('removed')).to.deep.equal([])
    })

    it('a CometBFT node learns rx-p2p\'s address: a new node seeded by node 0 dials the Switch', async function () {
      expect(rx, 'the Switch of the previous test').to.not.equal(undefined)
      const fresh = await CometNode.create(bin, { moniker: `swpex-fresh-${version.key}`, pex: true, genesisFrom: nodes[0], seeds: [nodes[0]!.address] })
      fresh.chainId = nodes[0]!.chainId
      nodes.push(fresh)
      await fresh.start({ waitForBlock: false })
      const added = await rx!.event('added', (e) => e.peer.id === fresh.id, 20_000)
      expect(added.peer.isOutbound).to.equal(false)
      expect(added.peer.nodeInfo.moniker).to.equal(fresh.moniker)
      const listed = await fresh.waitForPeer(rx!.sw.nodeId)
      expect(listed.is_outbound).to.equal(true)
      // Our PEX reactor saw the inbound node's self-reported address too.
      const self = await fresh.waitFor('its self-reported address on gossip$', async () => learned.find((l) => l.from.id === fresh.id), 5000)
      expect(self.address.toString()).to.equal(fresh.address)
      expect(pex!.book.get(fresh.id)?.addr.toString()).to.equal(fresh.address)
    })

    /** A listening Switch with the PEX reactor, node 0 as its seed. */
    async function startSwitchWithPex (): Promise<RxSwitch> {
      pex = pexReactor({ seeds: [nodes[0]!.address], addrBookStrict: false })
      pex.gossip$.subscribe((l) => learned.push(l))
      pex.events$.subscribe((e) => { if (e.type === 'dial') pexDials.push(e.address.toString()) })
      rx = await startSwitch({ network: nodes[0]!.chainId, moniker: `rx-pex-${version.key}`, reactors: [pex] })
      return rx
    }
  })
}
