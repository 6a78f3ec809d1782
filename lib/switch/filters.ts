/**
 * Admission of peers: the limits and user filters an upgraded connection must pass to become a peer, as
 * CometBFT's Switch applies them (the filters on raw connections are the multiplex transport's: `conn-set.ts`).
 *
 * @module
 */
import { asyncScheduler, from, Observable, type ObservableInput, type SchedulerLike, type Subscription } from 'rxjs'
import { PeerRejectedError, TimeoutError } from '../errors.js'
import type { NodeId } from '../crypto/node-id.js'
import { DEFAULT_FILTER_TIMEOUT_MS } from './defaults.js'
import type { Peer } from './peer.js'
import type { PeerSet, ReadonlyPeerSet } from './peer-set.js'

/**
 * A user peer filter (CometBFT `PeerFilterFunc`), run on every new peer after its handshakes and before it
 * joins. It refuses the peer by throwing, by returning `false`, or with a Promise or Observable that rejects
 * or yields `false`; anything else accepts it. All filters run at the same time, under one deadline.
 *
 * @example
 * ```ts
 * const onlyMonikers: PeerFilter = (peer) => peer.nodeInfo.moniker.startsWith('validator-')
 * const remoteCheck: PeerFilter = async (peer) => {
 *   const ok = await fetchAllowList().then((list) => list.includes(peer.id))
 *   if (!ok) throw new Error('not on the allow list')
 * }
 * ```
 */
export type PeerFilter = (peer: Peer, peers: ReadonlyPeerSet) => void | boolean | ObservableInput<unknown>

/** Options of {@link runPeerFilters}. */
export interface PeerFilterInit {
  /** The deadline for all filters together, in ms. @default 5000 */
  timeoutMs?: number
  /** Where the deadline is timed. @default asyncScheduler */
  scheduler?: SchedulerLike
}

/**
 * Runs the peer filters in parallel: cold; completes when every filter accepted, errors with a
 * `PeerRejectedError` (`reason` `'filter'`, the filter's error as `cause`) at the first refusal, or with
 * reason `'filter-timeout'` when the deadline passes first. Unsubscribing abandons the filters.
 *
 * Mirrors CometBFT `Switch.filterPeer` (filters in goroutines, `ErrFilterTimeout` after
 * `filterTimeout` = 5 s). CometBFT restarts its timer for each result; rx-p2p uses one deadline for all.
 *
 * ```
 * filter A: ----(a|)        filter B: ------(b|)      timeoutMs 5
 * result:   -----#          (filter-timeout at frame 5; B was too slow)
 * ```
 *
 * @example
 * ```ts
 * await lastValueFrom(runPeerFilters([f1, f2], peer, peers, { timeoutMs: 5000 }), { defaultValue: undefined })
 * ```
 */
export function runPeerFilters (filters: readonly PeerFilter[], peer: Peer, peers: ReadonlyPeerSet, init: PeerFilterInit = {}): Observable<void> {
  return new Observable<void>((subscriber) => {
    if (filters.length === 0) {
      subscriber.complete()
      return
    }
    const timeoutMs = init.timeoutMs ?? DEFAULT_FILTER_TIMEOUT_MS
    const scheduler = init.scheduler ?? asyncScheduler
    const subs: Subscription[] = []
    let pending = filters.length
    let done = false
    const reject = (cause: unknown): void => {
      if (done) return
      done = true
      const detail = cause instanceof Error ? cause.message : 'refused'
      subscriber.error(new PeerRejectedError('filter', `peer ${peer.id} refused by a peer filter: ${detail}`, { cause }))
    }
    const accept = (): void => {
      if (done) return
      if (--pending === 0) {
        done = true
        subscriber.complete()
      }
    }
    subs.push(scheduler.schedule(() => {
      if (done) return
      done = true
      subscriber.error(new PeerRejectedError('filter-timeout', `peer filters did not answer within ${timeoutMs} ms`, {
        cause: new TimeoutError(`peer filter timeout (${timeoutMs} ms)`)
      }))
    }, timeoutMs))
    for (const filter of filters) {
      if (done) break
      let result: ReturnType<PeerFilter>
      try {
        result = filter(peer, peers)
      } catch (err) {
        reject(err)
        break
      }
      if (result === undefined || result === true) accept()
      else if (result === false) reject(new Error('filter returned false'))
      else {
        let answered = false
        subs.push(from(result).subscribe({
          next: (value) => {
            if (answered) return
            answered = true
            if (value === false) reject(new Error('filter returned false'))
            else accept()
          },
          error: (err) => {
            if (answered) return
            answered = true
            reject(err)
          },
          complete: () => {
            if (answered) return
            answered = true
            accept()
          }
        }))
      }
    }
    return () => { for (const sub of subs) sub.unsubscribe() }
  })
}

/** The limits {@link admitPeer} checks. */
export interface AdmissionLimits {
  /** Our node ID. */
  ourId: NodeId
  /** @default 40 */
  maxInboundPeers: number
  /** True for IDs exempt from the inbound limit. */
  isUnconditional: (id: NodeId) => boolean
}

/**
 * Checks a peer that finished its handshakes against the self, inbound-limit and duplicate-ID rules, in
 * CometBFT's order. Returns the refusal, or `undefined` to admit it.
 *
 * - **self**: CometBFT `MultiplexTransport.upgrade` rejects `NodeInfo.ID == ourID` (`ErrRejected.isSelf`).
 * - **max-inbound**: CometBFT `Switch.acceptRoutine` drops an inbound peer when the inbound count,
 *   unconditional peers excluded, is already ≥ `max_num_inbound_peers`; an unconditional peer always passes.
 * - **duplicate-id**: CometBFT `Switch.filterPeer` rejects an ID that is already a peer.
 *
 * @example
 * ```ts
 * const refusal = admitPeer(peers, { id, outbound: false }, { ourId, maxInboundPeers: 40, isUnconditional })
 * if (refusal !== undefined) conn.destroy(refusal)
 * ```
 */
export function admitPeer (peers: PeerSet, candidate: { id: NodeId, outbound: boolean }, limits: AdmissionLimits): PeerRejectedError | undefined {
  if (candidate.id === limits.ourId) return new PeerRejectedError('self', 'connected to ourselves')
  if (!candidate.outbound && !limits.isUnconditional(candidate.id)) {
    const { inbound } = peers.count(limits.isUnconditional)
    if (inbound >= limits.maxInboundPeers) {
      return new PeerRejectedError('max-inbound', `already have ${inbound} inbound peers (max ${limits.maxInboundPeers})`)
    }
  }
  if (peers.has(candidate.id)) return new PeerRejectedError('duplicate-id', `peer ${candidate.id} is already connected`)
  return undefined
}
