// Interop, raw level (no Switch): mempool gossip between rx-p2p and a real CometBFT node, both ways.
//
// In: a node gossips a tx to a peer only when the peer's consensus state is at least the tx's height - 1, and
// that state comes from the NewRoundStep messages the peer sends on 0x20 (cometbft-wire.md section 6). The
// first test checks both halves: without our NewRoundStep a tx is committed without ever reaching us; once we
// mirror the node's own NewRoundStep, the next tx arrives on 0x30.
// Out: a tx we send on 0x30 goes through CheckTx and is committed; the node does not echo it back to us.
import { expect } from 'chai'
import { firstValueFrom, timeout } from 'rxjs'
import { CONSENSUS_STATE_CHANNEL } from '../../lib/wire/consensus.js'
import { encodeTxs, MEMPOOL_CHANNEL } from '../../lib/wire/mempool.js'
import { COMET_VERSIONS, CometNode, requireCometBinary, sleep, txHash } from './support/cometbft.js'
import { dialPeer, type RxPeer } from './support/rx-peer.js'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

for (const version of COMET_VERSIONS) {
  describe(`interop mempool: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let node: CometNode | undefined
    let peer: RxPeer | undefined
    const received: string[] = []

    before(async function () {
      const bin = requireCometBinary(this, version)
      node = await CometNode.create(bin, { moniker: `mempool-${version.key}` })
      await node.start()
      // Past height 2, a fresh peer (height 0) is below every new tx's height - 1.
      await node.waitForHeight(3)
      peer = await dialPeer(node, { info: { moniker: `rx-mempool-${version.key}` } })
      peer.txs$.subscribe((tx) => { received.push(hex(tx)) })
      await node.waitForPeer(peer.localId)
    })

    after(async function () {
      await peer?.close()
      await node?.stop()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && node !== undefined) {
        console.log(`      [interop] ${node.moniker} log (${node.logPath}), last lines:\n${node.logTail(25)}`)
      }
    })

    it('a tx submitted over RPC reaches rx-p2p on 0x30 once rx-p2p announces the node\'s height on 0x20', async function () {
      // Before any NewRoundStep from us: the tx is committed and never gossiped to us.
      const early = utf8(`early-${version.key}=${Date.now()}`)
      const { hash: earlyHash } = await node!.broadcastTxSync(early)
      await node!.waitForTx(earlyHash)
      await sleep(300)
      expect(received, 'a tx reached us before we announced a height').to.not.include(hex(early))

      // Mirror the node's own NewRoundStep (and keep doing so), then submit another tx.
      const step = await peer!.mirrorRoundSteps()
      expect(step.height >= 3n).to.equal(true)
      const tx = utf8(`gossip-in-${version.key}=${Date.now()}`)
      const arriving = peer!.waitForTx(tx, 15_000)
      const { hash } = await node!.broadcastTxSync(tx)
      expect(hash).to.equal(txHash(tx))
      const got = await arriving
      expect(hex(got)).to.equal(hex(tx))
      expect(peer!.mconn.isClosed).to.equal(false)
    })

    it('a tx rx-p2p sends on 0x30 is committed in a block and not echoed back', async function () {
      const tx = utf8(`gossip-out-${version.key}=${Date.now()}`)
      expect(await peer!.mconn.send(MEMPOOL_CHANNEL, encodeTxs([tx]))).to.equal(true)
      const committed = await node!.waitForTx(txHash(tx))
      expect(committed.tx_result.code).to.equal(0)
      const blockTxs = await node!.blockTxs(Number(committed.height))
      expect(blockTxs.map(hex)).to.include(hex(tx))
      await sleep(300)
      expect(received, 'the node gossiped our own tx back to us').to.not.include(hex(tx))
      expect(peer!.mconn.isClosed).to.equal(false)
    })

    it('every consensus message the node sent on 0x20 decoded (NewRoundStep in full, the rest as "other")', async function () {
      await firstValueFrom(peer!.roundSteps$.pipe(timeout(5000)))
      const errors: unknown[] = []
      peer!.decodeErrors$.subscribe((e) => errors.push(e))
      expect(errors).to.deep.equal([])
      expect(peer!.consensusCases.get(1) ?? 0).to.be.greaterThan(0)
      if (version.key === 'v1') {
        // v1.0 sends HasProposalBlockPart (case 10) to every peer; a decoder that fails on it loses the node.
        expect(peer!.consensusCases.get(10) ?? 0, `cases seen: ${JSON.stringify([...peer!.consensusCases])}`).to.be.greaterThan(0)
      }
      expect(peer!.mconn.status().channels.map((c) => c.id)).to.include(CONSENSUS_STATE_CHANNEL)
    })
  })
}
