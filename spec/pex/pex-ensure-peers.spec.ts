import { expect } from 'chai'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { TransportError } from '../../lib/errors.js'
import { onDialed, onDialFailed, startEnsurePeers } from '../../lib/pex/pex-ensure-peers.js'
import { PEX_CHANNEL_DESCRIPTOR } from '../../lib/pex/pex-reactor.js'
import type { PexEvent, PexState } from '../../lib/pex/pex-state.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { statefulReactor } from '../../lib/switch/reactor-runtime.js'
import { runReactor } from '../../lib/testing/reactor.js'
import type { NetAddress } from '../../lib/transport/net-address.js'
import { addr, describe as show, peerFor, sectionBook, sectionState, US } from './pex-reactor-helpers.js'

/** Ensure-peers alone: its routine from the start, and the outcomes of its dials. */
function ensurePeersOnly (state: PexState): ReturnType<typeof statefulReactor<PexState>> {
  return statefulReactor<PexState>({
    name: 'pex-ensure-peers',
    channels: [PEX_CHANNEL_DESCRIPTOR],
    state,
    start: (scope) => {
      scope.state.ticking = true
      scope.state.startedAt = scope.now()
      startEnsurePeers(scope)
    },
    peerEvent: (scope, event) => {
      if (event.type === 'dialed') onDialed(scope, event.address, () => {})
      if (event.type === 'dialFailed') onDialFailed(scope, event.address, event.error, () => {})
    }
  })
}

const failed = (address: NetAddress): PeerEvent => ({ type: 'dialFailed', address, error: new TransportError('connection refused') })
const dialed = (address: NetAddress): PeerEvent => ({ type: 'dialed', address, peer: peerFor(address, true) })

describe('pex/ensure-peers', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('with no peer dials from the book at once, up to the outbound target; each period again, honouring the backoff of a failed address', async () => {
    const book = await sectionBook(scheduler, [addr(1), addr(2)])
    const state = sectionState(book, { ensurePeersPeriodMs: 10 })
    const events: Array<{ t: number, e: PexEvent }> = []
    state.events.subscribe((e) => events.push({ t: scheduler.now(), e }))
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const peerEvents$ = hot<PeerEvent>('---f-------', { f: failed(addr(1)) })
      expectObservable(runReactor(ensurePeersOnly(state), { peerEvents$, nodeInfo: US, maxOutboundPeers: 2 }).pipe(map(show)), '^---------------!').toBe('(ab)', {
        a: `dial ${addr(1).host}`, b: `dial ${addr(2).host}`
      })
      expectSubscriptions(peerEvents$.subscriptions).toBe('^---------------!')
    })
    expect(events.map(({ t, e }) => `${t}: ${e.type}${e.type === 'dial-skipped' ? ` ${e.address.host} ${e.reason}` : ''}`)).to.deep.equal([
      '0: ensure-peers', '0: dial', '0: dial',
      '10: ensure-peers', `10: dial-skipped ${addr(1).host} too-early` // addr(2) is still dialing: one to dial, and addr(1) must wait
    ])
    expect(state.backoff.attempts(addr(1))).to.equal(1)
  })

  it('an empty book falls back to the seeds: one at a time in random order, until one connects', async () => {
    const seeds = [addr(101), addr(102), addr(103)]
    const book = await sectionBook(scheduler)
    const state = sectionState(book, { ensurePeersPeriodMs: 10, seeds })
    scheduler.run(({ hot, expectObservable }) => {
      const peerEvents$ = hot<PeerEvent>('--f-d-----', { f: failed(addr(103)), d: dialed(addr(101)) })
      expectObservable(runReactor(ensurePeersOnly(state), { peerEvents$, nodeInfo: US }).pipe(map(show)), '^--------!').toBe('a-b------', {
        a: `dial ${addr(103).host}`, b: `dial ${addr(101).host}`
      })
    })
    expect(state.seedQueue, 'the round ends at the first seed that connects').to.equal(undefined)
    expect(state.backoff.attempts(addr(103)), 'a seed that fails is no dial attempt of the book').to.equal(0)
  })

  it('at the target dials nothing and, with askWhenAtTarget off, asks nobody', async () => {
    const book = await sectionBook(scheduler, [addr(1), addr(2)])
    const state = sectionState(book, { ensurePeersPeriodMs: 10, askWhenAtTarget: false })
    scheduler.run(({ expectObservable }) => {
      expectObservable(runReactor(ensurePeersOnly(state), { nodeInfo: US, maxOutboundPeers: 0 }), '^-------------------!').toBe('')
    })
  })
})
