/**
 * Every default and limit of the conn layer in one place (the MConnection, its channels and write buffer, the
 * SecretConnection's handshake), with CometBFT's values (`p2p/conn/connection.go`,
 * `config/config.go`, `libs/flowrate`). `docs/CONFIGURATION.md` lists them beside CometBFT's.
 *
 * @module
 */

/** Flush throttle in ms: how long a partly filled write buffer may wait. CometBFT v1.0 (and `config.toml` of v1.0) uses 10 ms; v0.38 uses 100 ms. */
export const DEFAULT_FLUSH_THROTTLE_MS = 10
/** Interval between pings in ms (CometBFT `defaultPingInterval`). */
export const DEFAULT_PING_INTERVAL_MS = 60_000
/** Time to wait for a pong after a ping, in ms (CometBFT `defaultPongTimeout`). */
export const DEFAULT_PONG_TIMEOUT_MS = 45_000
/** Send rate limit in bytes/s (CometBFT `config.toml` `send_rate`; the bare MConnection default is 512000). */
export const DEFAULT_SEND_RATE = 5_120_000
/** Receive rate limit in bytes/s (CometBFT `config.toml` `recv_rate`; the bare MConnection default is 512000). */
export const DEFAULT_RECV_RATE = 5_120_000
/** Largest payload of one PacketMsg in bytes (CometBFT `max_packet_msg_payload_size`). */
export const DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE = 1024
/** How long `send` waits for room in a channel's queue, in ms (CometBFT `defaultSendTimeout`). */
export const DEFAULT_SEND_TIMEOUT_MS = 10_000
/**
 * How long our writes may stay blocked (the transport said full and has not drained) before the peer is stopped
 * with `WriteStallError`, in ms. A peer that reads nothing while it pings or pongs is dropped after this. Beyond
 * CometBFT, which waits on the socket for as long as the peer keeps answering pings.
 */
export const DEFAULT_WRITE_STALL_TIMEOUT_MS = 60_000
/**
 * The per-connection receive budget is the largest channel's `recvMessageCapacity` plus this many bytes: room for
 * one message of the largest size and, beside it, the partial messages of the other channels (block parts, txs).
 */
export const DEFAULT_CONN_RECV_BUDGET_SLACK = 4 * 1024 * 1024

/** Messages a channel queues for sending (CometBFT `defaultSendQueueCapacity`). */
export const DEFAULT_SEND_QUEUE_CAPACITY = 1
/** Initial capacity of a channel's reassembly buffer in bytes (CometBFT `defaultRecvBufferCapacity`). */
export const DEFAULT_RECV_BUFFER_CAPACITY = 4096
/** Largest reassembled message in bytes, 21 MiB (CometBFT `defaultRecvMessageCapacity`). */
export const DEFAULT_RECV_MESSAGE_CAPACITY = 22_020_096

/** Period of the `recentlySent` decay in ms (CometBFT `updateStats`). */
export const STATS_UPDATE_INTERVAL_MS = 2000
/** Factor applied to each channel's `recentlySent` every {@link STATS_UPDATE_INTERVAL_MS} (CometBFT `updateStats`). */
export const RECENTLY_SENT_DECAY = 0.8
/** Bytes the write buffer collects before it is written without waiting for the flush throttle (CometBFT's bufio writer size). */
export const WRITE_BUFFER_HIGH_WATER_MARK = 65_536
/**
 * Bytes a connection's own (small) write buffer collects before a burst moves on to a large one from the pool. An
 * idle connection holds only this buffer (about 5 KiB with its headroom). rx-p2p's choice.
 */
export const DEFAULT_SMALL_WRITE_BUFFER_SIZE = 4096
/** Large write buffers the shared pool keeps for reuse, per capacity, for every connection of the process. rx-p2p's choice. */
export const DEFAULT_LARGE_WRITE_BUFFER_POOL_SIZE = 16
/** Writes shorter than this are copied out so the write buffer is kept; longer ones hand a large buffer over. rx-p2p's choice. */
export const DEFAULT_COPY_WRITE_BELOW = 16_384
/** After `flushStop` has ended the write side: how long to wait for the remote to close, in ms. rx-p2p's choice. */
export const FLUSH_STOP_LINGER_MS = 10_000

/**
 * CometBFT's handshake deadline in ms (`defaultHandshakeTimeout` of `p2p/transport.go`), applied to the
 * SecretConnection handshake and, by the upgrade, to the NodeInfo exchange.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 3000
/** The reader limit of the secret handshake's messages (ephemeral key, AuthSig), as in Go: 1 MiB. */
export const HANDSHAKE_MESSAGE_MAX = 1024 * 1024

/** Sample period of the flow-rate monitor in ms (CometBFT `flowrate`: 5 × the 20 ms clock). */
export const FLOW_SAMPLE_RATE_MS = 100
/** Window of the flow-rate moving average in ms (CometBFT `flowrate`). */
export const FLOW_WINDOW_MS = 1000
/** Resolution of the flow-rate clock in ms (CometBFT `flowrate` `clockRate`). */
export const FLOW_CLOCK_RATE_MS = 20
/** Shortest wait for the next sample when a rate limit holds the stream, in ms (CometBFT `flowrate`). */
export const FLOW_MIN_WAIT_MS = 5
