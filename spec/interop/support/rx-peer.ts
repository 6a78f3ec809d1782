/**
 * The rx-p2p side of the raw interop scenarios (no Switch): TCP dial or listen, `upgradeConnection`
 * (SecretConnection + NodeInfo exchange), then an `MConnection` with the channels a non-validator peer uses
 * (0x00 PEX, 0x20 consensus state, 0x30 mempool).
 */
import { filter, firstValueFrom, ReplaySubject, Subject, take, timeout, type Observable, type Subscription } from 'rxjs'
import type { ChannelDescriptor } from '../../../lib/conn/channel.js'
import { MConnection, type MConnectionInit } from '../../../lib/conn/mconnection.js'
import { NodeKey } from '../../../lib/crypto/node-key.js'
import { TcpTransport } from '../../../lib/transport/tcp.js'
import type { Listener } from '../../../lib/transport/transport.js'
import { upgradeConnection, type UpgradedConnection } from '../../../lib/multiplex-transport/upgrade.js'
import { CONSENSUS_STATE_CHANNEL, decodeConsensusMessage, encodeNewRoundStep, type NewRoundStep } from '../../../lib/wire/consensus.js'
import { decodeMempoolMessage, MEMPOOL_CHANNEL } from '../../../lib/wire/mempool.js'
import type { NodeInfo } from '../../../lib/wire/node-info.js'
import { decodePexMessage, type PexMessage } from '../../../lib/wire/pex.js'
import type { CometNode } from './cometbft.js'

/** PEX channel. */
export const PEX_CHANNEL = 0x00

/** The channel descriptors of a non-validator peer, with CometBFT's priorities and capacities. */
export const INTEROP_CHANNELS: readonly ChannelDescriptor[] = [
  { id: PEX_CHANNEL, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 64_000 },
  { id: CONSENSUS_STATE_CHANNEL, priority: 6, sendQueueCapacity: 100, recvMessageCapacity: 1 << 20 },
  { id: MEMPOOL_CHANNEL, priority: 5, sendQueueCapacity: 100, recvMessageCapacity: (1 << 20) + 64 }
]

/** What our NodeInfo says. */
export interface RxNodeInfoOptions {
  network: string
  moniker: string
  /** @default [0x00, 0x20, 0x30] */
  channels?: readonly number[]
  /** @default 8 */
  p2p?: number
  /** The port written in listen_addr. @default 26656 (a dial-only peer never accepts on it) */
  listenPort?: number
}

/** Our NodeInfo for talking to a CometBFT node. */
export function rxNodeInfo (nodeKey: NodeKey, options: RxNodeInfoOptions): NodeInfo {
  return {
    protocolVersion: { p2p: options.p2p ?? 8, block: 11, app: 0 },
    id: nodeKey.id,
    listenAddr: `tcp://127.0.0.1:${options.listenPort ?? 26656}`,
    network: options.network,
    version: '0.1.0',
    channels: Uint8Array.from(options.channels ?? INTEROP_CHANNELS.map((c) => c.id)),
    moniker: options.moniker,
    other: { txIndex: 'off', rpcAddress: '' }
  }
}

/**
 * One upgraded connection to a CometBFT node with an MConnection on top, plus the helpers the scenarios use:
 * the node's NewRoundSteps, mirroring them back, and the txs it gossips.
 */
export class RxPeer {
  readonly mconn: MConnection
  /** Hot, replays all: every NewRoundStep the node sent on 0x20. */
  readonly roundSteps$: Observable<NewRoundStep>
  /** Hot, replays all: every PEX message the node sent on 0x00. */
  readonly pex$: Observable<PexMessage>
  /** Hot: every tx the node gossiped on 0x30. */
  readonly txs$: Observable<Uint8Array>
  /** Hot, replays all: decode failures (must stay empty). */
  readonly decodeErrors$: Observable<unknown>
  /** Consensus cases seen, by oneof number (v1.0 sends case 10 to every peer). */
  readonly consensusCases = new Map<number, number>()
  readonly #subs: Subscription[] = []
  #mirroring = false

  /**
   * @param upgraded the connection after upgradeConnection
   * @param local our NodeInfo on it
   */
  constructor (readonly upgraded: UpgradedConnection, readonly local: NodeInfo, channels: readonly ChannelDescriptor[], init: MConnectionInit = {}) {
    this.mconn = new MConnection(upgraded.conn, channels, init)
    const steps = new ReplaySubject<NewRoundStep>()
    const txs = new Subject<Uint8Array>()
    const pex = new ReplaySubject<PexMessage>()
    this.pex$ = pex.asObservable()
    const errors = new ReplaySubject<unknown>()
    this.roundSteps$ = steps.asObservable()
    this.txs$ = txs.asObservable()
    this.decodeErrors$ = errors.asObservable()
    this.#subs.push(this.mconn.inbound$.subscribe(({ chId, message }) => {
      try {
        if (chId === CONSENSUS_STATE_CHANNEL) {
          const msg = decodeConsensusMessage(message)
          const n = msg.type === 'newRoundStep' ? 1 : msg.case
          this.consensusCases.set(n, (this.consensusCases.get(n) ?? 0) + 1)
          if (msg.type === 'newRoundStep') {
            const { type: _type, ...nrs } = msg
            steps.next(nrs)
            if (this.#mirroring) this.mconn.trySend(CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(nrs))
          }
        } else if (chId === PEX_CHANNEL) {
          pex.next(decodePexMessage(message))
        } else if (chId === MEMPOOL_CHANNEL) {
          for (const tx of decodeMempoolMessage(message).txs) txs.next(tx.slice())
        }
      } catch (err) {
        errors.next(err)
      }
    }))
    this.mconn.start()
  }

  /** Our node ID on this connection. */
  get localId (): string {
    return this.local.id
  }

  /** The remote's NodeInfo. */
  get remote (): NodeInfo {
    return this.upgraded.nodeInfo
  }

  /**
   * From now on, answers each NewRoundStep of the node with the same values (announcing the node's own
   * height, which is what its mempool reactor waits for before gossiping txs to us). Starts with the latest
   * one already received.
   */
  async mirrorRoundSteps (): Promise<NewRoundStep> {
    const latest = await firstValueFrom(this.roundSteps$.pipe(timeout(10_000)))
    this.#mirroring = true
    let last = latest
    this.#subs.push(this.roundSteps$.subscribe((s) => { last = s }))
    this.mconn.trySend(CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(last))
    return last
  }

  /** Resolves with the first gossiped tx that equals `tx`. */
  async waitForTx (tx: Uint8Array, timeoutMs = 15_000): Promise<Uint8Array> {
    const want = Buffer.from(tx).toString('hex')
    return await firstValueFrom(this.txs$.pipe(
      filter((t) => Buffer.from(t).toString('hex') === want),
      take(1),
      timeout(timeoutMs)
    ))
  }

  /** Resolves when the MConnection closes (with its reason). */
  async closed (): Promise<Error | undefined> {
    return await firstValueFrom(this.mconn.closed$)
  }

  /** Sends what is queued, then closes (at most 2 s, then at once). */
  async close (): Promise<void> {
    for (const s of this.#subs) s.unsubscribe()
    if (!this.mconn.isClosed) {
      await withTimeout(this.mconn.flushStop(), 2000, 'flushStop').catch(() => {})
      this.mconn.stop()
    }
    this.upgraded.conn.destroy()
  }
}

/** rx-p2p's raw dial: TCP, upgrade (dialed ID checked), no MConnection yet. */
export async function dialAndUpgrade (node: CometNode, nodeKey: NodeKey, nodeInfo: NodeInfo): Promise<UpgradedConnection> {
  const raw = await new TcpTransport().dial({ host: '127.0.0.1', port: node.p2pPort })
  return await upgradeConnection(raw, { nodeKey, nodeInfo, dialedId: node.id })
}

/** rx-p2p's raw dial with an MConnection on top. */
export async function dialPeer (node: CometNode, options: { nodeKey?: NodeKey, info?: Partial<RxNodeInfoOptions>, mconn?: MConnectionInit } = {}): Promise<RxPeer> {
  const nodeKey = options.nodeKey ?? NodeKey.generate()
  const info = rxNodeInfo(nodeKey, { network: node.chainId, moniker: 'rx-p2p-dialer', ...options.info })
  const upgraded = await dialAndUpgrade(node, nodeKey, info)
  return new RxPeer(upgraded, info, INTEROP_CHANNELS.filter((c) => info.channels.includes(c.id)), options.mconn)
}

/**
 * A TCP listener that upgrades every inbound connection: successes come out of `peers$` (with an MConnection
 * started), failures out of `refusals$` with the typed error.
 */
export class RxListener {
  readonly nodeKey: NodeKey
  readonly info: NodeInfo
  readonly #peers = new ReplaySubject<RxPeer>()
  readonly #refusals = new ReplaySubject<unknown>()
  /** Every refusal so far (the typed errors of failed inbound upgrades). */
  readonly refused: unknown[] = []
  readonly #all: RxPeer[] = []
  #sub: Subscription | undefined

  private constructor (readonly listener: Listener, nodeKey: NodeKey, info: NodeInfo) {
    this.nodeKey = nodeKey
    this.info = info
  }

  /** Listens on 127.0.0.1 (free port). */
  static async start (options: { network: string, moniker?: string, channels?: readonly number[], nodeKey?: NodeKey, mconn?: MConnectionInit }): Promise<RxListener> {
    const nodeKey = options.nodeKey ?? NodeKey.generate()
    const listener = await new TcpTransport().listen({ host: '127.0.0.1', port: 0 })
    const info = rxNodeInfo(nodeKey, {
      network: options.network,
      moniker: options.moniker ?? 'rx-p2p-listener',
      listenPort: listener.address.port,
      ...(options.channels !== undefined ? { channels: options.channels } : {})
    })
    const self = new RxListener(listener, nodeKey, info)
    const channels = INTEROP_CHANNELS.filter((c) => info.channels.includes(c.id))
    self.#sub = listener.connections$.subscribe((raw) => {
      upgradeConnection(raw, { nodeKey, nodeInfo: info }).then((upgraded) => {
        const peer = new RxPeer(upgraded, info, channels.length > 0 ? channels : [{ id: info.channels[0]!, priority: 1 }], options.mconn)
        self.#all.push(peer)
        self.#peers.next(peer)
      }, (err: unknown) => {
        self.refused.push(err)
        self.#refusals.next(err)
      })
    })
    return self
  }

  /** `id@127.0.0.1:port` for a node's persistent_peers. */
  get address (): string {
    return `${this.nodeKey.id}@127.0.0.1:${this.listener.address.port}`
  }

  /** Hot, replays all: each accepted and upgraded peer. */
  get peers$ (): Observable<RxPeer> {
    return this.#peers.asObservable()
  }

  /** Hot, replays all: each inbound connection refused by the upgrade, as its typed error. */
  get refusals$ (): Observable<unknown> {
    return this.#refusals.asObservable()
  }

  /** Closes every peer, then stops listening (the TCP server's close waits for its open connections). */
  async close (): Promise<void> {
    this.#sub?.unsubscribe()
    await Promise.all(this.#all.map(async (p) => { await p.close() }))
    await withTimeout(this.listener.close(), 5000, 'listener close')
  }
}

/** Resolves with `p`, or rejects after `ms` (the timer never outlives the race). */
export async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} did not finish in ${ms} ms`)) }, ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}
