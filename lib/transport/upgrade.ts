/**
 * The connection upgrade CometBFT's transport runs on every new connection (`p2p/transport.go` `upgrade`):
 * SecretConnection handshake, dialed-ID check, NodeInfo exchange, then the NodeInfo rules.
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { PeerIdMismatchError, SelfConnectionError } from '../errors.js'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, makeSecretConnection, runWithDeadline, type SecretConnection } from '../conn/secret-connection.js'
import type { AeadBackend } from '../crypto/aead.js'
import type { NodeKey } from '../crypto/node-key.js'
import { encodeDelimited, readDelimited } from '../wire/delimited.js'
import { checkCompatible, decodeNodeInfo, encodeNodeInfo, MAX_NODE_INFO_SIZE, validateNodeInfo, type NodeInfo } from '../wire/node-info.js'
import type { DuplexConnection } from './duplex.js'
import { parseNodeId, type NodeId } from './net-address.js'

/** Options of {@link upgradeConnection}. */
export interface UpgradeInit {
  /** Our node key. */
  nodeKey: NodeKey
  /** Our NodeInfo, sent to the peer and used for the self and compatibility checks. */
  nodeInfo: NodeInfo
  /** Outbound: the ID we dialed; the authenticated key must match it. Omit for inbound connections. */
  dialedId?: NodeId
  /** Runs the deadlines. @default asyncScheduler */
  scheduler?: SchedulerLike
  /**
   * Deadline in milliseconds, applied separately to the secret handshake and to the NodeInfo exchange, as
   * CometBFT does.
   * @default 3000
   */
  handshakeTimeoutMs?: number
  /** Aborts the upgrade. */
  signal?: AbortSignal
  /**
   * Called with the remote's authenticated ID once the secret handshake succeeds, before the NodeInfo
   * exchange: lets a caller name the peer when a later step refuses it (the Switch's `rejected` event), and
   * refuse it by throwing (the Switch's ID bans): the upgrade then fails with that error before any NodeInfo
   * is sent or read.
   */
  onAuthenticated?: (remoteId: NodeId) => void
  /**
   * Called once the remote's ephemeral key has arrived, before the X25519 agreement and our signature;
   * throwing abandons the handshake with that error (the Switch's handshake CPU limit). @default undefined
   */
  beforeKeyAgreement?: () => void
  /** The frame AEAD implementation. @default defaultAeadBackend() */
  aeadBackend?: AeadBackend
  /** A fixed ephemeral X25519 private key, for test vectors only. @internal */
  ephemeralPrivateKey?: Uint8Array
}

/** A connection that passed the upgrade. */
export interface UpgradedConnection {
  /** The encrypted connection; the next layer (MConnection) reads and writes it. */
  conn: SecretConnection
  /** The remote's NodeInfo, validated and compatible with ours. */
  nodeInfo: NodeInfo
  /** The remote's authenticated node ID. */
  remoteId: NodeId
}

/**
 * Exchanges NodeInfo over an established SecretConnection: writes ours (length-prefixed, one write) and reads
 * theirs (at most {@link MAX_NODE_INFO_SIZE} bytes), within the deadline. No validation.
 *
 * @throws {FrameTooLargeError} the remote's NodeInfo is larger than 10240 bytes
 * @throws {DecodeError} it does not decode
 * @throws {TimeoutError} it did not arrive in time
 */
export function exchangeNodeInfo (conn: DuplexConnection, ours: NodeInfo, init: { scheduler?: SchedulerLike, handshakeTimeoutMs?: number, signal?: AbortSignal } = {}): Promise<NodeInfo> {
  const timeoutMs = init.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  return runWithDeadline(async (signal) => {
    conn.write(encodeDelimited(encodeNodeInfo(ours)))
    return decodeNodeInfo(await readDelimited(conn, MAX_NODE_INFO_SIZE, { signal }))
  }, {
    scheduler: init.scheduler ?? asyncScheduler,
    timeoutMs,
    signal: init.signal,
    what: 'NodeInfo exchange',
    onFail: () => {}
  })
}

/**
 * Upgrades a raw connection the way CometBFT's transport does, in its order:
 * 1. SecretConnection handshake (deadline 3 s);
 * 2. outbound: the authenticated ID must be `dialedId` ({@link PeerIdMismatchError});
 * 3. NodeInfo exchange (a separate 3 s deadline; at most 10240 bytes);
 * 4. {@link validateNodeInfo} ({@link InvalidNodeInfoError});
 * 5. the NodeInfo's ID must be the authenticated ID ({@link PeerIdMismatchError});
 * 6. not ourselves ({@link SelfConnectionError});
 * 7. {@link checkCompatible} ({@link IncompatiblePeerError}).
 *
 * On any failure the raw connection is destroyed and the promise rejects with the typed error.
 *
 * @example
 * ```ts
 * const raw = await tcp.dial({ host: '127.0.0.1', port: 26656 })
 * const { conn, nodeInfo, remoteId } = await upgradeConnection(raw, { nodeKey, nodeInfo: ours, dialedId })
 * const mconn = new MConnection(conn, channels)
 * ```
 */
export async function upgradeConnection (raw: DuplexConnection, init: UpgradeInit): Promise<UpgradedConnection> {
  let sc: SecretConnection | undefined
  try {
    sc = await makeSecretConnection(raw, init.nodeKey, {
      scheduler: init.scheduler,
      handshakeTimeoutMs: init.handshakeTimeoutMs,
      signal: init.signal,
      aeadBackend: init.aeadBackend,
      beforeKeyAgreement: init.beforeKeyAgreement,
      ephemeralPrivateKey: init.ephemeralPrivateKey
    })
    const remoteId = sc.remoteId
    init.onAuthenticated?.(remoteId)
    if (init.dialedId !== undefined) {
      const dialed = parseNodeId(init.dialedId)
      if (dialed !== remoteId) {
        throw new PeerIdMismatchError(dialed, remoteId, `authenticated peer ID ${remoteId} is not the dialed ID ${dialed}`)
      }
    }
    const nodeInfo = await exchangeNodeInfo(sc, init.nodeInfo, init)
    validateNodeInfo(nodeInfo)
    if (nodeInfo.id !== remoteId) {
      throw new PeerIdMismatchError(remoteId, nodeInfo.id, `NodeInfo ID ${nodeInfo.id} is not the authenticated peer ID ${remoteId}`)
    }
    if (nodeInfo.id === init.nodeInfo.id || remoteId === init.nodeKey.id) {
      throw new SelfConnectionError(`connected to ourselves (${remoteId})`)
    }
    checkCompatible(init.nodeInfo, nodeInfo)
    return { conn: sc, nodeInfo, remoteId }
  } catch (err) {
    const reason = err instanceof Error ? err : new Error(String(err))
    sc?.destroy(reason)
    raw.destroy(reason)
    throw err
  }
}
