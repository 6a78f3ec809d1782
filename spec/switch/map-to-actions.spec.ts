import { expect } from 'chai'
import { TestScheduler } from 'rxjs/testing'
import { actions } from '../../lib/switch/actions.js'
import { mapToActions } from '../../lib/switch/map-to-actions.js'
import { DecodeError, ReactorError } from '../../lib/errors.js'
import { envelope, fakePeer } from '../../lib/testing/reactor.js'
import type { Action } from '../../lib/switch/actions.js'
import type { Envelope } from '../../lib/switch/envelope.js'

const CH = 0x70
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('switch/mapToActions', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('maps each envelope to one action, several, or none, keeping time and completion', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ cold, expectObservable }) => {
      const env$ = cold('-a-b-c-|', { a: envelope(alice, CH, 'one'), b: envelope(alice, CH, 'two'), c: envelope(alice, CH, 'none') })
      const out$ = env$.pipe(mapToActions((env) => {
        const text = new TextDecoder().decode(env.message)
        if (text === 'one') return actions.trySend(env.from, CH, env.message)
        if (text === 'two') return [actions.broadcast(CH, env.message), actions.stopPeer(env.from)]
        return undefined
      }))
      expectObservable(out$).toBe('-a-(bc)|', {
        a: actions.trySend(alice, CH, bytes('one')),
        b: actions.broadcast(CH, bytes('two')),
        c: actions.stopPeer(alice)
      })
    })
  })

  it('turns a throwing handler into stopping the sender, and goes on with the next envelope', () => {
    const alice = fakePeer('alice')
    const bob = fakePeer('bob')
    const decodeFailure = new DecodeError('bad varint')
    let seen: Action[] = []
    scheduler.run(({ hot, expectObservable }) => {
      const env$ = hot('-a-b-c-d-', {
        a: envelope(alice, CH, 'ok'),
        b: envelope(bob, CH, 'boom'),
        c: envelope(bob, CH, 'decode'),
        d: envelope(alice, CH, 'ok')
      })
      const out$ = env$.pipe(mapToActions((env) => {
        const text = new TextDecoder().decode(env.message)
        if (text === 'boom') throw new Error('kaboom')
        if (text === 'decode') throw decodeFailure
        return actions.trySend(env.from, CH, env.message)
      }))
      out$.subscribe((a) => { seen = [...seen, a] })
      expectObservable(out$).toBe('-a-b-c-d-', {
        a: actions.trySend(alice, CH, bytes('ok')),
        b: actions.stopPeer(bob, new ReactorError('reactor failed on a message: kaboom')),
        c: actions.stopPeer(bob, decodeFailure),
        d: actions.trySend(alice, CH, bytes('ok'))
      })
    })
    const stop = seen[1]
    expect(stop?.type).to.equal('stopPeer')
    if (stop?.type === 'stopPeer') {
      expect(stop.reason).to.be.instanceOf(ReactorError)
      expect((stop.reason as Error).cause).to.be.instanceOf(Error)
    }
    const kept = seen[2]
    if (kept?.type === 'stopPeer') expect(kept.reason).to.equal(decodeFailure)
  })

  it('passes an upstream error through', () => {
    scheduler.run(({ cold, expectObservable }) => {
      const out$ = cold<Envelope>('--#', undefined, new Error('upstream')).pipe(mapToActions(() => undefined))
      expectObservable(out$).toBe('--#', undefined, new Error('upstream'))
    })
  })

  it('subscribes its source once, for as long as the result is subscribed or until the source ends', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const done$ = cold('-a-|', { a: envelope(alice, CH, 'x') })
      expectObservable(done$.pipe(mapToActions((env) => actions.stopPeer(env.from)))).toBe('-s-|', { s: actions.stopPeer(alice) })
      expectSubscriptions(done$.subscriptions).toBe('^--!')
      const live$ = hot('-a-a-a-', { a: envelope(alice, CH, 'x') })
      expectObservable(live$.pipe(mapToActions(() => { throw new Error('no') })), '^--!').toBe('-s-', {
        s: actions.stopPeer(alice, new ReactorError('reactor failed on a message: no'))
      })
      expectSubscriptions(live$.subscriptions).toBe('^--!')
    })
  })
})
