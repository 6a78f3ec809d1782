import { expect } from 'chai'
import { map, merge } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { actions } from '../../lib/switch/actions.js'
import { mapToActions } from '../../lib/switch/map-to-actions.js'
import { ofEventType } from '../../lib/switch/of-event-type.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { envelope, fakeNodeId, fakePeer, peerAdded, peerRemoved, runReactor } from '../../lib/testing/reactor.js'

const ECHO = 0x70
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

const echo: Reactor = {
  name: 'echo',
  channels: [{ id: ECHO, priority: 1 }],
  run: (ctx) => ctx.envelopes$.pipe(mapToActions((env) => actions.trySend(env.from, ECHO, env.message)))
}

describe('testing/runReactor', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('feeds a reactor only the envelopes of its channels, as the Switch does', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-b-', { a: envelope(alice, ECHO, 'ping'), b: envelope(alice, 0x71, 'other') })
      expectObservable(runReactor(echo, { envelopes$ })).toBe('-a---', { a: actions.trySend(alice, ECHO, bytes('ping')) })
    })
  })

  it('keeps ctx.peers and ctx.peers$ in step with the events, before the reactor sees each event', () => {
    const alice = fakePeer('alice')
    const bob = fakePeer('bob', { outbound: true })
    const sizes: Reactor['run'] = (ctx) => merge(
      ctx.peerEvents$.pipe(map(() => actions.broadcast(0, bytes(`${ctx.peers.size}/${ctx.numPeers().outbound}`)))),
      ctx.peers$.pipe(map((list) => actions.broadcast(1, bytes(list.map((p) => p.id.slice(0, 4)).join(',')))))
    )
    scheduler.run(({ hot, expectObservable }) => {
      const peerEvents$ = hot<PeerEvent>('--a---b---r-', { a: peerAdded(alice), b: peerAdded(bob), r: peerRemoved(alice, new Error('gone')) })
      expectObservable(runReactor(sizes, { peerEvents$ })).toBe('s-(pe)(qf)(rg)', {
        s: actions.broadcast(1, bytes('')),
        p: actions.broadcast(1, bytes(alice.id.slice(0, 4))),
        e: actions.broadcast(0, bytes('1/0')),
        q: actions.broadcast(1, bytes(`${alice.id.slice(0, 4)},${bob.id.slice(0, 4)}`)),
        f: actions.broadcast(0, bytes('2/1')),
        r: actions.broadcast(1, bytes(bob.id.slice(0, 4))),
        g: actions.broadcast(0, bytes('1/1'))
      })
    })
  })

  it('counts the reactor\'s dial actions as dialing until their outcome arrives', () => {
    const target = new NetAddress(fakeNodeId('target'), '10.0.0.9', 26656)
    const dialer: Reactor['run'] = (ctx) => merge(
      ctx.peerEvents$.pipe(
        ofEventType('added', 'dialFailed'),
        map(() => actions.broadcast(0, bytes(`dialing=${ctx.numPeers().dialing} known=${String(ctx.isDialingOrExistingAddress(target))}`)))
      ),
      [actions.dial(target)]
    )
    scheduler.run(({ hot, expectObservable }) => {
      const other = fakePeer('other')
      const peerEvents$ = hot<PeerEvent>('--a--f', { a: peerAdded(other), f: { type: 'dialFailed', address: target, error: new Error('refused') } })
      expectObservable(runReactor(dialer, { peerEvents$ })).toBe('d-a--f', {
        d: actions.dial(target),
        a: actions.broadcast(0, bytes('dialing=1 known=true')),
        f: actions.broadcast(0, bytes('dialing=0 known=false'))
      })
    })
  })

  it('is cold: each subscription runs the reactor on a fresh context', () => {
    const alice = fakePeer('alice')
    let runs = 0
    const counting: Reactor['run'] = (ctx) => { runs++; return echo.run(ctx) }
    scheduler.run(({ cold, expectObservable }) => {
      const out$ = runReactor(counting, { envelopes$: cold('-a|', { a: envelope(alice, ECHO, 'x') }) })
      expectObservable(out$).toBe('-a|', { a: actions.trySend(alice, ECHO, bytes('x')) })
      expectObservable(out$).toBe('-a|', { a: actions.trySend(alice, ECHO, bytes('x')) })
    })
    expect(runs).to.equal(2)
  })

  it('fake peers refuse channels they did not advertise and a full queue, and record what was sent', async () => {
    const alice = fakePeer('alice', { channels: [ECHO], sendQueueCapacity: 1 })
    expect(alice.trySend(0x71, bytes('x'))).to.equal(false)
    expect(alice.trySend(ECHO, bytes('x'))).to.equal(true)
    expect(await alice.send(ECHO, bytes('y'))).to.equal(false)
    expect(alice.sent).to.deep.equal([{ chId: ECHO, message: bytes('x') }])
    alice.close(new Error('bye'))
    expect(alice.isRunning).to.equal(false)
  })

  it('subscribes the inputs once per run of the reactor and unsubscribes them with its result', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const envelopes$ = hot('-a---a-', { a: envelope(alice, ECHO, 'ping') })
      const peerEvents$ = hot<PeerEvent>('--e----', { e: peerAdded(alice) })
      expectObservable(runReactor(echo, { envelopes$, peerEvents$ }), '^---!').toBe('-a---', { a: actions.trySend(alice, ECHO, bytes('ping')) })
      expectSubscriptions(envelopes$.subscriptions).toBe('^---!')
      expectSubscriptions(peerEvents$.subscriptions).toBe('^---!')
    })
  })
})
