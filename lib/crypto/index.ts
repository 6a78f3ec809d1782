/**
 * Node identity: node keys (CometBFT's `node_key.json`) and node IDs. The rest of this folder (ed25519 with
 * ZIP-215 verification, X25519, the Merlin transcript, the key schedule and the frame AEAD) is the
 * SecretConnection's machinery and is not exported from the package.
 *
 * @module
 */
export { isValidNodeId, parseNodeId, type NodeId } from './node-id.js'
export { NodeKey, type NodeKeyJSON } from './node-key.js'
