/**
 * Height mirroring on the consensus state channel (`0x20`): what a peer that is not a validator sends so that
 * a CometBFT node gossips mempool transactions to it.
 *
 * A node's mempool reactor sends a tx to a peer only once the peer's consensus state is at least the tx's
 * height − 1, and that state comes only from the `NewRoundStep` messages the peer sends on `0x20`. The node
 * sends its own `NewRoundStep` to every peer that advertises `0x20` (right after the handshake, then on every
 * step change); answering each one with the same values announces the node's own height back to it, which
 * passes CometBFT's checks (`ValidateHeight`, non-decreasing height/round/step) by construction.
 *
 * @module
 */
import { Subject, type Observable } from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import { actions, type Action } from '../switch/actions.js'
import { mapToActions } from '../switch/map-to-actions.js'
import type { Peer } from '../switch/peer.js'
import type { ReactorContext, ReactorRun } from '../switch/reactor.js'
import { statefulReactor, type StatefulReactor } from '../switch/reactor-runtime.js'
import { CONSENSUS_STATE_CHANNEL, decodeConsensusMessage, encodeNewRoundStep, type NewRoundStep } from '../wire/consensus.js'

/**
 * The consensus state channel as CometBFT declares it: `0x20`, priority 6, send queue 100, messages up to
 * 1 MiB.
 */
export const CONSENSUS_STATE_CHANNEL_DESCRIPTOR: ChannelDescriptor = Object.freeze({
  id: CONSENSUS_STATE_CHANNEL,
  priority: 6,
  sendQueueCapacity: 100,
  recvMessageCapacity: 1 << 20
})

/** A `NewRoundStep` a peer sent us, on {@link HeightMirrorReactor.roundSteps$}. */
export interface PeerRoundStep {
  /** The peer that sent it. */
  readonly from: Peer
  /** Its values (the peer's height, round and step). */
  readonly step: NewRoundStep
}

/**
 * The pipeline of height mirroring, for a reactor that owns `0x20` (or shares its context with one that
 * does): answers each `NewRoundStep` a peer sends with the same values, to that peer only (`trySend`: a
 * dropped answer is made good by the next step change). A step equal in height, round and step to the last
 * one mirrored to that peer is not mirrored again. Every other consensus case, known or not, is ignored; bytes that do not decode stop the peer with a `DecodeError`. Envelopes on other channels are
 * ignored. `onStep` sees each decoded `NewRoundStep` first.
 *
 * ```
 * envelopes$ (0x20): --s1--v--s2--      s = NewRoundStep, v = a Vote (ignored)
 * actions:           --a1-----a2--      a = trySend(from, 0x20, the same NewRoundStep)
 * ```
 *
 * @example
 * ```ts
 * const reactor: Reactor = { name: 'mirror', channels: [CONSENSUS_STATE_CHANNEL_DESCRIPTOR], run: mirrorHeights() }
 * ```
 */
export function mirrorHeights (onStep?: (step: PeerRoundStep) => void): ReactorRun {
  return (ctx: ReactorContext) => {
    // The last height/round/step mirrored to each peer: a repeat is not mirrored again (CometBFT ignores
    // duplicates anyway), which also ends the echo between two peers that both mirror.
    const last = new WeakMap<Peer, string>()
    return ctx.envelopes$.pipe(
      mapToActions((env): Action | undefined => {
        if (env.chId !== CONSENSUS_STATE_CHANNEL) return undefined
        const msg = decodeConsensusMessage(env.message)
        if (msg.type !== 'newRoundStep') return undefined
        const { type: _type, ...step } = msg
        onStep?.({ from: env.from, step })
        const key = `${step.height}/${step.round}/${step.step}`
        if (last.get(env.from) === key) return undefined
        last.set(env.from, key)
        return actions.trySend(env.from, CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(step))
      })
    )
  }
}

/** A reactor that mirrors each peer's height back to it on `0x20`; see {@link heightMirrorReactor}. */
export interface HeightMirrorReactor extends StatefulReactor {
  /**
   * Hot: every `NewRoundStep` received, with its sender, before it is mirrored. Completes when the Switch
   * stops.
   */
  readonly roundSteps$: Observable<PeerRoundStep>
}

/**
 * A reactor on the consensus state channel (`0x20`) that mirrors each peer's `NewRoundStep` back to it (see
 * `mirrorHeights`), so that CometBFT nodes treat us as caught up and gossip their mempool to us. Use it
 * beside a reactor on `0x30`; {@link mempoolReactor} includes it by default. One reactor object per Switch.
 *
 * @example
 * ```ts
 * const mirror = heightMirrorReactor()
 * mirror.roundSteps$.subscribe(({ from, step }) => console.log(from.nodeInfo.moniker, 'at height', step.height))
 * const sw = new Switch({ nodeKey, network: chainId, reactors: [mirror, myMempoolReactor] })
 * ```
 */
export function heightMirrorReactor (): HeightMirrorReactor {
  const steps = new Subject<PeerRoundStep>()
  const reactor = statefulReactor({
    name: 'height-mirror',
    channels: [CONSENSUS_STATE_CHANNEL_DESCRIPTOR],
    state: undefined,
    pipelines: [mirrorHeights((s) => { steps.next(s) })],
    outputs: [steps]
  })
  return Object.assign(reactor, { roundSteps$: steps.asObservable() })
}
