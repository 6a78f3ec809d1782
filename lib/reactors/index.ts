/**
 * Ready-made reactors for joining a CometBFT network: the mempool (`0x30`) and the height mirroring on the
 * consensus state channel (`0x20`) that makes a CometBFT node gossip its mempool to us.
 *
 * @module
 */
export {
  mempoolReactor, txHash, mempoolMessageSize, MEMPOOL_CHANNEL_DESCRIPTOR, type MempoolReactor, type MempoolReactorInit, type MempoolTx
} from './mempool.js'
export { DEFAULT_MAX_TX_BYTES, DEFAULT_SEEN_TX_CACHE_SIZE, DEFAULT_MEMPOOL_SEND_QUEUE_CAPACITY } from './defaults.js'
export { heightMirrorReactor, mirrorHeights, CONSENSUS_STATE_CHANNEL_DESCRIPTOR, type HeightMirrorReactor, type PeerRoundStep } from './height-mirror.js'
