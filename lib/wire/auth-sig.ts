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
import pb from 'protobufjs/minimal.js'
import { DecodeError } from '../errors.js'
import { decodeAs, forEachField } from './proto-reader.js'

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
  const w = pb.Writer.create()
  w.uint32(0x0a).fork().uint32(0x0a).bytes(publicKey).ldelim()
  if (sig.length > 0) w.uint32(0x12).bytes(sig)
  return w.finish()
}

/**
 * Decodes an `AuthSigMessage`. Unknown fields are skipped; a repeated field keeps the last value, as Go does.
 *
 * @throws {DecodeError} the bytes are not a valid protobuf message of this shape
 */
export function decodeAuthSig (bytes: Uint8Array): AuthSigMessage {
  const out: AuthSigMessage = { keyType: undefined, publicKey: new Uint8Array(0), sig: new Uint8Array(0) }
  return decodeAs('AuthSigMessage', () => {
    const r = pb.Reader.create(bytes)
    forEachField(r, (field, wire) => {
      if (field === 1 && wire === 2) {
        decodePublicKeyInto(r.bytes(), out)
      } else if (field === 2 && wire === 2) {
        out.sig = r.bytes()
      } else if ((field === 1 || field === 2) || field === 0) {
        throw new DecodeError(`AuthSigMessage: field ${field} with wire type ${wire}`)
      } else {
        r.skipType(wire)
      }
    })
    return out
  })
}

function decodePublicKeyInto (bytes: Uint8Array, out: AuthSigMessage): void {
  const r = pb.Reader.create(bytes)
  forEachField(r, (field, wire) => {
    if (field >= 1 && field <= PUBLIC_KEY_TYPES.length) {
      if (wire !== 2) throw new DecodeError(`PublicKey: field ${field} with wire type ${wire}`)
      out.keyType = PUBLIC_KEY_TYPES[field - 1]
      out.publicKey = r.bytes()
    } else if (field === 0) {
      throw new DecodeError('PublicKey: field 0')
    } else {
      r.skipType(wire)
    }
  })
}
