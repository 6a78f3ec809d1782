import { expect } from 'chai'
import { TestScheduler } from 'rxjs/testing'
import { DecodeError } from '../../lib/errors.js'
import { CONSENSUS_STATE_CHANNEL_DESCRIPTOR, heightMirrorReactor, mirrorHeights, type PeerRoundStep } from '../../lib/reactors/height-mirror.js'
import { actions, type Action, type StopPeerAction } from '../../lib/switch/actions.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { envelope, fakePeer, peerAdded, runReactor } from '../../lib/testing/reactor.js'
import { CONSENSUS_STATE_CHANNEL, encodeConsensusMessage, encodeNewRoundStep, type NewRoundStep } from '../../lib/wire/consensus.js'
import { MEMPOOL_CHANNEL } from '../../lib/wire/mempool.js'

const step = (height: bigint, s = 1, round = 0): NewRoundStep => ({ height, round, step: s, secondsSinceStartTime: 3n, lastCommitRound: 0 })
const nrs = (height: bigint, s = 1): Uint8Array => encodeNewRoundStep(step(height, s))
/** A consensus case the mirror does not model (v1.0's HasProposalBlockPart, case 10). */
const hasPart = encodeConsensusMessage({ type: 'other', case: 10, body: Uint8Array.of(0x08, 0x05) })
const vote = encodeConsensusMessage({ type: 'other', case: 6, body: new Uint8Array(0) })

describe('reactors/height-mirror', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('declares CometBFT\'s consensus state channel (0x20, priority 6, send queue 100, 1 MiB messages)', () => {
    expect(CONSENSUS_STATE_CHANNEL_DESCRIPTOR).to.deep.equal({ id: 0x20, priority: 6, sendQueueCapacity: 100, recvMessageCapacity: 1048576 })
    expect(heightMirrorReactor().channels).to.deep.equal([CONSENSUS_STATE_CHANNEL_DESCRIPTOR])
  })

  it('answers each NewRoundStep with the same values, to its sender only, and ignores the other consensus cases', () => {
    const node = fakePeer('node')
    const other = fakePeer('other')
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-v-p-b-c-', {
        a: envelope(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 1)),
        v: envelope(node, CONSENSUS_STATE_CHANNEL, vote),
        p: envelope(node, CONSENSUS_STATE_CHANNEL, hasPart),
        b: envelope(other, CONSENSUS_STATE_CHANNEL, nrs(9n, 3)),
        c: envelope(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 4))
      })
      expectObservable(runReactor(heightMirrorReactor(), { envelopes$ })).toBe('-a-----b-c-', {
        a: actions.trySend(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 1)),
        b: actions.trySend(other, CONSENSUS_STATE_CHANNEL, nrs(9n, 3)),
        c: actions.trySend(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 4))
      })
    })
  })

  it('mirrors every field: round, seconds since start, and last_commit_round -1 at the initial height', () => {
    const node = fakePeer('node')
    const initial: NewRoundStep = { height: 1n, round: 2, step: 3, secondsSinceStartTime: 120n, lastCommitRound: -1 }
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-', { a: envelope(node, CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(initial)) })
      expectObservable(runReactor(heightMirrorReactor(), { envelopes$ })).toBe('-a-', {
        a: actions.trySend(node, CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(initial))
      })
    })
  })

  it('does not mirror a repeat of the last step mirrored to that peer (so two mirroring peers stop echoing)', () => {
    const node = fakePeer('node')
    const other = fakePeer('other')
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-a-b-a-c-', {
        a: envelope(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 1)),
        b: envelope(other, CONSENSUS_STATE_CHANNEL, nrs(5n, 1)),
        c: envelope(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 2))
      })
      expectObservable(runReactor(heightMirrorReactor(), { envelopes$ })).toBe('-a---b---c-', {
        a: actions.trySend(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 1)),
        b: actions.trySend(other, CONSENSUS_STATE_CHANNEL, nrs(5n, 1)),
        c: actions.trySend(node, CONSENSUS_STATE_CHANNEL, nrs(5n, 2))
      })
    })
  })

  it('stops a peer whose consensus message does not decode (DecodeError), and goes on mirroring the others', () => {
    const bad = fakePeer('bad')
    const good = fakePeer('good')
    const out: Action[] = []
    scheduler.run(({ hot }) => {
      const envelopes$ = hot('-x-a-', {
        x: envelope(bad, CONSENSUS_STATE_CHANNEL, Uint8Array.of(0x0a, 0x05, 0x08)),
        a: envelope(good, CONSENSUS_STATE_CHANNEL, nrs(7n))
      })
      runReactor(heightMirrorReactor(), { envelopes$ }).subscribe((a) => out.push(a))
    })
    expect(out).to.have.length(2)
    const [stop, mirrored] = out
    expect(stop).to.include({ type: 'stopPeer', peer: bad })
    expect((stop as StopPeerAction).reason).to.be.instanceOf(DecodeError)
    expect(mirrored).to.deep.equal(actions.trySend(good, CONSENSUS_STATE_CHANNEL, nrs(7n)))
  })

  it('reports each NewRoundStep on roundSteps$ before mirroring it, and completes roundSteps$ when the Switch stops', () => {
    const node = fakePeer('node')
    const reactor = heightMirrorReactor()
    const seen: PeerRoundStep[] = []
    let completed = false
    reactor.roundSteps$.subscribe({ next: (s) => seen.push(s), complete: () => { completed = true } })
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-b-', { a: envelope(node, CONSENSUS_STATE_CHANNEL, nrs(3n)), b: envelope(node, CONSENSUS_STATE_CHANNEL, vote) })
      expectObservable(runReactor(reactor, { envelopes$ }), '^---!').toBe('-a---', {
        a: actions.trySend(node, CONSENSUS_STATE_CHANNEL, nrs(3n))
      })
    })
    expect(seen).to.deep.equal([{ from: node, step: step(3n) }])
    expect(completed).to.equal(true)
  })

  it('the bare pipeline ignores envelopes of other channels (for a reactor that shares its context)', () => {
    const node = fakePeer('node')
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-m-a-', { m: envelope(node, MEMPOOL_CHANNEL, nrs(3n)), a: envelope(node, CONSENSUS_STATE_CHANNEL, nrs(4n)) })
      const peerEvents$ = hot<PeerEvent>('a----', { a: peerAdded(node) })
      expectObservable(runReactor(mirrorHeights(), { envelopes$, peerEvents$ })).toBe('---a-', {
        a: actions.trySend(node, CONSENSUS_STATE_CHANNEL, nrs(4n))
      })
    })
  })
})
