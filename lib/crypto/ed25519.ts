/**
 * Ed25519 signing and verification with the rules CometBFT uses.
 *
 * Verification follows **ZIP-215**, as Go's `crypto/ed25519` does with `VerifyOptionsZIP_215`: non-canonical
 * point encodings and small-order points are accepted, `S` must be canonical, and the cofactored equation
 * decides. `@noble/curves` implements exactly that; Node's OpenSSL verifier (strict RFC 8032, cofactorless)
 * is tried first only because it is about ten times faster. Everything OpenSSL accepts, ZIP-215 accepts
 * too (a cofactorless solution also solves the cofactored equation, and both require `S < L`), so the fast
 * path never changes an answer; a signature OpenSSL refuses is decided by `@noble/curves`.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'

/** Ed25519 public key size in bytes. */
export const ED25519_PUBLIC_KEY_SIZE = 32
/** Ed25519 seed (private key) size in bytes. */
export const ED25519_SEED_SIZE = 32
/** Ed25519 signature size in bytes. */
export const ED25519_SIGNATURE_SIZE = 64

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

/** A Node `KeyObject` for the ed25519 private key with this 32-byte seed. @internal */
export function ed25519PrivateKeyObject (seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

/** The 32-byte public key of a Node ed25519 private `KeyObject`. @internal */
export function ed25519PublicKeyOf (privateKey: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x ?? '', 'base64url'))
}

/** Signs `msg` (pure Ed25519, RFC 8032) with a Node private `KeyObject`. @internal */
export function ed25519Sign (privateKey: KeyObject, msg: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, msg, privateKey))
}

/**
 * Verifies an ed25519 signature with ZIP-215 rules, as CometBFT does. Malformed input (wrong lengths, a
 * public key that does not decode) gives `false`, never an exception.
 *
 * @example
 * ```ts
 * const key = NodeKey.generate()
 * const msg = new Uint8Array(32)
 * verifyEd25519(key.publicKey, msg, key.sign(msg)) // true
 * ```
 */
export function verifyEd25519 (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE || sig.length !== ED25519_SIGNATURE_SIZE) return false
  try {
    // JWK, not DER: OpenSSL 3 decodes DER keys about 15 times slower.
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' })
    if (nodeVerify(null, msg, key, sig)) return true
  } catch {
    // OpenSSL refused the key encoding; ZIP-215 may still accept it.
  }
  try {
    return ed25519.verify(sig, msg, publicKey, { zip215: true })
  } catch {
    return false
  }
}
