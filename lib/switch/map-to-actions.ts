/**
 * `mapToActions`: the everyday reactor operator, envelope in, zero or more actions out, with a throwing
 * handler turned into stopping the peer that sent the envelope.
 *
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs'
import { P2PError, ReactorError } from '../errors.js'
import { actions, type Action } from './actions.js'
import type { Envelope } from './envelope.js'

/** What a handler may return: one action, several, or nothing. */
export type ActionsResult<M> = Action<M> | ReadonlyArray<Action<M>> | undefined | void

/**
 * Maps each envelope to the actions `handle` returns (one, an array, or none), synchronously.
 *
 * If `handle` throws, the pipeline does not fail: the envelope's sender is stopped with the error
 * (a `P2PError` such as `DecodeError` or `PexViolationError` is kept as it is, anything else is wrapped in a
 * `ReactorError`), and the next envelope is handled as usual.
 *
 * ```
 * envelopes$: --a--b--c--|      handle(b) throws E
 * result:     --x--s--y--|      s = actions.stopPeer(b.from, E)
 * ```
 *
 * @example
 * ```ts
 * run: (ctx) => ctx.envelopes$.pipe(mapToActions((env) => {
 *   if (env.message.byteLength > 1000) throw new ReactorError('message too long')
 *   return actions.broadcast(CHAT, env.message, { except: [env.from] })
 * }))
 * ```
 */
export function mapToActions<M, R = M> (handle: (envelope: Envelope<M>, index: number) => ActionsResult<R>): OperatorFunction<Envelope<M>, Action<R>> {
  return (source) => new Observable<Action<R>>((subscriber) => {
    let index = 0
    return source.subscribe({
      next: (envelope) => {
        let result: ActionsResult<R>
        try {
          result = handle(envelope, index++)
        } catch (err) {
          subscriber.next(actions.stopPeer(envelope.from, asPeerError(err)))
          return
        }
        if (result === undefined) return
        if (isActionArray(result)) {
          for (const action of result) subscriber.next(action)
        } else {
          subscriber.next(result)
        }
      },
      error: (err) => { subscriber.error(err) },
      complete: () => { subscriber.complete() }
    })
  })
}

function isActionArray<R> (result: Action<R> | ReadonlyArray<Action<R>>): result is ReadonlyArray<Action<R>> {
  return Array.isArray(result)
}

/** The reason to stop a peer for `err`: a P2PError as it is, anything else wrapped in a ReactorError. */
export function asPeerError (err: unknown): Error {
  if (err instanceof P2PError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new ReactorError(`reactor failed on a message: ${message}`, { cause: err })
}
