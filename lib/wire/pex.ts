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
import pb from 'protobufjs/minimal.js'
import { DecodeError, InvalidAddressError, PexViolationError } from '../errors.js'
import { NetAddress, formatIp, parseIp } from '../transport/net-address.js'

/** The PEX channel. */
export const PEX_CHANNEL_ID = 0x00

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

const WIRE_VARINT = 0
const WIRE_BYTES = 2

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
  const head = 1 + varintSize(len)
  const out = new Uint8Array(head + len)
  out[0] = (2 << 3) | WIRE_BYTES
  writeVarint(out, 1, len)
  let pos = head
  for (const field of fields) {
    out.set(field, pos)
    pos += field.length
  }
  return out
}

// `PexAddrs.addrs` fields (tag, length, NetAddress) by address object; an address is immutable.
const encodedAddresses = new WeakMap<NetAddress, Uint8Array>()

function encodeAddrsField (addr: NetAddress): Uint8Array {
  const ip = addr.ip
  if (ip === undefined) throw new InvalidAddressError(`cannot send ${addr.toString()} in PexAddrs: host is not an IP`)
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) {
    throw new InvalidAddressError(`cannot send ${addr.toString()} in PexAddrs: port out of range`)
  }
  const w = pb.Writer.create()
  w.uint32((1 << 3) | WIRE_BYTES).fork()
  if (addr.id !== '') w.uint32((1 << 3) | WIRE_BYTES).string(addr.id)
  w.uint32((2 << 3) | WIRE_BYTES).string(addr.canonical().host) // formatIp(ip)
  if (addr.port !== 0) w.uint32((3 << 3) | WIRE_VARINT).uint32(addr.port)
  w.ldelim()
  return Uint8Array.from(w.finish())
}

function varintSize (n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

function writeVarint (out: Uint8Array, pos: number, n: number): void {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  out[pos] = n
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
  const r: Reader = { buf: bytes, pos: 0 }
  let msg: PexMessage | undefined
  let raw: RawAddress[] = []
  while (r.pos < bytes.length) {
    const key = readKey(r, bytes.length, 'Message')
    const field = key >>> 3
    if (field === 1 || field === 2) {
      expectWire(key, WIRE_BYTES, 'Message', field === 1 ? 'pex_request' : 'pex_addrs')
      const end = readEnd(r, bytes.length, 'Message')
      if (field === 1) {
        skipAll(r, end, 'PexRequest')
        msg = { type: 'request' }
      } else {
        raw = readPexAddrs(r, end)
        msg = { type: 'addrs', addrs: [] }
      }
    } else {
      skipField(r, bytes.length, key, 'Message')
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

// A cursor over one message's bytes; every read is bounded by the `end` of the message being read.
interface Reader { readonly buf: Uint8Array, pos: number }

function readPexAddrs (r: Reader, end: number): RawAddress[] {
  const out: RawAddress[] = []
  while (r.pos < end) {
    const key = readKey(r, end, 'PexAddrs')
    if (key >>> 3 === 1) {
      expectWire(key, WIRE_BYTES, 'PexAddrs', 'addrs')
      const addrEnd = readEnd(r, end, 'PexAddrs')
      const bytes = Buffer.from(r.buf.buffer, r.buf.byteOffset + r.pos, addrEnd - r.pos).toString('latin1')
      const decoded = decodedAddresses.get(bytes)
      if (decoded !== undefined) {
        r.pos = addrEnd
        out.push({ id: decoded.id, ip: decoded.host, port: decoded.port, key: bytes, decoded })
      } else {
        const raw = readNetAddress(r, addrEnd)
        raw.key = bytes
        out.push(raw)
      }
    } else {
      skipField(r, end, key, 'PexAddrs')
    }
  }
  return out
}

function readNetAddress (r: Reader, end: number): RawAddress {
  const addr: RawAddress = { id: '', ip: '', port: 0, key: '' }
  while (r.pos < end) {
    const key = readKey(r, end, 'NetAddress')
    switch (key >>> 3) {
      case 1:
        expectWire(key, WIRE_BYTES, 'NetAddress', 'id')
        addr.id = readString(r, end)
        break
      case 2:
        expectWire(key, WIRE_BYTES, 'NetAddress', 'ip')
        addr.ip = readString(r, end)
        break
      case 3:
        expectWire(key, WIRE_VARINT, 'NetAddress', 'port')
        addr.port = readVarint(r, end, 'NetAddress').low32 // Go keeps the low 32 bits (uint32)
        break
      default:
        skipField(r, end, key, 'NetAddress')
    }
  }
  return addr
}

// A varint as Go's generated code reads it: at most 10 bytes. `value` is exact up to 2^53 (enough to
// compare a length with what is left), `low32` is exact.
function readVarint (r: Reader, end: number, what: string): { value: number, low32: number } {
  let value = 0
  let low32 = 0
  for (let i = 0; ; i++) {
    if (i >= 10) throw new DecodeError(`${what}: varint overflows 64 bits`)
    if (r.pos >= end) throw new DecodeError(`${what}: truncated varint`)
    const b = r.buf[r.pos++]!
    value += (b & 0x7f) * 2 ** (7 * i)
    if (i < 5) low32 = (low32 + (b & 0x7f) * 2 ** (7 * i)) % 2 ** 32
    if (b < 0x80) return { value, low32 }
  }
}

function readKey (r: Reader, end: number, what: string): number {
  const { value } = readVarint(r, end, what)
  if (value >= 2 ** 32) throw new DecodeError(`${what}: field key out of range`)
  if (value < 8) throw new DecodeError(`${what}: illegal field number 0`)
  return value >>> 0
}

function expectWire (key: number, wire: number, what: string, field: string): void {
  if ((key & 7) !== wire) throw new DecodeError(`${what}: wrong wire type ${key & 7} for field ${field}`)
}

// Reads a length prefix and returns where the length-delimited field ends.
function readEnd (r: Reader, end: number, what: string): number {
  const { value: len } = readVarint(r, end, what)
  if (len > end - r.pos) throw new DecodeError(`${what}: length ${len} runs past the end of the message`)
  return r.pos + len
}

// ignoreBOM: a leading U+FEFF is kept, as Go keeps the bytes (a default TextDecoder would drop it).
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true })

function readString (r: Reader, end: number): string {
  const e = readEnd(r, end, 'NetAddress')
  const s = utf8.decode(r.buf.subarray(r.pos, e))
  r.pos = e
  return s
}

// Skips an unknown field as gogoproto's skip does, groups included.
function skipField (r: Reader, end: number, key: number, what: string): void {
  let depth = 0
  for (;;) {
    switch (key & 7) {
      case 0: readVarint(r, end, what); break
      case 1: advance(r, end, 8, what); break
      case 2: r.pos = readEnd(r, end, what); break
      case 3: depth++; break
      case 4:
        if (depth === 0) throw new DecodeError(`${what}: unexpected end of group`)
        depth--
        break
      case 5: advance(r, end, 4, what); break
      default: throw new DecodeError(`${what}: illegal wire type ${key & 7}`)
    }
    if (depth === 0) return
    key = readKey(r, end, what)
  }
}

function advance (r: Reader, end: number, n: number, what: string): void {
  if (n > end - r.pos) throw new DecodeError(`${what}: truncated field`)
  r.pos += n
}

function skipAll (r: Reader, end: number, what: string): void {
  while (r.pos < end) skipField(r, end, readKey(r, end, what), what)
}
