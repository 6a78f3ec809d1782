/**
 * `rx-p2p/wire`: the codecs of CometBFT's p2p messages, for tools and reactors that speak a channel's protocol
 * themselves: the uvarint length prefix, MConnection packets, NodeInfo, and the messages of the PEX, mempool and
 * consensus channels, with their channel IDs (`*_CHANNEL`, numbers). The types these messages carry
 * (`NodeInfo`, `NetAddress`) and `defaultNodeInfo` are at the root; the reactors' channel descriptors
 * (`*_CHANNEL_DESCRIPTOR`) too.
 *
 * @example
 * ```ts
 * import { decodeMempoolMessage, MEMPOOL_CHANNEL } from 'rx-p2p/wire'
 *
 * sw.inbound$.pipe(filter((e) => e.chId === MEMPOOL_CHANNEL))
 *   .subscribe((e) => console.log(decodeMempoolMessage(e.message).txs.length, 'txs'))
 * ```
 *
 * @module rx-p2p/wire
 */
export { encodeDelimited, FrameDecoder, LengthPrefix, MAX_UVARINT_BYTES, readDelimited, type ReadDelimitedOptions } from './delimited.js'
export { decodePacket, encodePacket, encodePacketFrame, PACKET_MSG, PACKET_PING, PACKET_PONG, type Packet, type PacketKind } from './packet.js'
export {
  BLOCK_PROTOCOL_VERSION, checkCompatible, decodeNodeInfo, encodeNodeInfo, MAX_NODE_INFO_SIZE, MAX_NUM_CHANNELS,
  nodeInfoAddress, P2P_PROTOCOL_VERSION, validateNodeInfo
} from './node-info.js'
export {
  decodePexMessage, encodePexAddrs, encodePexMessage, encodePexRequest, MAX_PEX_ADDRESSES, MAX_PEX_MESSAGE_SIZE, PEX_CHANNEL,
  type PexAddrsMessage, type PexMessage, type PexRequestMessage
} from './pex.js'
export {
  decodeMempoolMessage, encodeMempoolMessage, encodeTxs, MEMPOOL_CHANNEL, type MempoolMessage, type MempoolTxsMessage
} from './mempool.js'
export {
  CONSENSUS_DATA_CHANNEL, CONSENSUS_MESSAGE_CASES, CONSENSUS_STATE_CHANNEL, CONSENSUS_VOTE_CHANNEL, CONSENSUS_VOTE_SET_BITS_CHANNEL,
  decodeConsensusMessage, decodeNewRoundStep, encodeConsensusMessage, encodeNewRoundStep,
  type ConsensusMessage, type NewRoundStep, type NewRoundStepMessage, type OtherConsensusMessage
} from './consensus.js'
