/**
 * `AuthSigMessage`, the first message inside a SecretConnection: the sender's public key and its signature
 * over the handshake challenge.
 *
 * ```
 * message AuthSigMessage { tendermint.crypto.PublicKey pub_key = 1 [(gogoproto.nullable) = false]; bytes sig = 2; }
 * message PublicKey { oneof sum { bytes ed25519 = 1; bytes secp256k1 = 2; bytes bls12381 = 3; bytes mldsa65 = 4; bytes secp256k1eth = 5; } }
 * ```
 *
 * @module
 */
import { delimitedFieldSize, ProtoReader, ProtoWriter, WIRE_BYTES } from './proto.js'

/** The key types CometBFT's `PublicKey` oneof knows, by field number. */
export const PUBLIC_KEY_TYPES = ['ed25519', 'secp256k1', 'bls12381', 'mldsa65', 'secp256k1eth'] as const

/** A `PublicKey` oneof case; `undefined` when no case is set or the case is unknown to us. */
export type PublicKeyType = typeof PUBLIC_KEY_TYPES[number]

/** A decoded `AuthSigMessage`. */
export interface AuthSigMessage {
  /** The key type set in the `PublicKey` oneof, `undefined` when none (or an unknown one) is set. */
  keyType: PublicKeyType | undefined
  /** The key bytes of that case (empty when none). */
  publicKey: Uint8Array
  /** The signature over the challenge. */
  sig: Uint8Array
}

/**
 * Encodes an `AuthSigMessage` with an ed25519 key, as gogoproto does (field 1 always present).
 *
 * @example
 * ```ts
 * encodeAuthSig(pubKey32, sig64).length // 102: 0a 22 0a 20 <pub> 12 40 <sig>
 * ```
 */
export function encodeAuthSig (publicKey: Uint8Array, sig: Uint8Array): Uint8Array {
  const key = delimitedFieldSize(1, publicKey.byteLength) // PublicKey.ed25519
  const w = new ProtoWriter(delimitedFieldSize(1, key) + (sig.byteLength > 0 ? delimitedFieldSize(2, sig.byteLength) : 0))
  w.key(1, WIRE_BYTES).varint(key).key(1, WIRE_BYTES).bytes(publicKey)
  if (sig.byteLength > 0) w.key(2, WIRE_BYTES).bytes(sig)
  return w.finish()
}

/**
 * Decodes an `AuthSigMessage`. Unknown fields are skipped; a repeated field keeps the last value, as Go does.
 *
 * @throws {DecodeError} the bytes are not a valid protobuf message of this shape
 */
export function decodeAuthSig (bytes: Uint8Array): AuthSigMessage {
  const out: AuthSigMessage = { keyType: undefined, publicKey: new Uint8Array(0), sig: new Uint8Array(0) }
  const r = new ProtoReader(bytes, 'AuthSigMessage')
  while (!r.done) {
    const field = r.key()
    if (field === 1) {
      r.expect(WIRE_BYTES, 'pub_key')
      readPublicKey(r.message('PublicKey'), out)
    } else if (field === 2) {
      r.expect(WIRE_BYTES, 'sig')
      out.sig = r.bytes()
    } else {
      r.skip()
    }
  }
  return out
}

function readPublicKey (r: ProtoReader, out: AuthSigMessage): void {
  while (!r.done) {
    const field = r.key()
    if (field <= PUBLIC_KEY_TYPES.length) {
      r.expect(WIRE_BYTES, PUBLIC_KEY_TYPES[field - 1]!)
      out.keyType = PUBLIC_KEY_TYPES[field - 1]
      out.publicKey = r.bytes()
    } else {
      r.skip()
    }
  }
}
