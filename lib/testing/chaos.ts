/**
 * Chaos for the {@link Simulation}: the faults it can inject (partitions that heal, lossy links, crashes and
 * restarts, churn, attacker nodes), the invariants it checks as it runs, and the attacker reactors.
 *
 * @module
 */
import { EMPTY, ignoreElements, interval, map, mergeMap, of, tap } from 'rxjs'
import { PEX_CHANNEL_DESCRIPTOR } from '../pex/pex-reactor.js'
import { actions } from '../switch/actions.js'
import type { Reactor } from '../switch/reactor.js'
import { NetAddress } from '../transport/net-address.js'
import { decodePexMessage, encodePexAddrs, MAX_PEX_ADDRESSES } from '../wire/pex.js'

/**
 * What an attacker node does.
 * - `'poison'`: answers every PEX request with {@link MAX_PEX_ADDRESSES} junk addresses (fresh IDs, IPs in
 *   distinct /16s that nobody listens on), to crowd honest books.
 * - `'squat'`: besides being a node, keeps raw connections open to random honest nodes and never handshakes.
 * - `'silent'`: handshakes, then never reads from its peers (they fill their queues towards it).
 */
export type AttackKind = 'poison' | 'squat' | 'silent'

/** Every attack kind, in the order attacker nodes are assigned them. */
export const ATTACK_KINDS: readonly AttackKind[] = Object.freeze(['poison', 'squat', 'silent'])

/** Faults and invariants of a {@link Simulation} (`SimulationInit.chaos`). Every field is a plain number so that a run replays from the command line. */
export interface ChaosInit {
  /** Probability that a chunk is lost, on every link (the receiver then fails to open a frame and drops the peer). @default 0 */
  linkLoss?: number
  /** Extra random one-way delay per chunk on every link, in [0, linkJitterMs) virtual ms (order kept). @default 0 */
  linkJitterMs?: number
  /** Abrupt crashes of random honest non-seed nodes per virtual hour (connections reset, no flush). @default 0 */
  crashesPerHour?: number
  /** Graceful leaves of random honest non-seed nodes per virtual hour (the Switch stops). @default 0 */
  churnPerHour?: number
  /** A crashed or departed node starts again after this many virtual ms, with its address book. @default 60000 */
  restartAfterMs?: number
  /** A partition starts every this many virtual ms (0 = none); the first one after one period. @default 0 */
  partitionEveryMs?: number
  /** How long a partition lasts before it heals, in virtual ms. @default 120000 */
  partitionMs?: number
  /** Share of the honest nodes cut off from the rest by a partition. @default 0.2 */
  partitionShare?: number
  /** Share of the non-seed nodes that are attackers, each running one of {@link ATTACK_KINDS} in turn. @default 0 */
  attackers?: number
  /**
   * Every honest and silent node broadcasts a message of this many bytes on channel {@link GOSSIP_CHANNEL} every
   * `gossipEveryMs` (`trySend`: dropped when a peer's queue is full), so that a peer that never reads fills
   * queues. 0 = no gossip. @default 0
   */
  gossipBytes?: number
  /** How often each node gossips, in virtual ms. @default 10000 */
  gossipEveryMs?: number
  /** Raw connections each squatter keeps open. @default 8 */
  squatConnections?: number
  /** How often the invariants are checked, in virtual ms. @default 10000 */
  checkEveryMs?: number
  /**
   * Bound on the bytes an honest node holds for its connections: received and not read, in flight towards it,
   * delayed by the link. @default 8388608 (8 MiB)
   */
  maxBufferedBytesPerNode?: number
  /** Bound on the share of an honest book's entries that are not honest nodes (attackers and junk). @default 1 (reported, not bounded) */
  maxAttackerBookShare?: number
  /**
   * After a partition heals, the honest nodes that have been up for a minute must form one connected graph
   * within this many virtual ms (0 = not checked). @default 600000
   */
  reconnectWithinMs?: number
}

/** The command-line flag of each {@link ChaosInit} field, as `bench/sim/run.ts` takes them. */
export const CHAOS_FLAGS: Readonly<Record<keyof ChaosInit, string>> = Object.freeze({
  linkLoss: '--link-loss',
  linkJitterMs: '--link-jitter',
  crashesPerHour: '--crashes',
  churnPerHour: '--churn',
  restartAfterMs: '--restart-after',
  partitionEveryMs: '--partition-every',
  partitionMs: '--partition-ms',
  partitionShare: '--partition-share',
  attackers: '--attackers',
  gossipBytes: '--gossip-bytes',
  gossipEveryMs: '--gossip-every',
  squatConnections: '--squat',
  checkEveryMs: '--check-every',
  maxBufferedBytesPerNode: '--max-buffered',
  maxAttackerBookShare: '--max-book-share',
  reconnectWithinMs: '--reconnect-within'
})

/** The chaos options with every default filled in. */
export type ResolvedChaos = Required<ChaosInit>

/** Fills in the defaults of `init`. */
export function resolveChaos (init: ChaosInit): ResolvedChaos {
  return {
    linkLoss: init.linkLoss ?? 0,
    linkJitterMs: init.linkJitterMs ?? 0,
    crashesPerHour: init.crashesPerHour ?? 0,
    churnPerHour: init.churnPerHour ?? 0,
    restartAfterMs: init.restartAfterMs ?? 60_000,
    partitionEveryMs: init.partitionEveryMs ?? 0,
    partitionMs: init.partitionMs ?? 120_000,
    partitionShare: init.partitionShare ?? 0.2,
    attackers: init.attackers ?? 0,
    gossipBytes: init.gossipBytes ?? 0,
    gossipEveryMs: init.gossipEveryMs ?? 10_000,
    squatConnections: init.squatConnections ?? 8,
    checkEveryMs: init.checkEveryMs ?? 10_000,
    maxBufferedBytesPerNode: init.maxBufferedBytesPerNode ?? 8 * 2 ** 20,
    maxAttackerBookShare: init.maxAttackerBookShare ?? 1,
    reconnectWithinMs: init.reconnectWithinMs ?? 600_000
  }
}

/** Which invariant a {@link SimulationInvariantError} reports. */
export type SimulationInvariant = 'peer-limits' | 'buffered-bytes' | 'book-share' | 'reconnect'

/** An invariant of a chaos simulation failed; the message carries the command that replays the run. */
export class SimulationInvariantError extends Error {
  /** A stable code. */
  readonly code = 'ERR_SIMULATION_INVARIANT'
  override name = 'SimulationInvariantError'
  constructor (
    /** The invariant that failed. */
    readonly invariant: SimulationInvariant,
    /** The node it failed on (-1 for the network as a whole). */
    readonly node: number,
    /** Virtual ms since the start. */
    readonly at: number,
    detail: string,
    /** The command line that replays the run. */
    readonly replay: string
  ) {
    super(`invariant ${invariant} failed at ${(at / 1000).toFixed(1)} virtual s${node >= 0 ? ` on node ${node}` : ''}: ${detail}\n  replay: ${replay}`)
  }
}

/** The command-line flags that give `chaos` (only the fields set). */
export function chaosFlags (chaos: ChaosInit): string[] {
  const out: string[] = []
  for (const key of Object.keys(CHAOS_FLAGS) as Array<keyof ChaosInit>) {
    const v = chaos[key]
    if (v !== undefined) out.push(CHAOS_FLAGS[key], String(v))
  }
  return out
}

/** A random node ID (40 hex characters) from `random`. */
export function randomNodeId (random: () => number): string {
  let id = ''
  for (let i = 0; i < 40; i++) id += Math.floor(random() * 16).toString(16)
  return id
}

/**
 * The reactor of a PEX-poisoning attacker: on channel 0x00, answers every request with
 * {@link MAX_PEX_ADDRESSES} fresh junk addresses, each in its own /16 (`junkHost`), and asks nothing.
 */
export function poisonReactor (random: () => number, junkHost: (random: () => number) => string): Reactor {
  return {
    name: 'pex-poison',
    channels: [PEX_CHANNEL_DESCRIPTOR],
    run: (ctx) => ctx.envelopes$.pipe(mergeMap((env) => {
      let msg
      try {
        msg = decodePexMessage(env.message)
      } catch {
        return EMPTY
      }
      if (msg.type !== 'request') return EMPTY
      const addrs = Array.from({ length: MAX_PEX_ADDRESSES }, () => new NetAddress(randomNodeId(random), junkHost(random), 26656))
      return of(actions.trySend(env.from, PEX_CHANNEL_DESCRIPTOR.id, encodePexAddrs(addrs)))
    }))
  }
}

/** The reactor of a silent attacker: stops reading from every peer as soon as it is connected, for good. */
export function silentReactor (): Reactor {
  return {
    name: 'silent',
    channels: [],
    run: (ctx) => ctx.peerEvents$.pipe(
      tap((e) => { if (e.type === 'added') e.peer.holdReading() }),
      ignoreElements()
    )
  }
}

/** The channel of the simulation's gossip load ({@link ChaosInit.gossipBytes}). */
export const GOSSIP_CHANNEL = 0x71

/**
 * A load for the simulation: broadcasts `bytes` bytes to every peer every `everyMs` (`trySend`), and ignores
 * what it receives. The send queue holds 10 messages per peer, as CometBFT's mempool channel does.
 */
export function gossipReactor (bytes: number, everyMs: number): Reactor {
  const message = new Uint8Array(bytes)
  return {
    name: 'gossip',
    channels: [{ id: GOSSIP_CHANNEL, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: Math.max(1024, bytes) }],
    run: (ctx) => interval(everyMs, ctx.scheduler).pipe(map(() => actions.broadcast(GOSSIP_CHANNEL, message)))
  }
}
