/**
 * rx-p2p: peer-to-peer networking on RxJS, wire-compatible with CometBFT's p2p protocol.
 *
 * - **Transport**: connections are duplex Observables ({@link DuplexConnection}) over TCP or in memory.
 * - **MConnection**: many prioritized channels over one connection.
 * - **SecretConnection**: the authenticated, encrypted handshake, node keys and IDs, NodeInfo.
 * - **Switch / Peer / Reactor**: dialing, listening, limits, and reactors as RxJS pipelines.
 * - **PEX / AddrBook**: peer exchange and CometBFT's address book.
 * - **Reactors**: a mempool listener with height mirroring, for joining a CometBFT network.
 *
 * @packageDocumentation
 */
export * from './errors.js'
export * from './transport/index.js'
export * from './wire/index.js'
export * from './conn/index.js'
export * from './crypto/index.js'
export * from './pex/index.js'
export * from './switch/index.js'
export * from './reactors/index.js'
