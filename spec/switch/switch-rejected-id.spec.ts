// A refused inbound connection names the peer once the secret handshake has authenticated it: the Switch's
// 'rejected' event carries the remote's ID when a later step (NodeInfo compatibility) refuses it.
import { expect } from 'chai'
import { filter, firstValueFrom, ignoreElements, timeout } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { IncompatiblePeerError } from '../../lib/errors.js'
import type { PeerRejectedEvent } from '../../lib/switch/events.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { Switch } from '../../lib/switch/switch.js'

const quiet: Reactor = { name: 'quiet', channels: [{ id: 0x70, priority: 1 }], run: (ctx) => ctx.envelopes$.pipe(ignoreElements()) }

describe('switch: rejected inbound peers over TCP', function () {
  this.timeout(10_000)
  const switches: Switch[] = []
  after(async () => { await Promise.all(switches.map(async (s) => { await s.stop() })) })

  it('names the authenticated peer in the rejected event when its NodeInfo is incompatible (another network)', async () => {
    const a = new Switch({ nodeKey: NodeKey.generate(), network: 'net-a', listenAddress: '127.0.0.1:0', allowDuplicateIp: true, reactors: [quiet] })
    const b = new Switch({ nodeKey: NodeKey.generate(), network: 'net-b', allowDuplicateIp: true, reactors: [quiet] })
    switches.push(a, b)
    await a.start()
    await b.start()
    const rejected = firstValueFrom(a.peerEvents$.pipe(filter((e): e is PeerRejectedEvent => e.type === 'rejected'), timeout(5000)))
    const dialed = await b.dial(a.listenAddress!).then(() => undefined, (err: unknown) => err)
    expect(dialed).to.be.instanceOf(IncompatiblePeerError)
    const event = await rejected
    expect(event.error).to.be.instanceOf(IncompatiblePeerError)
    expect((event.error as IncompatiblePeerError).rule).to.equal('network')
    expect(event.peerId).to.equal(b.nodeId)
  })
})
