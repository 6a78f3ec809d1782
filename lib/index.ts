/**
 * rx-p2p: peer-to-peer networking on RxJS, wire-compatible with CometBFT's p2p protocol.
 *
 * The root holds what an application needs to run a node, write a reactor, dial peers, read the address book
 * or crawl a network, layer by layer:
 *
 * - **Errors**: one class per condition ({@link P2PError} and its subclasses).
 * - **Node identity**: {@link NodeKey} (`node_key.json`) and node IDs.
 * - **Transport**: connections are duplex streams ({@link DuplexConnection}) over TCP or an it-pipe duplex.
 * - **MultiplexTransport**: listens, dials, filters connections and upgrades them (CometBFT's transport).
 * - **Switch / Peer / Reactor**: dialing, listening, limits, and reactors as RxJS pipelines.
 * - **PEX / AddrBook**: peer exchange and CometBFT's address book.
 * - **Reactors**: a mempool listener with height mirroring, for joining a CometBFT network.
 * - **Crawler**: maps a network through PEX into a plain-JSON report (`rx-p2p crawl`).
 *
 * Beside the root: `rx-p2p/conn` (the MConnection and the SecretConnection, for connections without a
 * Switch, as CometBFT's `p2p/conn`), `rx-p2p/wire` (the message codecs and channel IDs), `rx-p2p/defaults`
 * (every default and protocol parameter) and `rx-p2p/testing` (in-memory networks, marble helpers,
 * simulation, compliance suites). `docs/API.md` lists every name with one line each.
 *
 * @module rx-p2p
 */
// Errors
export {
  AbortError, AddrBookCorruptError, AddrBookIoError, AddrBookTooLargeError, AlreadyConnectedError,
  ChallengeVerificationError, ConnectionClosedError, DecodeError, DecryptionError, DuplicateChannelError,
  FrameTooLargeError, HandshakeError, IncompatiblePeerError, InvalidAddressError, InvalidNodeInfoError,
  InvalidNodeKeyError, LowOrderPointError, MessageTooLargeError, NonceOverflowError, P2PError, type P2PErrorOptions,
  PeerIdMismatchError, PeerRejectedError, PexViolationError, PongTimeoutError, ReactorError, RecvBudgetExceededError,
  SelfConnectionError,
  TimeoutError, TransportError, TruncatedFrameError, UnknownChannelError, UnknownPacketTypeError,
  UnsupportedKeyTypeError, WriteStallError
} from './errors.js'
// Node identity: node keys and IDs
export {
  isValidNodeId, type NodeId, NodeKey, type NodeKeyJSON, parseNodeId
} from './crypto/index.js'
// Raw byte streams: the duplex contract, TCP, it-pipe, NetAddress
export {
  AbstractDuplex, type DuplexConnection, fromItDuplex, type FromItDuplexInit, type HostPort, type ItChunk,
  type ItDuplex, type Listener, type ListenOptions, NetAddress, TcpConnection, TcpTransport, type TcpTransportInit,
  toItDuplex, type ToItDuplexInit, type Transport
} from './transport/index.js'
// NodeInfo: the record each node sends in its handshake (its codec is in rx-p2p/wire)
export { defaultNodeInfo, type NodeInfo, type NodeInfoInit } from './wire/node-info.js'
// The channel descriptor every reactor declares (the connections themselves are in rx-p2p/conn)
export type { ChannelDescriptor } from './conn/channel.js'
// The multiplex transport: the upgrade and its steps, connection filters
export {
  type AcceptEvent, authenticateConnection, type AuthenticateInit, checkPeerCompatible, type ConnFilter, ConnSet,
  exchangeNodeInfo, type HandshakeRateLimiterInit, MultiplexTransport, type MultiplexTransportInit,
  type PeerConnection, upgradeConnection, type UpgradedConnection, type UpgradeInit, validatePeerNodeInfo
} from './multiplex-transport/index.js'
// The Switch, peers, reactors, actions, operators, codecs
export {
  type Action, actions, type ActionsResult, type AdmissionStats, type BanAction, type BanEntry, type BanScope,
  type BanTarget, type BroadcastAction, type BroadcastOptions, type BroadcastResult, type ChannelCodecs, type Codec,
  type DialAction, type DialFailedEvent, type DialOptions, type DialSucceededEvent, type Envelope, jsonCodec,
  mapToActions, mergeMapPerPeer, type MergeMapPerPeerInit, ofEventType, type Peer, type PeerAddedEvent,
  type PeerCounts, type PeerEvent, type PeerEventType, type PeerFilter, type PeerRejectedEvent,
  type PeerRemovedEvent, type PeerSendOptions, protobufCodec, type Reactor, type ReactorContext, type ReactorFailure,
  type ReactorRun, type ReactorScope, type ReadonlyPeerSet, type ReconnectInit,
  type SendAction, type SendMode, statefulReactor, type StatefulReactor, type StatefulReactorInit,
  type StopPeerAction, Switch, type SwitchInit, utf8Codec, withCodec
} from './switch/index.js'
// PEX and the address book
export {
  type AddAddressResult, AddrBook, type AddrBookData, type AddrBookEvent, AddrBookFile, type AddrBookFileInit,
  type AddrBookInit, type AddrBookLimits, type AddrBookLoadOptions, type AddrBookRejection, type AddrBookStore,
  BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, type BucketType, type GoTime, type KnownAddressInfo, type LearnedAddress,
  PEX_CHANNEL_DESCRIPTOR, type PexDialPurpose, type PexEvent, pexReactor, type PexReactor, type PexReactorInit,
  timeToMs, ZERO_TIME
} from './pex/index.js'
// Ready-made reactors: mempool and height mirroring
export {
  CONSENSUS_STATE_CHANNEL_DESCRIPTOR, heightMirrorReactor, type HeightMirrorReactor, MEMPOOL_CHANNEL_DESCRIPTOR,
  mempoolReactor, type MempoolReactor, type MempoolReactorInit, type MempoolTx, type PeerRoundStep,
  txHash
} from './reactors/index.js'
// The crawler
export {
  crawl, CRAWL_REPORT_FORMAT, type CrawlEdge, Crawler, type CrawlerIdentity, type CrawlError, type CrawlEvent,
  type CrawlInit, type CrawlNode, type CrawlNodeStatus, type CrawlPexOutcome, type CrawlProtocolVersion,
  type CrawlReport, type CrawlSkipReason, type CrawlStats, type CrawlStopReason, type CrawlSummary,
  describeCrawlError, formatCrawlReport, writeCrawlReport
} from './crawler/index.js'
