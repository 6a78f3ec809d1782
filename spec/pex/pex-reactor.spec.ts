import { expect } from 'chai'
import { BehaviorSubject, map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { AlreadyConnectedError, DecodeError, PeerRejectedError, PexViolationError, SelfConnectionError, TransportError } from '../../lib/errors.js'
import { AddrBook } from '../../lib/pex/addr-book.js'
import { BUCKET_TYPE_NEW, DEFAULT_BAN_TIME_MS } from '../../lib/pex/params.js'
import { PEX_CHANNEL_DESCRIPTOR, pexReactor, type PexEvent } from '../../lib/pex/pex-reactor.js'
import { ZERO_TIME, timeFromMs, type KnownAddressInfo } from '../../lib/pex/known-address.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { envelope, fakePeer, peerAdded, peerRemoved, runReactor } from '../../lib/testing/reactor.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { decodePexMessage, encodePexAddrs } from '../../lib/wire/pex.js'
import {
  addr, addrsMessage, clock, describe as describeAction, drive, OUR_ADDRESS, peerFor, pexPeer, REQUEST, startedBook, timeline, US
} from './pex-reactor-helpers.js'
import { seededRandom } from './support.js'

function marbles (): TestScheduler {
  return new TestScheduler((actual, expected) => { expect(actual).to.deep.equal(expected) })
}

function dialedEvents (a: NetAddress): PeerEvent[] {
  const peer = peerFor(a, true)
  return [peerAdded(peer), { type: 'dialed', address: a, peer }]
}

function eventsOf<T extends PexEvent['type']> (r: { events: Array<{ t: number, event: PexEvent }> }, type: T): Array<{ t: number, event: Extract<PexEvent, { type: T }> }> {
  return r.events.filter((e) => e.event.type === type) as Array<{ t: number, event: Extract<PexEvent, { type: T }> }>
}

describe('pex/pexReactor', () => {
  it('declares channel 0x00 as CometBFT does: priority 1, send queue 10, messages up to 64000 bytes', () => {
    const pex = pexReactor()
    expect(pex.name).to.equal('pex')
    expect(pex.channels).to.deep.equal([{ id: 0x00, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 64000 }])
    expect(PEX_CHANNEL_DESCRIPTOR).to.equal(pex.channels[0])
  })

  describe('AddPeer', () => {
    it('asks an outbound peer for addresses once (one request outstanding) and adds an inbound peer\'s self-reported address', async () => {
      const ts = marbles()
      const book = await startedBook(ts)
      const pex = pexReactor({ book, random: seededRandom(1) })
      const out = pexPeer('out', '30.0.0.1', true)
      const inb = pexPeer('inb', '31.0.0.1', false)
      const gossip: string[] = []
      pex.gossip$.subscribe((l) => { gossip.push(`${l.address.toString()} from ${l.from.id} via ${l.source.toString()} ${l.result}`) })
      ts.run(({ hot, expectObservable }) => {
        // the second `added` of `out` models a reconnect: the old request is still outstanding, so no second request
        const events$ = hot<PeerEvent>('-a-b-c', { a: peerAdded(out), b: peerAdded(inb), c: peerRemoved(inb) })
        const actions$ = runReactor(pex, { peerEvents$: events$, scheduler: ts, nodeInfo: US, maxOutboundPeers: 0 })
        expectObservable(actions$.pipe(map(describeAction)), '^ 100ms !').toBe('-x', { x: 'send out request' })
      })
      const inbAddr = new NetAddress(inb.id, '31.0.0.1', 26656)
      expect(book.hasAddress(inbAddr)).to.equal(true)
      expect(book.get(inb.id)!.src.toString()).to.equal(inbAddr.toString())
      expect(gossip).to.deep.equal([`${inbAddr.toString()} from ${inb.id} via ${inbAddr.toString()} added`])
    })

    it('does not ask an outbound peer when the book already holds 1000 addresses', async () => {
      const ts = marbles()
      const book = await startedBook(ts)
      for (let i = 0; i < 1000; i++) book.addAddress(addr(i), addr(5000 + (i % 50)))
      expect(book.needMoreAddrs()).to.equal(false)
      const pex = pexReactor({ book, random: seededRandom(1) })
      ts.run(({ hot, expectObservable }) => {
        const events$ = hot<PeerEvent>('-a', { a: peerAdded(pexPeer('out', '30.0.0.1', true)) })
        expectObservable(runReactor(pex, { peerEvents$: events$, scheduler: ts, nodeInfo: US, maxOutboundPeers: 0 }), '^ 100ms !').toBe('')
      })
    })
  })

  describe('the source of an address is the IP we saw, not the one a peer reports (rx-p2p; tendermint#4846)', () => {
    it('an inbound peer\'s self-reported address goes into the book with the IP it connected from as its source', async () => {
      const vts = clock()
      const book = await startedBook(vts, { addrBookStrict: true })
      // connects from 31.0.0.1:51234, reports 40.1.0.1:26656
      const inb = fakePeer('liar', { channels: [PEX_CHANNEL_DESCRIPTOR.id], remoteAddress: { host: '31.0.0.1', port: 51234 }, nodeInfo: { listenAddr: '40.1.0.1:26656' } })
      const r = drive(pexReactor({ book, random: seededRandom(3) }), vts, { durationMs: 100, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(inb)) })
      })
      const reported = new NetAddress(inb.id, '40.1.0.1', 26656)
      const seen = new NetAddress(inb.id, '31.0.0.1', 51234)
      expect(book.get(inb.id)!.addr.toString()).to.equal(reported.toString())
      expect(book.get(inb.id)!.src.toString()).to.equal(seen.toString())
      expect(r.gossip.map((l) => [l.address.toString(), l.source.toString(), l.result])).to.deep.equal([[reported.toString(), seen.toString(), 'added']])
    })

    it('addresses a peer sends are sourced to the IP it connected from, whatever its listen_addr says', async () => {
      const vts = clock()
      const book = await startedBook(vts, { addrBookStrict: true })
      const teller = fakePeer('teller', { outbound: true, channels: [PEX_CHANNEL_DESCRIPTOR.id], remoteAddress: { host: '36.0.0.1', port: 26656 }, nodeInfo: { listenAddr: '77.7.0.1:26656' } })
      drive(pexReactor({ book, random: seededRandom(8) }), vts, { durationMs: 1000, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(teller)) })
        h.at(20, () => { h.envelope(teller, addrsMessage([addr(1), addr(2)])) })
      })
      for (const a of [addr(1), addr(2)]) {
        expect(book.get(a.id)!.src.toString()).to.equal(new NetAddress(teller.id, '36.0.0.1', 26656).toString())
        expect(book.get(a.id)!.src.groupKey()).to.equal('36.0.0.0')
      }
    })
  })

  describe('requests', () => {
    it('answers the 1st and 2nd request; a 3rd under ensurePeersPeriod/3 (10 s) after the 2nd stops the peer and bans it for 24 h', async () => {
      const ts = marbles()
      const book = await startedBook(ts)
      const alice = pexPeer('alice', '30.0.0.1', false)
      for (let i = 0; i < 40; i++) book.addAddress(addr(i), addr(900))
      const pex = pexReactor({ book, random: seededRandom(2) })
      ts.run(({ hot, expectObservable }) => {
        const events$ = hot<PeerEvent>('a', { a: peerAdded(alice) })
        // requests at 1 ms (free), 5001 ms (starts the clock) and 15000 ms (9999 ms later: too soon)
        const env$ = hot('-r 4999ms r 9998ms r', { r: envelope(alice, 0, REQUEST) })
        const actions$ = runReactor(pex, { peerEvents$: events$, envelopes$: env$, scheduler: ts, nodeInfo: US, maxOutboundPeers: 0 })
        expectObservable(actions$.pipe(map(describeAction)), '^ 20s !').toBe('-x 4999ms x 9998ms (yz)', {
          x: 'send alice addrs:32',
          y: 'stop alice PexViolationError/request-too-soon',
          z: 'ban alice' // the Switch holds the ban too: alice is refused when she reconnects
        })
      })
      // alice was in the book (an inbound peer's self-reported address): now banned, out of the buckets
      expect(book.isBanned(alice.socketAddr)).to.equal(true)
      expect(book.hasAddress(alice.socketAddr)).to.equal(false)
    })

    it('times each peer separately: a 3rd request 10 s after the 2nd is answered, and so is every later one 10 s apart', async () => {
      const ts = marbles()
      const book = await startedBook(ts)
      const bob = pexPeer('bob', '32.0.0.1', true)
      const pex = pexReactor({ book, random: seededRandom(3) })
      ts.run(({ hot, expectObservable }) => {
        const events$ = hot<PeerEvent>('a', { a: peerAdded(bob) })
        const env$ = hot('-r 1s r 9999ms r 9999ms r 5s r', { r: envelope(bob, 0, REQUEST) })
        const actions$ = runReactor(pex, { peerEvents$: events$, envelopes$: env$, scheduler: ts, nodeInfo: US, maxOutboundPeers: 0 })
        // frame 0: our own request to the outbound peer; then answers at 1, 1002, 11002, 21002; 26003 too soon
        expectObservable(actions$.pipe(map(describeAction)), '^ 40s !').toBe('qa 1s b 9999ms c 9999ms d 5s (ef)', {
          q: 'send bob request',
          a: 'send bob addrs:0',
          b: 'send bob addrs:0',
          c: 'send bob addrs:0',
          d: 'send bob addrs:0',
          e: 'stop bob PexViolationError/request-too-soon',
          f: 'ban bob'
        })
      })
    })

    it('answers with at most 250 addresses (a 1200-address book)', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      for (let i = 0; i < 1200; i++) book.addAddress(addr(i), addr(3000 + (i % 40)))
      const carol = pexPeer('carol', '33.0.0.1', false)
      const r = drive(pexReactor({ book, random: seededRandom(4) }), vts, { durationMs: 1000, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(carol)) })
        h.at(10, () => { h.envelope(carol, REQUEST) })
      })
      expect(timeline(r)).to.deep.equal(['10: send carol addrs:250'])
      const sent = decodePexMessage((r.actions[0]!.action as { message: Uint8Array }).message)
      expect(sent.type === 'addrs' && new Set(sent.addrs.map((a) => a.id)).size).to.equal(250)
    })

    it('never passes on our own address, nor (strict book) an unroutable one, even when the book file holds them', async () => {
      const vts = clock()
      const routable = Array.from({ length: 10 }, (_, i) => addr(i))
      const unroutable = new NetAddress('a'.repeat(40), '10.1.2.3', 26656)
      const entry = (a: NetAddress): KnownAddressInfo => ({
        addr: a, src: addr(99), buckets: [1], attempts: 0, bucketType: BUCKET_TYPE_NEW, lastAttempt: timeFromMs(vts.now()), lastSuccess: ZERO_TIME, lastBanTime: ZERO_TIME
      })
      const data = { key: '00112233445566778899aabb', addrs: [...routable, OUR_ADDRESS, unroutable].map(entry) }
      const book = new AddrBook({ store: { load: async () => data, save: async () => {} }, random: seededRandom(5), scheduler: vts })
      await book.start()
      expect(book.size).to.equal(12)
      const dave = pexPeer('dave', '34.0.0.1', false)
      const r = drive(pexReactor({ book, random: seededRandom(6) }), vts, { durationMs: 1000, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(dave)) })
        h.at(5, () => { h.envelope(dave, REQUEST) })
      })
      const msg = decodePexMessage((r.actions[0]!.action as { message: Uint8Array }).message)
      expect(msg.type).to.equal('addrs')
      const sent = msg.type === 'addrs' ? msg.addrs.map((a) => a.toString()).sort() : []
      // the ten routable entries, and dave's own self-reported address (added when it connected)
      expect(sent).to.deep.equal([...routable, dave.socketAddr].map((a) => a.toString()).sort())
      expect(eventsOf(r, 'request-answered').map((e) => e.event.count)).to.deep.equal([11])
    })
  })

  describe('address lists', () => {
    it('stops and bans a peer that sends addresses nobody asked for', async () => {
      const ts = marbles()
      const book = await startedBook(ts)
      const eve = pexPeer('eve', '35.0.0.1', false)
      const pex = pexReactor({ book, random: seededRandom(7) })
      ts.run(({ hot, expectObservable }) => {
        const events$ = hot<PeerEvent>('a', { a: peerAdded(eve) })
        const env$ = hot('--m', { m: envelope(eve, 0, addrsMessage([addr(1), addr(2)])) })
        expectObservable(runReactor(pex, { peerEvents$: events$, envelopes$: env$, scheduler: ts, nodeInfo: US, maxOutboundPeers: 0 }).pipe(map(describeAction)), '^ 100ms !')
          .toBe('--(xy)', { x: 'stop eve PexViolationError/unsolicited-addrs', y: 'ban eve' })
      })
      expect(book.isBanned(eve.socketAddr)).to.equal(true)
      expect(book.hasAddress(addr(1))).to.equal(false)
    })

    it('adds an answer to the book with the sender\'s address as source, emits each on gossip$, and treats a second list as unsolicited', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const frank = pexPeer('frank', '36.0.0.1', true)
      const list = [addr(1), addr(2), OUR_ADDRESS, addr(3)]
      const r = drive(pexReactor({ book, random: seededRandom(8) }), vts, { durationMs: 1000, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(frank)) })
        h.at(20, () => { h.envelope(frank, addrsMessage(list)) })
        h.at(30, () => { h.envelope(frank, addrsMessage([addr(4)])) })
      })
      expect(timeline(r)).to.deep.equal(['0: send frank request', '30: stop frank PexViolationError/unsolicited-addrs', '30: ban frank'])
      const src = new NetAddress(frank.id, '36.0.0.1', 26656)
      expect(r.gossip.map((l) => [l.address.toString(), l.source.toString(), l.from, l.result])).to.deep.equal([
        [addr(1).toString(), src.toString(), frank, 'added'],
        [addr(2).toString(), src.toString(), frank, 'added'],
        [OUR_ADDRESS.toString(), src.toString(), frank, 'self'],
        [addr(3).toString(), src.toString(), frank, 'added']
      ])
      expect(book.get(addr(2).id)!.src.toString()).to.equal(src.toString())
      expect(book.hasAddress(addr(4))).to.equal(false)
      expect(eventsOf(r, 'addrs-received').map((e) => [e.event.count, e.event.added])).to.deep.equal([[4, 3]])
    })

    it('stops and bans a peer whose answer carries more than 250 addresses', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const gina = pexPeer('gina', '37.0.0.1', true)
      const many = Array.from({ length: 251 }, (_, i) => addr(i))
      const r = drive(pexReactor({ book, random: seededRandom(9) }), vts, { durationMs: 1000, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(gina)) })
        h.at(20, () => { h.envelope(gina, addrsMessage(many)) })
      })
      expect(timeline(r)).to.deep.equal(['0: send gina request', '20: stop gina PexViolationError/too-many-addrs', '20: ban gina'])
      expect(book.size).to.equal(0)
    })

    it('stops a peer that sends undecodable bytes (DecodeError, no ban); a bad IP in a list stops and bans (bad-address)', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const hank = pexPeer('hank', '38.0.0.1', false)
      const ivan = pexPeer('ivan', '39.0.0.1', true)
      book.addAddress(hank.socketAddr, hank.socketAddr)
      // PexAddrs{addrs: [NetAddress{ip: "1.2.3", port: 1}]}
      const badIp = Buffer.from('1209' + '0a07' + '1205' + Buffer.from('1.2.3').toString('hex'), 'hex')
      const r = drive(pexReactor({ book, random: seededRandom(10) }), vts, { durationMs: 1000, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(hank)); h.event(peerAdded(ivan)) })
        h.at(10, () => { h.envelope(hank, Uint8Array.of(0xff, 0xff)) })
        h.at(11, () => { h.envelope(ivan, badIp) })
      })
      expect(timeline(r)).to.deep.equal(['0: send ivan request', '10: stop hank DecodeError', '11: stop ivan PexViolationError/bad-address', '11: ban ivan'])
      expect(book.isBanned(hank.socketAddr)).to.equal(false)
      expect(book.hasAddress(hank.socketAddr)).to.equal(true)
      expect((r.actions[1]!.action as { reason: Error }).reason).to.be.instanceOf(DecodeError)
      expect((r.actions[2]!.action as { reason: Error }).reason).to.be.instanceOf(PexViolationError)
    })

    it('ignores messages of a peer it already stopped', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const jo = pexPeer('jo', '40.0.0.1', false)
      const r = drive(pexReactor({ book, random: seededRandom(11) }), vts, { durationMs: 1000, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(jo)) })
        h.at(5, () => { h.envelope(jo, addrsMessage([addr(1)])); h.event(peerRemoved(jo, new PexViolationError('unsolicited-addrs', 'x'))); h.envelope(jo, REQUEST) })
      })
      expect(timeline(r)).to.deep.equal(['5: stop jo PexViolationError/unsolicited-addrs', '5: ban jo'])
    })
  })

  describe('ensurePeers', () => {
    it('dials from the book up to the outbound target at once, with newBias = min(outbound, 8)·10 + 10, skipping connected addresses', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const addrs = Array.from({ length: 40 }, (_, i) => addr(i))
      for (const a of addrs) book.addAddress(a, addr(999))
      const biases: number[] = []
      const pick = book.pickAddress.bind(book)
      book.pickAddress = (bias) => { biases.push(bias); return pick(bias) }
      const pex = pexReactor({ book, random: seededRandom(12) })
      let dials = 0
      const r = drive(pex, vts, { durationMs: 30_001 }, (h) => {
        h.onAction((a) => {
          if (a.type !== 'dial') return
          // the first three dials connect, the others fail
          const ok = dials++ < 3
          h.at(h.now() + 10, () => {
            if (ok) for (const e of dialedEvents(a.address)) h.event(e)
            else h.event({ type: 'dialFailed', address: a.address, error: new TransportError('refused') })
          })
        })
      })
      const at0 = r.actions.filter((a) => a.t === 0 && a.action.type === 'dial')
      expect(at0).to.have.length(10)
      expect(new Set(at0.map((a) => (a.action as { address: NetAddress }).address.id)).size).to.equal(10)
      // first run: no outbound peer yet (bias 10); the 30 s run: 3 outbound peers (bias 40), 7 to dial
      const ensure = eventsOf(r, 'ensure-peers').map((e) => [e.t, e.event.outbound, e.event.toDial, e.event.picked])
      expect(ensure).to.deep.equal([[0, 0, 10, 10], [30_000, 3, 7, 7]])
      expect(new Set(biases.slice(0, 10))).to.deep.equal(new Set([10]))
      expect(new Set(biases.slice(-7))).to.deep.equal(new Set([40]))
      const connected = new Set(r.actions.filter((a) => a.t === 0 && a.action.type === 'dial').slice(0, 3).map((a) => (a.action as { address: NetAddress }).address.id))
      const later = r.actions.filter((a) => a.t === 30_000 && a.action.type === 'dial').map((a) => (a.action as { address: NetAddress }).address.id)
      expect(later).to.have.length(7)
      for (const id of later) expect(connected.has(id)).to.equal(false)
      // each of the 3 outbound peers was asked for addresses (the book holds fewer than 1000)
      expect(timeline(r).filter((l) => l.includes('request'))).to.have.length(3)
      // each failed dial is an attempt in the book
      const failed = r.actions.filter((a) => a.action.type === 'dial').map((a) => (a.action as { address: NetAddress }).address).filter((a) => !connected.has(a.id))
      expect(failed).to.have.length(14)
      expect(failed.slice(0, 7).every((a) => book.get(a.id)!.attempts >= 1)).to.equal(true)
    })

    it('tries at most 3·numToDial picks, and caps the bias at 90 with 8 or more outbound peers', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      book.addAddress(addr(1), addr(999))
      book.addAddress(addr(2), addr(999))
      const biases: number[] = []
      const pick = book.pickAddress.bind(book)
      book.pickAddress = (bias) => { biases.push(bias); return pick(bias) }
      const outs = Array.from({ length: 9 }, (_, i) => pexPeer(`o${i}`, `50.${i}.0.1`, true))
      const failDials = (h: Parameters<Parameters<typeof drive>[3]>[0]): void => {
        h.onAction((a) => { if (a.type === 'dial') h.at(h.now() + 1, () => { h.event({ type: 'dialFailed', address: a.address, error: new TransportError('refused') }) }) })
      }
      drive(pexReactor({ book, random: seededRandom(13), markGoodAfterMs: Infinity }), vts, { durationMs: 1, maxOutboundPeers: 12 }, failDials)
      // no peer, target 12: 36 picks for 2 addresses
      expect(biases.length).to.equal(36)
      biases.length = 0
      const book2 = await startedBook(vts)
      book2.addAddress(addr(1), addr(999))
      const pick2 = book2.pickAddress.bind(book2)
      book2.pickAddress = (bias) => { biases.push(bias); return pick2(bias) }
      drive(pexReactor({ book: book2, random: seededRandom(14), markGoodAfterMs: Infinity }), vts, { durationMs: 30_001, maxOutboundPeers: 12 }, (h) => {
        failDials(h)
        h.at(1, () => { for (const p of outs) h.event(peerAdded(p)) })
      })
      // at 30 s: 9 outbound peers (bias 90), 3 to dial: 9 picks
      expect(biases.slice(-9)).to.deep.equal(new Array(9).fill(90))
    })

    it('asks one random peer for more on the periodic run when the book is short, and dials the seeds when nothing is picked', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const p1 = pexPeer('p1', '41.0.0.1', false)
      const p2 = pexPeer('p2', '42.0.0.1', false)
      const seed = addr(77)
      const r = drive(pexReactor({ book, random: seededRandom(15), seeds: [seed] }), vts, { durationMs: 30_001 }, (h) => {
        h.at(1, () => { h.event(peerAdded(p1)); h.event(peerAdded(p2)) })
        h.onAction((a) => {
          if (a.type === 'dial') h.at(h.now() + 5, () => { h.event({ type: 'dialFailed', address: a.address, error: new TransportError('refused') }) })
        })
      })
      // 0: empty book, no peer: the seed; 30 s: the book holds p1 and p2 (inbound, connected, so not picked):
      // one of them is asked, and the seed is dialed again
      const lines = timeline(r)
      expect(lines[0]).to.equal('0: dial 20.77.0.1')
      const at30 = lines.filter((l) => l.startsWith('30000: '))
      expect(at30).to.have.length(2)
      expect(at30[0]).to.match(/^30000: send p[12] request$/)
      expect(at30[1]).to.equal('30000: dial 20.77.0.1')
    })

    it('keeps learning at the outbound target (rx-p2p): asks a random peer every period while answers bring news, then less and less often; askWhenAtTarget: false stops as CometBFT', async () => {
      const run = async (askWhenAtTarget: boolean | undefined): Promise<number[]> => {
        const vts = clock()
        const book = await startedBook(vts)
        const target = addr(1)
        book.addAddress(target, addr(999))
        const p = peerFor(target, true, 'p')
        let answers = 0
        const r = drive(pexReactor({ book, random: seededRandom(30), askWhenAtTarget, markGoodAfterMs: Infinity }), vts, { durationMs: 900_000, maxOutboundPeers: 1 }, (h) => {
          h.at(1, () => { h.event(peerAdded(p)) })
          h.onAction((a) => {
            if (a.type !== 'send' || decodePexMessage(a.message).type !== 'request') return
            // the first two answers bring new addresses, later ones nothing new
            const n = answers++
            const list = n < 2 ? [addr(100 + n)] : []
            h.at(h.now() + 10, () => { h.envelope(p, addrsMessage(list)) })
          })
        })
        return r.actions.filter((a) => a.action.type === 'send').map((a) => a.t)
      }
      // news at 11 ms and 30.01 s; nothing new from 60 s on: every period until 90 s after the last news, then
      // after 4 periods (240 s), 4 (360 s), 8 (600 s), 16 (1080 s)…
      expect(await run(undefined)).to.deep.equal([1, 30_000, 60_000, 90_000, 120_000, 240_000, 360_000, 600_000])
      expect(await run(false)).to.deep.equal([1])
    })

    it('dials the seeds one at a time in random order until one connects; an answer from a seed dials its addresses at once', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const seeds = [addr(101), addr(102), addr(103)]
      const learned = [addr(1), addr(2), addr(3)]
      const r = drive(pexReactor({ book, random: seededRandom(16), seeds }), vts, { durationMs: 1000 }, (h) => {
        let n = 0
        h.onAction((a) => {
          if (a.type !== 'dial' || !seeds.some((s) => s.id === a.address.id)) return
          // the first seed tried is down, the second answers
          if (n++ === 0) {
            h.at(h.now() + 5, () => { h.event({ type: 'dialFailed', address: a.address, error: new TransportError('refused') }) })
            return
          }
          const peer = peerFor(a.address, true)
          h.at(h.now() + 5, () => { h.event(peerAdded(peer)); h.event({ type: 'dialed', address: a.address, peer }) })
          h.at(h.now() + 50, () => { h.envelope(peer, addrsMessage(learned)) })
        })
      })
      const dials = r.actions.filter((a) => a.action.type === 'dial').map((a) => [a.t, (a.action as { address: NetAddress }).address.host] as const)
      expect(dials.slice(0, 2).map((d) => d[0])).to.deep.equal([0, 5])
      expect(new Set(dials.slice(0, 2).map((d) => d[1])).size).to.equal(2)
      // the answer arrives at 55 ms: the three learned addresses are dialed right then (no tick needed)
      expect(dials.slice(2).map((d) => d[0])).to.deep.equal([55, 55, 55])
      expect(dials.slice(2).map((d) => d[1]).sort()).to.deep.equal(learned.map((a) => a.host).sort())
      // no third seed; the connected seed was asked once, and the fast path sent no new request
      expect(timeline(r).filter((l) => l.includes('request'))).to.deep.equal([`10: send ${dials[1]![1]} request`])
    })

    it('dial backoff: after n failures an address waits 2^n s + jitter; each failure is an attempt in the book; banned after maxAttemptsToDial', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const a = addr(5)
      book.addAddress(a, addr(999))
      const pex = pexReactor({ book, random: seededRandom(17), maxAttemptsToDial: 6, banTimeMs: 60 * 60_000 })
      const r = drive(pex, vts, { durationMs: 10 * 60_000 }, (h) => {
        h.onAction((act) => {
          if (act.type === 'dial') h.at(h.now() + 10, () => { h.event({ type: 'dialFailed', address: act.address, error: new TransportError('refused') }) })
        })
      })
      const dialTimes = r.actions.filter((x) => x.action.type === 'dial').map((x) => x.t / 1000)
      // attempts 1..4 wait 2..17 s (< 30 s: every tick); 5 waits 32 s (skip 150); 6 waits 64 s (skip 210, 240)
      expect(dialTimes).to.deep.equal([0, 30, 60, 90, 120, 180, 270])
      const skipped = eventsOf(r, 'dial-skipped').map((e) => [e.t / 1000, e.event.reason])
      expect(skipped.slice(0, 3)).to.deep.equal([[150, 'too-early'], [210, 'too-early'], [240, 'too-early']])
      // 7 failures > 6: the next pick bans it
      expect(skipped[3]).to.deep.equal([300, 'max-attempts'])
      expect(book.isBanned(a)).to.equal(true)
      // and the Switch is asked to hold a dial-only ban (it may call us: that is not refused)
      expect(timeline(r).filter((l) => l.includes('ban'))).to.deep.equal([`300000: ban ${a.host} (dial)`])
      expect(pex.attemptsToDial(a)).to.equal(7)
    })

    it('reinstates an expired ban when the book is short, and then dials the address again', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const a = addr(6)
      book.addAddress(a, addr(999))
      book.markBad(a, 45_000)
      const r = drive(pexReactor({ book, random: seededRandom(18) }), vts, { durationMs: 90_001 }, () => {})
      // 0 and 30 s: banned; at 60 s the ban has expired: reinstated (after the picks), dialed at 90 s
      expect(r.actions.filter((x) => x.action.type === 'dial').map((x) => x.t)).to.deep.equal([90_000])
      expect(book.isBanned(a)).to.equal(false)
    })

    it('marks good an outbound peer that stays connected 60 s, not one that leaves before', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const a = addr(7)
      const b = addr(8)
      book.addAddress(a, addr(999))
      book.addAddress(b, addr(999))
      const pa = peerFor(a, true)
      const pb = peerFor(b, true)
      const r = drive(pexReactor({ book, random: seededRandom(19) }), vts, { durationMs: 61_000, maxOutboundPeers: 0 }, (h) => {
        h.at(100, () => { h.event(peerAdded(pa)); h.event(peerAdded(pb)) })
        h.at(30_000, () => { h.event(peerRemoved(pb, new TransportError('reset'))) })
      })
      expect(book.isGood(a)).to.equal(true)
      expect(book.isGood(b)).to.equal(false)
      expect(eventsOf(r, 'marked-good').map((e) => [e.t, e.event.address.id])).to.deep.equal([[60_100, a.id]])
    })

    it('a dial to ourselves takes the address out of the book for good; an address already dialing is no failure', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const self = addr(9)
      const busy = addr(10)
      const other = addr(11) // another address of ours, found by the handshake
      book.addAddress(self, addr(999))
      book.addAddress(busy, addr(999))
      book.addAddress(other, addr(999))
      const pex = pexReactor({ book, random: seededRandom(20) })
      drive(pex, vts, { durationMs: 100 }, (h) => {
        h.onAction((act) => {
          if (act.type !== 'dial') return
          const error = act.address.id === self.id
            ? new PeerRejectedError('self', 'ourselves')
            : act.address.id === other.id ? new SelfConnectionError('connected to ourselves') : new AlreadyConnectedError('busy')
          h.at(h.now() + 1, () => { h.event({ type: 'dialFailed', address: act.address, error }) })
        })
      })
      expect(book.hasAddress(self)).to.equal(false)
      expect(book.isOurAddress(self)).to.equal(true)
      expect(book.addAddress(self, addr(999))).to.equal('self')
      expect(book.hasAddress(other)).to.equal(false)
      expect(book.isOurAddress(other)).to.equal(true)
      expect(book.get(busy.id)!.attempts).to.equal(0)
      expect(pex.attemptsToDial(busy)).to.equal(0)
    })

    it('starts after a random part of the period when the node already has peers, then runs every period', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      for (let i = 0; i < 5; i++) book.addAddress(addr(i), addr(999))
      const pex = pexReactor({ book, random: () => 0.5 })
      // one inbound peer already connected when the pipeline starts
      const r = drive(pex, vts, { durationMs: 45_001, withContext: (ctx) => ({ ...ctx, numPeers: () => ({ outbound: 0, inbound: 1, dialing: 0 }) }) }, () => {})
      expect(eventsOf(r, 'ensure-peers').map((e) => e.t)).to.deep.equal([15_000, 45_000])
      const empty = drive(pexReactor({ book: await startedBook(vts), random: () => 0.5 }), vts, { durationMs: 45_001 }, () => {})
      expect(eventsOf(empty, 'ensure-peers').map((e) => e.t)).to.deep.equal([0, 30_000])
    })
  })

  describe('life cycle', () => {
    it('starts the book (loading it) when the Switch starts and saves it when the Switch stops; stop() (which Switch.stop() awaits) resolves after the save', async () => {
      const vts = clock()
      const saved: number[] = []
      const store = { load: async () => undefined, save: async (d: { addrs: unknown[] }) => { saved.push(d.addrs.length) } }
      const book = new AddrBook({ store, random: seededRandom(21), scheduler: vts, addrBookStrict: false })
      const pex = pexReactor({ book, random: seededRandom(22) })
      const inb = pexPeer('k', '61.0.0.1', false)
      let completed = false
      pex.gossip$.subscribe({ complete: () => { completed = true } })
      const sub = runReactor(pex, { peerEvents$: new BehaviorSubject<PeerEvent>(peerAdded(inb)), scheduler: vts, nodeInfo: US }).subscribe()
      await new Promise((resolve) => setImmediate(resolve))
      expect(book.isStarted).to.equal(true)
      expect(book.size).to.equal(1)
      sub.unsubscribe()
      await pex.stop()
      expect(saved).to.deep.equal([1])
      expect(completed).to.equal(true)
    })

    it('a pipeline failure leaves the book running (the Switch restarts the reactor); the final stop saves it', async () => {
      const vts = clock()
      const book = await startedBook(vts)
      const pex = pexReactor({ book, random: seededRandom(23) })
      const failing: Reactor = { name: pex.name, channels: pex.channels, run: (ctx) => pex.run({ ...ctx, numPeers: () => { throw new Error('boom') } }) }
      let error: unknown
      runReactor(failing, { scheduler: vts, nodeInfo: US }).subscribe({ error: (e: unknown) => { error = e } })
      expect((error as Error).message).to.equal('boom')
      expect(book.isStarted).to.equal(true)
      const sub = runReactor(pex, { scheduler: vts, nodeInfo: US }).subscribe()
      expect(book.isStarted).to.equal(true)
      sub.unsubscribe()
      await pex.stop()
      expect(book.isStarted).to.equal(false)
    })

    it('builds its default book on the Switch\'s scheduler; a ban lasts 24 h of that clock', async () => {
      const vts = clock()
      const pex = pexReactor({ random: seededRandom(24), addrBookStrict: false })
      const eve = pexPeer('eve', '62.0.0.1', false)
      drive(pex, vts, { durationMs: 10, maxOutboundPeers: 0 }, (h) => {
        h.at(0, () => { h.event(peerAdded(eve)) })
        h.at(5, () => { h.envelope(eve, encodePexAddrs([addr(1)])) })
      })
      await pex.stop()
      const bannedAt = vts.now() - 5
      const advanceTo = (t: number): void => { vts.schedule(() => {}, t - vts.now()); vts.flush() }
      advanceTo(bannedAt + DEFAULT_BAN_TIME_MS - 1)
      pex.book.reinstateBadPeers()
      expect(pex.book.isBanned(eve.socketAddr)).to.equal(true)
      advanceTo(bannedAt + DEFAULT_BAN_TIME_MS + 1)
      pex.book.reinstateBadPeers()
      expect(pex.book.isBanned(eve.socketAddr)).to.equal(false)
      expect(pex.book.hasAddress(eve.socketAddr)).to.equal(true)
    })
  })
})
