import { expect } from 'chai'
import { EMPTY } from 'rxjs'
import { crawlerNodeInfo, probeNode } from '../../lib/crawler/probe.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { PeerIdMismatchError } from '../../lib/errors.js'
import { PEX_CHANNEL_DESCRIPTOR } from '../../lib/pex/pex-reactor.js'
import { Switch } from '../../lib/switch/switch.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { validateNodeInfo } from '../../lib/wire/node-info.js'
import { PEX_CHANNEL } from '../../lib/wire/pex.js'

describe('crawler/probe', function () {
  this.timeout(10_000)

  it('crawlerNodeInfo: the PEX channel only, not listening, CometBFT defaults, valid', () => {
    const nodeKey = NodeKey.generate()
    const info = crawlerNodeInfo({ nodeKey, network: 'probe-net', moniker: 'rx-p2p-crawler', version: '0.1.0' })
    expect(info).to.deep.equal({
      protocolVersion: { p2p: 8, block: 11, app: 0 },
      id: nodeKey.id,
      listenAddr: '0.0.0.0:0',
      network: 'probe-net',
      version: '0.1.0',
      channels: Uint8Array.of(PEX_CHANNEL),
      moniker: 'rx-p2p-crawler',
      other: { txIndex: 'off', rpcAddress: '' }
    })
    expect(() => { validateNodeInfo(info) }).to.not.throw()
  })

  describe('over TCP (127.0.0.1)', () => {
    let sw: Switch
    beforeEach(async () => {
      sw = new Switch({
        nodeKey: NodeKey.generate(),
        network: 'their-net',
        moniker: 'probed',
        listenAddress: '127.0.0.1:0',
        allowDuplicateIp: true,
        reactors: [{ name: 'pex-owner', channels: [PEX_CHANNEL_DESCRIPTOR], run: () => EMPTY }]
      })
      await sw.start()
    })
    afterEach(async () => { await sw.stop() })

    it('reads the NodeInfo of a node of another network (no compatibility step) and hangs up', async () => {
      const nodeKey = NodeKey.generate()
      const info = await probeNode(sw.listenAddress!, {
        nodeKey,
        nodeInfo: crawlerNodeInfo({ nodeKey, network: 'not-their-net', moniker: 'prober', version: '' }),
        transport: new TcpTransport()
      })
      expect(info).to.deep.include({ id: sw.nodeId, network: 'their-net', moniker: 'probed' })
      expect(sw.peers.size).to.equal(0)
    })

    it('a key that is not the dialed ID: PeerIdMismatchError (the upgrade step\'s own check)', async () => {
      const nodeKey = NodeKey.generate()
      const wrong = new NetAddress(NodeKey.generate().id, sw.listenAddress!.host, sw.listenAddress!.port)
      let caught: unknown
      try {
        await probeNode(wrong, { nodeKey, nodeInfo: crawlerNodeInfo({ nodeKey, network: 'their-net', moniker: 'prober', version: '' }), transport: new TcpTransport() })
      } catch (err) {
        caught = err
      }
      expect(caught).to.be.instanceOf(PeerIdMismatchError)
      expect(caught).to.include({ expected: wrong.id, actual: sw.nodeId })
    })
  })
})
