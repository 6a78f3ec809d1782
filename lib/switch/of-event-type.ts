/**
 * `ofEventType`: narrow a stream of peer events to some of its types.
 *
 * @module
 */
import { filter, type OperatorFunction } from 'rxjs'
import type { PeerEvent, PeerEventType } from './events.js'

/**
 * Keeps the peer events of the given types, typed accordingly.
 *
 * ```
 * events$:  --a--r--d--a--|     (a = added, r = removed, d = dialed)
 * ofEventType('added')
 * result:   --a--------a--|
 * ```
 *
 * @example
 * ```ts
 * ctx.peerEvents$.pipe(ofEventType('added'), map(({ peer }) => actions.trySend(peer, CH, hello)))
 * ```
 */
export function ofEventType<T extends PeerEventType> (...types: T[]): OperatorFunction<PeerEvent, Extract<PeerEvent, { type: T }>> {
  const wanted = new Set<PeerEventType>(types)
  return filter((event): event is Extract<PeerEvent, { type: T }> => wanted.has(event.type))
}
