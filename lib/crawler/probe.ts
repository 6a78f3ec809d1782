/**
 * The crawler's probe: reads a node's NodeInfo without joining its network, with the upgrade's own steps
 * (`multiplex-transport/upgrade.ts`) and none of its own.
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import type { SecretConnection } from '../conn/secret-connection.js'
import type { NodeKey } from '../crypto/node-key.js'
import { dialWithTimeout } from '../multiplex-transport/dial.js'
import { authenticateConnection, exchangeNodeInfo, validatePeerNodeInfo } from '../multiplex-transport/upgrade.js'
import type { DuplexConnection } from '../transport/duplex.js'
import type { NetAddress } from '../transport/net-address.js'
import type { Transport } from '../transport/transport.js'
import { defaultNodeInfo, type NodeInfo } from '../wire/node-info.js'
import { PEX_CHANNEL } from '../wire/pex.js'
import { DEFAULT_CRAWL_DIAL_TIMEOUT_MS } from './defaults.js'

/** Options of {@link probeNode}. */
export interface ProbeInit {
  /** Our node key: the probe authenticates as this key. */
  nodeKey: NodeKey
  /** The NodeInfo we send (see {@link crawlerNodeInfo}). */
  nodeInfo: NodeInfo
  /** The transport to dial with. */
  transport: Transport
  /** TCP connect deadline. @default 3000 */
  dialTimeoutMs?: number
  /** Deadline of the secret handshake and, separately, of the NodeInfo exchange. @default 3000 */
  handshakeTimeoutMs?: number
  /** Runs the deadlines. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Aborts the probe. */
  signal?: AbortSignal
}

/** Fields of {@link crawlerNodeInfo}. */
export interface CrawlerNodeInfoInit {
  /** Our node key. */
  nodeKey: NodeKey
  /** The network we name. */
  network: string
  /** Our moniker. */
  moniker: string
  /** Our software version. */
  version: string
}

/**
 * The NodeInfo the crawler shows: the PEX channel only, not listening, CometBFT's defaults for the rest
 * ({@link defaultNodeInfo}).
 */
export function crawlerNodeInfo (init: CrawlerNodeInfoInit): NodeInfo {
  return defaultNodeInfo({
    id: init.nodeKey.id,
    network: init.network,
    version: init.version,
    channels: Uint8Array.of(PEX_CHANNEL),
    moniker: init.moniker
  })
}

/**
 * Reads a node's NodeInfo without joining it: dials `address`, runs the upgrade's first three steps
 * ({@link authenticateConnection}: the key must be the dialed ID; {@link exchangeNodeInfo};
 * {@link validatePeerNodeInfo}) and drops the connection, whatever the outcome. The compatibility step is left
 * out: the crawler probes to learn a node's network, or to show the NodeInfo of a node that refused us.
 *
 * @throws the dial's and the upgrade steps' typed errors (`TransportError`, `TimeoutError`,
 * `PeerIdMismatchError`, `InvalidNodeInfoError`, …)
 *
 * @example
 * ```ts
 * const ours = crawlerNodeInfo({ nodeKey, network: 'probe', moniker: 'rx-p2p-crawler', version: '0.1.0' })
 * const info = await probeNode(seed, { nodeKey, nodeInfo: ours, transport: new TcpTransport() })
 * info.network // the seed's chain ID
 * ```
 */
export async function probeNode (address: NetAddress, init: ProbeInit): Promise<NodeInfo> {
  const scheduler = init.scheduler ?? asyncScheduler
  const signal = init.signal
  let raw: DuplexConnection | undefined
  let sc: SecretConnection | undefined
  try {
    raw = await dialWithTimeout(init.transport, { host: address.host, port: address.port }, {
      timeoutMs: init.dialTimeoutMs ?? DEFAULT_CRAWL_DIAL_TIMEOUT_MS,
      scheduler,
      signal
    })
    sc = await authenticateConnection(raw, { nodeKey: init.nodeKey, dialedId: address.id, scheduler, handshakeTimeoutMs: init.handshakeTimeoutMs, signal })
    const info = await exchangeNodeInfo(sc, init.nodeInfo, { scheduler, handshakeTimeoutMs: init.handshakeTimeoutMs, signal })
    validatePeerNodeInfo(info, sc.remoteId)
    return info
  } finally {
    sc?.destroy()
    raw?.destroy()
  }
}
