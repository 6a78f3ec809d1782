import { expect } from 'chai'
import { TestScheduler } from 'rxjs/testing'
import { reconnect, reconnectDelays, type ReconnectEvent } from '../../lib/switch/reconnect.js'
import { AlreadyConnectedError } from '../../lib/errors.js'

const refused = new Error('connection refused')

describe('switch/reconnect', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  describe('reconnectDelays (CometBFT reconnectToPeer)', () => {
    it('is 20 attempts 5 s apart, then 10 with 3^i s backoff, 24.6 h in all without jitter', () => {
      const delays = reconnectDelays({ random: () => 0 })
      expect(delays).to.have.length(30)
      expect(delays[0]).to.equal(0)
      expect(delays.slice(1, 20)).to.deep.equal(new Array(19).fill(5000))
      // the trailing phase-1 pause, then 3^1 s
      expect(delays[20]).to.equal(5000 + 3000)
      expect(delays.slice(21)).to.deep.equal([2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => 3 ** i * 1000))
      const total = delays.reduce((a, b) => a + b, 0)
      expect(total).to.equal(88_672_000)
      expect(total / 3_600_000).to.be.closeTo(24.6, 0.05)
    })

    it('adds floor(random * 3000) ms of jitter to every pause', () => {
      const draws = [0.5, 0.999, 0.1]
      let i = 0
      const delays = reconnectDelays({ random: () => draws[i++ % draws.length]!, attempts: 3, backoffAttempts: 1 })
      // pauses: after #1: 5000+1500, after #2: 5000+2997, after #3: 5000+300, then 3^1 s + 1500
      expect(delays).to.deep.equal([0, 6500, 7997, 5300 + 4500])
    })
  })

  describe('reconnect', () => {
    it('retries on the schedule, each pause starting when an attempt has failed, then gives up', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const attempts: number[] = []
        const events$ = reconnect((n) => { attempts.push(n); return cold('-#', undefined, refused) }, {
          attempts: 3, intervalMs: 5, backoffAttempts: 2, backoffBaseSeconds: 2, jitterMs: 0, scheduler
        })
        expectObservable(events$).toBe('-a 5ms b 5ms c 2005ms d 4000ms (eg|)', {
          a: { type: 'failed', attempt: 1, error: refused, nextDelayMs: 5 },
          b: { type: 'failed', attempt: 2, error: refused, nextDelayMs: 5 },
          c: { type: 'failed', attempt: 3, error: refused, nextDelayMs: 2005 },
          d: { type: 'failed', attempt: 4, error: refused, nextDelayMs: 4000 },
          e: { type: 'failed', attempt: 5, error: refused, nextDelayMs: undefined },
          g: { type: 'gaveUp', attempts: 5 }
        } satisfies Record<string, ReconnectEvent>)
      })
    })

    it('dials at 0, 5 s, ... 95 s, then 103 s and 112 s with CometBFT\'s defaults and no jitter', () => {
      const times: number[] = []
      scheduler.run(({ cold, flush }) => {
        const sub = reconnect(() => { times.push(scheduler.now()); return cold('#', undefined, refused) }, { random: () => 0, scheduler }).subscribe()
        scheduler.schedule(() => { sub.unsubscribe() }, 120_000)
        flush()
      })
      expect(times).to.deep.equal([...Array.from({ length: 20 }, (_, i) => i * 5000), 103_000, 112_000])
    })

    it('stops at the first success', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const events$ = reconnect((n) => n < 3 ? cold('--#', undefined, refused) : cold('--(x|)', { x: 'peer' }), {
          intervalMs: 10, jitterMs: 0, scheduler
        })
        expectObservable(events$).toBe('--a 11ms b 11ms (c|)', {
          a: { type: 'failed', attempt: 1, error: refused, nextDelayMs: 10 },
          b: { type: 'failed', attempt: 2, error: refused, nextDelayMs: 10 },
          c: { type: 'connected', attempt: 3 }
        })
      })
    })

    it('ends at once on an error isFatal accepts (already connected)', () => {
      const already = new AlreadyConnectedError('already connected')
      scheduler.run(({ cold, expectObservable }) => {
        const events$ = reconnect(() => cold('-#', undefined, already), {
          intervalMs: 10, jitterMs: 0, scheduler, isFatal: (e) => e instanceof AlreadyConnectedError
        })
        expectObservable(events$).toBe('-(s|)', { s: { type: 'stopped', attempt: 1, error: already } })
      })
    })

    it('draws jitter from the injected random source', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const events$ = reconnect(() => cold('#', undefined, refused), {
          attempts: 2, backoffAttempts: 0, intervalMs: 100, jitterMs: 1000, random: () => 0.25, scheduler
        })
        expectObservable(events$).toBe('a 349ms (bg|)', {
          a: { type: 'failed', attempt: 1, error: refused, nextDelayMs: 350 },
          b: { type: 'failed', attempt: 2, error: refused, nextDelayMs: undefined },
          g: { type: 'gaveUp', attempts: 2 }
        })
      })
    })

    it('cancels the pending pause and attempt when unsubscribed', () => {
      let calls = 0
      scheduler.run(({ cold, expectObservable }) => {
        const events$ = reconnect(() => { calls++; return cold('-#', undefined, refused) }, { intervalMs: 5, jitterMs: 0, scheduler })
        expectObservable(events$, '^ 8ms !').toBe('-a 5ms b', {
          a: { type: 'failed', attempt: 1, error: refused, nextDelayMs: 5 },
          b: { type: 'failed', attempt: 2, error: refused, nextDelayMs: 5 }
        })
      })
      expect(calls).to.equal(2)
    })

    it('treats a throwing attempt as a failed one', () => {
      scheduler.run(({ expectObservable }) => {
        const events$ = reconnect(() => { throw refused }, { attempts: 1, backoffAttempts: 0, jitterMs: 0, scheduler })
        expectObservable(events$).toBe('(ag|)', {
          a: { type: 'failed', attempt: 1, error: refused, nextDelayMs: undefined },
          g: { type: 'gaveUp', attempts: 1 }
        })
      })
    })
  })
})
