/**
 * `mergeMapPerPeer`: asynchronous message handling with a bound per peer, and backpressure to the socket.
 *
 * @module
 */
import { from, Observable, type ObservableInput, type OperatorFunction, type Subscription } from 'rxjs'
import { actions, type Action } from './actions.js'
import type { Envelope } from './envelope.js'
import { asPeerError } from './map-to-actions.js'
import type { Peer } from './peer.js'

/** Options of {@link mergeMapPerPeer}. */
export interface MergeMapPerPeerInit {
  /** Envelopes of one peer handled at the same time. @default 1 (in order, one after the other) */
  concurrency?: number
}

interface PeerState<M> {
  active: number
  queue: Array<Envelope<M>>
  release: (() => void) | undefined
}

/**
 * Handles each envelope with an asynchronous `project` (a Promise, an Observable of actions), with at most
 * `concurrency` in flight **per peer**. When a peer reaches the bound, reading from that peer is paused
 * ({@link Peer.holdReading}) until one finishes, so a slow handler slows that peer's socket (TCP
 * backpressure) instead of buffering without limit as a plain `mergeMap` or `concatMap` would. Other peers
 * are not affected.
 *
 * With the Switch's peers the pause takes effect right after the message being delivered (the MConnection
 * stops decoding when a hold is taken); a peer implementation that stops later only makes this operator queue
 * the extra envelopes, in order, until they can start.
 *
 * If `project` throws or its result errors, the pipeline does not fail: the envelope's sender is stopped
 * with the error (see {@link mapToActions}).
 *
 * ```
 * envelopes$:  -a-b-c----------|     all from one peer, concurrency 1
 * project(x):   x takes 4 frames: ----(x|)
 * result:      -----A---B---C--|
 * reading:      ^paused at b ^resumed after C
 * ```
 *
 * @example
 * ```ts
 * run: (ctx) => ctx.envelopes$.pipe(
 *   mergeMapPerPeer(async (env) => {
 *     const tx = await mempool.check(env.message)   // slow; at most 4 per peer at a time
 *     return tx.ok ? [actions.broadcast(MEMPOOL, env.message, { except: [env.from] })] : []
 *   }, { concurrency: 4 })
 * )
 * ```
 */
export function mergeMapPerPeer<M, R = M> (
  project: (envelope: Envelope<M>) => ObservableInput<Action<R> | ReadonlyArray<Action<R>>>,
  init: MergeMapPerPeerInit = {}
): OperatorFunction<Envelope<M>, Action<R>> {
  const concurrency = Math.max(1, init.concurrency ?? 1)
  return (source) => new Observable<Action<R>>((subscriber) => {
    const states = new Map<Peer, PeerState<M>>()
    const inner = new Set<Subscription>()
    let sourceDone = false
    let active = 0
    let queued = 0

    const maybeComplete = (): void => {
      if (sourceDone && active === 0 && queued === 0) subscriber.complete()
    }

    const settle = (peer: Peer, state: PeerState<M>): void => {
      // Start queued envelopes while there is room; resume reading once the queue is empty and a slot is free.
      while (state.active < concurrency && state.queue.length > 0 && !subscriber.closed) {
        queued--
        start(state, state.queue.shift()!)
      }
      if (state.active < concurrency && state.queue.length === 0 && state.release !== undefined) {
        const release = state.release
        state.release = undefined
        release()
      }
      if (state.active === 0 && state.queue.length === 0) states.delete(peer)
    }

    const start = (state: PeerState<M>, envelope: Envelope<M>): void => {
      state.active++
      active++
      let finished = false
      let sub: Subscription | undefined
      const finish = (): void => {
        if (finished) return
        finished = true
        if (sub !== undefined) inner.delete(sub)
        state.active--
        active--
        settle(envelope.from, state)
        maybeComplete()
      }
      let input: ObservableInput<Action<R> | ReadonlyArray<Action<R>>>
      try {
        input = project(envelope)
      } catch (err) {
        subscriber.next(actions.stopPeer(envelope.from, asPeerError(err)))
        finish()
        return
      }
      sub = from(input).subscribe({
        next: (out) => {
          if (Array.isArray(out)) for (const action of out as ReadonlyArray<Action<R>>) subscriber.next(action)
          else subscriber.next(out as Action<R>)
        },
        error: (err) => {
          subscriber.next(actions.stopPeer(envelope.from, asPeerError(err)))
          finish()
        },
        complete: finish
      })
      if (!finished) inner.add(sub)
    }

    const outer = source.subscribe({
      next: (envelope) => {
        const peer = envelope.from
        let state = states.get(peer)
        if (state === undefined) {
          state = { active: 0, queue: [], release: undefined }
          states.set(peer, state)
        }
        if (state.active < concurrency && state.queue.length === 0) {
          start(state, envelope)
          // The bound is reached: stop reading from this peer until a slot frees.
          if (state.active >= concurrency && state.release === undefined) state.release = peer.holdReading()
        } else {
          // Only what a read already in progress delivered lands here; reading is paused.
          state.queue.push(envelope)
          queued++
          state.release ??= peer.holdReading()
        }
      },
      error: (err) => { subscriber.error(err) },
      complete: () => {
        sourceDone = true
        maybeComplete()
      }
    })

    return () => {
      outer.unsubscribe()
      for (const sub of inner) sub.unsubscribe()
      inner.clear()
      for (const state of states.values()) state.release?.()
      states.clear()
    }
  })
}
