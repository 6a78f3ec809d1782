import { expect } from 'chai'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { TransportError } from '../../lib/errors.js'
import { onDialed, onDialFailed } from '../../lib/pex/pex-ensure-peers.js'
import { onAddrs, receivePex } from '../../lib/pex/pex-exchange.js'
import { PEX_CHANNEL_DESCRIPTOR } from '../../lib/pex/pex-reactor.js'
import { answerOnce, crawlDialDone, isCrawlDial, onCrawledAnswer, onCrawledPeerAdded, startCrawl } from '../../lib/pex/pex-seed-mode.js'
import type { PexState } from '../../lib/pex/pex-state.js'
import type { Envelope } from '../../lib/switch/envelope.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import type { Peer } from '../../lib/switch/peer.js'
import { statefulReactor } from '../../lib/switch/reactor-runtime.js'
import { peerAdded, runReactor } from '../../lib/testing/reactor.js'
import type { NetAddress } from '../../lib/transport/net-address.js'
import { PEX_CHANNEL } from '../../lib/wire/pex.js'
import { addr, addrsMessage, describe as show, peerFor, pexPeer, REQUEST, sectionBook, sectionState, US } from './pex-reactor-helpers.js'

/** Seed mode alone: the crawl routine from the start, crawled peers asked and let go, inbound peers answered once. */
function seedModeOnly (state: PexState): ReturnType<typeof statefulReactor<PexState>> {
  return statefulReactor<PexState>({
    name: 'pex-seed-mode',
    channels: [PEX_CHANNEL_DESCRIPTOR],
    state,
    start: (scope) => { startCrawl(scope) },
    envelope: (scope, env) => {
      const msg = receivePex(scope, env)
      if (msg === undefined) return
      if (msg.type === 'request' && !env.from.isOutbound) answerOnce(scope, env.from)
      else if (msg.type === 'addrs' && onAddrs(scope, env.from, msg.addrs)) onCrawledAnswer(scope, env.from)
    },
    peerEvent: (scope, event) => {
      const done = (): void => { crawlDialDone(scope) }
      if (event.type === 'added' && isCrawlDial(scope, event.peer)) onCrawledPeerAdded(scope, event.peer)
      if (event.type === 'dialed') onDialed(scope, event.address, done)
      if (event.type === 'dialFailed') onDialFailed(scope, event.address, event.error, done)
    }
  })
}

const env = (from: Peer, message: Uint8Array): Envelope => ({ from, chId: PEX_CHANNEL, message })
const failed = (address: NetAddress): PeerEvent => ({ type: 'dialFailed', address, error: new TransportError('connection refused') })

describe('pex/seed mode', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('crawls the book at start with a bounded number of dials; an outcome lets the next address go', async () => {
    const book = await sectionBook(scheduler, [addr(1), addr(2), addr(3)])
    const state = sectionState(book, { seedMode: true, maxConcurrentCrawlDials: 2 })
    scheduler.run(({ hot, expectObservable }) => {
      const peerEvents$ = hot<PeerEvent>('----f--', { f: failed(addr(1)) })
      const out$ = runReactor(seedModeOnly(state), { peerEvents$, nodeInfo: US }).pipe(map(show))
      expectObservable(out$, '^------!').toBe('(ab)d--', { a: 'dial 20.1.0.1', b: 'dial 20.2.0.1', d: 'dial 20.3.0.1' })
    })
    expect(state.crawlDialsInFlight).to.equal(2)
  })

  it('asks a crawled peer at once; its answer goes into the book, marks it good and disconnects it', async () => {
    const target = addr(1)
    const crawled = peerFor(target, true, 'crawled')
    const book = await sectionBook(scheduler, [target])
    const state = sectionState(book, { seedMode: true })
    scheduler.run(({ hot, expectObservable }) => {
      const peerEvents$ = hot<PeerEvent>('--(ad)--', { a: peerAdded(crawled), d: { type: 'dialed', address: target, peer: crawled } }) // the Switch tells added before dialed
      const envelopes$ = hot('------x-', { x: env(crawled, addrsMessage([addr(2)])) })
      expectObservable(runReactor(seedModeOnly(state), { peerEvents$, envelopes$, nodeInfo: US }).pipe(map(show)), '^-------!').toBe('d-q---s-', {
        d: `dial ${target.host}`, q: 'send crawled request', s: 'stop crawled graceful'
      })
    })
    expect(book.hasAddress(addr(2))).to.equal(true)
    expect(book.isGood(target), 'marked good: moved to an old bucket').to.equal(true)
  })

  it('answers an inbound peer\'s request once and disconnects it gracefully; a second request is ignored', async () => {
    const asker = pexPeer('asker', '66.0.0.1')
    const book = await sectionBook(scheduler, [addr(1), addr(2)])
    const state = sectionState(book, { seedMode: true, seeds: [addr(50)] })
    scheduler.run(({ hot, expectObservable }) => {
      const peerEvents$ = hot<PeerEvent>('a------', { a: peerAdded(asker) })
      const envelopes$ = hot('--r-r--', { r: env(asker, REQUEST) })
      expectObservable(runReactor(seedModeOnly(state), { peerEvents$, envelopes$, nodeInfo: US }).pipe(map(show)), '^------!').toBe('s-(ab)-', {
        s: `dial ${addr(50).host}`, a: 'send asker addrs:2', b: 'stop asker graceful'
      })
    })
  })
})
