/**
 * Ready-made reactors for joining a CometBFT network: the mempool (`0x30`) and the height mirroring on the
 * consensus state channel (`0x20`) that makes a CometBFT node gossip its mempool to us. The defaults are in
 * `rx-p2p/defaults`; the messages of both channels in `rx-p2p/wire`.
 *
 * @module
 */
export {
  mempoolReactor, txHash, MEMPOOL_CHANNEL_DESCRIPTOR, type MempoolReactor, type MempoolReactorInit, type MempoolTx
} from './mempool.js'
export {
  heightMirrorReactor, CONSENSUS_STATE_CHANNEL_DESCRIPTOR, type HeightMirrorReactor, type PeerRoundStep
} from './height-mirror.js'
