// Interop, raw level (no Switch): rx-p2p and a real CometBFT node complete the SecretConnection handshake,
// the NodeInfo exchange and run an MConnection, in both directions.
//
// Ping intervals: CometBFT's ping interval (60 s) and pong timeout (45 s) are hard-coded (`DefaultMConnConfig`;
// `p2p.MConnConfig` copies only the flush throttle, rates and packet size from config.toml), so nothing on
// the Go side can be shortened. The default run therefore shortens rx-p2p's side: it pings every 2 s with a
// 1.5 s pong timeout, and the connection must survive several of those intervals, which proves that CometBFT
// answers our pings (and the node's debug log shows it received them). That rx-p2p answers CometBFT's own
// pings needs two real 60 s intervals: set RX_P2P_INTEROP_LONG=1 to run that test (about 2 minutes, both
// versions at once).
import { expect } from 'chai'
import { firstValueFrom, timeout } from 'rxjs'
import { CONSENSUS_STATE_CHANNEL } from '../../lib/wire/consensus.js'
import { MEMPOOL_CHANNEL } from '../../lib/wire/mempool.js'
import { COMET_VERSIONS, CometNode, findCometBinary, requireCometBinary, sleep } from './support/cometbft.js'
import { dialPeer, RxListener, type RxPeer } from './support/rx-peer.js'

const PING_MS = 2000
const PONG_TIMEOUT_MS = 1500

/** Lines of the node's log that record a ping or pong with the peer `id`. */
function pingLines (node: CometNode, what: 'Receive Ping' | 'Send Pong' | 'Send Ping' | 'Receive Pong', id: string): number {
  return node.log().split('\n').filter((l) => l.includes(what) && l.includes(id)).length
}

for (const version of COMET_VERSIONS) {
  describe(`interop handshake: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let node: CometNode | undefined
    let listener: RxListener | undefined
    const peers: RxPeer[] = []

    before(async function () {
      const bin = requireCometBinary(this, version)
      node = await CometNode.create(bin, { moniker: `ref-${version.key}`, logLevel: 'p2p:debug,*:info' })
      listener = await RxListener.start({
        network: node.chainId,
        moniker: `rx-listener-${version.key}`,
        mconn: { pingIntervalMs: PING_MS, pongTimeoutMs: PONG_TIMEOUT_MS }
      })
      await node.configure({ p2p: { persistent_peers: listener.address } })
      await node.start()
    })

    after(async function () {
      for (const p of peers) await p.close()
      await node?.stop()
      await listener?.close()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && node !== undefined) {
        console.log(`      [interop] ${node.moniker} log (${node.logPath}), last lines:\n${node.logTail(25)}`)
      }
    })

    it('rx-p2p dials the node: both handshakes succeed and /net_info lists rx-p2p with its moniker', async function () {
      const moniker = `rx-dialer-${version.key}`
      const peer = await dialPeer(node!, { info: { moniker } })
      peers.push(peer)
      // Our side: the node's NodeInfo, authenticated and validated by upgradeConnection.
      expect(peer.upgraded.remoteId).to.equal(node!.id)
      expect(peer.remote.network).to.equal(node!.chainId)
      expect(peer.remote.version).to.equal(version.tag.slice(1))
      expect(peer.remote.protocolVersion).to.include({ p2p: version.p2pProtocol, block: 11 })
      expect([...peer.remote.channels]).to.include.members([CONSENSUS_STATE_CHANNEL, MEMPOOL_CHANNEL])
      expect(peer.remote.listenAddr).to.equal(`tcp://127.0.0.1:${node!.p2pPort}`)
      // The MConnection carries real traffic: the node announces its round state on 0x20.
      const step = await firstValueFrom(peer.roundSteps$.pipe(timeout(10_000)))
      expect(step.height > 0n).to.equal(true)
      // The node's side: an inbound peer with our ID and moniker.
      const listed = await node!.waitForPeer(peer.localId)
      expect(listed.node_info.moniker).to.equal(moniker)
      expect(listed.is_outbound).to.equal(false)
      expect(peer.mconn.isClosed).to.equal(false)
    })

    it('the node dials rx-p2p (its persistent peer) and keeps the connection across several rx-p2p ping intervals', async function () {
      const peer = await firstValueFrom(listener!.peers$.pipe(timeout(20_000)))
      expect(peer.upgraded.remoteId).to.equal(node!.id)
      const listed = await node!.waitForPeer(listener!.nodeKey.id)
      expect(listed.is_outbound).to.equal(true)
      expect(listed.node_info.moniker).to.equal(`rx-listener-${version.key}`)
      // rx-p2p pings every 2 s and gives up 1.5 s after an unanswered ping: staying up for 2.5 intervals means
      // CometBFT answered every ping.
      let closedWith: Error | undefined | null = null
      const sub = peer.mconn.closed$.subscribe((r) => { closedWith = r })
      await sleep(PING_MS * 2.5 + PONG_TIMEOUT_MS)
      sub.unsubscribe()
      expect(closedWith, `connection closed: ${String(closedWith)}`).to.equal(null)
      expect(peer.mconn.isClosed).to.equal(false)
      expect(pingLines(node!, 'Receive Ping', listener!.nodeKey.id)).to.be.at.least(2)
      expect(pingLines(node!, 'Send Pong', listener!.nodeKey.id)).to.be.at.least(2)
      await node!.waitForPeer(listener!.nodeKey.id)
      expect(listener!.refused).to.deep.equal([])
    })
  })
}

describe('interop handshake: rx-p2p answers CometBFT\'s own pings (60 s interval, RX_P2P_INTEROP_LONG=1)', function () {
  this.timeout(200_000)
  const nodes: CometNode[] = []
  const listeners: RxListener[] = []

  before(function () {
    if (process.env.RX_P2P_INTEROP_LONG !== '1') {
      console.log('      [interop] skipping the 2-minute ping test: set RX_P2P_INTEROP_LONG=1 to run it')
      this.skip()
    }
  })

  after(async function () {
    for (const n of nodes) await n.stop()
    for (const l of listeners) await l.close()
  })

  it('stays connected across two 60 s CometBFT ping intervals, answering each ping', async function () {
    const runs = COMET_VERSIONS.map((v) => ({ v, found: findCometBinary(v) })).filter((r) => r.found.path !== undefined)
    if (runs.length === 0) this.skip()
    await Promise.all(runs.map(async ({ v, found }) => {
      const node = await CometNode.create(found.path!, { moniker: `ping-${v.key}`, logLevel: 'p2p:debug,*:info' })
      nodes.push(node)
      const listener = await RxListener.start({ network: node.chainId, moniker: `rx-ping-${v.key}` })
      listeners.push(listener)
      await node.configure({ p2p: { persistent_peers: listener.address } })
      await node.start()
      const peer = await firstValueFrom(listener.peers$.pipe(timeout(20_000)))
      await node.waitFor('two pongs from rx-p2p', async () => pingLines(node, 'Receive Pong', listener.nodeKey.id) >= 2, 130_000, 1000)
      expect(pingLines(node, 'Send Ping', listener.nodeKey.id)).to.be.at.least(2)
      expect(peer.mconn.isClosed).to.equal(false)
      await node.waitForPeer(listener.nodeKey.id)
    }))
  })
})
