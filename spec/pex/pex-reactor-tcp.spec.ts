import { expect } from 'chai'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { filter, firstValueFrom, timeout } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { decodeAddrBookJson } from '../../lib/pex/addr-book-file.js'
import { pexReactor, type LearnedAddress, type PexReactor } from '../../lib/pex/pex-reactor.js'
import type { DialSucceededEvent } from '../../lib/switch/events.js'
import { Switch } from '../../lib/switch/switch.js'

function node (name: string, pex: PexReactor): Switch {
  return new Switch({
    nodeKey: NodeKey.generate(),
    moniker: name,
    network: 'pex-tcp',
    listenAddress: '127.0.0.1:0',
    allowDuplicateIp: true, // three nodes on one IP
    dialRandomizerMs: 0,
    reactors: [pex]
  })
}

describe('pex/pexReactor over TCP (127.0.0.1)', function () {
  this.timeout(20_000)

  it('three Switches: C learns A\'s address through B and dials it; C\'s book is saved on stop', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rx-p2p-pex-'))
    const file = join(dir, 'addrbook.json')
    const pexB = pexReactor({ addrBookStrict: false })
    const b = node('B', pexB)
    await b.start()
    const pexA = pexReactor({ addrBookStrict: false, seeds: [b.listenAddress!] })
    const a = node('A', pexA)
    const pexC = pexReactor({ addrBookStrict: false, addrBookFile: file, seeds: [b.listenAddress!] })
    const c = node('C', pexC)
    const switches = [a, b, c]
    try {
      // A bootstraps from B: B learns A's self-reported address (A is inbound to B)
      const learnedByB = firstValueFrom(pexB.gossip$.pipe(filter((l) => l.address.id === a.nodeId), timeout(5000)))
      // (and A has B's answer before C appears: otherwise that answer may already name C, and A, whose seed B
      // is, dials C at once: C would then hear of A from A itself)
      const answeredA = firstValueFrom(pexA.events$.pipe(filter((e) => e.type === 'addrs-received'), timeout(5000)))
      await a.start()
      await answeredA
      const bLearned = await learnedByB
      expect(bLearned.result).to.equal('added')
      expect(bLearned.address.toString()).to.equal(a.listenAddress!.toString())

      // C knows only B (as a seed): it asks B, hears of A, and dials A at once (an answer from a seed)
      const heard = firstValueFrom(pexC.gossip$.pipe(filter((l: LearnedAddress) => l.address.id === a.nodeId), timeout(5000)))
      const dialedA = firstValueFrom(c.peerEvents$.pipe(
        filter((e): e is DialSucceededEvent => e.type === 'dialed' && e.address.id === a.nodeId), timeout(5000)))
      await c.start()
      const l = await heard
      expect(l.from.id).to.equal(b.nodeId)
      expect(l.source.id).to.equal(b.nodeId)
      expect(l.result).to.equal('added')
      const dialed = await dialedA
      expect(dialed.peer.isOutbound).to.equal(true)
      expect(c.peers.get(a.nodeId)?.isOutbound).to.equal(true)
      // A sees C as an inbound peer (its side of the handshake may finish a moment later)
      await firstValueFrom(a.peers$.pipe(filter((list) => list.some((p) => p.id === c.nodeId && !p.isOutbound)), timeout(5000)))
      // A, in turn, holds C's self-reported address
      expect(pexA.book.hasAddress(c.listenAddress!)).to.equal(true)
    } finally {
      await Promise.all(switches.map(async (sw) => { await sw.stop() })) // the books are saved
    }
    try {
      const saved = decodeAddrBookJson(await readFile(file, 'utf8'))
      expect(saved.addrs.map((k) => k.addr.id)).to.include(a.nodeId)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
