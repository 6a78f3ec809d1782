import { expect } from 'chai'
import { createHash } from 'node:crypto'
import { TestScheduler } from 'rxjs/testing'
import { DecodeError } from '../../lib/errors.js'
import { CONSENSUS_STATE_CHANNEL_DESCRIPTOR, type PeerRoundStep } from '../../lib/reactors/height-mirror.js'
import { DEFAULT_MAX_TX_BYTES } from '../../lib/reactors/defaults.js'
import { MEMPOOL_CHANNEL_DESCRIPTOR, mempoolMessageSize, mempoolReactor, txHash, type MempoolTx } from '../../lib/reactors/mempool.js'
import { actions, type Action, type StopPeerAction } from '../../lib/switch/actions.js'
import { envelope, fakePeer, runReactor } from '../../lib/testing/reactor.js'
import { CONSENSUS_STATE_CHANNEL, encodeNewRoundStep, type NewRoundStep } from '../../lib/wire/consensus.js'
import { encodeMempoolMessage, encodeTxs, MEMPOOL_CHANNEL } from '../../lib/wire/mempool.js'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const txsMsg = (...txs: string[]): Uint8Array => encodeTxs(txs.map(utf8))
const step: NewRoundStep = { height: 12n, round: 0, step: 1, secondsSinceStartTime: 0n, lastCommitRound: 0 }
/** What txs$ emitted, as `text@moniker`. */
const show = (t: MempoolTx): string => `${new TextDecoder().decode(t.tx)}@${t.from.nodeInfo.moniker}`

describe('reactors/mempool', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('hashes a tx as CometBFT shows it: SHA-256, upper-case hex', () => {
    const tx = utf8('name=satoshi')
    expect(txHash(tx)).to.equal(createHash('sha256').update(tx).digest('hex').toUpperCase())
    expect(txHash(new Uint8Array(0))).to.equal('E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855')
  })

  it('sizes the mempool channel for one tx of max_tx_bytes (Message{Txs{[tx]}})', () => {
    expect(mempoolMessageSize(7)).to.equal(encodeTxs([new Uint8Array(7)]).byteLength)
    expect(mempoolMessageSize(DEFAULT_MAX_TX_BYTES)).to.equal(encodeTxs([new Uint8Array(DEFAULT_MAX_TX_BYTES)]).byteLength)
    expect(MEMPOOL_CHANNEL_DESCRIPTOR).to.deep.equal({ id: 0x30, priority: 5, sendQueueCapacity: 100, recvMessageCapacity: 1048584 })
  })

  it('owns 0x30 and, for height mirroring, 0x20 (only 0x30 with mirrorHeights: false)', () => {
    expect(mempoolReactor().channels.map((c) => c.id)).to.deep.equal([MEMPOOL_CHANNEL, CONSENSUS_STATE_CHANNEL])
    expect(mempoolReactor().channels[1]).to.deep.equal(CONSENSUS_STATE_CHANNEL_DESCRIPTOR)
    expect(mempoolReactor({ mirrorHeights: false }).channels.map((c) => c.id)).to.deep.equal([MEMPOOL_CHANNEL])
    const small = mempoolReactor({ maxTxBytes: 100, sendQueueCapacity: 7 }).channels[0]!
    expect(small).to.include({ recvMessageCapacity: mempoolMessageSize(100), sendQueueCapacity: 7 })
    expect(() => mempoolReactor({ maxTxBytes: 0 })).to.throw(RangeError)
    expect(() => mempoolReactor({ seenCacheSize: -1 })).to.throw(RangeError)
  })

  it('streams each gossiped tx once, with its hash and sender, while mirroring heights on 0x20', () => {
    const node = fakePeer('node', { nodeInfo: { moniker: 'node' } })
    const other = fakePeer('other', { nodeInfo: { moniker: 'other' } })
    const reactor = mempoolReactor()
    const got: MempoolTx[] = []
    const steps: PeerRoundStep[] = []
    reactor.txs$.subscribe((t) => got.push(t))
    reactor.roundSteps$.subscribe((s) => steps.push(s))
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-s-a-b-c-', {
        s: envelope(node, CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(step)),
        a: envelope(node, MEMPOOL_CHANNEL, txsMsg('a=1')),
        b: envelope(other, MEMPOOL_CHANNEL, txsMsg('a=1', 'b=2')), // a=1 again: dropped as seen
        c: envelope(node, MEMPOOL_CHANNEL, txsMsg('c=3'))
      })
      expectObservable(runReactor(reactor, { envelopes$ })).toBe('-s-------', {
        s: actions.trySend(node, CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(step))
      })
    })
    expect(got.map(show)).to.deep.equal(['a=1@node', 'b=2@other', 'c=3@node'])
    expect(got[0]!.hash).to.equal(txHash(utf8('a=1')))
    expect(steps).to.deep.equal([{ from: node, step }])
  })

  it('keeps its own copy of each tx (an envelope may be a view into a larger buffer)', () => {
    const node = fakePeer('node')
    const reactor = mempoolReactor()
    const got: MempoolTx[] = []
    reactor.txs$.subscribe((t) => got.push(t))
    const message = txsMsg('k=v')
    scheduler.run(({ hot }) => {
      runReactor(reactor, { envelopes$: hot('-a-', { a: envelope(node, MEMPOOL_CHANNEL, message) }) }).subscribe()
    })
    message.fill(0)
    expect(new TextDecoder().decode(got[0]!.tx)).to.equal('k=v')
  })

  it('with seenCacheSize 0 emits every copy; with a small cache forgets the oldest hashes first', () => {
    const node = fakePeer('node', { nodeInfo: { moniker: 'n' } })
    const noCache = mempoolReactor({ seenCacheSize: 0 })
    const small = mempoolReactor({ seenCacheSize: 2 })
    const all: string[] = []
    const some: string[] = []
    noCache.txs$.subscribe((t) => all.push(show(t)))
    small.txs$.subscribe((t) => some.push(show(t)))
    scheduler.run(({ hot }) => {
      const envelopes$ = hot('-a-a-b-c-a-c-', { a: envelope(node, MEMPOOL_CHANNEL, txsMsg('a=1')), b: envelope(node, MEMPOOL_CHANNEL, txsMsg('b=1')), c: envelope(node, MEMPOOL_CHANNEL, txsMsg('c=1')) })
      runReactor(noCache, { envelopes$ }).subscribe()
      runReactor(small, { envelopes$ }).subscribe()
    })
    expect(all).to.deep.equal(['a=1@n', 'a=1@n', 'b=1@n', 'c=1@n', 'a=1@n', 'c=1@n'])
    // cache {a}, {a,b}, {b,c} (a forgotten), a again is new: {c,a}, c still known
    expect(some).to.deep.equal(['a=1@n', 'b=1@n', 'c=1@n', 'a=1@n'])
  })

  it('stops a peer whose mempool message does not decode (DecodeError) and ignores empty tx lists and empty txs', () => {
    const bad = fakePeer('bad')
    const node = fakePeer('node', { nodeInfo: { moniker: 'node' } })
    const reactor = mempoolReactor()
    const got: string[] = []
    reactor.txs$.subscribe((t) => got.push(show(t)))
    const out: Action[] = []
    scheduler.run(({ hot }) => {
      const envelopes$ = hot('-x-e-z-a-', {
        x: envelope(bad, MEMPOOL_CHANNEL, Uint8Array.of(0x12, 0x00)), // no txs case
        e: envelope(node, MEMPOOL_CHANNEL, encodeMempoolMessage({ type: 'txs', txs: [] })),
        z: envelope(node, MEMPOOL_CHANNEL, encodeTxs([new Uint8Array(0)])),
        a: envelope(node, MEMPOOL_CHANNEL, txsMsg('a=1'))
      })
      runReactor(reactor, { envelopes$ }).subscribe((a) => out.push(a))
    })
    expect(out).to.have.length(1)
    expect(out[0]).to.include({ type: 'stopPeer', peer: bad })
    expect((out[0] as StopPeerAction).reason).to.be.instanceOf(DecodeError)
    expect(got).to.deep.equal(['a=1@node'])
  })

  it('broadcastTx sends one tx per message to every peer (send mode) while running, and false before and after', () => {
    const node = fakePeer('node')
    const reactor = mempoolReactor()
    const got: string[] = []
    let completed = false
    reactor.txs$.subscribe({ next: (t) => got.push(show(t)), complete: () => { completed = true } })
    expect(reactor.broadcastTx(utf8('early=1'))).to.equal(false)
    const results: boolean[] = []
    scheduler.run(({ hot, expectObservable }) => {
      scheduler.schedule(() => { results.push(reactor.broadcastTx(utf8('out=1'))) }, 2)
      const envelopes$ = hot('----a-', { a: envelope(node, MEMPOOL_CHANNEL, txsMsg('out=1')) }) // our own tx back: not reported
      expectObservable(runReactor(reactor, { envelopes$ }), '^-----!').toBe('--b---', {
        b: actions.broadcast(MEMPOOL_CHANNEL, txsMsg('out=1'), { mode: 'send' })
      })
    })
    expect(results).to.deep.equal([true])
    expect(got).to.deep.equal([])
    expect(completed, 'txs$ completes when the Switch stops').to.equal(true)
    expect(reactor.broadcastTx(utf8('late=1'))).to.equal(false)
  })

  it('with mirrorHeights: false leaves 0x20 alone', () => {
    const node = fakePeer('node')
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-s-', { s: envelope(node, CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(step)) })
      expectObservable(runReactor(mempoolReactor({ mirrorHeights: false }), { envelopes$ })).toBe('---')
    })
  })
})
