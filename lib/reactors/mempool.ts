/**
 * A mempool reactor (channel `0x30`) for a node that is not a validator: it streams the transactions peers
 * gossip to it, and broadcasts transactions of its own. With height mirroring on `0x20` (the default), a
 * CometBFT node gossips its mempool to it.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { Subject, type Observable } from 'rxjs'
import type { ChannelDescriptor } from '../conn/channel.js'
import { actions } from '../switch/actions.js'
import type { Peer } from '../switch/peer.js'
import { statefulReactor, type StatefulReactor } from '../switch/reactor-runtime.js'
import { decodeMempoolMessage, encodeTxs, MEMPOOL_CHANNEL } from '../wire/mempool.js'
import { varintSize } from '../wire/proto.js'
import { DEFAULT_MAX_TX_BYTES, DEFAULT_MEMPOOL_SEND_QUEUE_CAPACITY, DEFAULT_SEEN_TX_CACHE_SIZE } from './defaults.js'
import { CONSENSUS_STATE_CHANNEL_DESCRIPTOR, mirrorHeights, type PeerRoundStep } from './height-mirror.js'

/**
 * The encoded size of `Message{txs{txs:[tx]}}` for a tx of `txBytes` bytes: CometBFT's receive capacity of
 * the mempool channel for `max_tx_bytes = txBytes`.
 *
 * @example
 * ```ts
 * mempoolMessageSize(7) // 11: 0a 09 0a 07 + 7 bytes
 * ```
 */
export function mempoolMessageSize (txBytes: number): number {
  const inner = 1 + varintSize(txBytes) + txBytes
  return 1 + varintSize(inner) + inner
}

/**
 * The mempool channel as {@link mempoolReactor} declares it: `0x30`, priority 5 (CometBFT's), a send queue of
 * 100, messages up to one tx of 1 MiB.
 */
export const MEMPOOL_CHANNEL_DESCRIPTOR: ChannelDescriptor = Object.freeze({
  id: MEMPOOL_CHANNEL,
  priority: 5,
  sendQueueCapacity: DEFAULT_MEMPOOL_SEND_QUEUE_CAPACITY,
  recvMessageCapacity: mempoolMessageSize(DEFAULT_MAX_TX_BYTES)
})

/**
 * The hash CometBFT shows for a transaction (`/broadcast_tx_sync`, `/tx`, block explorers): SHA-256 of its
 * bytes in upper-case hex.
 *
 * @example
 * ```ts
 * txHash(new TextEncoder().encode('name=satoshi')) // '2B8E...'
 * ```
 */
export function txHash (tx: Uint8Array): string {
  return createHash('sha256').update(tx).digest('hex').toUpperCase()
}

/** A transaction a peer gossiped to us, on {@link MempoolReactor.txs$}. */
export interface MempoolTx {
  /** The transaction's bytes (a copy of its own). */
  readonly tx: Uint8Array
  /** SHA-256 of `tx`, upper-case hex, as CometBFT shows it. */
  readonly hash: string
  /** The peer that sent it first. */
  readonly from: Peer
}

/** Options of {@link mempoolReactor}. */
export interface MempoolReactorInit {
  /**
   * Also own the consensus state channel (`0x20`) and mirror each peer's `NewRoundStep` back to it, which is
   * what makes a CometBFT node gossip its mempool to us. Turn it off when another reactor owns `0x20` (that
   * reactor must then announce our height).
   * @default true
   */
  mirrorHeights?: boolean
  /** The largest tx we accept: the mempool channel's receive capacity is one tx of this size. @default 1048576 */
  maxTxBytes?: number
  /** Hashes remembered to emit each tx once, whoever sends it again (0: emit every copy). @default 10000 */
  seenCacheSize?: number
  /** The mempool channel's send queue, per peer. @default 100 */
  sendQueueCapacity?: number
}

/** The reactor made by {@link mempoolReactor}. */
export interface MempoolReactor extends StatefulReactor<Uint8Array> {
  /**
   * Hot: each transaction peers gossip to us, once (the first copy; later copies within the seen cache are
   * dropped), in arrival order. Completes when the Switch stops.
   */
  readonly txs$: Observable<MempoolTx>
  /**
   * Hot: each `NewRoundStep` peers send on `0x20`, with its sender, before it is mirrored back (nothing when
   * `mirrorHeights` is off). Completes when the Switch stops.
   */
  readonly roundSteps$: Observable<PeerRoundStep>
  /**
   * Sends `tx` to every connected peer that has the mempool channel, one tx per message as CometBFT does,
   * waiting (up to the send timeout) for room in each peer's queue. Returns false when the reactor is not
   * running (the Switch is not started, or has stopped). The tx enters the seen cache, so it is not reported
   * on {@link txs$} if a peer sends it back.
   */
  broadcastTx (tx: Uint8Array): boolean
}

/**
 * A mempool reactor on `0x30`, by default with height mirroring on `0x20` (see `mirrorHeights`):
 * transactions gossiped by peers come out of {@link MempoolReactor.txs$}; {@link MempoolReactor.broadcastTx}
 * sends one to every peer. It keeps no mempool and relays nothing: it listens and submits.
 *
 * - A message that does not decode stops its sender with a `DecodeError`. A message with no tx or with
 *   empty txs is ignored (CometBFT v1.0 logs it; v0.38.24+ drops the peer).
 * - A tx larger than `maxTxBytes` never arrives: the channel's receive capacity stops the peer
 *   (`MessageTooLargeError`).
 * - One reactor object per Switch.
 *
 * @example
 * ```ts
 * import { mempoolReactor, NodeKey, Switch } from 'rx-p2p'
 *
 * const mempool = mempoolReactor()
 * const sw = new Switch({ nodeKey: NodeKey.generate(), network: 'my-chain', reactors: [mempool] })
 * mempool.txs$.subscribe(({ hash, tx, from }) => console.log(hash, tx.byteLength, 'bytes from', from.nodeInfo.moniker))
 * await sw.start()
 * await sw.dial('56475aa75463474c0285df5dbf2bcab73da65135@127.0.0.1:26656')
 * mempool.broadcastTx(new TextEncoder().encode('name=satoshi'))
 * ```
 */
export function mempoolReactor (init: MempoolReactorInit = {}): MempoolReactor {
  const mirror = init.mirrorHeights ?? true
  const maxTxBytes = init.maxTxBytes ?? DEFAULT_MAX_TX_BYTES
  const cacheSize = init.seenCacheSize ?? DEFAULT_SEEN_TX_CACHE_SIZE
  if (!Number.isInteger(maxTxBytes) || maxTxBytes < 1) throw new RangeError(`maxTxBytes must be a positive integer, got ${maxTxBytes}`)
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new RangeError(`seenCacheSize must be a non-negative integer, got ${cacheSize}`)
  const txs = new Subject<MempoolTx>()
  const steps = new Subject<PeerRoundStep>()
  const seen = new Set<string>()
  /** True the first time `hash` is seen (while it stays in the cache). */
  const remember = (hash: string): boolean => {
    if (cacheSize === 0) return true
    if (seen.has(hash)) return false
    seen.add(hash)
    if (seen.size > cacheSize) seen.delete(seen.values().next().value!)
    return true
  }

  const channels: ChannelDescriptor[] = [{
    ...MEMPOOL_CHANNEL_DESCRIPTOR,
    sendQueueCapacity: init.sendQueueCapacity ?? DEFAULT_MEMPOOL_SEND_QUEUE_CAPACITY,
    recvMessageCapacity: mempoolMessageSize(maxTxBytes)
  }]
  if (mirror) channels.push(CONSENSUS_STATE_CHANNEL_DESCRIPTOR)

  const reactor = statefulReactor<undefined, Uint8Array>({
    name: 'mempool',
    channels,
    state: undefined,
    envelope: (_scope, env) => {
      if (env.chId !== MEMPOOL_CHANNEL) return
      for (const tx of decodeMempoolMessage(env.message).txs) {
        if (tx.byteLength === 0) continue
        const hash = txHash(tx)
        if (remember(hash)) txs.next({ tx: tx.slice(), hash, from: env.from })
      }
    },
    // broadcastTx: one tx per message, waiting for room in each peer's queue
    command: (scope, tx) => {
      remember(txHash(tx))
      scope.emit(actions.broadcast(MEMPOOL_CHANNEL, encodeTxs([tx]), { mode: 'send' }))
    },
    pipelines: mirror ? [mirrorHeights((s) => { steps.next(s) })] : [],
    outputs: [txs, steps]
  })

  return Object.assign(reactor, {
    txs$: txs.asObservable(),
    roundSteps$: steps.asObservable(),
    broadcastTx: (tx: Uint8Array): boolean => reactor.command(tx)
  })
}
