/**
 * A CometBFT node's mempool as an Observable: an rx-p2p Switch with the library's mempool reactor (which
 * mirrors the node's height on 0x20, so that the node gossips its transactions to us) keeps one persistent
 * connection to the node, and every transaction it gossips comes out once.
 */
import { Observable, Subscription } from 'rxjs'
import { mempoolReactor, NetAddress, NodeKey, Switch, type MempoolTx, type PeerEvent } from '../../lib/index.js'

/** Options of {@link mempoolTransactions$}. */
export interface MempoolListenerInit {
  /** The node: `id@host:port` (its P2P address). */
  peer: string | NetAddress
  /** The node's network: its genesis `chain_id` (CometBFT refuses a peer on another network). */
  chainId: string
  /** Our moniker, as the node's `/net_info` will show it. @default 'rx-p2p-mempool-listener' */
  moniker?: string
  /** Our identity. @default a fresh key per subscription */
  nodeKey?: NodeKey
  /** NodeInfo.protocol_version.p2p: 8 (v0.38) or 9 (v1.0); nodes of either accept both. @default 8 */
  p2pVersion?: number
  /** Sees every peer event of the Switch (connected, disconnected with the reason, failed dials). */
  onEvent?: (event: PeerEvent) => void
}

/**
 * Streams the mempool transactions a CometBFT node gossips to us.
 *
 * Cold: each subscription starts its own Switch and dials the node as a persistent peer (redialed on
 * CometBFT's schedule when the connection drops); unsubscribing stops the Switch. Emits each transaction
 * once (`{ tx, hash, from }`, `hash` as CometBFT shows it); errors only if the Switch cannot start.
 *
 * @example
 * ```ts
 * mempoolTransactions$({ peer: '56475a…@127.0.0.1:26656', chainId: 'test-chain-x1' })
 *   .subscribe(({ hash, tx }) => console.log(hash, tx.byteLength))
 * ```
 */
export function mempoolTransactions$ (init: MempoolListenerInit): Observable<MempoolTx> {
  return new Observable<MempoolTx>((subscriber) => {
    const peer = typeof init.peer === 'string' ? NetAddress.parse(init.peer) : init.peer
    const mempool = mempoolReactor()
    const sw = new Switch({
      nodeKey: init.nodeKey ?? NodeKey.generate(),
      network: init.chainId,
      moniker: init.moniker ?? 'rx-p2p-mempool-listener',
      protocolVersion: { p2p: init.p2pVersion ?? 8 },
      reactors: [mempool],
      persistentPeers: [peer],
      dialRandomizerMs: 0
    })
    const subs = new Subscription()
    subs.add(mempool.txs$.subscribe({ next: (tx) => { subscriber.next(tx) } }))
    if (init.onEvent !== undefined) subs.add(sw.peerEvents$.subscribe(init.onEvent))
    sw.start().catch((err: unknown) => { subscriber.error(err) })
    return () => {
      subs.unsubscribe()
      void sw.stop()
    }
  })
}

/** What the node's RPC `/status` tells about it. */
export interface DiscoveredNode {
  /** `id@host:port` to dial (an unspecified listen host such as 0.0.0.0 is replaced by the RPC host). */
  address: NetAddress
  /** The chain ID (`node_info.network`). */
  chainId: string
  moniker: string
  /** The CometBFT version. */
  version: string
  /** NodeInfo.protocol_version.p2p of the node (8 for v0.38, 9 for v1.0). */
  p2pVersion: number
  /** The latest block height. */
  height: number
}

/** Reads a node's ID, P2P address and chain ID from its RPC `/status` (e.g. `http://127.0.0.1:26657`). */
export async function discoverNode (rpcUrl: string): Promise<DiscoveredNode> {
  const url = new URL(rpcUrl)
  const res = await fetch(new URL('/status', url), { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`${url.origin}/status: HTTP ${res.status}`)
  const body = await res.json() as { result?: { node_info: { id: string, listen_addr: string, network: string, moniker: string, version: string, protocol_version: { p2p: string } }, sync_info: { latest_block_height: string } } }
  const status = body.result
  if (status === undefined) throw new Error(`${url.origin}/status: no result in ${JSON.stringify(body).slice(0, 200)}`)
  const info = status.node_info
  const listen = NetAddress.parse(info.listen_addr, false)
  const unspecified = listen.host === '0.0.0.0' || listen.host === '::' || listen.host === ''
  const host = unspecified ? url.hostname.replace(/^\[|\]$/g, '') : listen.host
  return {
    address: new NetAddress(info.id.toLowerCase(), host, listen.port),
    chainId: info.network,
    moniker: info.moniker,
    version: info.version,
    p2pVersion: Number(info.protocol_version.p2p),
    height: Number(status.sync_info.latest_block_height)
  }
}
