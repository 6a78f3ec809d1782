/**
 * X25519 for SecretConnection's ephemeral keys, through Node's `crypto`.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto'
import { LowOrderPointError } from '../errors.js'

/** X25519 key and shared-secret size in bytes. */
export const X25519_KEY_SIZE = 32

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')

/** An X25519 key pair: the raw 32-byte private key (used as is; X25519 clamps) and its public key. */
export interface X25519KeyPair {
  privateKey: Uint8Array
  publicKey: Uint8Array
}

function privateKeyObject (privateKey: Uint8Array): KeyObject {
  if (privateKey.length !== X25519_KEY_SIZE) throw new RangeError(`X25519 private key must be ${X25519_KEY_SIZE} bytes`)
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' })
}

/**
 * The key pair with this 32-byte private key, or a random one (as Go's `box.GenerateKey`).
 *
 * @example
 * ```ts
 * const eph = x25519KeyPair()
 * eph.publicKey.length // 32
 * ```
 */
export function x25519KeyPair (privateKey: Uint8Array = randomBytes(X25519_KEY_SIZE)): X25519KeyPair {
  const spki = createPublicKey(privateKeyObject(privateKey)).export({ format: 'der', type: 'spki' })
  return { privateKey: Uint8Array.from(privateKey), publicKey: new Uint8Array(spki.subarray(spki.length - X25519_KEY_SIZE)) }
}

/**
 * X25519(privateKey, publicKey). Like Go's `curve25519.X25519`, an all-zero result (the remote sent a
 * low-order point) is an error.
 *
 * @throws {LowOrderPointError} the shared secret is all zeros
 */
export function x25519 (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== X25519_KEY_SIZE) throw new RangeError(`X25519 public key must be ${X25519_KEY_SIZE} bytes`)
  let secret: Uint8Array
  try {
    const pub = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' })
    secret = new Uint8Array(diffieHellman({ privateKey: privateKeyObject(privateKey), publicKey: pub }))
  } catch (err) {
    // OpenSSL refuses to derive an all-zero secret.
    throw new LowOrderPointError('X25519 with the remote ephemeral key gives an all-zero secret (low-order point)', { cause: err })
  }
  let acc = 0
  for (let i = 0; i < secret.length; i++) acc |= secret[i]!
  if (acc === 0) throw new LowOrderPointError('X25519 with the remote ephemeral key gives an all-zero secret (low-order point)')
  return secret
}
