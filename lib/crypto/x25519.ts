/**
 * X25519 for SecretConnection's ephemeral keys, through Node's `crypto`.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { LowOrderPointError } from '../errors.js'

/** X25519 key and shared-secret size in bytes. */
export const X25519_KEY_SIZE = 32

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/** An X25519 key pair: the raw 32-byte private key (used as is; X25519 clamps) and its public key. */
export interface X25519KeyPair {
  privateKey: Uint8Array
  publicKey: Uint8Array
}

// OpenSSL 3 parses DER keys slowly (about 300 µs); the key objects of pairs made here are kept, and public keys
// are imported as JWK (a few µs).
const keyObjects = new WeakMap<Uint8Array, KeyObject>()

function privateKeyObject (privateKey: Uint8Array): KeyObject {
  const cached = keyObjects.get(privateKey)
  if (cached !== undefined) return cached
  if (privateKey.length !== X25519_KEY_SIZE) throw new RangeError(`X25519 private key must be ${X25519_KEY_SIZE} bytes`)
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' })
}

function fromBase64Url (s: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(s ?? '', 'base64url'))
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
export function x25519KeyPair (privateKey?: Uint8Array): X25519KeyPair {
  let key: KeyObject
  let priv: Uint8Array
  if (privateKey === undefined) {
    key = generateKeyPairSync('x25519').privateKey
    priv = fromBase64Url(key.export({ format: 'jwk' }).d)
  } else {
    key = privateKeyObject(privateKey)
    priv = Uint8Array.from(privateKey)
  }
  const publicKey = fromBase64Url(createPublicKey(key).export({ format: 'jwk' }).x)
  keyObjects.set(priv, key)
  return { privateKey: priv, publicKey }
}

/**
 * X25519(privateKey, publicKey). Like Go's `curve25519.X25519`, an all-zero result (the remote sent a
 * low-order point) is an error.
 *
 * @throws {LowOrderPointError} the shared secret is all zeros
 */
export function x25519 (privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== X25519_KEY_SIZE) throw new RangeError(`X25519 public key must be ${X25519_KEY_SIZE} bytes`)
  const priv = privateKeyObject(privateKey)
  const pub = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' })
  let secret: Uint8Array
  try {
    secret = new Uint8Array(diffieHellman({ privateKey: priv, publicKey: pub }))
  } catch (err) {
    // OpenSSL refuses to derive an all-zero secret.
    throw new LowOrderPointError('X25519 with the remote ephemeral key gives an all-zero secret (low-order point)', { cause: err })
  }
  let acc = 0
  for (let i = 0; i < secret.length; i++) acc |= secret[i]!
  if (acc === 0) throw new LowOrderPointError('X25519 with the remote ephemeral key gives an all-zero secret (low-order point)')
  return secret
}
