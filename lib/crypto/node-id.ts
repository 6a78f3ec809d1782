/**
 * Node IDs: what a node is known by, derived from its ed25519 public key. They live beside the keys, at the
 * bottom of the stack, so that everything above (addresses, the handshake, the peer set) can name a node
 * without reaching for the layer that carries bytes.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { InvalidAddressError } from '../errors.js'

/** A node ID: 40 lowercase hex characters (the first 20 bytes of SHA-256 of the node's ed25519 key). */
export type NodeId = string

/** The length of a node ID in bytes (40 hex characters). */
export const NODE_ID_BYTES = 20

const NODE_ID_RE = /^[0-9a-fA-F]{40}$/

/** True when `id` is 40 hex characters (either case, as Go's hex decoder accepts). */
export function isValidNodeId (id: string): boolean {
  return NODE_ID_RE.test(id)
}

/**
 * Checks and normalizes a node ID to lowercase.
 *
 * @throws {InvalidAddressError} not 40 hex characters
 */
export function parseNodeId (id: string): NodeId {
  if (!isValidNodeId(id)) throw new InvalidAddressError(`invalid node ID ${JSON.stringify(id)}: want 40 hex characters`)
  return id.toLowerCase()
}

/**
 * The node ID of an ed25519 public key: hex of the first 20 bytes of its SHA-256, lowercase.
 *
 * @example
 * ```ts
 * nodeIdFromPublicKey(Buffer.from('03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8', 'hex'))
 * // => '56475aa75463474c0285df5dbf2bcab73da65135'
 * ```
 */
export function nodeIdFromPublicKey (publicKey: Uint8Array): NodeId {
  return createHash('sha256').update(publicKey).digest().subarray(0, NODE_ID_BYTES).toString('hex')
}
