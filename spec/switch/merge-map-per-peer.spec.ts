import { expect } from 'chai'
import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { actions, type Action } from '../../lib/switch/actions.js'
import { mergeMapPerPeer } from '../../lib/switch/merge-map-per-peer.js'
import { ReactorError } from '../../lib/errors.js'
import { envelope, fakePeer } from '../../lib/testing/reactor.js'

const CH = 0x30
const text = (m: Uint8Array): string => new TextDecoder().decode(m)
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('switch/mergeMapPerPeer', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('handles one envelope at a time per peer and holds the peer\'s reading while the bound is reached', () => {
    const alice = fakePeer('alice')
    const holds: number[] = []
    scheduler.run(({ hot, cold, expectObservable }) => {
      const env$ = hot('-a-b--c--------', { a: envelope(alice, CH, 'a'), b: envelope(alice, CH, 'b'), c: envelope(alice, CH, 'c') })
      const out$ = env$.pipe(mergeMapPerPeer((env) => cold('----(x|)', { x: actions.trySend(env.from, CH, env.message) })))
      // reading: held from a (frame 1) until c is done (frame 13)
      for (const frame of [0, 2, 8, 12, 14]) scheduler.schedule(() => { holds.push(alice.holds) }, frame)
      expectObservable(out$).toBe('-----a---b---c-', {
        a: actions.trySend(alice, CH, bytes('a')),
        b: actions.trySend(alice, CH, bytes('b')),
        c: actions.trySend(alice, CH, bytes('c'))
      })
    })
    expect(holds).to.deep.equal([0, 1, 1, 1, 0])
    expect(alice.holdCount).to.equal(1)
  })

  it('does not slow one peer down for another', () => {
    const alice = fakePeer('alice')
    const bob = fakePeer('bob')
    scheduler.run(({ hot, cold, expectObservable }) => {
      const env$ = hot('-a-A-b-', { a: envelope(alice, CH, 'a1'), A: envelope(alice, CH, 'a2'), b: envelope(bob, CH, 'b1') })
      const out$ = env$.pipe(
        mergeMapPerPeer((env) => cold('------(x|)', { x: actions.trySend(env.from, CH, env.message) })),
        map((a) => a.type === 'send' ? text(a.message) : a.type)
      )
      expectObservable(out$).toBe('-------x---y-z', { x: 'a1', y: 'b1', z: 'a2' })
    })
    expect(bob.holdCount).to.equal(1)
    expect(alice.holds).to.equal(0)
  })

  it('runs up to `concurrency` per peer at once', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ hot, cold, expectObservable }) => {
      const env$ = hot('-abc', { a: envelope(alice, CH, 'a'), b: envelope(alice, CH, 'b'), c: envelope(alice, CH, 'c') })
      const out$ = env$.pipe(
        mergeMapPerPeer((env) => cold('---(x|)', { x: actions.trySend(env.from, CH, env.message) }), { concurrency: 2 }),
        map((a) => a.type === 'send' ? text(a.message) : a.type)
      )
      expectObservable(out$).toBe('----ab-c', { a: 'a', b: 'b', c: 'c' })
    })
  })

  it('stops the sender when its handler fails, and goes on', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ hot, cold, expectObservable }) => {
      const env$ = hot('-a-b-', { a: envelope(alice, CH, 'bad'), b: envelope(alice, CH, 'good') })
      const out$ = env$.pipe(mergeMapPerPeer((env) => text(env.message) === 'bad'
        ? cold<Action>('-#', undefined, new Error('handler failed'))
        : cold('-(x|)', { x: actions.trySend(env.from, CH, env.message) })))
      expectObservable(out$).toBe('--s-x', {
        s: actions.stopPeer(alice, new ReactorError('reactor failed on a message: handler failed')),
        x: actions.trySend(alice, CH, bytes('good'))
      })
    })
    expect(alice.holds).to.equal(0)
  })

  it('accepts Promises and arrays of actions, and completes after the last handler', async () => {
    const alice = fakePeer('alice')
    const { from, lastValueFrom, toArray } = await import('rxjs')
    const source = from([envelope(alice, CH, 'a'), envelope(alice, CH, 'b')])
    const out = await lastValueFrom(source.pipe(
      mergeMapPerPeer(async (env) => [actions.trySend(env.from, CH, env.message), actions.broadcast(CH, env.message)]),
      toArray()
    ))
    expect(out.map((a) => a.type)).to.deep.equal(['send', 'broadcast', 'send', 'broadcast'])
    expect(alice.holds).to.equal(0)
  })

  it('releases every hold when unsubscribed', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ hot, cold, expectObservable }) => {
      const env$ = hot('-ab', { a: envelope(alice, CH, 'a'), b: envelope(alice, CH, 'b') })
      const out$ = env$.pipe(mergeMapPerPeer(() => cold('-------(x|)', { x: actions.stopPeer(alice) })))
      expectObservable(out$, '^--!').toBe('---')
    })
    expect(alice.holds).to.equal(0)
    expect(alice.holdCount).to.equal(1)
  })

  it('unsubscribes the source and every inner handler with the result, and frees the holds of a queued peer', () => {
    const alice = fakePeer('alice')
    const bob = fakePeer('bob')
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const env$ = hot('-ab-c-', { a: envelope(alice, CH, 'a'), b: envelope(bob, CH, 'b'), c: envelope(alice, CH, 'c') })
      const inner$ = cold<Action>('------(x|)', { x: actions.stopPeer(alice) })
      expectObservable(env$.pipe(mergeMapPerPeer(() => inner$)), '^----!').toBe('------')
      expectSubscriptions(env$.subscriptions).toBe('^----!')
      // a and b start (one per peer); c waits behind a and never starts
      expectSubscriptions(inner$.subscriptions).toBe(['-^---!', '--^--!'])
    })
    expect(alice.holds).to.equal(0)
    expect(bob.holds).to.equal(0)
  })

  it('completes once the source has completed and the last handler is done; each handler is unsubscribed as it ends', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const env$ = cold('-a|', { a: envelope(alice, CH, 'a') })
      const inner$ = cold('---(x|)', { x: actions.trySend(alice, CH, bytes('a')) })
      expectObservable(env$.pipe(mergeMapPerPeer(() => inner$))).toBe('----(x|)', { x: actions.trySend(alice, CH, bytes('a')) })
      expectSubscriptions(env$.subscriptions).toBe('^-!')
      expectSubscriptions(inner$.subscriptions).toBe('-^--!')
    })
  })
})
