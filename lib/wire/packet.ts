/**
 * The MConnection `Packet` (`proto/tendermint/p2p/conn.proto`): ping, pong and msg.
 *
 * ```
 * PacketPing {}   PacketPong {}
 * PacketMsg { int32 channel_id = 1; bool eof = 2; bytes data = 3; }
 * Packet    { oneof sum { PacketPing packet_ping = 1; PacketPong packet_pong = 2; PacketMsg packet_msg = 3; } }
 * ```
 *
 * The codec is built for the hot path: {@link encodePacketMsgFrameInto} writes a length-prefixed PacketMsg
 * straight into a caller's buffer (one copy of the payload, no intermediate object), and
 * {@link decodePacketInto} / {@link PacketStreamDecoder} read packets in place, reporting the payload as offsets
 * into the received chunk; nothing is allocated per packet. A property spec holds it byte-equal to a protobufjs
 * codec of the same messages (`spec/wire/reference-codec.ts`).
 *
 * The decoders follow the rules of CometBFT's generated (gogoproto) unmarshaller (the wire toolkit's
 * `ProtoReader`): unknown fields are skipped, a field with the wrong wire type, a truncated field, a field number
 * 0 or a stray end-group is malformed ({@link DecodeError}), and a Packet with no oneof case set is an
 * {@link UnknownPacketTypeError}.
 *
 * @module
 */
import { UnknownPacketTypeError } from '../errors.js'
import { LengthPrefix, MAX_UVARINT_BYTES } from './delimited.js'
import { ProtoReader, varintSize, WIRE_BYTES, WIRE_VARINT, writeVarint } from './proto.js'

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

/** Bytes of the PacketMsg body (`channel_id`, `eof`, `data` fields), without the Packet wrapper. */
function packetMsgBodySize (channelId: number, eof: boolean, dataLength: number): number {
  let size = 0
  if (channelId !== 0) size += 1 + varintSize(channelId)
  if (eof) size += 2
  if (dataLength > 0) size += 1 + varintSize(dataLength) + dataLength
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
  return 1 + varintSize(body) + body
}

/** Encoded size of a PacketMsg frame on the wire: length prefix plus {@link packetMsgSize}. */
export function packetMsgFrameSize (channelId: number, eof: boolean, dataLength: number): number {
  const size = packetMsgSize(channelId, eof, dataLength)
  return varintSize(size) + size
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
  const packet = 1 + varintSize(body) + body
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
  const out = new Uint8Array(varintSize(size) + size)
  encodePacketMsgFrameInto(out, 0, channelId, eof, data, 0, data.byteLength)
  return out.subarray(varintSize(size))
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

// The reader of every packet decoded. One is enough: a decode runs to its end without calling out, and the
// reader is pointed at each packet anew (nothing is allocated per packet).
const reader = new ProtoReader()

function decodePacketMsgBody (r: ProtoReader, out: PacketFields): void {
  out.channelId = 0
  out.eof = false
  out.dataStart = r.pos
  out.dataEnd = r.pos
  while (r.pos < r.end) {
    switch (r.key()) {
      case 1:
        r.expect(WIRE_VARINT, 'channel_id')
        out.channelId = r.int32() // Go: int32 accumulation keeps the low 32 bits
        break
      case 2:
        r.expect(WIRE_VARINT, 'eof')
        out.eof = r.bool()
        break
      case 3: {
        r.expect(WIRE_BYTES, 'data')
        const dataEnd = r.delimitedEnd()
        out.dataStart = r.pos
        out.dataEnd = dataEnd
        r.pos = dataEnd
        break
      }
      default:
        r.skip()
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
  const r = reader.reset(buf, start, end, 'Packet')
  let kind = 0
  while (r.pos < end) {
    const field = r.key()
    if (field >= 1 && field <= 3) {
      r.expect(WIRE_BYTES, field === PACKET_MSG ? 'packet_msg' : field === PACKET_PING ? 'packet_ping' : 'packet_pong')
      // The oneof case's body: read by the same reader, bounded by the body's end.
      const bodyEnd = r.delimitedEnd()
      r.end = bodyEnd
      if (field === PACKET_MSG) {
        r.what = 'PacketMsg'
        decodePacketMsgBody(r, out)
      } else {
        // PacketPing, PacketPong: empty messages, every field unknown and skipped.
        r.what = field === PACKET_PING ? 'PacketPing' : 'PacketPong'
        while (r.pos < bodyEnd) {
          r.key()
          r.skip()
        }
      }
      r.end = end
      r.what = 'Packet'
      kind = field
    } else {
      r.skip()
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
  readonly #prefix: LengthPrefix

  /** @param maxPacketSize the largest Packet accepted, not counting its prefix (see {@link maxPacketMsgSize}) */
  constructor (readonly maxPacketSize: number) {
    this.#prefix = new LengthPrefix(maxPacketSize)
  }

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
    const prefix = this.#prefix
    while (pos < len && pos - offset < budget) {
      // The length prefix, read in place.
      if (!prefix.read(chunk, pos, len)) {
        this.#startAssembly(chunk, pos, 0, 0)
        return len
      }
      const p = pos + prefix.size
      const end = p + prefix.value
      if (end > len) {
        this.#startAssembly(chunk, pos, prefix.size, prefix.value)
        return len
      }
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
      const prefix = this.#prefix
      while (pos < len) {
        asm[this.#asmFill++] = chunk[pos++]!
        if (prefix.read(asm, 0, this.#asmFill)) {
          const frame = new Uint8Array(prefix.size + prefix.value)
          frame.set(asm.subarray(0, prefix.size), 0)
          this.#asm = frame
          this.#asmPrefix = prefix.size
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
