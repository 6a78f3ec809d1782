import { expect } from 'chai'
import { map, Subject, tap, type Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { DecodeError, ReactorError } from '../../lib/errors.js'
import { actions, type Action } from '../../lib/switch/actions.js'
import { utf8Codec } from '../../lib/switch/codec.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { statefulReactor } from '../../lib/switch/reactor-runtime.js'
import { Switch } from '../../lib/switch/switch.js'
import { envelope, fakePeer, peerAdded, runReactor } from '../../lib/testing/reactor.js'

const CH = 0x71
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (m: Uint8Array): string => new TextDecoder().decode(m)
/** An action as a short string: `send:<text>`, `stop:<reason name>`, `broadcast:<text>`. */
const show = (a: Action): string => {
  switch (a.type) {
    case 'send': return `send:${text(a.message)}`
    case 'broadcast': return `broadcast:${text(a.message)}`
    case 'stopPeer': return `stop:${a.reason?.name ?? 'graceful'}`
    default: return a.type
  }
}

/** Counts what it sees (state), echoes envelopes, broadcasts commands, throws on 'boom'. */
function counter (init: { stop?: () => Promise<void>, commands$?: Observable<string> } = {}): ReturnType<typeof statefulReactor<{ seen: number, starts: number }, string>> & { output: Subject<string> } {
  const output = new Subject<string>()
  const reactor = statefulReactor<{ seen: number, starts: number }, string>({
    name: 'counter',
    channels: [{ id: CH, priority: 1 }],
    state: { seen: 0, starts: 0 },
    start: (scope) => { scope.state.starts++ },
    envelope: (scope, env) => {
      scope.state.seen++
      scope.emit(actions.trySend(env.from, CH, bytes(`${scope.state.seen}`)))
      if (text(env.message) === 'boom') throw new Error('boom')
      if (text(env.message) === 'bad') throw new DecodeError('bad bytes')
      output.next(text(env.message))
    },
    peerEvent: (_scope, event) => { if (event.type === 'added' && event.peer.nodeInfo.moniker === 'evil') throw new Error('evil') },
    command: (scope, line) => { scope.emit(actions.broadcast(CH, bytes(line))) },
    commands$: init.commands$,
    outputs: [output],
    stop: init.stop
  })
  return Object.assign(reactor, { output })
}

describe('switch/statefulReactor', () => {
  let scheduler: TestScheduler
  beforeEach(() => { scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) }) })

  it('hands envelopes and commands to their handlers with one state; subscribes its inputs for the run only', () => {
    const alice = fakePeer('alice')
    const reactor = counter()
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const envelopes$ = hot('-a--b---', { a: envelope(alice, CH, 'x'), b: envelope(alice, CH, 'y') })
      const events$ = hot<PeerEvent>('--------')
      scheduler.schedule(() => { expect(reactor.command('hi')).to.equal(true) }, 2)
      expectObservable(runReactor(reactor, { envelopes$, peerEvents$: events$ }).pipe(map(show)), '^-----!').toBe('-ac-b-', {
        a: 'send:1', b: 'send:2', c: 'broadcast:hi'
      })
      expectSubscriptions(envelopes$.subscriptions).toBe('^-----!')
      expectSubscriptions(events$.subscriptions).toBe('^-----!')
    })
    expect(reactor.command('late')).to.equal(false)
  })

  it('applies mapToActions\' rule: a throw on an envelope stops its sender after what the handler queued, and the run goes on', () => {
    const alice = fakePeer('alice')
    const bob = fakePeer('bob')
    let stops: Action[] = []
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-b---c---d', { a: envelope(alice, CH, 'x'), b: envelope(bob, CH, 'boom'), c: envelope(bob, CH, 'bad'), d: envelope(alice, CH, 'y') })
      const out$ = runReactor(counter(), { envelopes$ }).pipe(tap((a) => { if (a.type === 'stopPeer') stops = [...stops, a] }))
      expectObservable(out$.pipe(map(show))).toBe('-a-(bs)(ct)d', {
        a: 'send:1', b: 'send:2', s: 'stop:ReactorError', c: 'send:3', t: 'stop:DecodeError', d: 'send:4'
      })
    })
    expect(stops[0]).to.deep.include({ peer: bob })
    expect((stops[0] as { reason: Error }).reason).to.be.instanceOf(ReactorError).with.property('message', 'reactor failed on a message: boom')
    expect((stops[1] as { reason: Error }).reason).to.be.instanceOf(DecodeError)
  })

  it('a throw outside an envelope fails the run, without completing the outputs; the next run keeps the state', () => {
    const evil = fakePeer('evil', { nodeInfo: { moniker: 'evil' } })
    const alice = fakePeer('alice')
    const reactor = counter()
    let completed = false
    reactor.output.subscribe({ complete: () => { completed = true } })
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const envelopes$ = hot('-a--', { a: envelope(alice, CH, 'x') })
      const events$ = hot<PeerEvent>('--e-', { e: peerAdded(evil) })
      expectObservable(runReactor(reactor, { envelopes$, peerEvents$: events$ }).pipe(map(show))).toBe('-a#', { a: 'send:1' }, new Error('evil'))
      expectSubscriptions(envelopes$.subscriptions).toBe('^-!')
    })
    expect(completed, 'a failed run is not a stop').to.equal(false)
    scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) })
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-', { a: envelope(alice, CH, 'x') })
      expectObservable(runReactor(reactor, { envelopes$ }).pipe(map(show))).toBe('-a-', { a: 'send:2' })
    })
  })

  it('emits what a handler queued once it returns, so that an action executed at once never runs inside it', () => {
    const alice = fakePeer('alice')
    const order: string[] = []
    const reactor = statefulReactor({
      name: 'order',
      channels: [{ id: CH, priority: 1 }],
      state: undefined,
      envelope: (scope, env) => {
        scope.emit(actions.stopPeer(env.from))
        order.push('handler done')
      }
    })
    const envelopes$ = new Subject<ReturnType<typeof envelope>>()
    runReactor(reactor, { envelopes$ }).subscribe(() => { order.push('action') })
    envelopes$.next(envelope(alice, CH, 'x'))
    expect(order).to.deep.equal(['handler done', 'action'])
  })

  it('takes commands from an Observable too, subscribed with the run', () => {
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const lines$ = hot('--a-b-', { a: 'one', b: 'two' })
      const reactor = counter({ commands$: lines$ })
      expectObservable(runReactor(reactor).pipe(map(show)), '^---!').toBe('--a-', { a: 'broadcast:one' })
      expectSubscriptions(lines$.subscriptions).toBe('^---!')
    })
  })

  it('teardown is the stop: the outputs complete and stop() resolves after the reactor\'s own stop', async () => {
    const saved: string[] = []
    let release!: () => void
    const reactor = counter({ stop: async () => { await new Promise<void>((resolve) => { release = resolve }); saved.push('saved') } })
    expect(reactor.isRunning).to.equal(false)
    await reactor.stop() // never ran: at once
    let completed = false
    reactor.output.subscribe({ complete: () => { completed = true } })
    const sub = runReactor(reactor).subscribe()
    expect(reactor.isRunning).to.equal(true)
    sub.unsubscribe()
    expect(reactor.isRunning).to.equal(false)
    expect(completed).to.equal(true)
    const stopped = reactor.stop()
    expect(reactor.stop()).to.equal(stopped)
    release()
    await stopped
    expect(saved).to.deep.equal(['saved'])
  })

  it('stop() ends a live run (its actions complete) and rejects with the error of the reactor\'s own stop', async () => {
    const reactor = counter({ stop: async () => { throw new Error('disk full') } })
    let completed = false
    runReactor(reactor).subscribe({ complete: () => { completed = true } })
    const err = await reactor.stop().then(() => undefined, (e: unknown) => e)
    expect(completed).to.equal(true)
    expect((err as Error).message).to.equal('disk full')
  })

  it('stop() after a failed run (the Switch stopping during a restart pause) still runs the reactor\'s own stop', async () => {
    const evil = fakePeer('evil', { nodeInfo: { moniker: 'evil' } })
    let stops = 0
    const reactor = counter({ stop: async () => { stops++ } })
    const events$ = new Subject<PeerEvent>()
    runReactor(reactor, { peerEvents$: events$ }).subscribe({ error: () => {} })
    events$.next(peerAdded(evil))
    expect(stops).to.equal(0)
    await reactor.stop()
    expect(stops).to.equal(1)
  })

  it('with a codec: handlers see typed envelopes and emit typed actions; a message that does not decode stops its sender', () => {
    const alice = fakePeer('alice')
    const shout = statefulReactor<undefined, never, string>({
      name: 'shout',
      channels: [{ id: CH, priority: 1 }],
      state: undefined,
      codec: utf8Codec,
      envelope: (scope, env) => { scope.emit(actions.trySend(env.from, CH, env.message.toUpperCase())) }
    })
    scheduler.run(({ hot, expectObservable }) => {
      const envelopes$ = hot('-a-x-', { a: envelope(alice, CH, 'hi'), x: envelope(alice, CH, Uint8Array.of(0xff)) })
      expectObservable(runReactor(shout, { envelopes$ }).pipe(map(show))).toBe('-a-s-', { a: 'send:HI', s: 'stop:DecodeError' })
    })
  })

  it('runs plain pipelines beside the handlers, on the same outlet and teardown', () => {
    const alice = fakePeer('alice')
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const ticks$ = cold('--t--t--t', { t: actions.broadcast(CH, bytes('tick')) })
      const reactor = statefulReactor({ name: 'ticker', channels: [{ id: CH, priority: 1 }], state: undefined, pipelines: [() => ticks$] })
      expectObservable(runReactor(reactor, { envelopes$: hot('-a', { a: envelope(alice, CH, 'x') }) }).pipe(map(show)), '^------!').toBe('--t--t-', { t: 'broadcast:tick' })
      expectSubscriptions(ticks$.subscriptions).toBe('^------!')
    })
  })
})

describe('switch/Switch.stop and reactor stops', () => {
  it('awaits each reactor\'s stop(), and rejects with the first failure once everything is stopped', async () => {
    const order: string[] = []
    let release!: () => void
    const slow = statefulReactor({
      name: 'slow',
      channels: [{ id: 0x72, priority: 1 }],
      state: undefined,
      stop: async () => { await new Promise<void>((resolve) => { release = resolve }); order.push('slow saved') }
    })
    const broken = statefulReactor({ name: 'broken', channels: [{ id: 0x73, priority: 1 }], state: undefined, stop: async () => { throw new Error('disk full') } })
    const sw = new Switch({ nodeKey: NodeKey.generate(), reactors: [slow, broken] })
    await sw.start()
    expect(slow.isRunning).to.equal(true)
    let completed = false
    sw.peerEvents$.subscribe({ complete: () => { completed = true } })
    const stopping = sw.stop().then(() => 'resolved', (err: unknown) => (err as Error).message)
    await new Promise((resolve) => setImmediate(resolve))
    expect(order, 'still saving').to.deep.equal([])
    expect(completed).to.equal(false)
    release()
    expect(await stopping).to.equal('disk full')
    expect(order).to.deep.equal(['slow saved'])
    expect(completed).to.equal(true)
    expect(slow.isRunning).to.equal(false)
  })
})
