/**
 * The MConnection `Packet` (`proto/tendermint/p2p/conn.proto`): ping, pong and msg.
 *
 * ```
 * PacketPing {}   PacketPong {}
 * PacketMsg { int32 channel_id = 1; bool eof = 2; bytes data = 3; }
 * Packet    { oneof sum { PacketPing packet_ping = 1; PacketPong packet_pong = 2; PacketMsg packet_msg = 3; } }
 * ```
 *
 * Two codecs live here:
 * - a **hand-written** one for the hot path: {@link encodePacketMsgFrameInto} writes a length-prefixed
 *   PacketMsg straight into a caller's buffer (one copy of the payload, no intermediate object), and
 *   {@link decodePacketInto} / {@link PacketStreamDecoder} read packets in place, reporting the payload as
 *   offsets into the received chunk;
 * - the same messages through **protobufjs** ({@link encodePacketProtobuf}, {@link decodePacketProtobuf}), the
 *   reference the hand-written codec is held byte-equal to by a property test.
 *
 * The decoders follow the rules of CometBFT's generated (gogoproto) unmarshaller: unknown fields are skipped,
 * a field with the wrong wire type, a truncated field, a field number 0 or a stray end-group is malformed
 * ({@link DecodeError}), and a Packet with no oneof case set is an {@link UnknownPacketTypeError}.
 *
 * @module
 */
import protobuf from 'protobufjs/light.js'
import { DecodeError, FrameTooLargeError, P2PError, UnknownPacketTypeError } from '../errors.js'
import { MAX_UVARINT_BYTES } from './delimited.js'

/** Packet kind code of a `PacketPing` (its oneof field number). */
export const PACKET_PING = 1
/** Packet kind code of a `PacketPong` (its oneof field number). */
export const PACKET_PONG = 2
/** Packet kind code of a `PacketMsg` (its oneof field number). */
export const PACKET_MSG = 3
/** One of {@link PACKET_PING}, {@link PACKET_PONG}, {@link PACKET_MSG}. */
export type PacketKind = typeof PACKET_PING | typeof PACKET_PONG | typeof PACKET_MSG

/** A decoded Packet as a plain object (the convenient, allocating form; the hot path uses offsets). */
export type Packet =
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'msg', channelId: number, eof: boolean, data: Uint8Array }

// ---------------------------------------------------------------------------------------------
// Sizes

/** Bytes a uvarint of `n` takes (`n` a non-negative integer below 2^53). */
export function varintLength (n: number): number {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x200000) return 3
  if (n < 0x10000000) return 4
  let len = 4
  n = Math.floor(n / 0x10000000)
  while (n > 0) { len++; n = Math.floor(n / 128) }
  return len
}

/** Bytes of the PacketMsg body (`channel_id`, `eof`, `data` fields), without the Packet wrapper. */
function packetMsgBodySize (channelId: number, eof: boolean, dataLength: number): number {
  let size = 0
  if (channelId !== 0) size += 1 + varintLength(channelId)
  if (eof) size += 2
  if (dataLength > 0) size += 1 + varintLength(dataLength) + dataLength
  return size
}

/**
 * Encoded size of `Packet{PacketMsg{channelId, eof, data}}`, without the length prefix.
 *
 * @example
 * ```ts
 * packetMsgSize(1, true, 1024) // => 1034, CometBFT's maxPacketMsgSize for the default payload
 * ```
 */
export function packetMsgSize (channelId: number, eof: boolean, dataLength: number): number {
  const body = packetMsgBodySize(channelId, eof, dataLength)
  return 1 + varintLength(body) + body
}

/** Encoded size of a PacketMsg frame on the wire: length prefix plus {@link packetMsgSize}. */
export function packetMsgFrameSize (channelId: number, eof: boolean, dataLength: number): number {
  const size = packetMsgSize(channelId, eof, dataLength)
  return varintLength(size) + size
}

/**
 * The largest Packet a receiver accepts, as CometBFT computes it (`maxPacketMsgSize`): the size of a PacketMsg on
 * channel 1 with `eof` set and a full payload. 1034 bytes for the default payload of 1024.
 */
export function maxPacketMsgSize (maxPayloadSize: number): number {
  return packetMsgSize(1, true, maxPayloadSize)
}

// ---------------------------------------------------------------------------------------------
// Hand-written encoder

function writeVarint (out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80
    n = n >= 0x80000000 ? Math.floor(n / 128) : n >>> 7
  }
  out[pos++] = n
  return pos
}

/**
 * Writes one length-prefixed `Packet{PacketMsg}` frame into `out` at `offset` and returns the offset after it.
 * The payload is `data[dataStart, dataEnd)`, copied once; nothing else is allocated. `out` must have room for
 * {@link packetMsgFrameSize} bytes.
 *
 * @example
 * ```ts
 * const out = new Uint8Array(packetMsgFrameSize(0x30, true, msg.byteLength))
 * encodePacketMsgFrameInto(out, 0, 0x30, true, msg, 0, msg.byteLength)
 * ```
 */
export function encodePacketMsgFrameInto (
  out: Uint8Array, offset: number, channelId: number, eof: boolean,
  data: Uint8Array, dataStart: number, dataEnd: number
): number {
  const dataLength = dataEnd - dataStart
  const body = packetMsgBodySize(channelId, eof, dataLength)
  const packet = 1 + varintLength(body) + body
  let pos = writeVarint(out, offset, packet)
  out[pos++] = 0x1a // Packet.packet_msg, length-delimited
  pos = writeVarint(out, pos, body)
  if (channelId !== 0) {
    out[pos++] = 0x08 // channel_id, varint
    pos = writeVarint(out, pos, channelId)
  }
  if (eof) {
    out[pos++] = 0x10 // eof, varint
    out[pos++] = 0x01
  }
  if (dataLength > 0) {
    out[pos++] = 0x1a // data, length-delimited
    pos = writeVarint(out, pos, dataLength)
    if (dataLength < 64) {
      for (let i = dataStart; i < dataEnd; i++) out[pos++] = data[i]!
    } else {
      // A plain view: Buffer#subarray goes through Buffer's species constructor, several times slower.
      out.set(dataStart === 0 && dataEnd === data.byteLength ? data : new Uint8Array(data.buffer, data.byteOffset + dataStart, dataLength), pos)
      pos += dataLength
    }
  }
  return pos
}

/** Writes a length-prefixed PacketPing (`02 0a 00`) at `offset`; returns the offset after it. */
export function encodePingFrameInto (out: Uint8Array, offset: number): number {
  out[offset] = 0x02
  out[offset + 1] = 0x0a
  out[offset + 2] = 0x00
  return offset + 3
}

/** Writes a length-prefixed PacketPong (`02 12 00`) at `offset`; returns the offset after it. */
export function encodePongFrameInto (out: Uint8Array, offset: number): number {
  out[offset] = 0x02
  out[offset + 1] = 0x12
  out[offset + 2] = 0x00
  return offset + 3
}

/** Bytes of a length-prefixed ping or pong frame. */
export const PING_PONG_FRAME_SIZE = 3

function checkPacket (packet: Packet): void {
  if (packet.type === 'msg') {
    const id = packet.channelId
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) throw new RangeError(`channelId must be an int32 >= 0, got ${id}`)
  }
}

/**
 * Encodes a Packet with the hand-written codec, without the length prefix.
 *
 * @example
 * ```ts
 * encodePacket({ type: 'ping' }) // => Uint8Array [0x0a, 0x00]
 * ```
 */
export function encodePacket (packet: Packet): Uint8Array {
  checkPacket(packet)
  if (packet.type === 'ping') return Uint8Array.of(0x0a, 0x00)
  if (packet.type === 'pong') return Uint8Array.of(0x12, 0x00)
  const { channelId, eof, data } = packet
  const size = packetMsgSize(channelId, eof, data.byteLength)
  const out = new Uint8Array(varintLength(size) + size)
  encodePacketMsgFrameInto(out, 0, channelId, eof, data, 0, data.byteLength)
  return out.subarray(varintLength(size))
}

/** Encodes a Packet with its uvarint length prefix, in one allocation (what goes on the wire). */
export function encodePacketFrame (packet: Packet): Uint8Array {
  checkPacket(packet)
  if (packet.type === 'ping') return Uint8Array.of(0x02, 0x0a, 0x00)
  if (packet.type === 'pong') return Uint8Array.of(0x02, 0x12, 0x00)
  const { channelId, eof, data } = packet
  const out = new Uint8Array(packetMsgFrameSize(channelId, eof, data.byteLength))
  encodePacketMsgFrameInto(out, 0, channelId, eof, data, 0, data.byteLength)
  return out
}

// ---------------------------------------------------------------------------------------------
// Hand-written decoder

// The last varint read, as Go's 64-bit value split in two 32-bit halves (bits above 63 are dropped, as Go does).
let vLo = 0
let vHi = 0

/** Reads a varint at `pos` into vLo/vHi with Go's rules (at most 10 bytes); returns the position after it. */
function readVarint (buf: Uint8Array, pos: number, end: number): number {
  let lo = 0
  let hi = 0
  for (let i = 0; ; i++) {
    if (i === MAX_UVARINT_BYTES) throw new DecodeError('varint overflows 64 bits')
    if (pos >= end) throw new DecodeError('unexpected end of packet inside a varint')
    const b = buf[pos++]!
    const bits = b & 0x7f
    if (i < 4) lo |= bits << (7 * i)
    else if (i === 4) { lo |= bits << 28; hi |= bits >>> 4 }
    else if (i < 9) hi |= bits << (7 * i - 32)
    else hi |= (bits & 1) << 31
    if (b < 0x80) break
  }
  vLo = lo >>> 0
  vHi = hi >>> 0
  return pos
}

/** Reads a length (a varint) and checks that that many bytes follow; returns the position after the varint. */
function readLength (buf: Uint8Array, pos: number, end: number): number {
  pos = readVarint(buf, pos, end)
  if (vHi !== 0) throw new DecodeError(vHi >= 0x80000000 ? 'negative length' : 'length exceeds the packet')
  if (vLo > end - pos) throw new DecodeError('length exceeds the packet')
  return pos
}

/** Skips one unknown field whose tag starts at `pos` (groups included, as gogoproto's skip does). */
function skipField (buf: Uint8Array, pos: number, end: number): number {
  let depth = 0
  while (pos < end) {
    pos = readVarint(buf, pos, end)
    const wireType = vLo & 7
    switch (wireType) {
      case 0: pos = readVarint(buf, pos, end); break
      case 1: pos += 8; break
      case 2:
        pos = readVarint(buf, pos, end)
        if (vHi !== 0) throw new DecodeError('invalid length')
        pos += vLo
        break
      case 3: depth++; break
      case 4:
        if (depth === 0) throw new DecodeError('unexpected end of group')
        depth--
        break
      case 5: pos += 4; break
      default: throw new DecodeError(`illegal wire type ${wireType}`)
    }
    if (depth === 0) {
      if (pos > end) throw new DecodeError('unexpected end of packet in a skipped field')
      return pos
    }
  }
  throw new DecodeError('unexpected end of packet in a group')
}

/** Reads a tag at `pos`: sets tagField / tagWireType, applies gogoproto's checks. */
let tagField = 0
let tagWireType = 0
function readTag (buf: Uint8Array, pos: number, end: number, what: string): number {
  pos = readVarint(buf, pos, end)
  tagWireType = vLo & 7
  tagField = ((vLo >>> 3) | (vHi << 29)) | 0 // Go: int32(wire >> 3)
  if (tagWireType === 4) throw new DecodeError(`${what}: end-group wire type for a non-group`)
  if (tagField <= 0) throw new DecodeError(`${what}: illegal field number ${tagField}`)
  return pos
}

/** An empty message (PacketPing, PacketPong): every field is unknown and skipped. */
function checkEmptyMessage (buf: Uint8Array, pos: number, end: number, what: string): void {
  while (pos < end) {
    const fieldStart = pos
    pos = readTag(buf, pos, end, what)
    pos = skipField(buf, fieldStart, end)
  }
}

/**
 * The fields of a decoded Packet, filled in place by {@link decodePacketInto} so that the hot path allocates
 * nothing per packet. For a PacketMsg the payload is `buf[dataStart, dataEnd)` of the decoded buffer.
 */
export class PacketFields {
  /** `PacketMsg.channel_id` as Go's int32 (may be negative or above 255 on hostile input). */
  channelId = 0
  /** `PacketMsg.eof`. */
  eof = false
  /** Start offset of `PacketMsg.data` in the decoded buffer. */
  dataStart = 0
  /** End offset (exclusive) of `PacketMsg.data` in the decoded buffer. */
  dataEnd = 0
}

function decodePacketMsgBody (buf: Uint8Array, pos: number, end: number, out: PacketFields): void {
  out.channelId = 0
  out.eof = false
  out.dataStart = pos
  out.dataEnd = pos
  while (pos < end) {
    const fieldStart = pos
    pos = readTag(buf, pos, end, 'PacketMsg')
    switch (tagField) {
      case 1:
        if (tagWireType !== 0) throw new DecodeError(`PacketMsg: wrong wire type ${tagWireType} for channel_id`)
        pos = readVarint(buf, pos, end)
        out.channelId = vLo | 0 // Go: int32 accumulation keeps the low 32 bits
        break
      case 2:
        if (tagWireType !== 0) throw new DecodeError(`PacketMsg: wrong wire type ${tagWireType} for eof`)
        pos = readVarint(buf, pos, end)
        out.eof = (vLo | vHi) !== 0
        break
      case 3:
        if (tagWireType !== 2) throw new DecodeError(`PacketMsg: wrong wire type ${tagWireType} for data`)
        pos = readLength(buf, pos, end)
        out.dataStart = pos
        pos += vLo
        out.dataEnd = pos
        break
      default:
        pos = skipField(buf, fieldStart, end)
    }
  }
}

/**
 * Decodes the Packet in `buf[start, end)` (no length prefix) into `out`, without allocating, and returns its
 * kind. For a {@link PACKET_MSG} the payload is `buf[out.dataStart, out.dataEnd)`.
 *
 * @throws {DecodeError} malformed protobuf
 * @throws {UnknownPacketTypeError} no oneof case is set
 * @example
 * ```ts
 * const fields = new PacketFields()
 * if (decodePacketInto(frame, 0, frame.byteLength, fields) === PACKET_MSG) {
 *   handle(fields.channelId, frame.subarray(fields.dataStart, fields.dataEnd))
 * }
 * ```
 */
export function decodePacketInto (buf: Uint8Array, start: number, end: number, out: PacketFields): PacketKind {
  let kind = 0
  let pos = start
  while (pos < end) {
    const fieldStart = pos
    pos = readTag(buf, pos, end, 'Packet')
    const field = tagField
    if (field >= 1 && field <= 3) {
      if (tagWireType !== 2) throw new DecodeError(`Packet: wrong wire type ${tagWireType} for field ${field}`)
      pos = readLength(buf, pos, end)
      const bodyEnd = pos + vLo
      if (field === PACKET_MSG) decodePacketMsgBody(buf, pos, bodyEnd, out)
      else checkEmptyMessage(buf, pos, bodyEnd, field === PACKET_PING ? 'PacketPing' : 'PacketPong')
      kind = field
      pos = bodyEnd
    } else {
      pos = skipField(buf, fieldStart, end)
    }
  }
  if (kind === 0) throw new UnknownPacketTypeError('packet has no known type (oneof unset or unknown)')
  return kind as PacketKind
}

/**
 * Decodes a Packet (no length prefix) into a plain object; `data` is a view into `bytes`.
 *
 * @throws {DecodeError} malformed protobuf
 * @throws {UnknownPacketTypeError} no oneof case is set
 * @example
 * ```ts
 * decodePacket(Uint8Array.of(0x0a, 0x00)) // => { type: 'ping' }
 * ```
 */
export function decodePacket (bytes: Uint8Array): Packet {
  const fields = new PacketFields()
  const kind = decodePacketInto(bytes, 0, bytes.byteLength, fields)
  if (kind === PACKET_PING) return { type: 'ping' }
  if (kind === PACKET_PONG) return { type: 'pong' }
  return { type: 'msg', channelId: fields.channelId, eof: fields.eof, data: bytes.subarray(fields.dataStart, fields.dataEnd) }
}

// ---------------------------------------------------------------------------------------------
// Streaming decoder

/**
 * Receives the packets a {@link PacketStreamDecoder} decodes. Each method returns `true` to go on decoding,
 * `false` to stop (for instance because the connection was closed by the handler).
 */
export interface PacketSink {
  /** A PacketPing arrived. */
  ping: () => boolean
  /** A PacketPong arrived. */
  pong: () => boolean
  /**
   * A PacketMsg arrived; its payload is `buf[start, end)`. `buf` is never reused by the decoder, so a view of it
   * may be kept.
   */
  msg: (channelId: number, eof: boolean, buf: Uint8Array, start: number, end: number) => boolean
}

/**
 * Decodes a stream of length-prefixed Packets chunk by chunk, in place: a frame that lies inside a chunk is
 * decoded where it is (its payload handed on as offsets into the chunk), and only a frame that straddles chunks
 * is copied, once, into a buffer of its exact size. The size announced by a prefix is checked against
 * `maxPacketSize` before anything is buffered for it.
 *
 * @example
 * ```ts
 * const decoder = new PacketStreamDecoder(maxPacketMsgSize(1024))
 * source$.subscribe((chunk) => decoder.decode(chunk, 0, Infinity, sink))
 * ```
 */
export class PacketStreamDecoder {
  // A frame straddling chunks: its bytes so far (exact size once the prefix is known).
  #asm: Uint8Array | undefined
  #asmFill = 0
  #asmPrefix = 0 // prefix length of the frame in #asm, 0 while the prefix itself is incomplete
  readonly #fields = new PacketFields()

  /** @param maxPacketSize the largest Packet accepted, not counting its prefix (see {@link maxPacketMsgSize}) */
  constructor (readonly maxPacketSize: number) {}

  /** Bytes held of a frame that is not complete yet. */
  get bufferedBytes (): number {
    return this.#asmFill
  }

  /**
   * Decodes the frames of `chunk` from `offset` on, handing each packet to `sink`. Stops at a frame boundary
   * once at least `budget` bytes have been consumed, when `sink` returns false, or at the end of the chunk.
   * Returns the offset reached: bytes before it are consumed (a trailing partial frame is held inside).
   *
   * @throws {FrameTooLargeError} a prefix announces more than `maxPacketSize` bytes
   * @throws {DecodeError} a prefix or a packet does not decode
   * @throws {UnknownPacketTypeError} a packet with no known type
   */
  decode (chunk: Uint8Array, offset: number, budget: number, sink: PacketSink): number {
    const len = chunk.byteLength
    let pos = offset
    if (this.#asm !== undefined) {
      pos = this.#continueAssembly(chunk, pos, sink)
      if (pos < 0) return len
      if (this.#stopped) { this.#stopped = false; return pos }
    }
    const max = this.maxPacketSize
    while (pos < len && pos - offset < budget) {
      // Read the length prefix in place.
      let size = 0
      let scale = 1
      let p = pos
      let complete = false
      for (let i = 0; p < len; i++) {
        const b = chunk[p++]!
        if (i === MAX_UVARINT_BYTES - 1 && b > 1) throw new DecodeError('varint length prefix overflows 64 bits')
        size += (b & 0x7f) * scale
        if (size > max) throw new FrameTooLargeError(size, max)
        if (b < 0x80) { complete = true; break }
        scale *= 128
      }
      if (!complete || len - p < size) {
        this.#startAssembly(chunk, pos, complete ? p - pos : 0, size)
        return len
      }
      const end = p + size
      const go = this.#dispatch(chunk, p, end, sink)
      pos = end
      if (!go) break
    }
    return pos
  }

  #stopped = false

  #dispatch (buf: Uint8Array, start: number, end: number, sink: PacketSink): boolean {
    const f = this.#fields
    const kind = decodePacketInto(buf, start, end, f)
    if (kind === PACKET_MSG) return sink.msg(f.channelId, f.eof, buf, f.dataStart, f.dataEnd)
    if (kind === PACKET_PING) return sink.ping()
    return sink.pong()
  }

  /** Holds the partial frame `chunk[pos..]`; `prefixLen` is 0 when the prefix itself is incomplete. */
  #startAssembly (chunk: Uint8Array, pos: number, prefixLen: number, size: number): void {
    const have = chunk.byteLength - pos
    if (prefixLen > 0) {
      this.#asm = new Uint8Array(prefixLen + size)
      this.#asmPrefix = prefixLen
    } else {
      this.#asm = new Uint8Array(MAX_UVARINT_BYTES)
      this.#asmPrefix = 0
    }
    this.#asm.set(chunk.subarray(pos), 0)
    this.#asmFill = have
  }

  /** Feeds `chunk[pos..]` into the frame being assembled; returns the position after it, or -1 if all used. */
  #continueAssembly (chunk: Uint8Array, pos: number, sink: PacketSink): number {
    const len = chunk.byteLength
    if (this.#asmPrefix === 0) {
      // The prefix is still incomplete: take bytes one by one until it is whole.
      const asm = this.#asm!
      while (pos < len) {
        asm[this.#asmFill++] = chunk[pos++]!
        let size = 0
        let scale = 1
        let complete = false
        for (let i = 0; i < this.#asmFill; i++) {
          const b = asm[i]!
          if (i === MAX_UVARINT_BYTES - 1 && b > 1) throw new DecodeError('varint length prefix overflows 64 bits')
          size += (b & 0x7f) * scale
          if (size > this.maxPacketSize) throw new FrameTooLargeError(size, this.maxPacketSize)
          if (b < 0x80) { complete = true; break }
          scale *= 128
        }
        if (complete) {
          const prefixLen = this.#asmFill
          const frame = new Uint8Array(prefixLen + size)
          frame.set(asm.subarray(0, prefixLen), 0)
          this.#asm = frame
          this.#asmPrefix = prefixLen
          break
        }
      }
      if (this.#asmPrefix === 0) return -1
    }
    const asm = this.#asm!
    const need = asm.byteLength - this.#asmFill
    const take = Math.min(need, len - pos)
    asm.set(take === len - pos && pos === 0 ? chunk : chunk.subarray(pos, pos + take), this.#asmFill)
    this.#asmFill += take
    pos += take
    if (this.#asmFill < asm.byteLength) return -1
    const prefixLen = this.#asmPrefix
    this.#asm = undefined
    this.#asmFill = 0
    this.#asmPrefix = 0
    if (!this.#dispatch(asm, prefixLen, asm.byteLength, sink)) this.#stopped = true
    return pos
  }
}

// ---------------------------------------------------------------------------------------------
// protobufjs codec (the reference)

const root = protobuf.Root.fromJSON({
  nested: {
    tendermint: {
      nested: {
        p2p: {
          nested: {
            PacketPing: { fields: {} },
            PacketPong: { fields: {} },
            PacketMsg: {
              fields: {
                channelId: { type: 'int32', id: 1 },
                eof: { type: 'bool', id: 2 },
                data: { type: 'bytes', id: 3 }
              }
            },
            Packet: {
              oneofs: { sum: { oneof: ['packetPing', 'packetPong', 'packetMsg'] } },
              fields: {
                packetPing: { type: 'PacketPing', id: 1 },
                packetPong: { type: 'PacketPong', id: 2 },
                packetMsg: { type: 'PacketMsg', id: 3 }
              }
            }
          }
        }
      }
    }
  }
})

/** The protobufjs type of `tendermint.p2p.Packet`, for code that wants the reflection API. */
export const PacketProtoType: protobuf.Type = root.lookupType('tendermint.p2p.Packet')

interface PacketProtoMessage {
  packetPing?: object
  packetPong?: object
  packetMsg?: { channelId?: number, eof?: boolean, data?: Uint8Array }
  sum?: string
}

/**
 * Encodes a Packet through protobufjs (no length prefix): the reference codec. Default values (channel 0,
 * `eof` false, empty data) are omitted, as in Go.
 *
 * @example
 * ```ts
 * encodePacketProtobuf({ type: 'pong' }) // => Uint8Array [0x12, 0x00]
 * ```
 */
export function encodePacketProtobuf (packet: Packet): Uint8Array {
  checkPacket(packet)
  let message: PacketProtoMessage
  if (packet.type === 'ping') message = { packetPing: {} }
  else if (packet.type === 'pong') message = { packetPong: {} }
  else {
    const msg: { channelId?: number, eof?: boolean, data?: Uint8Array } = {}
    if (packet.channelId !== 0) msg.channelId = packet.channelId
    if (packet.eof) msg.eof = true
    if (packet.data.byteLength > 0) msg.data = packet.data
    message = { packetMsg: msg }
  }
  return PacketProtoType.encode(message).finish()
}

/**
 * Decodes a Packet through protobufjs (no length prefix). Failures are reported as rx-p2p errors.
 *
 * @throws {DecodeError} malformed protobuf
 * @throws {UnknownPacketTypeError} no oneof case is set
 */
export function decodePacketProtobuf (bytes: Uint8Array): Packet {
  let message: PacketProtoMessage
  try {
    message = PacketProtoType.decode(bytes) as unknown as PacketProtoMessage
  } catch (err) {
    if (err instanceof P2PError) throw err
    throw new DecodeError(`malformed Packet: ${(err as Error).message}`, { cause: err })
  }
  switch (message.sum) {
    case 'packetPing': return { type: 'ping' }
    case 'packetPong': return { type: 'pong' }
    case 'packetMsg': {
      const m = message.packetMsg!
      return { type: 'msg', channelId: m.channelId ?? 0, eof: m.eof ?? false, data: m.data ?? new Uint8Array(0) }
    }
    default:
      throw new UnknownPacketTypeError('packet has no known type (oneof unset or unknown)')
  }
}
