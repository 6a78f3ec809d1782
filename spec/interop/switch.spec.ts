// Interop through the Switch: an rx-p2p Switch and a real CometBFT node connect in both directions.
//
// 1. A Switch dials the node: the peer is added with the node's NodeInfo, and /net_info lists the Switch
//    (inbound) with its moniker; the node's NewRoundStep reaches the mempool reactor's height mirror.
// 2. The node dials a listening Switch (its persistent peer) and the connection stays up across several of
//    our pings: the Switch pings every 2 s with a 1.5 s pong timeout (CometBFT's own 60 s interval cannot be
//    shortened; see handshake.spec.ts and docs/INTEROP.md), so staying up means the node answered each one,
//    and its debug log shows it received them.
import { expect } from 'chai'
import { firstValueFrom, timeout } from 'rxjs'
import { mempoolReactor } from '../../lib/reactors/mempool.js'
import { CONSENSUS_STATE_CHANNEL } from '../../lib/wire/consensus.js'
import { MEMPOOL_CHANNEL } from '../../lib/wire/mempool.js'
import { COMET_VERSIONS, CometNode, requireCometBinary, sleep } from './support/cometbft.js'
import { startSwitch, type RxSwitch } from './support/rx-switch.js'

const PING_MS = 2000
const PONG_TIMEOUT_MS = 1500

function pingLines (node: CometNode, what: 'Receive Ping' | 'Send Pong', id: string): number {
  return node.log().split('\n').filter((l) => l.includes(what) && l.includes(id)).length
}

for (const version of COMET_VERSIONS) {
  describe(`interop Switch: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let node: CometNode | undefined
    let listener: RxSwitch | undefined
    const switches: RxSwitch[] = []

    before(async function () {
      const bin = requireCometBinary(this, version)
      node = await CometNode.create(bin, { moniker: `switch-ref-${version.key}`, logLevel: 'p2p:debug,*:info' })
      listener = await startSwitch({
        network: node.chainId,
        moniker: `rx-switch-listener-${version.key}`,
        reactors: [mempoolReactor()],
        mconnection: { pingIntervalMs: PING_MS, pongTimeoutMs: PONG_TIMEOUT_MS }
      })
      switches.push(listener)
      await node.configure({ p2p: { persistent_peers: listener.address } })
      await node.start()
    })

    after(async function () {
      for (const s of switches) await s.stop()
      await node?.stop()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && node !== undefined) {
        console.log(`      [interop] ${node.moniker} log (${node.logPath}), last lines:\n${node.logTail(25)}`)
        for (const s of switches) console.log(`      [interop] ${s.sw.nodeInfo.moniker} events:\n        ${s.log.join('\n        ')}`)
      }
    })

    it('a Switch dials the node: the peer is added with the node\'s NodeInfo and /net_info lists the Switch with its moniker', async function () {
      const moniker = `rx-switch-dialer-${version.key}`
      const mempool = mempoolReactor()
      const dialer = await startSwitch({ network: node!.chainId, moniker, reactors: [mempool], listen: false })
      switches.push(dialer)
      const firstStep = firstValueFrom(mempool.roundSteps$.pipe(timeout(10_000)))
      const peer = await dialer.sw.dial(node!.address)
      expect(peer.id).to.equal(node!.id)
      expect(peer.isOutbound).to.equal(true)
      expect(peer.nodeInfo).to.deep.include({ network: node!.chainId, version: version.tag.slice(1), moniker: node!.moniker })
      expect(peer.nodeInfo.protocolVersion).to.include({ p2p: version.p2pProtocol, block: 11 })
      expect(peer.hasChannel(MEMPOOL_CHANNEL) && peer.hasChannel(CONSENSUS_STATE_CHANNEL)).to.equal(true)
      expect(dialer.log).to.include(`dialed ${node!.address}`)
      expect(dialer.log.some((l) => l.startsWith(`added outbound ${node!.id} moniker=${node!.moniker}`))).to.equal(true)
      // The node's side: an inbound peer with our ID and moniker.
      const listed = await node!.waitForPeer(dialer.sw.nodeId)
      expect(listed.node_info.moniker).to.equal(moniker)
      expect(listed.node_info.network).to.equal(node!.chainId)
      expect(listed.is_outbound).to.equal(false)
      // Traffic through the reactors: the node's NewRoundStep on 0x20 reached the height mirror.
      const { from, step } = await firstStep
      expect(from.id).to.equal(node!.id)
      expect(step.height > 0n).to.equal(true)
      expect(dialer.sw.peers.get(node!.id)?.isRunning).to.equal(true)
    })

    it('the node dials the Switch (its persistent peer), which keeps it across several ping intervals', async function () {
      const added = await listener!.event('added', (e) => e.peer.id === node!.id, 20_000)
      expect(added.peer.isOutbound).to.equal(false)
      expect(added.peer.nodeInfo.moniker).to.equal(node!.moniker)
      const listed = await node!.waitForPeer(listener!.sw.nodeId)
      expect(listed.is_outbound).to.equal(true)
      expect(listed.node_info.moniker).to.equal(`rx-switch-listener-${version.key}`)
      const since = Date.now()
      await sleep(PING_MS * 2.5 + PONG_TIMEOUT_MS)
      expect(listener!.recorded('removed'), `removed: ${listener!.log.join('; ')}`).to.deep.equal([])
      expect(added.peer.isRunning).to.equal(true)
      expect(listener!.sw.peers.get(node!.id)).to.equal(added.peer)
      expect(pingLines(node!, 'Receive Ping', listener!.sw.nodeId)).to.be.at.least(2)
      expect(pingLines(node!, 'Send Pong', listener!.sw.nodeId)).to.be.at.least(2)
      expect(Date.now() - since).to.be.at.least(PING_MS * 2)
      await node!.waitForPeer(listener!.sw.nodeId)
      expect(listener!.recorded('rejected')).to.deep.equal([])
    })
  })
}
