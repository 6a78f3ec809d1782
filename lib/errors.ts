/**
 * Typed errors. Every failure rx-p2p reports is an instance of {@link P2PError}; each condition has its
 * own class with a fixed `name` and `code`, so callers branch on the class (`instanceof`) or on `code`,
 * never on the message text.
 *
 * @module
 */

/** Options shared by every rx-p2p error. */
export interface P2PErrorOptions {
  /** The underlying error, when this one wraps another. */
  cause?: unknown
}

/**
 * The base class of every error rx-p2p raises or reports.
 *
 * @example
 * ```ts
 * conn.closed$.subscribe((reason) => {
 *   if (reason instanceof UnknownChannelError) console.log('peer used channel', reason.chId)
 * })
 * ```
 */
export class P2PError extends Error {
  /** A stable, machine-readable code such as `ERR_UNKNOWN_CHANNEL`. */
  readonly code: string = 'ERR_P2P'
  override name = 'P2PError'
  // Not useless: it makes `message` required and types the options as ours (Error's are optional and wider).
  // eslint-disable-next-line @typescript-eslint/no-useless-constructor
  constructor (message: string, options?: P2PErrorOptions) {
    super(message, options)
  }
}

// ---------------------------------------------------------------------------------------------
// Wire: framing and decoding

/** A length prefix announced a frame larger than the limit; raised before any byte is buffered. */
export class FrameTooLargeError extends P2PError {
  override readonly code = 'ERR_FRAME_TOO_LARGE'
  override name = 'FrameTooLargeError'
  constructor (readonly size: number, readonly max: number) {
    super(`frame of ${size} bytes exceeds the limit of ${max} bytes`)
  }
}

/** Bytes that do not decode: a bad varint, a truncated or malformed protobuf message. */
export class DecodeError extends P2PError {
  override readonly code = 'ERR_DECODE'
  override name = 'DecodeError'
}

// ---------------------------------------------------------------------------------------------
// Connections

/** The connection was closed (locally or by the remote) while an operation needed it. */
export class ConnectionClosedError extends P2PError {
  override readonly code = 'ERR_CONNECTION_CLOSED'
  override name = 'ConnectionClosedError'
}

/** The transport (socket) failed: reset, refused, write after end. */
export class TransportError extends P2PError {
  override readonly code = 'ERR_TRANSPORT'
  override name = 'TransportError'
}

/** An operation did not finish before its deadline (dial, handshake, filter). */
export class TimeoutError extends P2PError {
  override readonly code = 'ERR_TIMEOUT'
  override name = 'TimeoutError'
}

/** An operation was aborted through its AbortSignal. */
export class AbortError extends P2PError {
  override readonly code = 'ERR_ABORTED'
  override name = 'AbortError'
}

/** A packet named a channel the receiver does not have. */
export class UnknownChannelError extends P2PError {
  override readonly code = 'ERR_UNKNOWN_CHANNEL'
  override name = 'UnknownChannelError'
  constructor (readonly chId: number) {
    super(`unknown channel 0x${chId.toString(16).padStart(2, '0')}`)
  }
}

/** A packet whose oneof case is unset or unknown. */
export class UnknownPacketTypeError extends P2PError {
  override readonly code = 'ERR_UNKNOWN_PACKET_TYPE'
  override name = 'UnknownPacketTypeError'
}

/** A reassembled message grew past the channel's receive message capacity. */
export class MessageTooLargeError extends P2PError {
  override readonly code = 'ERR_MESSAGE_TOO_LARGE'
  override name = 'MessageTooLargeError'
  constructor (readonly chId: number, readonly size: number, readonly max: number) {
    super(`message on channel 0x${chId.toString(16).padStart(2, '0')} exceeds capacity: ${size} > ${max} bytes`)
  }
}

/** The remote did not answer a ping within the pong timeout. */
export class PongTimeoutError extends P2PError {
  override readonly code = 'ERR_PONG_TIMEOUT'
  override name = 'PongTimeoutError'
}

/**
 * The bytes of partial (not yet whole) messages passed a receive budget: the connection's own (`budget:
 * 'connection'`) or the one its node shares among every peer (`budget: 'node'`; the peer holding the most is
 * stopped to make room). `requested` is the growth that was refused, `used` what the budget held, `limit` its size.
 */
export class RecvBudgetExceededError extends P2PError {
  override readonly code = 'ERR_RECV_BUDGET_EXCEEDED'
  override name = 'RecvBudgetExceededError'
  constructor (readonly budget: 'connection' | 'node', readonly requested: number, readonly used: number, readonly limit: number) {
    super(`partial messages would exceed the ${budget} receive budget: ${used} + ${requested} > ${limit} bytes`)
  }
}

/** Our writes to the peer made no progress (the socket accepted nothing, no drain) for the write-stall timeout. */
export class WriteStallError extends P2PError {
  override readonly code = 'ERR_WRITE_STALL'
  override name = 'WriteStallError'
  constructor (readonly stalledMs: number) {
    super(`the peer read nothing for ${stalledMs} ms: our writes are blocked`)
  }
}

// ---------------------------------------------------------------------------------------------
// SecretConnection and handshakes

/** The authenticated handshake failed: bad ephemeral key, low-order point, bad signature, wrong key type. */
export class HandshakeError extends P2PError {
  override readonly code: string = 'ERR_HANDSHAKE'
  override name = 'HandshakeError'
}

/** The remote's signature over the challenge does not verify. */
export class ChallengeVerificationError extends HandshakeError {
  override readonly code = 'ERR_CHALLENGE_VERIFICATION'
  override name = 'ChallengeVerificationError'
}

/** The X25519 result is all zeros: the remote sent a low-order point. */
export class LowOrderPointError extends HandshakeError {
  override readonly code = 'ERR_LOW_ORDER_POINT'
  override name = 'LowOrderPointError'
}

/** A sealed frame failed to authenticate (tampered or corrupted ciphertext). */
export class DecryptionError extends P2PError {
  override readonly code = 'ERR_DECRYPTION'
  override name = 'DecryptionError'
}

/** A per-direction nonce counter would overflow 2^64 - 1. */
export class NonceOverflowError extends P2PError {
  override readonly code = 'ERR_NONCE_OVERFLOW'
  override name = 'NonceOverflowError'
}

/** The remote's NodeInfo breaks a validation rule; `rule` names it. */
export class InvalidNodeInfoError extends P2PError {
  override readonly code = 'ERR_INVALID_NODE_INFO'
  override name = 'InvalidNodeInfoError'
  constructor (readonly rule: string, message: string) {
    super(message)
  }
}

/** The remote is valid but not compatible with us (block version, network, no shared channel). */
export class IncompatiblePeerError extends P2PError {
  override readonly code = 'ERR_INCOMPATIBLE_PEER'
  override name = 'IncompatiblePeerError'
  constructor (readonly rule: 'block-version' | 'network' | 'channels', message: string) {
    super(message)
  }
}

/** The authenticated key does not match the ID we dialed, or the ID in the remote's NodeInfo. */
export class PeerIdMismatchError extends P2PError {
  override readonly code = 'ERR_PEER_ID_MISMATCH'
  override name = 'PeerIdMismatchError'
  constructor (readonly expected: string, readonly actual: string, message?: string) {
    super(message ?? `peer ID mismatch: expected ${expected}, got ${actual}`)
  }
}

/** We connected to ourselves. */
export class SelfConnectionError extends P2PError {
  override readonly code = 'ERR_SELF_CONNECTION'
  override name = 'SelfConnectionError'
}

/** The remote's AuthSig carries a key that is not ed25519 (CometBFT: "expected ed25519 pubkey"). */
export class UnsupportedKeyTypeError extends HandshakeError {
  override readonly code = 'ERR_UNSUPPORTED_KEY_TYPE'
  override name = 'UnsupportedKeyTypeError'
}

/** The stream ended inside a sealed SecretConnection frame (fewer than 1044 bytes of it arrived). */
export class TruncatedFrameError extends P2PError {
  override readonly code = 'ERR_TRUNCATED_FRAME'
  override name = 'TruncatedFrameError'
}

// ---------------------------------------------------------------------------------------------
// Addresses and keys

/** An `id@host:port` address, node ID, host or port that does not parse. */
export class InvalidAddressError extends P2PError {
  override readonly code = 'ERR_INVALID_ADDRESS'
  override name = 'InvalidAddressError'
}

/** A node key file that cannot be read or has the wrong shape. */
export class InvalidNodeKeyError extends P2PError {
  override readonly code = 'ERR_INVALID_NODE_KEY'
  override name = 'InvalidNodeKeyError'
}

// ---------------------------------------------------------------------------------------------
// Switch

/**
 * A peer was refused by the Switch: `reason` says which limit or filter. The admission limits: `handshake-rate`
 * (too many handshakes from this IP, or in total, in a short time), `pending-per-ip` (this IP already has as many
 * connections in their handshakes as allowed), `pending-evicted` (the pending-handshake set was full and this
 * connection made room for a newer one), `banned` (the ID or IP is banned: `Switch.ban`, or a PEX ban).
 */
export class PeerRejectedError extends P2PError {
  override readonly code = 'ERR_PEER_REJECTED'
  override name = 'PeerRejectedError'
  constructor (
    readonly reason: 'duplicate-id' | 'duplicate-ip' | 'max-inbound' | 'max-outbound' | 'self' | 'filter' | 'filter-timeout' | 'stopped' |
      'handshake-rate' | 'pending-per-ip' | 'pending-evicted' | 'banned',
    message: string,
    options?: P2PErrorOptions
  ) {
    super(message, options)
  }
}

/**
 * A dial was skipped because the address's ID is already being dialed or connected, or (duplicate IPs not
 * allowed) a peer already has its IP (CometBFT `ErrCurrentlyDialingOrExistingAddress`).
 */
export class AlreadyConnectedError extends P2PError {
  override readonly code = 'ERR_ALREADY_CONNECTED'
  override name = 'AlreadyConnectedError'
}

/** Two reactors claim the same channel. */
export class DuplicateChannelError extends P2PError {
  override readonly code = 'ERR_DUPLICATE_CHANNEL'
  override name = 'DuplicateChannelError'
}

/** A reactor's pipeline errored or a reactor reported a peer's misbehaviour. */
export class ReactorError extends P2PError {
  override readonly code = 'ERR_REACTOR'
  override name = 'ReactorError'
}

// ---------------------------------------------------------------------------------------------
// PEX and the address book

/** A peer broke a PEX rule (request too soon, unsolicited addresses, too many addresses). */
export class PexViolationError extends P2PError {
  override readonly code = 'ERR_PEX_VIOLATION'
  override name = 'PexViolationError'
  constructor (readonly rule: 'request-too-soon' | 'unsolicited-addrs' | 'too-many-addrs' | 'bad-address', message: string) {
    super(message)
  }
}

/** An addrbook.json that does not parse; the file has been set aside at `movedTo`. */
export class AddrBookCorruptError extends P2PError {
  override readonly code: string = 'ERR_ADDRBOOK_CORRUPT'
  override name = 'AddrBookCorruptError'
  constructor (readonly path: string, readonly movedTo: string | undefined, message: string, options?: P2PErrorOptions) {
    super(message, options)
  }
}

/** The address book's file could not be read (`op: 'load'`) or written (`op: 'save'`); see `cause`. */
export class AddrBookIoError extends P2PError {
  override readonly code = 'ERR_ADDRBOOK_IO'
  override name = 'AddrBookIoError'
  constructor (readonly path: string, readonly op: 'load' | 'save', message: string, options?: P2PErrorOptions) {
    super(message, options)
  }
}

/**
 * An addrbook.json larger than the book reads (`maxFileBytes`, 32 MiB by default): it was set aside unread at
 * `movedTo`, as a corrupt one is (so a handler of {@link AddrBookCorruptError} starts with an empty book).
 */
export class AddrBookTooLargeError extends AddrBookCorruptError {
  override readonly code = 'ERR_ADDRBOOK_TOO_LARGE'
  override name = 'AddrBookTooLargeError'
  constructor (path: string, movedTo: string | undefined, readonly size: number, readonly limit: number, message: string, options?: P2PErrorOptions) {
    super(path, movedTo, message, options)
  }
}
