/**
 * Every default of the transport layer in one place: the byte streams (TCP, the in-memory pair, the it-pipe
 * adapter). CometBFT has no such layer of its own (its transport reads and writes `net.Conn` directly); where a
 * value matches one of its constants, the constant is named. `docs/CONFIGURATION.md` lists them.
 *
 * @module
 */

/** TCP connect timeout in ms (`TcpTransportInit.connectTimeoutMs`): CometBFT's `defaultDialTimeout` of 1 s. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 1000

/**
 * Bytes a writer of an in-memory pair, or of a connection made from an it-pipe duplex, may have in flight before
 * `write` returns false (`MemoryPairInit.highWaterMark`, `FromItDuplexInit.highWaterMark`): 64 KiB, one full
 * MConnection write buffer.
 */
export const DEFAULT_HIGH_WATER_MARK = 65_536

/** Bytes the it-pipe `source` reads ahead of its consumer before the connection is paused (`ToItDuplexInit.readAhead`). */
export const DEFAULT_READ_AHEAD = 65_536
