/**
 * SecretConnection's key schedule: HKDF-SHA256 for the two AEAD keys, and the Merlin transcript for the
 * challenge both sides sign.
 *
 * @module
 */
import { hkdfSync } from 'node:crypto'
import { Transcript } from './merlin.js'

/** HKDF `info` of the SecretConnection key derivation. */
export const SECRET_CONNECTION_HKDF_INFO = 'TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN'
/** Merlin protocol label of the handshake transcript. */
export const SECRET_CONNECTION_TRANSCRIPT_LABEL = 'TENDERMINT_SECRET_CONNECTION_TRANSCRIPT_HASH'
/** Transcript label of the lower ephemeral public key. */
export const LABEL_EPHEMERAL_LOWER_PUBLIC_KEY = 'EPHEMERAL_LOWER_PUBLIC_KEY'
/** Transcript label of the upper ephemeral public key. */
export const LABEL_EPHEMERAL_UPPER_PUBLIC_KEY = 'EPHEMERAL_UPPER_PUBLIC_KEY'
/** Transcript label of the X25519 shared secret. */
export const LABEL_DH_SECRET = 'DH_SECRET'
/** Transcript label of the challenge. */
export const LABEL_SECRET_CONNECTION_MAC = 'SECRET_CONNECTION_MAC'
/** Challenge size in bytes. */
export const CHALLENGE_SIZE = 32

/** The two AEAD keys of one side. */
export interface SecretConnectionKeys {
  recvKey: Uint8Array
  sendKey: Uint8Array
}

/**
 * HKDF-SHA256 (empty salt, IKM = the X25519 secret) to 96 bytes, K0 = bytes 0..31, K1 = 32..63; the side
 * whose ephemeral key sorts lower receives with K0 and sends with K1, the other the reverse. Bytes 64..95 are
 * unused (the pre-Merlin challenge).
 *
 * @example
 * ```ts
 * const { recvKey, sendKey } = deriveSecrets(dhSecret, locIsLeast)
 * ```
 */
export function deriveSecrets (dhSecret: Uint8Array, locIsLeast: boolean): SecretConnectionKeys {
  const okm = hkdfOutput(dhSecret)
  const k0 = okm.slice(0, 32)
  const k1 = okm.slice(32, 64)
  return locIsLeast ? { recvKey: k0, sendKey: k1 } : { recvKey: k1, sendKey: k0 }
}

/** The full 96-byte HKDF output over `dhSecret`. */
export function hkdfOutput (dhSecret: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', dhSecret, new Uint8Array(0), SECRET_CONNECTION_HKDF_INFO, 96))
}

/** Bytewise comparison, as Go's `bytes.Compare`. */
export function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  }
  return a.length - b.length
}

/**
 * The 32-byte handshake challenge: a Merlin transcript over the sorted ephemeral keys and the shared secret.
 *
 * @param lo the ephemeral public key that sorts lower
 * @param hi the other one
 */
export function handshakeChallenge (lo: Uint8Array, hi: Uint8Array, dhSecret: Uint8Array): Uint8Array {
  const t = new Transcript(SECRET_CONNECTION_TRANSCRIPT_LABEL)
  t.appendMessage(LABEL_EPHEMERAL_LOWER_PUBLIC_KEY, lo)
  t.appendMessage(LABEL_EPHEMERAL_UPPER_PUBLIC_KEY, hi)
  t.appendMessage(LABEL_DH_SECRET, dhSecret)
  return t.challengeBytes(LABEL_SECRET_CONNECTION_MAC, CHALLENGE_SIZE)
}
