// Interop, raw level (no Switch, no PEX reactor): the PEX messages on channel 0x00 against a real CometBFT
// network of three nodes with PEX on. rx-p2p asks a node for addresses and gets the other two; a node records
// the address an inbound rx-p2p peer advertises (NodeInfo.listen_addr) and hands it to the next peer that asks.
// (The crawl of a three-node network by `rx-p2p crawl` needs the Switch and the PEX reactor and lives with them.)
import { expect } from 'chai'
import { filter, firstValueFrom, timeout } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { encodePexRequest, PEX_CHANNEL, type PexAddrsMessage } from '../../lib/wire/pex.js'
import { COMET_VERSIONS, createCometNetwork, requireCometBinary, startAll, type CometNode } from './support/cometbft.js'
import { dialPeer, RxListener, type RxPeer } from './support/rx-peer.js'

async function askForAddrs (peer: RxPeer): Promise<PexAddrsMessage> {
  const answer = firstValueFrom(peer.pex$.pipe(filter((m): m is PexAddrsMessage => m.type === 'addrs'), timeout(10_000)))
  expect(await peer.mconn.send(PEX_CHANNEL, encodePexRequest())).to.equal(true)
  return await answer
}

for (const version of COMET_VERSIONS) {
  describe(`interop PEX messages: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    const nodes: CometNode[] = []
    const peers: RxPeer[] = []
    let listener: RxListener | undefined

    before(async function () {
      const bin = requireCometBinary(this, version)
      nodes.push(...await createCometNetwork(bin, 3, { moniker: `pex-${version.key}`, pex: true }))
      await startAll(nodes)
      for (const other of nodes.slice(1)) await nodes[0]!.waitForPeer(other.id)
      listener = await RxListener.start({ network: nodes[0]!.chainId, moniker: `rx-pex-${version.key}` })
    })

    after(async function () {
      for (const p of peers) await p.close()
      for (const n of nodes) await n.stop()
      await listener?.close()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && nodes[0] !== undefined) {
        console.log(`      [interop] ${nodes[0].moniker} log (${nodes[0].logPath}), last lines:\n${nodes[0].logTail(25)}`)
      }
    })

    it('rx-p2p asks a node for addresses (PexRequest) and learns the other two nodes (PexAddrs)', async function () {
      const peer = await dialPeer(nodes[0]!, { info: { moniker: `rx-pex-asker-${version.key}` } })
      peers.push(peer)
      const { addrs } = await askForAddrs(peer)
      const learned = addrs.map((a) => a.toString())
      for (const other of nodes.slice(1)) expect(learned).to.include(other.address)
      expect(addrs.map((a) => a.id)).to.not.include(nodes[0]!.id)
      expect(peer.mconn.isClosed).to.equal(false)
    })

    it('a node learns the address an inbound rx-p2p peer advertises and passes it on to the next asker', async function () {
      // The advertising peer: its NodeInfo.listen_addr is our listener's address, under its own key.
      const advertisedKey = NodeKey.generate()
      const advertiser = await dialPeer(nodes[1]!, {
        nodeKey: advertisedKey,
        info: { moniker: `rx-pex-advertiser-${version.key}`, listenPort: listener!.listener.address.port }
      })
      peers.push(advertiser)
      await nodes[1]!.waitForPeer(advertisedKey.id)
      const asker = await dialPeer(nodes[1]!, { info: { moniker: `rx-pex-asker2-${version.key}` } })
      peers.push(asker)
      const { addrs } = await askForAddrs(asker)
      expect(addrs.map((a) => a.toString())).to.include(`${advertisedKey.id}@127.0.0.1:${listener!.listener.address.port}`)
    })
  })
}
