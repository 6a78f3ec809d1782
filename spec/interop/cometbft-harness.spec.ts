// The harness itself, against the real binaries: a node starts on loopback with the config the other interop
// specs rely on, its RPC helpers work, and a three-node network on one genesis connects.
import { expect } from 'chai'
import { createServer } from 'node:net'
import { COMET_VERSIONS, CometNode, createCometNetwork, requireCometBinary, startAll, txHash } from './support/cometbft.js'

for (const version of COMET_VERSIONS) {
  describe(`interop harness: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let bin: string
    let node: CometNode | undefined
    const network: CometNode[] = []

    before(async function () {
      bin = requireCometBinary(this, version)
      node = await CometNode.create(bin, { moniker: `harness-${version.key}` })
      await node.start()
    })

    after(async function () {
      await node?.stop()
      for (const n of network) await n.stop()
    })

    it('starts a kvstore node on loopback whose /status shows the configured moniker and version', async function () {
      const status = await node!.status()
      expect(status.node_info.moniker).to.equal(`harness-${version.key}`)
      expect(status.node_info.id).to.equal(node!.id)
      expect(status.node_info.network).to.equal(node!.chainId)
      expect(status.node_info.version).to.equal(version.tag.slice(1))
      expect(status.node_info.protocol_version.p2p).to.equal(String(version.p2pProtocol))
      expect(status.node_info.listen_addr).to.equal(`tcp://127.0.0.1:${node!.p2pPort}`)
      // PEX is off by default in the harness: no channel 00.
      expect(status.node_info.channels).to.equal('402021222330386061')
    })

    it('commits a tx submitted over RPC and finds it with /tx and /block', async function () {
      const tx = `harness=${version.key}-${Date.now()}`
      const res = await node!.broadcastTxSync(tx)
      expect(res.hash).to.equal(txHash(new TextEncoder().encode(tx)))
      const found = await node!.waitForTx(res.hash)
      expect(Buffer.from(found.tx, 'base64').toString()).to.equal(tx)
      const txs = await node!.blockTxs(Number(found.height))
      expect(txs.map((t) => Buffer.from(t).toString())).to.include(tx)
      expect(await node!.unconfirmedTxs()).to.be.an('array')
    })

    it('starts again on new ports when another process took the P2P port first', async function () {
      const spare = await CometNode.create(bin, { moniker: `harness-port-${version.key}` })
      const taken = spare.p2pPort
      const squatter = createServer()
      await new Promise<void>((resolve) => { squatter.listen(taken, '127.0.0.1', resolve) })
      try {
        await spare.start({ waitForBlock: false })
        expect(spare.p2pPort).to.not.equal(taken)
        expect((await spare.status()).node_info.listen_addr).to.equal(`tcp://127.0.0.1:${spare.p2pPort}`)
      } finally {
        await new Promise((resolve) => { squatter.close(resolve) })
        await spare.stop()
      }
    })

    it('builds a three-node network on one genesis in which every node peers with the other two', async function () {
      network.push(...await createCometNetwork(bin, 3, { moniker: `net-${version.key}` }))
      await startAll(network)
      for (const n of network) {
        expect(n.chainId).to.equal(network[0]!.chainId)
        for (const other of network) if (other !== n) await n.waitForPeer(other.id)
      }
      await network[2]!.waitForHeight(2)
    })
  })
}
