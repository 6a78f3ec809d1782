/**
 * The PEX messages of channel `0x00` (`proto/tendermint/p2p/pex.proto`), byte-compatible with CometBFT:
 *
 * ```proto
 * message NetAddress { string id = 1; string ip = 2; uint32 port = 3; }
 * message PexRequest {}
 * message PexAddrs { repeated NetAddress addrs = 1; }
 * message Message { oneof sum { PexRequest pex_request = 1; PexAddrs pex_addrs = 2; } }
 * ```
 *
 * @module
 */
import { DecodeError, InvalidAddressError, PexViolationError } from '../errors.js'
import { NetAddress, formatIp, parseIp } from '../transport/net-address.js'
import { delimitedFieldSize, ProtoReader, ProtoWriter, utf8Size, varintFieldSize, WIRE_BYTES, WIRE_VARINT } from './proto.js'

/** The PEX channel. */
export const PEX_CHANNEL = 0x00

/** The most addresses one `PexAddrs` may carry (CometBFT's `maxGetSelection`); the reactor enforces it. */
export const MAX_PEX_ADDRESSES = 250

/** The PEX channel's receive message capacity: 256 bytes per address × 250 (CometBFT's `maxMsgSize`). */
export const MAX_PEX_MESSAGE_SIZE = 256 * MAX_PEX_ADDRESSES

/** A request for addresses (`PexRequest`). */
export interface PexRequestMessage { type: 'request' }

/** An answer with addresses (`PexAddrs`). */
export interface PexAddrsMessage { type: 'addrs', addrs: NetAddress[] }

/** A decoded PEX message. */
export type PexMessage = PexRequestMessage | PexAddrsMessage

/**
 * Encodes a PEX message (`Message`), without a length prefix (it travels inside `PacketMsg.data`).
 *
 * @throws {InvalidAddressError} an address whose host is not an IP or whose port is out of range
 * @example
 * ```ts
 * encodePexMessage({ type: 'request' }) // => Uint8Array [0x0a, 0x00]
 * encodePexMessage({ type: 'addrs', addrs: book.getSelection() })
 * ```
 */
export function encodePexMessage (msg: PexMessage): Uint8Array {
  return msg.type === 'request' ? encodePexRequest() : encodePexAddrs(msg.addrs)
}

/** Encodes `Message{pex_request: {}}` (always `0a 00`). */
export function encodePexRequest (): Uint8Array {
  return Uint8Array.of(0x0a, 0x00)
}

/**
 * Encodes `Message{pex_addrs: {addrs}}`. Each IP is written in Go's text form (`formatIp`), as CometBFT's
 * `NetAddress.ToProto` does; empty IDs and port 0 are omitted, as proto3 does.
 *
 * @throws {InvalidAddressError} an address whose host is not an IP or whose port is out of range
 */
export function encodePexAddrs (addrs: readonly NetAddress[]): Uint8Array {
  // The book's addresses are sent again and again: each one's `addrs` field is encoded once and kept.
  const fields: Uint8Array[] = []
  let len = 0
  for (const addr of addrs) {
    let field = encodedAddresses.get(addr)
    if (field === undefined) {
      field = encodeAddrsField(addr)
      encodedAddresses.set(addr, field)
    }
    fields.push(field)
    len += field.length
  }
  const w = new ProtoWriter(delimitedFieldSize(2, len))
  w.key(2, WIRE_BYTES).varint(len) // Message.pex_addrs
  for (const field of fields) {
    w.buf.set(field, w.pos)
    w.pos += field.length
  }
  return w.finish()
}

// `PexAddrs.addrs` fields (tag, length, NetAddress) by address object; an address is immutable.
const encodedAddresses = new WeakMap<NetAddress, Uint8Array>()

function encodeAddrsField (addr: NetAddress): Uint8Array {
  const ip = addr.ip
  if (ip === undefined) throw new InvalidAddressError(`cannot send ${addr.toString()} in PexAddrs: host is not an IP`)
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) {
    throw new InvalidAddressError(`cannot send ${addr.toString()} in PexAddrs: port out of range`)
  }
  const id = utf8Size(addr.id)
  const host = addr.canonical().host // formatIp(ip)
  const hostSize = utf8Size(host)
  const inner = (id > 0 ? delimitedFieldSize(1, id) : 0) + delimitedFieldSize(2, hostSize) + (addr.port !== 0 ? varintFieldSize(3, addr.port) : 0)
  const w = new ProtoWriter(delimitedFieldSize(1, inner))
  w.key(1, WIRE_BYTES).varint(inner) // PexAddrs.addrs
  if (id > 0) w.key(1, WIRE_BYTES).string(addr.id, id)
  w.key(2, WIRE_BYTES).string(host, hostSize)
  if (addr.port !== 0) w.key(3, WIRE_VARINT).varint(addr.port)
  return w.finish()
}

/**
 * Decodes a PEX message as CometBFT does, and validates its addresses as `NetAddressesFromProto` does.
 *
 * - Unknown fields are skipped; when the oneof appears more than once, the last one wins (as in Go).
 * - Each IP must parse (Go's `net.ParseIP`) and each port must be below 65536, or the **whole message**
 *   fails with a {@link PexViolationError} of rule `'bad-address'` (CometBFT disconnects the sender and
 *   bans it for 24 h).
 * - IDs are not checked here: an address with an invalid ID is skipped when it is added to the book.
 * - Decoded hosts are in Go's text form (`::ffff:1.2.3.4` arrives as `1.2.3.4`).
 *
 * @throws {DecodeError} malformed protobuf, or a `Message` with neither request nor addresses
 * @throws {PexViolationError} an address with a bad IP or port (rule `'bad-address'`)
 * @example
 * ```ts
 * const msg = decodePexMessage(bytes)
 * if (msg.type === 'addrs') for (const addr of msg.addrs) book.addAddress(addr, src)
 * ```
 */
export function decodePexMessage (bytes: Uint8Array): PexMessage {
  const r = new ProtoReader(bytes, 'Message')
  let msg: PexMessage | undefined
  let raw: RawAddress[] = []
  while (!r.done) {
    const field = r.key()
    if (field === 1) {
      r.expect(WIRE_BYTES, 'pex_request')
      const body = r.message('PexRequest')
      while (!body.done) {
        body.key()
        body.skip()
      }
      msg = { type: 'request' }
    } else if (field === 2) {
      r.expect(WIRE_BYTES, 'pex_addrs')
      raw = readPexAddrs(r.message('PexAddrs'))
      msg = { type: 'addrs', addrs: [] }
    } else {
      r.skip()
    }
  }
  if (msg === undefined) throw new DecodeError('pex Message: neither pex_request nor pex_addrs is set')
  if (msg.type === 'addrs') {
    for (const a of raw) {
      if (a.decoded !== undefined) {
        msg.addrs.push(a.decoded)
        continue
      }
      const ip = parseIp(a.ip)
      if (ip === undefined) throw new PexViolationError('bad-address', `invalid IP address ${JSON.stringify(a.ip)} in PexAddrs`)
      if (a.port >= 65536) throw new PexViolationError('bad-address', `invalid port number ${a.port} in PexAddrs`)
      const addr = new NetAddress(a.id, formatIp(ip), a.port)
      if (decodedAddresses.size >= DECODED_ADDRESSES_LIMIT) decodedAddresses.clear()
      decodedAddresses.set(a.key, addr)
      msg.addrs.push(addr)
    }
  }
  return msg
}

interface RawAddress { id: string, ip: string, port: number, key: string, decoded?: NetAddress }

// Valid addresses already decoded, by their encoded bytes. A node hears the same addresses again and again, from
// many peers: one shared NetAddress per encoding (it is immutable) saves decoding, IP parsing and its caches'
// work, and memory in the address book. Bounded: cleared when full.
const decodedAddresses = new Map<string, NetAddress>()
const DECODED_ADDRESSES_LIMIT = 65536

function readPexAddrs (r: ProtoReader): RawAddress[] {
  const out: RawAddress[] = []
  while (!r.done) {
    if (r.key() === 1) {
      r.expect(WIRE_BYTES, 'addrs')
      const addrEnd = r.delimitedEnd()
      const bytes = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, addrEnd - r.pos).toString('latin1')
      const decoded = decodedAddresses.get(bytes)
      if (decoded !== undefined) {
        r.pos = addrEnd
        out.push({ id: decoded.id, ip: decoded.host, port: decoded.port, key: bytes, decoded })
      } else {
        const raw = readNetAddress(new ProtoReader(r.buf, 'NetAddress', r.pos, addrEnd))
        r.pos = addrEnd
        raw.key = bytes
        out.push(raw)
      }
    } else {
      r.skip()
    }
  }
  return out
}

function readNetAddress (r: ProtoReader): RawAddress {
  const addr: RawAddress = { id: '', ip: '', port: 0, key: '' }
  while (!r.done) {
    switch (r.key()) {
      case 1:
        r.expect(WIRE_BYTES, 'id')
        addr.id = r.string()
        break
      case 2:
        r.expect(WIRE_BYTES, 'ip')
        addr.ip = r.string()
        break
      case 3:
        r.expect(WIRE_VARINT, 'port')
        addr.port = r.uint32() // Go keeps the low 32 bits (uint32)
        break
      default:
        r.skip()
    }
  }
  return addr
}
