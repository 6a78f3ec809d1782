/**
 * Marble-testing reactors without sockets: fake peers, envelopes and peer events as marbles in, the actions a
 * reactor returns as marbles out.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js'
import {
  asyncScheduler,
  BehaviorSubject,
  Observable,
  ReplaySubject,
  Subject,
  Subscription,
  type SchedulerLike
} from 'rxjs'
import type { ConnectionStatus } from '../conn/mconnection.js'
import type { HostPort } from '../transport/duplex.js'
import type { NodeId } from '../crypto/node-id.js'
import { NetAddress } from '../transport/net-address.js'
import { defaultNodeInfo, type NodeInfo } from '../wire/node-info.js'
import type { Action } from '../switch/actions.js'
import type { Envelope } from '../switch/envelope.js'
import type { PeerAddedEvent, PeerEvent, PeerRemovedEvent } from '../switch/events.js'
import type { Peer, PeerSendOptions } from '../switch/peer.js'
import { PeerSet } from '../switch/peer-set.js'
import type { Reactor, ReactorContext, ReactorRun } from '../switch/reactor.js'
import { DEFAULT_MAX_INBOUND_PEERS, DEFAULT_MAX_OUTBOUND_PEERS } from '../switch/defaults.js'

const utf8 = new TextEncoder()

/** A NodeInfo with every field filled: CometBFT-valid defaults ({@link defaultNodeInfo}), overridden by `init`. */
export function fakeNodeInfo (init: Partial<NodeInfo> = {}): NodeInfo {
  return defaultNodeInfo({
    protocolVersion: init.protocolVersion,
    id: init.id ?? '0000000000000000000000000000000000000000',
    listenAddr: init.listenAddr ?? '127.0.0.1:26656',
    network: init.network ?? 'rx-p2p-test',
    version: init.version ?? '0.1.0',
    channels: init.channels,
    moniker: init.moniker ?? 'test',
    other: init.other
  })
}

/** A node ID derived from a name: the first 20 bytes of SHA-256 of the name, in hex. */
export function fakeNodeId (name: string): NodeId {
  return Buffer.from(sha256(utf8.encode(name)).subarray(0, 20)).toString('hex')
}

/** Options of {@link fakePeer}. */
export interface FakePeerInit {
  /** @default derived from the name with {@link fakeNodeId} */
  id?: NodeId
  /** Channels the fake remote advertises; `undefined` means every channel. @default undefined */
  channels?: readonly number[]
  /** @default false */
  outbound?: boolean
  /** @default false */
  persistent?: boolean
  /** The remote socket address. @default 127.0.0.1, a port derived from the name */
  remoteAddress?: HostPort
  /** Messages `trySend` accepts before reporting the queue full (per channel). @default Infinity */
  sendQueueCapacity?: number
  /** Overrides for the fake NodeInfo. */
  nodeInfo?: Partial<NodeInfo>
}

/**
 * A {@link Peer} without a connection, for reactor tests: it records what is sent to it and how often its
 * reading is held.
 *
 * @example
 * ```ts
 * const alice = fakePeer('alice', { channels: [0x30] })
 * alice.trySend(0x30, bytes)   // true, recorded in alice.sent
 * alice.trySend(0x31, bytes)   // false: alice did not advertise 0x31
 * ```
 */
export class FakePeer implements Peer {
  readonly id: NodeId
  readonly nodeInfo: NodeInfo
  readonly remoteAddress: HostPort
  readonly socketAddr: NetAddress
  readonly isOutbound: boolean
  readonly isPersistent: boolean
  readonly closed$: Observable<Error | undefined>
  /** Every message queued to this peer, in order. */
  readonly sent: Array<{ chId: number, message: Uint8Array }> = []
  /** How many holds on its reading are active now. */
  holds = 0
  /** How many times its reading was held in all. */
  holdCount = 0
  readonly #channels: ReadonlySet<number> | undefined
  readonly #capacity: number
  readonly #closed = new ReplaySubject<Error | undefined>(1)
  #running = true

  constructor (readonly name: string, init: FakePeerInit = {}) {
    this.id = init.id ?? fakeNodeId(name)
    const port = 20000 + (parseInt(this.id.slice(0, 4), 16) % 40000)
    this.remoteAddress = init.remoteAddress ?? { host: '127.0.0.1', port }
    this.socketAddr = new NetAddress(this.id, this.remoteAddress.host, this.remoteAddress.port)
    this.isOutbound = init.outbound ?? false
    this.isPersistent = init.persistent ?? false
    this.#channels = init.channels === undefined ? undefined : new Set(init.channels)
    this.#capacity = init.sendQueueCapacity ?? Infinity
    this.nodeInfo = fakeNodeInfo({
      id: this.id,
      moniker: name,
      listenAddr: `${this.remoteAddress.host}:${this.remoteAddress.port}`,
      channels: Uint8Array.from(init.channels ?? []),
      ...init.nodeInfo
    })
    this.closed$ = this.#closed.asObservable()
  }

  get isRunning (): boolean {
    return this.#running
  }

  hasChannel (chId: number): boolean {
    return this.#channels === undefined || this.#channels.has(chId)
  }

  canSend (chId: number): boolean {
    return this.#running && this.hasChannel(chId) && this.sent.filter((m) => m.chId === chId).length < this.#capacity
  }

  trySend (chId: number, message: Uint8Array): boolean {
    if (!this.canSend(chId)) return false
    this.sent.push({ chId, message })
    return true
  }

  async send (chId: number, message: Uint8Array, _options?: PeerSendOptions): Promise<boolean> {
    return this.trySend(chId, message)
  }

  status (): ConnectionStatus {
    return fakeStatus()
  }

  holdReading (): () => void {
    this.holds++
    this.holdCount++
    let released = false
    return () => {
      if (released) return
      released = true
      this.holds--
    }
  }

  /** Marks the fake as disconnected; `closed$` emits `reason`. */
  close (reason?: Error): void {
    if (!this.#running) return
    this.#running = false
    this.#closed.next(reason)
    this.#closed.complete()
  }
}

function fakeStatus (): ConnectionStatus {
  const monitor = { active: false, start: 0, duration: 0, idle: 0, bytes: 0, samples: 0, instRate: 0, curRate: 0, avgRate: 0, peakRate: 0, bytesRem: 0, timeRem: 0, progress: 0 }
  return { duration: 0, sendMonitor: monitor, recvMonitor: monitor, channels: [] } as unknown as ConnectionStatus
}

/** A {@link FakePeer} named `name` (its ID is derived from the name unless given). */
export function fakePeer (name: string, init: FakePeerInit = {}): FakePeer {
  return new FakePeer(name, init)
}

/** An envelope of bytes from `from` on `chId`; a string message is UTF-8 encoded. */
export function envelope (from: Peer, chId: number, message: Uint8Array | string): Envelope {
  return { from, chId, message: typeof message === 'string' ? utf8.encode(message) : message }
}

/** A `added` peer event. */
export function peerAdded (peer: Peer): PeerAddedEvent {
  return { type: 'added', peer }
}

/** A `removed` peer event; no reason means a graceful stop. */
export function peerRemoved (peer: Peer, reason?: Error): PeerRemovedEvent {
  return { type: 'removed', peer, reason }
}

/** What {@link runReactor} feeds the reactor. */
export interface RunReactorInit {
  /** Envelopes as received (bytes). With a {@link Reactor}, only those on its channels reach it, as in the Switch. */
  envelopes$?: Observable<Envelope>
  /** Peer events; the harness keeps `ctx.peers` and `ctx.peers$` in step with them. */
  peerEvents$?: Observable<PeerEvent>
  /** The context's scheduler. @default asyncScheduler (virtual inside `TestScheduler.run`) */
  scheduler?: SchedulerLike
  /** Our NodeInfo. @default {@link fakeNodeInfo}() */
  nodeInfo?: Partial<NodeInfo>
  /** @default 40 */
  maxInboundPeers?: number
  /** @default 10 */
  maxOutboundPeers?: number
  /** @default [] */
  unconditionalPeerIds?: readonly NodeId[]
  /** Whether `isDialingOrExistingAddress` ignores IPs. @default false */
  allowDuplicateIp?: boolean
}

/**
 * Runs a reactor (or a bare pipeline) against marble inputs and returns its actions: cold, each
 * subscription runs the reactor once on a fresh context.
 *
 * The context behaves as the Switch's: `envelopes$` and `peerEvents$` are hot; `peers` and `peers$` follow
 * the `added` and `removed` events (updated before the reactor sees each event); `numPeers().dialing`
 * counts the reactor's `dial` actions that have no `dialed` or `dialFailed` event yet.
 *
 * @example
 * ```ts
 * import { TestScheduler } from 'rxjs/testing'
 * import { actions } from 'rx-p2p'
 * import { fakePeer, envelope, runReactor } from 'rx-p2p/testing'
 *
 * const scheduler = new TestScheduler((a, b) => expect(a).to.deep.equal(b))
 * scheduler.run(({ hot, expectObservable }) => {
 *   const alice = fakePeer('alice')
 *   const envelopes$ = hot('-a-', { a: envelope(alice, 0x70, 'ping') })
 *   expectObservable(runReactor(echoReactor, { envelopes$ })).toBe('-x-', {
 *     x: actions.trySend(alice, 0x70, new TextEncoder().encode('ping'))
 *   })
 * })
 * ```
 */
export function runReactor (reactor: Reactor | ReactorRun, init: RunReactorInit = {}): Observable<Action> {
  return new Observable<Action>((subscriber) => {
    const run: ReactorRun = typeof reactor === 'function' ? reactor : reactor.run
    const channelIds = typeof reactor === 'function' ? undefined : new Set(reactor.channels.map((c) => c.id))
    const peers = new PeerSet()
    const peers$ = new BehaviorSubject<readonly Peer[]>(peers.list())
    const events$ = new Subject<PeerEvent>()
    const envelopes$ = new Subject<Envelope>()
    const dialing = new Set<string>()
    const unconditional = new Set(init.unconditionalPeerIds ?? [])
    const allowDuplicateIp = init.allowDuplicateIp ?? false
    const ctx: ReactorContext = {
      envelopes$: envelopes$.asObservable(),
      peerEvents$: events$.asObservable(),
      peers$: peers$.asObservable(),
      peers,
      scheduler: init.scheduler ?? asyncScheduler,
      nodeInfo: fakeNodeInfo(init.nodeInfo),
      maxInboundPeers: init.maxInboundPeers ?? DEFAULT_MAX_INBOUND_PEERS,
      maxOutboundPeers: init.maxOutboundPeers ?? DEFAULT_MAX_OUTBOUND_PEERS,
      numPeers: () => peers.count((id) => unconditional.has(id), dialing.size),
      isDialingOrExistingAddress: (address) =>
        dialing.has(address.id) || peers.has(address.id) || (!allowDuplicateIp && peers.hasIp(address.host)),
      isPeerUnconditional: (id) => unconditional.has(id)
    }
    const subscription = new Subscription()
    subscription.add(run(ctx).subscribe({
      next: (action) => {
        if (action.type === 'dial') dialing.add(action.address.id)
        subscriber.next(action)
      },
      error: (err) => { subscriber.error(err) },
      complete: () => { subscriber.complete() }
    }))
    if (init.peerEvents$ !== undefined) {
      subscription.add(init.peerEvents$.subscribe({
        next: (event) => {
          if (event.type === 'added' && peers.add(event.peer)) peers$.next(peers.list())
          if (event.type === 'removed' && peers.remove(event.peer)) peers$.next(peers.list())
          if (event.type === 'dialed' || event.type === 'dialFailed') dialing.delete(event.address.id)
          events$.next(event)
        },
        error: (err) => { events$.error(err) },
        complete: () => { events$.complete() }
      }))
    }
    if (init.envelopes$ !== undefined) {
      subscription.add(init.envelopes$.subscribe({
        next: (env) => { if (channelIds === undefined || channelIds.has(env.chId)) envelopes$.next(env) },
        error: (err) => { envelopes$.error(err) },
        complete: () => { envelopes$.complete() }
      }))
    }
    return subscription
  })
}
