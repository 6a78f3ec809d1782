import { expect } from 'chai'
import { map, Observable, of, throwError } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { admitPeer, runPeerFilters, type PeerFilter } from '../../lib/switch/filters.js'
import { PeerSet } from '../../lib/switch/peer-set.js'
import { PeerRejectedError } from '../../lib/errors.js'
import { fakeNodeId, fakePeer, type FakePeer } from '../../lib/testing/reactor.js'

/** Maps a filter run to 'ok' or the refusal's reason, so marbles compare plain values. */
const outcome = (run$: Observable<void>): Observable<string> => new Observable<string>((s) => run$.subscribe({
  complete: () => { s.next('ok'); s.complete() },
  error: (e: unknown) => { s.next(e instanceof PeerRejectedError ? e.reason : 'other'); s.complete() }
}))

describe('switch/filters', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  describe('runPeerFilters (CometBFT filterPeer)', () => {
    const peer = fakePeer('candidate')
    const peers = new PeerSet()

    it('accepts once every filter accepted, filters running in parallel', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const filters: PeerFilter[] = [() => cold('--(a|)', { a: true }), () => cold('----|'), () => undefined]
        expectObservable(outcome(runPeerFilters(filters, peer, peers, { timeoutMs: 5000, scheduler }))).toBe('----(o|)', { o: 'ok' })
      })
    })

    it('refuses the peer when a filter is still pending at the deadline (5 s by default)', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const filters: PeerFilter[] = [() => cold('-(a|)', { a: true }), () => cold('6s (a|)', { a: true })]
        expectObservable(outcome(runPeerFilters(filters, peer, peers, { scheduler }))).toBe('5s (t|)', { t: 'filter-timeout' })
      })
    })

    it('refuses at the first refusal: an error, a false value, or a throw', () => {
      scheduler.run(({ cold, expectObservable }) => {
        const slow: PeerFilter = () => cold('10ms (a|)', { a: true })
        expectObservable(outcome(runPeerFilters([slow, () => cold('--#')], peer, peers, { scheduler }))).toBe('--(f|)', { f: 'filter' })
        expectObservable(outcome(runPeerFilters([slow, () => cold('---(a|)', { a: false })], peer, peers, { scheduler }))).toBe('---(f|)', { f: 'filter' })
        expectObservable(outcome(runPeerFilters([slow, () => { throw new Error('no') }], peer, peers, { scheduler }))).toBe('(f|)', { f: 'filter' })
        expectObservable(outcome(runPeerFilters([() => false], peer, peers, { scheduler }))).toBe('(f|)', { f: 'filter' })
      })
    })

    it('keeps the filter\'s error as the cause and gives it the peer and the peer set', async () => {
      let seen: unknown[] = []
      const cause = new Error('not on the allow list')
      const err = await new Promise<unknown>((resolve) => {
        runPeerFilters([(p, set) => { seen = [p, set]; return throwError(() => cause) }], peer, peers).subscribe({ error: resolve })
      })
      expect(err).to.be.instanceOf(PeerRejectedError)
      expect((err as PeerRejectedError).cause).to.equal(cause)
      expect(seen).to.deep.equal([peer, peers])
    })

    it('accepts Promises and leaves no timer behind', async () => {
      await new Promise<void>((resolve, reject) => {
        runPeerFilters([async () => true, () => of(1)], peer, peers, { timeoutMs: 60_000 }).subscribe({ complete: resolve, error: reject })
      })
    })
  })

  describe('admission limits (CometBFT acceptRoutine / filterPeer)', () => {
    type Step = { kind: 'in' | 'out', peer: FakePeer } | { kind: 'leave', peer: FakePeer }

    it('refuses an inbound peer beyond maxInboundPeers until one leaves; outbound and unconditional peers do not count', () => {
      const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => fakePeer(n))
      const o = fakePeer('o', { outbound: true })
      const u = fakePeer('u')
      const unconditional = new Set([u.id])
      scheduler.run(({ hot, expectObservable }) => {
        const steps$ = hot<Step>('-a-b-o-u-c-l-d-', {
          a: { kind: 'in', peer: a! },
          b: { kind: 'in', peer: b! },
          o: { kind: 'out', peer: o },
          u: { kind: 'in', peer: u },
          c: { kind: 'in', peer: c! },
          l: { kind: 'leave', peer: a! },
          d: { kind: 'in', peer: d! }
        })
        const peers = new PeerSet()
        const decisions$ = steps$.pipe(map((step) => {
          if (step.kind === 'leave') {
            peers.remove(step.peer)
            return `-${step.peer.name}`
          }
          const refusal = admitPeer(peers, { id: step.peer.id, outbound: step.kind === 'out' }, {
            ourId: fakeNodeId('us'), maxInboundPeers: 2, isUnconditional: (id) => unconditional.has(id)
          })
          if (refusal !== undefined) return `${step.peer.name}:${refusal.reason}`
          peers.add(step.peer)
          return `${step.peer.name}:ok`
        }))
        expectObservable(decisions$).toBe('-a-b-o-u-c-l-d-', {
          a: 'a:ok', b: 'b:ok', o: 'o:ok', u: 'u:ok', c: 'c:max-inbound', l: '-a', d: 'd:ok'
        })
      })
    })

    it('refuses ourselves and a duplicate ID', () => {
      const peers = new PeerSet()
      const a = fakePeer('a')
      peers.add(a)
      const limits = { ourId: fakeNodeId('us'), maxInboundPeers: 40, isUnconditional: () => false }
      expect(admitPeer(peers, { id: fakeNodeId('us'), outbound: true }, limits)?.reason).to.equal('self')
      expect(admitPeer(peers, { id: a.id, outbound: true }, limits)?.reason).to.equal('duplicate-id')
      expect(admitPeer(peers, { id: fakeNodeId('b'), outbound: false }, limits)).to.equal(undefined)
    })
  })
})
