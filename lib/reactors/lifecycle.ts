/**
 * Life-cycle helpers shared by the reactors in this folder (not exported from the package).
 *
 * @internal
 * @module
 */
import { Observable } from 'rxjs'
import type { Action } from '../switch/actions.js'

/**
 * Subscribes to `actions$`; when it is unsubscribed without having failed (the Switch stopping, not a
 * restart after an error), completes `subjects`.
 */
export function completingOnStop (actions$: Observable<Action>, subjects: ReadonlyArray<{ complete: () => void }>): Observable<Action> {
  return new Observable<Action>((subscriber) => {
    let failed = false
    const sub = actions$.subscribe({
      next: (a) => { subscriber.next(a) },
      error: (err: unknown) => {
        failed = true
        subscriber.error(err)
      },
      complete: () => { subscriber.complete() }
    })
    return () => {
      sub.unsubscribe()
      if (!failed) for (const s of subjects) s.complete()
    }
  })
}
