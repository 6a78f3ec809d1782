/**
 * X25519 for SecretConnection's ephemeral keys, through Node's `crypto`.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto'
import { LowOrderPointError } from '../errors.js'

/** X25519 key and shared-secret size in bytes. */
export const X25519_KEY_SIZE = 32

/** An X25519 key pair: the raw 32-byte private key (used as is; X25519 clamps) and its public key. */
export interface X25519KeyPair {
  privateKey: Uint8Array
  publicKey: Uint8Array
}

// Key objects of the pairs made here, so that the X25519 of a handshake does not import the private key again.
const keyObjects = new WeakMap<Uint8Array, KeyObject>()

type PrivateKeyImporter = (privateKey: Uint8Array) => KeyObject

/** PKCS#8 DER of an X25519 private key: this prefix, then the 32 key bytes (RFC 8410). */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

/**
 * Ways to make a Node key object of a raw X25519 private key, fastest first. The `raw-private` format is Node's
 * own (newer releases); a JWK with a placeholder `x` costs about 30 µs where Node's JWK parser derives the public key
 * from `d` (Node 20, where PKCS#8 DER costs about 300 µs in OpenSSL 3), but newer releases check `x` against `d`
 * and refuse it (ERR_CRYPTO_INVALID_JWK, seen on Node 24.22); PKCS#8 DER works everywhere.
 */
const IMPORTERS: readonly PrivateKeyImporter[] = [
  (d) => createPrivateKey({ key: Buffer.from(d), format: 'raw-private', asymmetricKeyType: 'x25519' } as unknown as Parameters<typeof createPrivateKey>[0]),
  (d) => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(d).toString('base64url'), x: Buffer.alloc(X25519_KEY_SIZE).toString('base64url') }, format: 'jwk' }),
  (d) => createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, d]), format: 'der', type: 'pkcs8' })
]

/** RFC 7748 section 6.1, Alice: the probe every importer must pass before it is used. */
const PROBE_PRIVATE = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex')
const PROBE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'

let importer: PrivateKeyImporter | undefined

/** The first importer that this Node accepts and that derives RFC 7748's public key; chosen once. */
function chooseImporter (): PrivateKeyImporter {
  for (const candidate of IMPORTERS) {
    try {
      const pub = createPublicKey(candidate(new Uint8Array(PROBE_PRIVATE))).export({ format: 'jwk' }).x
      if (pub !== undefined && Buffer.from(pub, 'base64url').toString('hex') === PROBE_PUBLIC) return candidate
    } catch {
      // not this Node's: try the next
    }
  }
  throw new Error('this Node.js imports no raw X25519 private key (raw, JWK or PKCS#8)')
}

/** A Node key object for a raw X25519 private key (see {@link IMPORTERS} for how). */
function privateKeyObject (privateKey: Uint8Array): KeyObject {
  const cached = keyObjects.get(privateKey)
  if (cached !== undefined) return cached
  if (privateKey.length !== X25519_KEY_SIZE) throw new RangeError(`X25519 private key must be ${X25519_KEY_SIZE} bytes`)
  importer ??= chooseImporter()
  return importer(privateKey)
}

function fromBase64Url (s: string | undefined): Uint8Array {
  return new Uint8Array(Buffer.from(s ?? '', 'base64url'))
}

/**
 * The key pair with this 32-byte private key, or a random one (32 random bytes, as Go's `box.GenerateKey`).
 *
 * Not `generateKeyPairSync`: on Node 20, exporting a key it just generated can deadlock the process for good
 * (the export holds the key's lock, allocates, a garbage collection finalizes the finished key-generation job,
 * and that job's destructor takes the same lock). Seen here as a handshake that hung a whole process once in
 * some thousands; Node 24 does not have it.
 *
 * @example
 * ```ts
 * const eph = x25519KeyPair()
 * eph.publicKey.length // 32
 * ```
 */
export function x25519KeyPair (privateKey?: Uint8Array): X25519KeyPair {
  const priv = privateKey === undefined ? new Uint8Array(randomBytes(X25519_KEY_SIZE)) : Uint8Array.from(privateKey)
  const key = privateKeyObject(priv)
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
