// The "Writing a reactor" example of README.md, kept here so that it compiles and passes.
import { expect } from 'chai'
import { TestScheduler } from 'rxjs/testing'
import { actions, mapToActions, utf8Codec, withCodec, type Reactor } from '../../lib/index.js'
import { envelope, fakePeer, runReactor } from '../../lib/testing/index.js'

const SHOUT = 0xc8

const shoutReactor: Reactor = {
  name: 'shout',
  channels: [{ id: SHOUT, priority: 1, sendQueueCapacity: 10 }],
  run: withCodec(utf8Codec, (ctx) => ctx.envelopes$.pipe(
    mapToActions((env) => {
      if (env.message.length > 100) return actions.stopPeer(env.from, new Error('line too long'))
      return actions.trySend(env.from, SHOUT, env.message.toUpperCase())
    })
  ))
}

describe('README: writing a reactor', () => {
  it('shouts back, and drops a peer whose line is too long', () => {
    const scheduler = new TestScheduler((actual, expected) => { expect(actual).to.deep.equal(expected) })
    const alice = fakePeer('alice')
    const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a--b-', { a: envelope(alice, SHOUT, 'hi'), b: envelope(alice, SHOUT, 'x'.repeat(101)) })
      expectObservable(runReactor(shoutReactor, { envelopes$ })).toBe('-s--x-', {
        s: actions.trySend(alice, SHOUT, bytes('HI')),
        x: actions.stopPeer(alice, new Error('line too long'))
      })
    })
  })
})
