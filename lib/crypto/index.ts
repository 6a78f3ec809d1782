/**
 * Cryptography of the CometBFT handshake: node keys and IDs, ed25519 with ZIP-215 verification, X25519,
 * the Merlin transcript, the key schedule and the frame AEAD.
 *
 * @module
 */
export * from './node-id.js'
export * from './node-key.js'
export * from './ed25519.js'
export * from './x25519.js'
export * from './merlin.js'
export * from './key-schedule.js'
export * from './aead.js'
