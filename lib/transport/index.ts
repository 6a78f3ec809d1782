/**
 * Raw byte streams: the duplex contract, TCP, the it-pipe adapter and `NetAddress`. The in-memory pair and
 * network live in `rx-p2p/testing`; the defaults in `rx-p2p/defaults`.
 *
 * @module
 */
export { AbstractDuplex, type DuplexConnection, type HostPort } from './duplex.js'
export type { Listener, ListenOptions, Transport } from './transport.js'
export { TcpConnection, TcpTransport, type TcpTransportInit } from './tcp.js'
export { fromItDuplex, toItDuplex, type FromItDuplexInit, type ItChunk, type ItDuplex, type ToItDuplexInit } from './it-pipe.js'
export { NetAddress } from './net-address.js'
