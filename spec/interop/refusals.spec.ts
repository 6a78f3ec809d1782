// Interop, raw level (no Switch): peers that must not connect, both ways, against a real CometBFT node.
//
// CometBFT refuses us: we complete the SecretConnection and the NodeInfo exchange by hand (no compatibility
// check on our side, so the decision is the node's alone) and the node closes the connection; an MConnection
// on it ends with ConnectionClosedError, the node logs the rule, and /net_info never lists us. The regular
// upgradeConnection refuses the same node with IncompatiblePeerError before that.
// We refuse CometBFT: the node dials our listeners (persistent peers), and upgradeConnection rejects it with
// IncompatiblePeerError naming the rule.
import { expect } from 'chai'
import { filter, firstValueFrom, timeout } from 'rxjs'
import { MConnection } from '../../lib/conn/mconnection.js'
import { makeSecretConnection } from '../../lib/conn/secret-connection.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { ConnectionClosedError, IncompatiblePeerError } from '../../lib/errors.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { exchangeNodeInfo } from '../../lib/multiplex-transport/upgrade.js'
import { COMET_VERSIONS, CometNode, requireCometBinary } from './support/cometbft.js'
import { dialAndUpgrade, INTEROP_CHANNELS, RxListener, rxNodeInfo, type RxNodeInfoOptions } from './support/rx-peer.js'

const NO_SHARED_CHANNELS = [0x99]

for (const version of COMET_VERSIONS) {
  describe(`interop refusals: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let node: CometNode | undefined
    let otherNetwork: RxListener | undefined
    let noSharedChannel: RxListener | undefined

    before(async function () {
      const bin = requireCometBinary(this, version)
      node = await CometNode.create(bin, { moniker: `refusals-${version.key}` })
      otherNetwork = await RxListener.start({ network: `${node.chainId}-other`, moniker: 'rx-other-network' })
      noSharedChannel = await RxListener.start({ network: node.chainId, moniker: 'rx-no-channel', channels: NO_SHARED_CHANNELS })
      await node.configure({ p2p: { persistent_peers: [otherNetwork.address, noSharedChannel.address].join(',') } })
      await node.start()
    })

    after(async function () {
      await node?.stop()
      await otherNetwork?.close()
      await noSharedChannel?.close()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && node !== undefined) {
        console.log(`      [interop] ${node.moniker} log (${node.logPath}), last lines:\n${node.logTail(25)}`)
      }
    })

    /**
     * Dials the node with `info` and exchanges NodeInfo without judging the answer, then runs an MConnection
     * until the node closes it. Resolves with the MConnection's close reason and the node's NodeInfo.
     */
    async function refusedByNode (info: Partial<RxNodeInfoOptions>): Promise<{ reason: Error | undefined, ms: number, id: string }> {
      const nodeKey = NodeKey.generate()
      const ours = rxNodeInfo(nodeKey, { network: node!.chainId, moniker: 'rx-refused', ...info })
      const raw = await new TcpTransport().dial({ host: '127.0.0.1', port: node!.p2pPort })
      const sc = await makeSecretConnection(raw, nodeKey)
      expect(sc.remoteId).to.equal(node!.id)
      const theirs = await exchangeNodeInfo(sc, ours)
      expect(theirs.id).to.equal(node!.id)
      const started = Date.now()
      const channels = INTEROP_CHANNELS.filter((c) => ours.channels.includes(c.id))
      const mconn = new MConnection(sc, channels.length > 0 ? channels : [{ id: ours.channels[0]!, priority: 1 }])
      mconn.start()
      try {
        const reason = await firstValueFrom(mconn.closed$.pipe(timeout(10_000)))
        return { reason, ms: Date.now() - started, id: nodeKey.id }
      } finally {
        mconn.stop()
      }
    }

    it('the node refuses an rx-p2p node on another network (our MConnection sees ConnectionClosedError)', async function () {
      const { reason, id } = await refusedByNode({ network: `${node!.chainId}-other` })
      expect(reason).to.be.instanceOf(ConnectionClosedError)
      await node!.waitFor('the rejection in the node log', async () => /Inbound Peer rejected.*incompatible: peer is on a different network/.test(node!.log()))
      expect((await node!.netInfo()).peers.map((p) => p.node_info.id)).to.not.include(id)
    })

    it('the node refuses an rx-p2p node with no channel in common (our MConnection sees ConnectionClosedError)', async function () {
      const { reason, id } = await refusedByNode({ channels: NO_SHARED_CHANNELS })
      expect(reason).to.be.instanceOf(ConnectionClosedError)
      await node!.waitFor('the rejection in the node log', async () => /Inbound Peer rejected.*incompatible: peer has no common channels/.test(node!.log()))
      expect((await node!.netInfo()).peers.map((p) => p.node_info.id)).to.not.include(id)
    })

    it('upgradeConnection refuses the same node itself with IncompatiblePeerError (network, channels)', async function () {
      const key = NodeKey.generate()
      const wrongNet = dialAndUpgrade(node!, key, rxNodeInfo(key, { network: `${node!.chainId}-other`, moniker: 'rx-x' }))
      await expectRejection(wrongNet, 'network')
      const key2 = NodeKey.generate()
      const noChannel = dialAndUpgrade(node!, key2, rxNodeInfo(key2, { network: node!.chainId, moniker: 'rx-y', channels: NO_SHARED_CHANNELS }))
      await expectRejection(noChannel, 'channels')
    })

    it('rx-p2p refuses the node when it dials us from another network (IncompatiblePeerError "network")', async function () {
      const err = await firstValueFrom(otherNetwork!.refusals$.pipe(timeout(15_000)))
      expect(err).to.be.instanceOf(IncompatiblePeerError)
      expect((err as IncompatiblePeerError).rule).to.equal('network')
      expect((await node!.netInfo()).peers.map((p) => p.node_info.id)).to.not.include(otherNetwork!.nodeKey.id)
    })

    it('rx-p2p refuses the node when it dials us and shares no channel (IncompatiblePeerError "channels")', async function () {
      const err = await firstValueFrom(noSharedChannel!.refusals$.pipe(filter((e) => e instanceof IncompatiblePeerError), timeout(15_000)))
      expect((err as IncompatiblePeerError).rule).to.equal('channels')
      expect((await node!.netInfo()).peers.map((p) => p.node_info.id)).to.not.include(noSharedChannel!.nodeKey.id)
    })
  })
}

async function expectRejection (p: Promise<unknown>, rule: IncompatiblePeerError['rule']): Promise<void> {
  try {
    await p
  } catch (err) {
    expect(err).to.be.instanceOf(IncompatiblePeerError)
    expect((err as IncompatiblePeerError).rule).to.equal(rule)
    return
  }
  expect.fail(`the upgrade succeeded; expected IncompatiblePeerError (${rule})`)
}
