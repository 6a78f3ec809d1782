// Interop through the Switch: peers that must not connect, both ways, against a real CometBFT node.
//
// Two Switches that the node must refuse: one on another network, one whose reactors share no channel with
// the node (0x99 only). Each is also the node's persistent peer, so the node dials them too.
// - Our dial: both sides exchange NodeInfo and check it. The Switch reports `dialFailed` with
//   IncompatiblePeerError naming the rule, and logs it; the node logs that it rejected the inbound peer for
//   the same rule and never lists it in /net_info.
// - The node's dial: the Switch reports `rejected` with the node's ID and IncompatiblePeerError, and logs it;
//   the node logs "Error dialing peer" with the same rule.
import { expect } from 'chai'
import { ignoreElements } from 'rxjs'
import { IncompatiblePeerError } from '../../lib/errors.js'
import { mempoolReactor } from '../../lib/reactors/mempool.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { COMET_VERSIONS, CometNode, requireCometBinary } from './support/cometbft.js'
import { startSwitch, type RxSwitch } from './support/rx-switch.js'

/** A reactor on a channel CometBFT does not have. */
const lonelyReactor: Reactor = {
  name: 'lonely',
  channels: [{ id: 0x99, priority: 1 }],
  run: (ctx) => ctx.envelopes$.pipe(ignoreElements())
}

const NODE_RULE_TEXT = {
  network: 'incompatible: peer is on a different network',
  channels: 'incompatible: peer has no common channels'
}

for (const version of COMET_VERSIONS) {
  describe(`interop refusals through the Switch: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let node: CometNode | undefined
    let otherNetwork: RxSwitch | undefined
    let noSharedChannel: RxSwitch | undefined

    before(async function () {
      const bin = requireCometBinary(this, version)
      node = await CometNode.create(bin, { moniker: `switch-refusals-${version.key}` })
      otherNetwork = await startSwitch({ network: `${node.chainId}-other`, moniker: `rx-other-network-${version.key}`, reactors: [mempoolReactor()] })
      noSharedChannel = await startSwitch({ network: node.chainId, moniker: `rx-no-channel-${version.key}`, reactors: [lonelyReactor] })
      await node.configure({ p2p: { persistent_peers: [otherNetwork.address, noSharedChannel.address].join(',') } })
      await node.start()
    })

    after(async function () {
      await otherNetwork?.stop()
      await noSharedChannel?.stop()
      await node?.stop()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && node !== undefined) {
        console.log(`      [interop] ${node.moniker} log (${node.logPath}), last lines:\n${node.logTail(25)}`)
        for (const s of [otherNetwork, noSharedChannel]) if (s !== undefined) console.log(`      [interop] ${s.sw.nodeInfo.moniker} events:\n        ${s.log.join('\n        ')}`)
      }
    })

    /** Our Switch dials the node and is refused: the typed error on our side, the rule in the node's log. */
    async function dialRefused (rx: RxSwitch, rule: 'network' | 'channels'): Promise<void> {
      const inboundRejections = (): number => node!.log().split('\n').filter((l) => l.includes('Inbound Peer rejected') && l.includes(NODE_RULE_TEXT[rule])).length
      const rejectedBefore = inboundRejections()
      let thrown: unknown
      await rx.sw.dial(node!.address).catch((err: unknown) => { thrown = err })
      expect(thrown).to.be.instanceOf(IncompatiblePeerError)
      expect((thrown as IncompatiblePeerError).rule).to.equal(rule)
      const event = await rx.event('dialFailed', (e) => e.address.id === node!.id)
      expect(event.error).to.equal(thrown)
      expect(rx.log).to.include(`dialFailed ${node!.address} error=IncompatiblePeerError(${rule})[ERR_INCOMPATIBLE_PEER]: ${(thrown as Error).message}`)
      expect(rx.recorded('added').map((e) => e.peer.id)).to.not.include(node!.id)
      // The node's side: it refused us too, for the same rule, and does not list us.
      await node!.waitFor(`the node to log "Inbound Peer rejected … ${NODE_RULE_TEXT[rule]}"`, async () => inboundRejections() > rejectedBefore)
      expect((await node!.netInfo()).peers.map((p) => p.node_info.id)).to.not.include(rx.sw.nodeId)
    }

    /** The node dials our Switch (its persistent peer) and the Switch refuses it. */
    async function inboundRefused (rx: RxSwitch, rule: 'network' | 'channels'): Promise<void> {
      const event = await rx.event('rejected', (e) => e.peerId === node!.id && e.error instanceof IncompatiblePeerError, 20_000)
      expect((event.error as IncompatiblePeerError).rule).to.equal(rule)
      expect(event.remoteAddress?.host).to.equal('127.0.0.1')
      expect(rx.log.some((l) => l.startsWith('rejected from=127.0.0.1:') && l.includes(`peer=${node!.id} error=IncompatiblePeerError(${rule})[ERR_INCOMPATIBLE_PEER]`))).to.equal(true)
      expect(rx.sw.peers.has(node!.id)).to.equal(false)
      // The node, for its part, refuses our NodeInfo for the same rule on its dial.
      await node!.waitFor('the node to log its failed dial', async () => node!.log().split('\n').some((l) => l.includes('Error dialing peer') && l.includes(NODE_RULE_TEXT[rule])))
      expect((await node!.netInfo()).peers.map((p) => p.node_info.id)).to.not.include(rx.sw.nodeId)
    }

    it('a Switch on another network dials the node: dialFailed with IncompatiblePeerError "network"; the node rejects it too', async function () {
      await dialRefused(otherNetwork!, 'network')
    })

    it('a Switch with no channel in common dials the node: dialFailed with IncompatiblePeerError "channels"; the node rejects it too', async function () {
      await dialRefused(noSharedChannel!, 'channels')
    })

    it('the node dials a Switch on another network: rejected with the node\'s ID and IncompatiblePeerError "network"', async function () {
      await inboundRefused(otherNetwork!, 'network')
    })

    it('the node dials a Switch with no channel in common: rejected with IncompatiblePeerError "channels"', async function () {
      await inboundRefused(noSharedChannel!, 'channels')
    })
  })
}
