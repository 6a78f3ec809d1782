/**
 * `DefaultNodeInfo`: what two nodes tell each other right after the SecretConnection handshake, and the rules
 * CometBFT applies to it (`p2p/node_info.go`).
 *
 * ```
 * message ProtocolVersion { uint64 p2p = 1; uint64 block = 2; uint64 app = 3; }
 * message DefaultNodeInfo {
 *   ProtocolVersion protocol_version = 1 [(gogoproto.nullable) = false];
 *   string default_node_id = 2; string listen_addr = 3; string network = 4; string version = 5;
 *   bytes channels = 6; string moniker = 7;
 *   DefaultNodeInfoOther other = 8 [(gogoproto.nullable) = false];
 * }
 * message DefaultNodeInfoOther { string tx_index = 1; string rpc_address = 2; }
 * ```
 *
 * @module
 */
import { isIP } from 'node:net'
import { IncompatiblePeerError, InvalidNodeInfoError } from '../errors.js'
import type { NodeId } from '../crypto/node-id.js'
import { NetAddress } from '../transport/net-address.js'
import { delimitedFieldSize, ProtoReader, ProtoWriter, utf8Size, varintFieldSize, WIRE_BYTES, WIRE_VARINT } from './proto.js'

/** The largest NodeInfo accepted in the handshake, in bytes (CometBFT's `maxNodeInfoSize`). */
export const MAX_NODE_INFO_SIZE = 10240
/** The most channels a NodeInfo may list (CometBFT's `maxNumChannels`). */
export const MAX_NUM_CHANNELS = 16
/** The P2P protocol version of CometBFT v0.34 to v0.38 (v1.0 sends 9; peers do not check it). */
export const P2P_PROTOCOL_VERSION = 8
/** The block protocol version of every CometBFT release (checked by {@link checkCompatible}). */
export const BLOCK_PROTOCOL_VERSION = 11

/** The information a node announces about itself in the handshake (CometBFT's `DefaultNodeInfo`). */
export interface NodeInfo {
  /** Protocol versions. Only `block` is checked by peers. */
  protocolVersion: { p2p: number, block: number, app: number }
  /** The node ID (40 lowercase hex characters). */
  id: NodeId
  /** Where the node accepts connections, `host:port`, optionally with a `scheme://` prefix. */
  listenAddr: string
  /** The chain ID. */
  network: string
  /** The software version (printable ASCII, may be empty). */
  version: string
  /** The channel IDs the node serves, one byte each. */
  channels: Uint8Array
  /** A human-readable name (non-empty printable ASCII). */
  moniker: string
  /** Application data. */
  other: { txIndex: string, rpcAddress: string }
}

/** Fields of {@link defaultNodeInfo}: what names the node is given, the rest has CometBFT's defaults. */
export interface NodeInfoInit {
  /** The node ID. */
  id: NodeId
  /** The chain ID. */
  network: string
  /** A human-readable name (non-empty printable ASCII). */
  moniker: string
  /** Where the node accepts connections. @default '0.0.0.0:0' (it does not listen) */
  listenAddr?: string
  /** The software version. @default '' */
  version?: string
  /** The channel IDs the node serves, one byte each. @default none */
  channels?: Uint8Array
  /** Protocol versions; a field left out keeps its default. @default { p2p: 8, block: 11, app: 0 } */
  protocolVersion?: Partial<NodeInfo['protocolVersion']>
  /** Application data; a field left out keeps its default. @default { txIndex: 'off', rpcAddress: '' } */
  other?: Partial<NodeInfo['other']>
}

/**
 * A NodeInfo with CometBFT's defaults where `init` says nothing: protocol versions
 * {@link P2P_PROTOCOL_VERSION} and {@link BLOCK_PROTOCOL_VERSION} (app 0), `tx_index` `off`, no RPC address.
 * The one place these defaults live (the Switch, the crawler and the test helpers build on it).
 *
 * @example
 * ```ts
 * const ours = defaultNodeInfo({ id: nodeKey.id, network: 'my-chain', moniker: 'rx-node', channels: Uint8Array.of(0x30) })
 * ```
 */
export function defaultNodeInfo (init: NodeInfoInit): NodeInfo {
  return {
    protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0, ...init.protocolVersion },
    id: init.id,
    listenAddr: init.listenAddr ?? '0.0.0.0:0',
    network: init.network,
    version: init.version ?? '',
    channels: init.channels ?? new Uint8Array(0),
    moniker: init.moniker,
    other: { txIndex: 'off', rpcAddress: '', ...init.other }
  }
}

/**
 * Encodes `info` as CometBFT's `DefaultNodeInfo` protobuf (without the length prefix). Like gogoproto, the
 * non-nullable fields 1 and 8 are always written, even when empty; other zero values are omitted.
 *
 * @example
 * ```ts
 * const bytes = encodeNodeInfo(info)
 * conn.write(encodeDelimited(bytes))
 * ```
 */
export function encodeNodeInfo (info: NodeInfo): Uint8Array {
  // Measure: every field's size, then one buffer of the sum.
  const { p2p, block, app } = info.protocolVersion
  let version = 0
  if (p2p !== 0) version += varintFieldSize(1, p2p)
  if (block !== 0) version += varintFieldSize(2, block)
  if (app !== 0) version += varintFieldSize(3, app)
  const strings: Array<[number, string, number]> = []
  for (const [field, s] of [[2, info.id], [3, info.listenAddr], [4, info.network], [5, info.version]] as const) {
    if (s !== '') strings.push([field, s, utf8Size(s)])
  }
  const moniker = utf8Size(info.moniker)
  const txIndex = utf8Size(info.other.txIndex)
  const rpcAddress = utf8Size(info.other.rpcAddress)
  const other = (txIndex > 0 ? delimitedFieldSize(1, txIndex) : 0) + (rpcAddress > 0 ? delimitedFieldSize(2, rpcAddress) : 0)
  let size = delimitedFieldSize(1, version) + delimitedFieldSize(8, other)
  for (const [field, , n] of strings) size += delimitedFieldSize(field, n)
  if (info.channels.length > 0) size += delimitedFieldSize(6, info.channels.length)
  if (moniker > 0) size += delimitedFieldSize(7, moniker)
  // Write, in field order.
  const w = new ProtoWriter(size)
  w.key(1, WIRE_BYTES).varint(version)
  if (p2p !== 0) w.key(1, WIRE_VARINT).varint(p2p)
  if (block !== 0) w.key(2, WIRE_VARINT).varint(block)
  if (app !== 0) w.key(3, WIRE_VARINT).varint(app)
  for (const [field, s, n] of strings) w.key(field, WIRE_BYTES).string(s, n)
  if (info.channels.length > 0) w.key(6, WIRE_BYTES).bytes(info.channels)
  if (moniker > 0) w.key(7, WIRE_BYTES).string(info.moniker, moniker)
  w.key(8, WIRE_BYTES).varint(other)
  if (txIndex > 0) w.key(1, WIRE_BYTES).string(info.other.txIndex, txIndex)
  if (rpcAddress > 0) w.key(2, WIRE_BYTES).string(info.other.rpcAddress, rpcAddress)
  return w.finish()
}

/**
 * Decodes a `DefaultNodeInfo` protobuf. Unknown fields are skipped; repeated scalar fields keep the last value
 * and repeated sub-messages merge, as in Go. Strings are decoded as UTF-8 with invalid bytes replaced (U+FFFD),
 * which validation then refuses as Go refuses the raw bytes. Versions above 2^53 lose precision.
 *
 * @throws {DecodeError} the bytes are not a valid protobuf message of this shape
 */
export function decodeNodeInfo (bytes: Uint8Array): NodeInfo {
  const info: NodeInfo = {
    protocolVersion: { p2p: 0, block: 0, app: 0 },
    id: '',
    listenAddr: '',
    network: '',
    version: '',
    channels: new Uint8Array(0),
    moniker: '',
    other: { txIndex: '', rpcAddress: '' }
  }
  const r = new ProtoReader(bytes, 'DefaultNodeInfo')
  while (!r.done) {
    const field = r.key()
    if (field > 8) {
      r.skip()
      continue
    }
    r.expect(WIRE_BYTES, NODE_INFO_FIELDS[field - 1]!)
    switch (field) {
      case 1: readProtocolVersion(r.message('ProtocolVersion'), info.protocolVersion); break
      case 2: info.id = r.string(); break
      case 3: info.listenAddr = r.string(); break
      case 4: info.network = r.string(); break
      case 5: info.version = r.string(); break
      case 6: info.channels = Uint8Array.from(r.bytes()); break
      case 7: info.moniker = r.string(); break
      case 8: readOther(r.message('DefaultNodeInfoOther'), info.other); break
    }
  }
  return info
}

const NODE_INFO_FIELDS = ['protocol_version', 'default_node_id', 'listen_addr', 'network', 'version', 'channels', 'moniker', 'other']

function readProtocolVersion (r: ProtoReader, out: NodeInfo['protocolVersion']): void {
  while (!r.done) {
    const field = r.key()
    if (field > 3) {
      r.skip()
      continue
    }
    r.expect(WIRE_VARINT, field === 1 ? 'p2p' : field === 2 ? 'block' : 'app')
    const n = r.uint64Number()
    if (field === 1) out.p2p = n
    else if (field === 2) out.block = n
    else out.app = n
  }
}

function readOther (r: ProtoReader, out: NodeInfo['other']): void {
  while (!r.done) {
    const field = r.key()
    if (field > 2) {
      r.skip()
      continue
    }
    r.expect(WIRE_BYTES, field === 1 ? 'tx_index' : 'rpc_address')
    const s = r.string()
    if (field === 1) out.txIndex = s
    else out.rpcAddress = s
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Printable ASCII (32..126), non-empty: Go's `cmtstrings.IsASCIIText`. */
function isAsciiText (s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 32 || c > 126) return false
  }
  return true
}

/** True when `s` (already ASCII text) is nothing but spaces. */
function allSpaces (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 32) return false
  return true
}

/** Go's `removeProtocolIfDefined`: the part after the first `://` (up to a second one). */
function removeProtocol (addr: string): string {
  return addr.includes('://') ? addr.split('://')[1]! : addr
}

/** Go's `net.SplitHostPort`; undefined when it fails. */
function splitHostPort (hostport: string): { host: string, port: string } | undefined {
  const i = hostport.lastIndexOf(':')
  if (i < 0) return undefined
  let host: string
  let j = 0
  let k = 0
  if (hostport[0] === '[') {
    const end = hostport.indexOf(']')
    if (end < 0 || end + 1 !== i) return undefined
    host = hostport.slice(1, end)
    j = 1
    k = end + 1
  } else {
    host = hostport.slice(0, i)
    if (host.includes(':')) return undefined
  }
  if (hostport.slice(j).includes('[') || hostport.slice(k).includes(']')) return undefined
  return { host, port: hostport.slice(i + 1) }
}

/** Go's `isDomainName`, the check its resolver applies before any DNS query. */
function isDomainName (s: string): boolean {
  if (s === '.') return true
  const l = s.length
  if (l === 0 || l > 254 || (l === 254 && s[l - 1] !== '.')) return false
  let last = '.'
  let nonNumeric = false
  let partLen = 0
  for (let i = 0; i < l; i++) {
    const c = s[i]!
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_') {
      nonNumeric = true
      partLen++
    } else if (c >= '0' && c <= '9') {
      partLen++
    } else if (c === '-') {
      if (last === '.') return false
      partLen++
      nonNumeric = true
    } else if (c === '.') {
      if (last === '.' || last === '-') return false
      if (partLen > 63 || partLen === 0) return false
      partLen = 0
    } else {
      return false
    }
    last = c
  }
  if (last === '-' || partLen > 63) return false
  return nonNumeric
}

/**
 * Checks `id@listen_addr` as Go's `NewNetAddressString` does; returns a message when it fails.
 *
 * DNS is not queried: where Go resolves a hostname and fails when the lookup fails, this only requires a
 * syntactically valid domain name (the check Go's resolver applies before querying). A hostname that does not
 * resolve is therefore accepted here and refused by Go.
 */
function checkIdAddress (id: string, listenAddr: string): { rule: string, message: string } | undefined {
  const full = removeProtocol(`${id}@${removeProtocol(listenAddr)}`)
  const parts = full.split('@')
  if (parts.length !== 2) return { rule: 'listen-addr', message: `address ${JSON.stringify(full)} must be exactly id@host:port` }
  const [nodeId, hostPort] = parts as [string, string]
  if (nodeId.length === 0) return { rule: 'id', message: 'node ID is empty' }
  if (nodeId.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(nodeId)) return { rule: 'id', message: `node ID ${JSON.stringify(nodeId)} is not hex` }
  if (nodeId.length !== 40) return { rule: 'id', message: `node ID ${JSON.stringify(nodeId)} is ${nodeId.length / 2} bytes, want 20` }
  const split = splitHostPort(hostPort)
  if (split === undefined) return { rule: 'listen-addr', message: `listen address ${JSON.stringify(hostPort)} is not host:port` }
  if (split.host.length === 0) return { rule: 'listen-addr', message: `listen address ${JSON.stringify(hostPort)} has an empty host` }
  if (isIP(split.host) === 0 && !isDomainName(split.host)) {
    return { rule: 'listen-addr', message: `listen address host ${JSON.stringify(split.host)} is neither an IP address nor a domain name` }
  }
  if (!/^[0-9]+$/.test(split.port) || Number(split.port) > 65535) {
    return { rule: 'listen-addr', message: `listen address port ${JSON.stringify(split.port)} is not a decimal uint16` }
  }
  return undefined
}

/**
 * Validates a remote's NodeInfo with CometBFT's `DefaultNodeInfo.Validate` rules, in Go's order:
 * - `id` / `listen-addr`: `id@listen_addr` must parse (ID of 20 hex bytes, `host:port`, non-empty host, port a
 *   decimal uint16). A hostname is not resolved with DNS (Go resolves it); it must be a valid domain name.
 * - `version`: empty, or printable ASCII and not all spaces.
 * - `channels`: at most 16 (`channels-count`), no duplicates (`channels-duplicate`).
 * - `moniker`: non-empty printable ASCII, not all spaces.
 * - `tx-index`: `""`, `"on"` or `"off"`.
 * - `rpc-address`: empty, or printable ASCII and not all spaces.
 *
 * @throws {InvalidNodeInfoError} with `rule` naming the failed rule
 */
export function validateNodeInfo (info: NodeInfo): void {
  const addrProblem = checkIdAddress(info.id, info.listenAddr)
  if (addrProblem !== undefined) throw new InvalidNodeInfoError(addrProblem.rule, `invalid NodeInfo: ${addrProblem.message}`)
  if (info.version.length > 0 && (!isAsciiText(info.version) || allSpaces(info.version))) {
    throw new InvalidNodeInfoError('version', `invalid NodeInfo: version ${JSON.stringify(info.version)} must be printable ASCII`)
  }
  if (info.channels.length > MAX_NUM_CHANNELS) {
    throw new InvalidNodeInfoError('channels-count', `invalid NodeInfo: ${info.channels.length} channels, at most ${MAX_NUM_CHANNELS}`)
  }
  const seen = new Set<number>()
  for (const ch of info.channels) {
    if (seen.has(ch)) throw new InvalidNodeInfoError('channels-duplicate', `invalid NodeInfo: duplicate channel 0x${ch.toString(16).padStart(2, '0')}`)
    seen.add(ch)
  }
  if (!isAsciiText(info.moniker) || allSpaces(info.moniker)) {
    throw new InvalidNodeInfoError('moniker', `invalid NodeInfo: moniker ${JSON.stringify(info.moniker)} must be non-empty printable ASCII`)
  }
  const txIndex = info.other.txIndex
  if (txIndex !== '' && txIndex !== 'on' && txIndex !== 'off') {
    throw new InvalidNodeInfoError('tx-index', `invalid NodeInfo: other.tx_index ${JSON.stringify(txIndex)} must be "on", "off" or empty`)
  }
  const rpc = info.other.rpcAddress
  if (rpc.length > 0 && (!isAsciiText(rpc) || allSpaces(rpc))) {
    throw new InvalidNodeInfoError('rpc-address', `invalid NodeInfo: other.rpc_address ${JSON.stringify(rpc)} must be printable ASCII`)
  }
}

/**
 * CometBFT's `CompatibleWith`: the block protocol version and the network must be equal, and when we list
 * channels, the peer must share at least one. P2P, app and software versions are not compared.
 *
 * @example
 * ```ts
 * checkCompatible(ourInfo, theirInfo) // throws IncompatiblePeerError with rule 'network' on another chain
 * ```
 * @throws {IncompatiblePeerError} with `rule` `block-version`, `network` or `channels`
 */
export function checkCompatible (ours: NodeInfo, theirs: NodeInfo): void {
  if (ours.protocolVersion.block !== theirs.protocolVersion.block) {
    throw new IncompatiblePeerError('block-version', `peer is on block protocol version ${theirs.protocolVersion.block}, we are on ${ours.protocolVersion.block}`)
  }
  if (ours.network !== theirs.network) {
    throw new IncompatiblePeerError('network', `peer is on network ${JSON.stringify(theirs.network)}, we are on ${JSON.stringify(ours.network)}`)
  }
  if (ours.channels.length === 0) return
  for (const ch of ours.channels) {
    if (theirs.channels.includes(ch)) return
  }
  throw new IncompatiblePeerError('channels', `peer has no channel in common with us (ours ${hex(ours.channels)}, theirs ${hex(theirs.channels)})`)
}

/**
 * The address a NodeInfo announces: its ID at its listen address (Go's `DefaultNodeInfo.NetAddress`).
 *
 * @throws {InvalidAddressError} the listen address does not parse
 */
export function nodeInfoAddress (info: NodeInfo): NetAddress {
  return NetAddress.parse(`${info.id}@${removeProtocol(info.listenAddr)}`)
}

function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}
