/**
 * The connection upgrade CometBFT's transport runs on every new connection (`p2p/transport.go` `upgrade`):
 * SecretConnection handshake, dialed-ID check, NodeInfo exchange, then the NodeInfo rules. Each step is exported
 * on its own ({@link authenticateConnection}, {@link exchangeNodeInfo}, {@link validatePeerNodeInfo},
 * {@link checkPeerCompatible}), so a tool that needs only some of them (the crawler reads a node's NodeInfo
 * without joining its network) runs the same code as {@link upgradeConnection}, which composes them all.
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from '../conn/defaults.js'
import { makeSecretConnection, runWithDeadline, type SecretConnection } from '../conn/secret-connection.js'
import type { AeadBackend } from '../crypto/aead.js'
import { parseNodeId, type NodeId } from '../crypto/node-id.js'
import type { NodeKey } from '../crypto/node-key.js'
import { PeerIdMismatchError, SelfConnectionError } from '../errors.js'
import type { DuplexConnection } from '../transport/duplex.js'
import { encodeDelimited, readDelimited } from '../wire/delimited.js'
import { checkCompatible, decodeNodeInfo, encodeNodeInfo, MAX_NODE_INFO_SIZE, validateNodeInfo, type NodeInfo } from '../wire/node-info.js'

/** Options of {@link authenticateConnection}: the secret handshake and the dialed-ID check. */
export interface AuthenticateInit {
  /** Our node key. */
  nodeKey: NodeKey
  /** Outbound: the ID we dialed; the authenticated key must match it. Omit for inbound connections. */
  dialedId?: NodeId
  /** Runs the deadline. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Deadline of the secret handshake in milliseconds. @default 3000 */
  handshakeTimeoutMs?: number
  /** Aborts the handshake. */
  signal?: AbortSignal
  /**
   * Called with the remote's authenticated ID once the secret handshake succeeds, before the dialed-ID check
   * and the NodeInfo exchange: lets a caller name the peer when a later step refuses it (the Switch's
   * `rejected` event), and refuse it by throwing (the Switch's ID bans): the upgrade then fails with that
   * error before any NodeInfo is sent or read.
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

/** Options of {@link upgradeConnection}: those of {@link authenticateConnection}, and our NodeInfo. */
export interface UpgradeInit extends AuthenticateInit {
  /** Our NodeInfo, sent to the peer and used for the self and compatibility checks. */
  nodeInfo: NodeInfo
  /**
   * Deadline in milliseconds, applied separately to the secret handshake and to the NodeInfo exchange, as
   * CometBFT does.
   * @default 3000
   */
  handshakeTimeoutMs?: number
  /** Aborts the upgrade. */
  signal?: AbortSignal
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
 * The upgrade's first step, authenticate (rules 1 and 2 of {@link upgradeConnection}): the SecretConnection
 * handshake over `raw`, then, outbound, the check that the authenticated key is the one we dialed;
 * `onAuthenticated` runs in between.
 *
 * On a failure after the handshake the SecretConnection is destroyed with the error (which destroys `raw`);
 * a failed handshake destroys `raw` itself.
 *
 * @throws {PeerIdMismatchError} the authenticated ID is not `dialedId`
 * @throws {InvalidAddressError} `dialedId` is not a node ID
 * @throws the handshake's errors (see {@link makeSecretConnection}) and whatever `onAuthenticated` throws
 *
 * @example
 * ```ts
 * const sc = await authenticateConnection(raw, { nodeKey, dialedId: address.id })
 * sc.remoteId // === address.id
 * ```
 */
export async function authenticateConnection (raw: DuplexConnection, init: AuthenticateInit): Promise<SecretConnection> {
  const sc = await makeSecretConnection(raw, init.nodeKey, {
    scheduler: init.scheduler,
    handshakeTimeoutMs: init.handshakeTimeoutMs,
    signal: init.signal,
    aeadBackend: init.aeadBackend,
    beforeKeyAgreement: init.beforeKeyAgreement,
    ephemeralPrivateKey: init.ephemeralPrivateKey
  })
  try {
    const remoteId = sc.remoteId
    init.onAuthenticated?.(remoteId)
    if (init.dialedId !== undefined) {
      const dialed = parseNodeId(init.dialedId)
      if (dialed !== remoteId) {
        throw new PeerIdMismatchError(dialed, remoteId, `authenticated peer ID ${remoteId} is not the dialed ID ${dialed}`)
      }
    }
    return sc
  } catch (err) {
    sc.destroy(asError(err))
    throw err
  }
}

/**
 * The upgrade's second step (rule 3 of {@link upgradeConnection}): exchanges NodeInfo over an established
 * SecretConnection: writes ours (length-prefixed, one write) and reads theirs (at most
 * {@link MAX_NODE_INFO_SIZE} bytes), within the deadline. No validation.
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
 * The upgrade's third step, validate (rules 4 and 5 of {@link upgradeConnection}): the remote's NodeInfo keeps
 * CometBFT's rules ({@link validateNodeInfo}) and names the key that authenticated the connection.
 *
 * @throws {InvalidNodeInfoError} a rule is broken (`rule` names it)
 * @throws {PeerIdMismatchError} the NodeInfo's ID is not `remoteId`
 */
export function validatePeerNodeInfo (theirs: NodeInfo, remoteId: NodeId): void {
  validateNodeInfo(theirs)
  if (theirs.id !== remoteId) {
    throw new PeerIdMismatchError(remoteId, theirs.id, `NodeInfo ID ${theirs.id} is not the authenticated peer ID ${remoteId}`)
  }
}

/**
 * The upgrade's fourth step, compatibility (rules 6 and 7 of {@link upgradeConnection}): the remote is not
 * ourselves, and its NodeInfo is compatible with ours ({@link checkCompatible}: block protocol, network, a
 * channel in common). Run it after {@link validatePeerNodeInfo}, which ties `theirs.id` to the authenticated key.
 *
 * @param nodeKeyId our node key's ID, when it might differ from `ours.id`
 * @throws {SelfConnectionError} `theirs` is our own ID
 * @throws {IncompatiblePeerError} a compatibility rule fails (`rule` names it)
 */
export function checkPeerCompatible (ours: NodeInfo, theirs: NodeInfo, nodeKeyId: NodeId = ours.id): void {
  if (theirs.id === ours.id || theirs.id === nodeKeyId) {
    throw new SelfConnectionError(`connected to ourselves (${theirs.id})`)
  }
  checkCompatible(ours, theirs)
}

/**
 * Upgrades a raw connection the way CometBFT's transport does, in its order, by running the four steps:
 * - {@link authenticateConnection}:
 *   1. SecretConnection handshake (deadline 3 s);
 *   2. outbound: the authenticated ID must be `dialedId` ({@link PeerIdMismatchError});
 * - {@link exchangeNodeInfo}:
 *   3. NodeInfo exchange (a separate 3 s deadline; at most 10240 bytes);
 * - {@link validatePeerNodeInfo}:
 *   4. {@link validateNodeInfo} ({@link InvalidNodeInfoError});
 *   5. the NodeInfo's ID must be the authenticated ID ({@link PeerIdMismatchError});
 * - {@link checkPeerCompatible}:
 *   6. not ourselves ({@link SelfConnectionError});
 *   7. {@link checkCompatible} ({@link IncompatiblePeerError}).
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
    sc = await authenticateConnection(raw, init)
    const remoteId = sc.remoteId
    const nodeInfo = await exchangeNodeInfo(sc, init.nodeInfo, init)
    validatePeerNodeInfo(nodeInfo, remoteId)
    checkPeerCompatible(init.nodeInfo, nodeInfo, init.nodeKey.id)
    return { conn: sc, nodeInfo, remoteId }
  } catch (err) {
    const reason = asError(err)
    sc?.destroy(reason)
    raw.destroy(reason)
    throw err
  }
}

function asError (err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
