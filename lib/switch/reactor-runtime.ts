/**
 * The reactor runtime: one way to write a reactor that keeps state and takes commands from outside (PEX, the
 * mempool reactor, the chat example). It owns what every such reactor needs once: the state (kept across the
 * Switch's restarts of the pipeline), a command input, one outlet for actions, one teardown, and one error
 * rule, the same as {@link mapToActions}'.
 *
 * @module
 */
import { Observable, Subscription, type SchedulerAction, type Subscriber, type TeardownLogic } from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import { actions, type Action } from './actions.js'
import { withCodec, type ChannelCodecs, type Codec } from './codec.js'
import type { Envelope } from './envelope.js'
import type { PeerEvent } from './events.js'
import { asPeerError } from './map-to-actions.js'
import type { Peer } from './peer.js'
import type { Reactor, ReactorContext, ReactorRun } from './reactor.js'

/**
 * What a handler of a {@link statefulReactor} is given, for one run of its pipeline (from the Switch's
 * subscription to its end).
 *
 * `S` is the state, `M` the message type of the envelopes and of the actions (bytes, or typed with a codec).
 */
export interface ReactorScope<S, M = Uint8Array> {
  /** The Switch's context of this run. */
  readonly ctx: ReactorContext<M>
  /** The reactor's state: the same object on every run. */
  readonly state: S
  /** True once this run has ended (stopped or failed): handlers called late do nothing. */
  readonly closed: boolean
  /**
   * Queues `action`; the actions a handler queues are emitted in order once it returns, so that an action the
   * Switch executes at once (a stop, which tells every reactor `removed`) never runs inside the handler.
   */
  emit (action: Action<M>): void
  /** The scheduler's clock, in ms. */
  now (): number
  /**
   * Runs `fn` on the context's scheduler after `delayMs`, then every `periodMs` when given, under the error
   * rule without a peer; cancelled when the run ends.
   */
  schedule (fn: () => void, delayMs: number, periodMs?: number): Subscription
  /**
   * Runs `fn` under the error rule and emits what it queued. A throw stops `peer` when there is one (after
   * the actions queued before the throw; a `P2PError` is the reason as it is, anything else is wrapped in a
   * `ReactorError`), and fails the run otherwise (the Switch reports it and subscribes again). For work that
   * resumes later (a Promise settling).
   */
  handle (fn: () => void, peer?: Peer): void
  /** Fails the run with `err` (the Switch reports it and subscribes again). */
  fail (err: unknown): void
  /** Adds teardown to this run. */
  add (teardown: TeardownLogic): void
}

/** Options of {@link statefulReactor}. */
export interface StatefulReactorInit<S, C = never, M = Uint8Array> {
  /** The reactor's name. */
  readonly name: string
  /** The channels it owns. */
  readonly channels: readonly ChannelDescriptor[]
  /** The state: made once with the reactor, kept across the Switch's restarts of the pipeline. */
  readonly state: S
  /**
   * Decodes envelopes and encodes the messages of `send` and `broadcast` actions (see {@link withCodec}).
   * @default undefined (bytes)
   */
  readonly codec?: Codec<M> | ChannelCodecs<M>
  /**
   * Called when a run starts, once its inputs are subscribed (so that what its actions cause at once is seen)
   * and before any of them is handled; a throw fails the run.
   * @default nothing
   */
  readonly start?: (scope: ReactorScope<S, M>) => void
  /** Each envelope on the reactor's channels; a throw stops its sender. @default nothing */
  readonly envelope?: (scope: ReactorScope<S, M>, envelope: Envelope<M>) => void
  /** Each peer event; a throw fails the run. @default nothing */
  readonly peerEvent?: (scope: ReactorScope<S, M>, event: PeerEvent) => void
  /** Each command from outside, while a run is live; a throw fails the run. @default nothing */
  readonly command?: (scope: ReactorScope<S, M>, command: C) => void
  /** Hot: commands from outside, subscribed by each run (besides {@link StatefulReactor.command}). @default none */
  readonly commands$?: Observable<C>
  /** Plain pipelines run beside the handlers on the same context; their actions join the outlet. @default [] */
  readonly pipelines?: ReadonlyArray<ReactorRun<M>>
  /** Hot outputs of the reactor (Subjects), completed when it stops. @default [] */
  readonly outputs?: ReadonlyArray<{ complete: () => void }>
  /**
   * Called once when the reactor stops (a run ends without failing, or {@link StatefulReactor.stop}); what it
   * returns is awaited by `stop()`, and so by `Switch.stop()`.
   * @default nothing
   */
  readonly stop?: (state: S) => Promise<void> | void
}

/** A reactor made by {@link statefulReactor}. */
export interface StatefulReactor<C = never> extends Reactor {
  /** True while a run is live (between the Switch's start and stop, outside restart pauses). */
  readonly isRunning: boolean
  /** Hands `command` to the live run; false when none is live (the Switch is not started, or stopped). */
  command (command: C): boolean
  /**
   * Stops: ends the live run (its actions complete), completes the outputs, and resolves once the reactor's
   * own stop (a file saved) is done, rejecting with its error. Idempotent; resolves at once when it never
   * ran. `Switch.stop()` calls it.
   */
  stop (): Promise<void>
}

interface Run<C> {
  readonly subscriber: Subscriber<Action>
  command: (command: C) => void
}

/**
 * Builds a reactor that keeps state and takes commands: a run subscribes to envelopes, peer events and
 * commands, hands each to its handler with one {@link ReactorScope}, and emits the actions the handler
 * queued.
 *
 * - **Error rule** (as {@link mapToActions}): a throw while handling a peer's envelope stops that peer (a
 *   `P2PError` as it is, anything else wrapped in a `ReactorError`); a throw anywhere else fails the run, and
 *   the Switch reports it, stops the peer being delivered and subscribes again. The state is kept.
 * - **Teardown**: a run that ends without failing is the reactor stopping: the outputs complete and `stop`
 *   runs once. A failed run only cancels its own timers and subscriptions.
 *
 * ```
 * envelopes$: --a-----b--    handler(b) throws E
 * commands:   -----c-----
 * actions:    --x--y--s--    s = actions.stopPeer(b.from, E)
 * ```
 *
 * @example
 * ```ts
 * const counter = statefulReactor<{ seen: number }, 'reset'>({
 *   name: 'counter',
 *   channels: [{ id: 0x71, priority: 1, sendQueueCapacity: 10 }],
 *   state: { seen: 0 },
 *   envelope: (scope, env) => { scope.state.seen++; scope.emit(actions.trySend(env.from, 0x71, env.message)) },
 *   command: (scope) => { scope.state.seen = 0 }
 * })
 * counter.command('reset') // false until the Switch runs it
 * ```
 */
export function statefulReactor<S, C = never, M = Uint8Array> (init: StatefulReactorInit<S, C, M>): StatefulReactor<C> {
  let live: Run<C> | undefined
  let ran = false
  let stopping: Promise<void> | undefined

  const finish = (): Promise<void> => {
    if (stopping !== undefined) return stopping
    for (const output of init.outputs ?? []) output.complete()
    let done: Promise<void>
    try {
      done = Promise.resolve(init.stop?.(init.state))
    } catch (err) {
      done = Promise.reject(err)
    }
    done.catch(() => {}) // reported to whoever awaits stop()
    stopping = done
    return done
  }

  const typedRun: ReactorRun<M> = (ctx) => new Observable<Action<M>>((subscriber) => {
    ran = true
    stopping = undefined
    const subs = new Subscription()
    let closed = false
    let failed = false
    let out: Array<Action<M>> | undefined

    const fail = (err: unknown): void => {
      if (closed) return
      failed = true
      subscriber.error(err)
    }
    const handle = (fn: () => void, peer?: Peer): void => {
      if (closed) return
      const outer = out
      const mine: Array<Action<M>> = []
      out = mine
      try {
        fn()
      } catch (err) {
        if (peer === undefined) {
          out = outer
          fail(err)
          return
        }
        mine.push(actions.stopPeer(peer, asPeerError(err)))
      } finally {
        out = outer
      }
      for (const action of mine) {
        if (closed) return
        subscriber.next(action)
      }
    }
    const scope: ReactorScope<S, M> = {
      ctx,
      state: init.state,
      get closed () { return closed },
      emit: (action) => {
        if (out !== undefined) out.push(action)
        else if (!closed) subscriber.next(action)
      },
      now: () => ctx.scheduler.now(),
      schedule: (fn, delayMs, periodMs) => {
        let fired = false
        const task = ctx.scheduler.schedule(function (this: SchedulerAction<unknown>) {
          handle(fn)
          if (periodMs !== undefined && !this.closed) this.schedule(undefined, periodMs)
          else if (periodMs === undefined) {
            fired = true
            subs.remove(this as unknown as Subscription) // a one-shot task does not stay in the run's teardown
          }
        }, delayMs)
        if (!fired) subs.add(task)
        return task
      },
      handle,
      fail,
      add: (teardown) => { subs.add(teardown) }
    }

    const run: Run<C> = {
      subscriber: subscriber as Subscriber<Action>,
      command: (command) => { handle(() => { init.command?.(scope, command) }) }
    }
    live = run
    const onEnvelope = init.envelope
    if (onEnvelope !== undefined && !closed) {
      subs.add(ctx.envelopes$.subscribe({ next: (env) => { handle(() => { onEnvelope(scope, env) }, env.from) }, error: fail }))
    }
    const onEvent = init.peerEvent
    if (onEvent !== undefined && !closed) {
      subs.add(ctx.peerEvents$.subscribe({ next: (event) => { handle(() => { onEvent(scope, event) }) }, error: fail }))
    }
    if (init.commands$ !== undefined && !closed) {
      subs.add(init.commands$.subscribe({ next: (command) => { run.command(command) }, error: fail }))
    }
    for (const pipeline of init.pipelines ?? []) {
      if (closed) break
      subs.add(pipeline(ctx).subscribe({ next: (action) => { scope.emit(action) }, error: fail }))
    }
    handle(() => { init.start?.(scope) })
    return () => {
      closed = true
      if (live === run) live = undefined
      subs.unsubscribe()
      if (!failed) void finish()
    }
  })

  const run: ReactorRun = init.codec === undefined ? typedRun as unknown as ReactorRun : withCodec(init.codec, typedRun)

  return {
    name: init.name,
    channels: init.channels,
    run,
    get isRunning () { return live !== undefined },
    command (command: C): boolean {
      const current = live
      if (current === undefined || current.subscriber.closed) return false
      current.command(command)
      return true
    },
    stop (): Promise<void> {
      if (live !== undefined) live.subscriber.complete() // the run's teardown starts the stop
      if (!ran) return Promise.resolve()
      return finish() // after a failed run too: the Switch stopped while a restart was pending
    }
  }
}
