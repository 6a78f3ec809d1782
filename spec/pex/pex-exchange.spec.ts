import { expect } from 'chai'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { addSelfReportedAddress, forgetExchange, observedAddress, onAddrs, onRequest, receivePex, requestAddrs } from '../../lib/pex/pex-exchange.js'
import { PEX_CHANNEL_DESCRIPTOR } from '../../lib/pex/pex-reactor.js'
import type { LearnedAddress, PexEvent, PexState } from '../../lib/pex/pex-state.js'
import type { Envelope } from '../../lib/switch/envelope.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import type { Peer } from '../../lib/switch/peer.js'
import { statefulReactor } from '../../lib/switch/reactor-runtime.js'
import { peerAdded, runReactor } from '../../lib/testing/reactor.js'
import { PEX_CHANNEL } from '../../lib/wire/pex.js'
import { addr, addrsMessage, describe as show, pexPeer, REQUEST, sectionBook, sectionState, US } from './pex-reactor-helpers.js'

/** The exchange rules alone: requests answered under the rate rule, answers to our requests (a command asks). */
function exchangeOnly (state: PexState): ReturnType<typeof statefulReactor<PexState, Peer>> {
  return statefulReactor<PexState, Peer>({
    name: 'pex-exchange',
    channels: [PEX_CHANNEL_DESCRIPTOR],
    state,
    envelope: (scope, env) => {
      const msg = receivePex(scope, env)
      if (msg === undefined) return
      if (msg.type === 'request') onRequest(scope, env.from)
      else onAddrs(scope, env.from, msg.addrs)
    },
    peerEvent: (scope, event) => {
      if (event.type === 'added' && !event.peer.isOutbound) addSelfReportedAddress(scope, event.peer)
      if (event.type === 'removed') forgetExchange(scope, event.peer)
    },
    command: (scope, peer) => { requestAddrs(scope, peer) }
  })
}

const env = (from: Peer, message: Uint8Array): Envelope => ({ from, chId: PEX_CHANNEL, message })

describe('pex/exchange rules', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('answers a peer\'s first two requests; a later one within a third of the period stops and bans it (request-too-soon)', async () => {
    const alice = pexPeer('alice', '61.0.0.1')
    const book = await sectionBook(scheduler, [addr(1), addr(2), addr(3)])
    const state = sectionState(book, { ensurePeersPeriodMs: 30 }) // at least 10 ms apart
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const events$ = hot<PeerEvent>('a-----------------', { a: peerAdded(alice) })
      const envelopes$ = hot('-r-r-r----------r-', { r: env(alice, REQUEST) })
      expectObservable(runReactor(exchangeOnly(state), { peerEvents$: events$, envelopes$, nodeInfo: US }).pipe(map(show)), '^----------------!').toBe('-a-a-(sb)-------c', {
        a: 'send alice addrs:4', s: 'stop alice PexViolationError/request-too-soon', b: 'ban alice', c: 'send alice addrs:3'
      })
      expectSubscriptions(envelopes$.subscriptions).toBe('^----------------!')
    })
    expect(book.isBanned(alice.socketAddr), 'banned in the book: no longer handed out').to.equal(true)
  })

  it('accepts one answer per request of ours, with the IP it saw as source; an answer to no request stops and bans', async () => {
    const bob = pexPeer('bob', '62.0.0.1', true)
    const book = await sectionBook(scheduler)
    const state = sectionState(book)
    const gossip: LearnedAddress[] = []
    const events: PexEvent[] = []
    state.gossip.subscribe((l) => gossip.push(l))
    state.events.subscribe((e) => events.push(e))
    const reactor = exchangeOnly(state)
    scheduler.run(({ hot, expectObservable }) => {
      const events$ = hot<PeerEvent>('a-------', { a: peerAdded(bob) })
      const envelopes$ = hot('----x-y-', { x: env(bob, addrsMessage([addr(5), addr(6)])), y: env(bob, addrsMessage([addr(7)])) })
      scheduler.schedule(() => { reactor.command(bob) }, 2)
      expectObservable(runReactor(reactor, { peerEvents$: events$, envelopes$, nodeInfo: US }).pipe(map(show))).toBe('--q---(sb)', {
        q: 'send bob request', s: 'stop bob PexViolationError/unsolicited-addrs', b: 'ban bob'
      })
    })
    expect(gossip.map((l) => [l.address.host, l.source.toString(), l.result])).to.deep.equal([
      [addr(5).host, observedAddress(bob).toString(), 'added'],
      [addr(6).host, observedAddress(bob).toString(), 'added']
    ])
    expect(events.map((e) => e.type)).to.deep.equal(['request-sent', 'addrs-received', 'violation'])
    expect(book.hasAddress(addr(7))).to.equal(false)
  })

  it('undecodable bytes stop without a ban, a bad IP stops and bans; a peer no longer connected is not heard', async () => {
    const hank = pexPeer('hank', '63.0.0.1')
    const ivan = pexPeer('ivan', '64.0.0.1', true)
    const gone = pexPeer('gone', '65.0.0.1')
    const badIp = Buffer.from('1209' + '0a07' + '1205' + Buffer.from('1.2.3').toString('hex'), 'hex')
    const book = await sectionBook(scheduler)
    const reactor = exchangeOnly(sectionState(book))
    scheduler.run(({ hot, expectObservable }) => {
      const events$ = hot<PeerEvent>('(ab)----', { a: peerAdded(hank), b: peerAdded(ivan) })
      const envelopes$ = hot('-g-h-i--', { g: env(gone, REQUEST), h: env(hank, Uint8Array.of(0xff, 0xff)), i: env(ivan, badIp) })
      scheduler.schedule(() => { reactor.command(ivan) }, 1)
      expectObservable(runReactor(reactor, { peerEvents$: events$, envelopes$, nodeInfo: US }).pipe(map(show))).toBe('-q-h-(sb)', {
        q: 'send ivan request', h: 'stop hank DecodeError', s: 'stop ivan PexViolationError/bad-address', b: 'ban ivan'
      })
    })
    expect(book.isBanned(hank.socketAddr)).to.equal(false)
  })
})
