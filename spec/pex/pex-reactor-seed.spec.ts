import { expect } from 'chai'
import { filter, map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { pexReactor, type PexEvent } from '../../lib/pex/pex-reactor.js'
import type { Action } from '../../lib/switch/actions.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import type { Peer } from '../../lib/switch/peer.js'
import { envelope, peerAdded, peerRemoved, runReactor } from '../../lib/testing/reactor.js'
import type { NetAddress } from '../../lib/transport/net-address.js'
import { decodePexMessage } from '../../lib/wire/pex.js'
import {
  addr, addrsMessage, clock, describe as describeAction, drive, peerFor, pexPeer, REQUEST, startedBook, timeline, US, type Harness
} from './pex-reactor-helpers.js'
import { seededRandom } from './support.js'

function eventsOf<T extends PexEvent['type']> (r: { events: Array<{ t: number, event: PexEvent }> }, type: T): Array<{ t: number, event: Extract<PexEvent, { type: T }> }> {
  return r.events.filter((e) => e.event.type === type) as Array<{ t: number, event: Extract<PexEvent, { type: T }> }>
}

/**
 * Plays the Switch and the remote nodes: a dial connects after 5 ms (or fails, for `down`), the remote answers
 * a request after 10 ms with `answer(address)` (or never, for `silent`), and a stopPeer removes the peer after 1 ms.
 */
function network (h: Harness, options: { down?: Set<string>, silent?: Set<string>, answer?: (a: NetAddress) => NetAddress[] } = {}): Map<string, Peer> {
  const peers = new Map<string, Peer>()
  h.onAction((a: Action) => {
    if (a.type === 'dial') {
      h.at(h.now() + 5, () => {
        if (options.down?.has(a.address.id) === true) {
          h.event({ type: 'dialFailed', address: a.address, error: new Error('refused') })
          return
        }
        const peer = peerFor(a.address, true)
        peers.set(peer.id, peer)
        h.event(peerAdded(peer))
        h.event({ type: 'dialed', address: a.address, peer })
      })
    } else if (a.type === 'send' && typeof a.to !== 'string') {
      const to = a.to
      if (decodePexMessage(a.message).type !== 'request' || options.silent?.has(to.id) === true) return
      h.at(h.now() + 10, () => { h.envelope(to, addrsMessage(options.answer?.(to.socketAddr) ?? [])) })
    } else if (a.type === 'stopPeer' && typeof a.peer !== 'string') {
      const peer = a.peer
      h.at(h.now() + 1, () => { h.event(peerRemoved(peer, a.reason)) })
    }
  })
  return peers
}

describe('pex/pexReactor in seed mode', () => {
  it('crawls the book at start, 10 dials at a time: asks each crawled peer, marks it good and disconnects it once it answers', async () => {
    const vts = clock()
    const book = await startedBook(vts)
    const addrs = Array.from({ length: 20 }, (_, i) => addr(i))
    for (const a of addrs) book.addAddress(a, addr(999))
    const r = drive(pexReactor({ book, random: seededRandom(1), seedMode: true }), vts, { durationMs: 1000 }, (h) => { network(h) })
    const dials = r.actions.filter((a) => a.action.type === 'dial')
    // 10 at once; a dial frees its slot when it connects (5 ms): the other 10 follow then
    expect(dials.map((d) => d.t)).to.deep.equal([...new Array(10).fill(0), ...new Array(10).fill(5)])
    expect(new Set(dials.map((d) => (d.action as { address: NetAddress }).address.id)).size).to.equal(20)
    expect(timeline(r).filter((l) => l.includes('request'))).to.have.length(20)
    const stops = timeline(r).filter((l) => l.includes('stop'))
    expect(stops).to.have.length(20)
    expect(stops.every((l) => l.endsWith('graceful'))).to.equal(true)
    expect(eventsOf(r, 'disconnect').every((e) => e.event.reason === 'crawled')).to.equal(true)
    for (const a of addrs) expect(book.isGood(a)).to.equal(true)
  })

  it('crawls again every 30 s: an address that did not answer at most every 2 minutes, one that answered after 30 minutes; what crawled peers tell goes into the book', async () => {
    const crawl = async (recrawlAnsweredAfterMs?: number): Promise<Array<[number, string]>> => {
      const vts = clock()
      const book = await startedBook(vts)
      const first = [addr(1), addr(2)]
      for (const a of first) book.addAddress(a, addr(999))
      const told = new Map([[addr(1).id, [addr(3)]], [addr(3).id, [addr(4)]]])
      const r = drive(pexReactor({ book, random: seededRandom(2), seedMode: true, recrawlAnsweredAfterMs }), vts, { durationMs: 130_000 }, (h) => {
        network(h, { answer: (a) => told.get(a.id) ?? [], down: new Set([addr(2).id]) })
      })
      expect(book.size).to.equal(4)
      return r.actions.filter((a) => a.action.type === 'dial').map((a) => [a.t, (a.action as { address: NetAddress }).address.host] as [number, string])
        .sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1]))
    }
    expect(await crawl()).to.deep.equal([
      [0, addr(1).host], [0, addr(2).host], // at start (addr(2) is down)
      [30_000, addr(3).host], // addr(1) told us about it
      [60_000, addr(4).host], // addr(3) told us about it
      [120_000, addr(2).host] // 2 minutes after its failed crawl; addr(1) answered: not before 30 minutes
    ])
    // a re-crawl interval of 1 minute for answered peers: still never sooner than the 2-minute minimum
    expect((await crawl(60_000)).filter((d) => d[1] === addr(1).host)).to.deep.equal([[0, addr(1).host], [120_000, addr(1).host]])
  })

  it('answers an inbound peer\'s request once with getSelectionWithBias(30) and disconnects it gracefully; a second request is ignored', async () => {
    const ts = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) })
    const book = await startedBook(ts)
    for (let i = 0; i < 40; i++) book.addAddress(addr(i), addr(999))
    for (let i = 40; i < 80; i++) {
      book.addAddress(addr(i), addr(999))
      book.markGood(addr(i).id)
    }
    const pex = pexReactor({ book, random: seededRandom(3), seedMode: true, crawlPeerPeriodMs: 60_000 })
    const visitor = pexPeer('visitor', '70.0.0.1', false)
    let answer: NetAddress[] = []
    ts.run(({ hot, expectObservable }) => {
      const events$ = hot<PeerEvent>('a', { a: peerAdded(visitor) })
      const env$ = hot('--r-r', { r: envelope(visitor, 0, REQUEST) })
      const actions$ = runReactor(pex, { peerEvents$: events$, envelopes$: env$, scheduler: ts, nodeInfo: US })
      // (the crawl of the book at start dials: left out here)
      expectObservable(actions$.pipe(filter((a) => a.type !== 'dial'), map((a) => {
        const msg = a.type === 'send' ? decodePexMessage(a.message) : undefined
        if (msg?.type === 'addrs') answer = msg.addrs
        return describeAction(a)
      })), '^ 100ms !').toBe('--(xy)', {
        x: 'send visitor addrs:32',
        y: 'stop visitor graceful'
      })
    })
    // 81 addresses (the visitor's own included): 32 handed out, round(30% of 32) = 10 new, the rest old
    const old = answer.filter((a) => book.isGood(a))
    expect(answer.length - old.length).to.equal(10)
    expect(old).to.have.length(22)
  })

  it('answers requests of outbound peers under the usual rules, without disconnecting them', async () => {
    const vts = clock()
    const book = await startedBook(vts)
    book.addAddress(addr(1), addr(999))
    const out = pexPeer('out', '71.0.0.1', true)
    const r = drive(pexReactor({ book, random: seededRandom(4), seedMode: true, crawlPeerPeriodMs: 600_000 }), vts, { durationMs: 100 }, (h) => {
      h.at(1, () => { h.event(peerAdded(out)) })
      h.at(2, () => { h.envelope(out, REQUEST) })
    })
    expect(timeline(r).filter((l) => !l.startsWith('0: dial'))).to.deep.equal(['1: send out request', '2: send out addrs:1'])
  })

  it('drops a crawled peer that does not answer within a crawl period, and any non-persistent peer after the wait period', async () => {
    const vts = clock()
    const book = await startedBook(vts)
    const quiet = addr(1)
    book.addAddress(quiet, addr(999))
    const lingering = pexPeer('lingering', '72.0.0.1', false)
    const persistent = pexPeer('persistent', '73.0.0.1', false, { persistent: true })
    const r = drive(pexReactor({ book, random: seededRandom(5), seedMode: true, seedDisconnectWaitPeriodMs: 60_000, minTimeBetweenCrawlsMs: 10 * 60_000 }), vts, { durationMs: 100_000 }, (h) => {
      network(h, { silent: new Set([quiet.id]) })
      h.at(1, () => { h.event(peerAdded(lingering)); h.event(peerAdded(persistent)) })
    })
    const disconnects = eventsOf(r, 'disconnect').map((e) => [e.t, (e.event.peer as { name?: string }).name, e.event.reason])
    expect(disconnects).to.deep.equal([
      [60_000, quiet.host, 'crawl-timeout'], // connected at 5 ms and silent: the 30 s tick is 5 ms early, the 60 s one drops it
      [90_000, 'lingering', 'wait-period'] // connected at 1 ms: the 60 s tick is 1 ms early, the 90 s one drops it
    ])
  })

  it('dials its seeds at start instead of crawling the book', async () => {
    const vts = clock()
    const book = await startedBook(vts)
    book.addAddress(addr(1), addr(999))
    const seed = addr(50)
    const r = drive(pexReactor({ book, random: seededRandom(6), seedMode: true, seeds: [seed] }), vts, { durationMs: 100 }, (h) => { network(h) })
    expect(timeline(r)[0]).to.equal(`0: dial ${seed.host}`)
    expect(timeline(r).filter((l) => l.includes('dial'))).to.have.length(1)
  })
})
