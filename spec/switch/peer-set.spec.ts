import { expect } from 'chai'
import { PeerSet } from '../../lib/switch/peer-set.js'
import { fakePeer } from '../../lib/testing/reactor.js'

describe('switch/PeerSet', () => {
  it('adds by ID, refuses a duplicate ID, and removes only the very same peer object', () => {
    const set = new PeerSet()
    const a = fakePeer('a')
    const a2 = fakePeer('a')
    expect(set.add(a)).to.equal(true)
    expect(set.add(a2)).to.equal(false)
    expect(set.remove(a2)).to.equal(false)
    expect(set.has(a.id)).to.equal(true)
    expect(set.contains(a)).to.equal(true)
    expect(set.contains(a2)).to.equal(false)
    expect(set.remove(a)).to.equal(true)
    expect(set.size).to.equal(0)
  })

  it('answers hasIp, keeps list snapshots stable, and iterates', () => {
    const set = new PeerSet()
    const a = fakePeer('a', { remoteAddress: { host: '10.0.0.1', port: 1 } })
    const b = fakePeer('b', { remoteAddress: { host: '10.0.0.2', port: 2 } })
    set.add(a)
    const before = set.list()
    set.add(b)
    expect(before).to.deep.equal([a])
    expect(set.list()).to.deep.equal([a, b])
    expect(set.list()).to.equal(set.list())
    expect(set.hasIp('10.0.0.2')).to.equal(true)
    expect(set.hasIp('10.0.0.3')).to.equal(false)
    expect([...set].map((p) => p.nodeInfo.moniker)).to.deep.equal(['a', 'b'])
  })

  it('counts inbound and outbound peers without the unconditional ones (CometBFT NumPeers)', () => {
    const set = new PeerSet()
    const peers = [fakePeer('o1', { outbound: true }), fakePeer('o2', { outbound: true }), fakePeer('i1'), fakePeer('u', { outbound: false })]
    for (const p of peers) set.add(p)
    const unconditional = new Set([peers[3]!.id])
    expect(set.count((id) => unconditional.has(id), 2)).to.deep.equal({ outbound: 2, inbound: 1, dialing: 2 })
    expect(set.count()).to.deep.equal({ outbound: 2, inbound: 2, dialing: 0 })
  })
})
