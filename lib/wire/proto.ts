/**
 * The one protobuf (proto3) toolkit of `lib/wire/`: a {@link ProtoReader} over a byte range with the field loop
 * and the rules of CometBFT's generated (gogoproto) `Unmarshal`, and the writer half (sizes to measure a message
 * first, then {@link ProtoWriter} or the varint functions to write it into one buffer). Every codec of this folder
 * reads and writes through it. Internal: not exported from the package.
 *
 * The reader's rules, as Go's generated code applies them:
 * - a varint is at most 10 bytes; bits beyond 64 are dropped (an 11th byte is an overflow);
 * - a key's field number is Go's `int32(key >> 3)`; a field number of 0 or less and a key with the end-group wire
 *   type are malformed;
 * - an unknown field is skipped with its value, groups included (nested to any depth, as gogoproto's `skip`);
 * - a length must fit in what is left of the message it is read from.
 *
 * Every failure is a {@link DecodeError} whose message starts with the name of the message being read.
 *
 * @module
 */
import { DecodeError } from '../errors.js'

/** Wire type of varints (int32, int64, uint32, uint64, bool, enum). */
export const WIRE_VARINT = 0
/** Wire type of 64-bit fixed fields. */
export const WIRE_FIXED64 = 1
/** Wire type of length-delimited fields (bytes, strings, messages). */
export const WIRE_BYTES = 2
/** Wire type that opens a group (proto2; skipped when unknown). */
export const WIRE_START_GROUP = 3
/** Wire type that closes a group. */
export const WIRE_END_GROUP = 4
/** Wire type of 32-bit fixed fields. */
export const WIRE_FIXED32 = 5

const TWO_32 = 4294967296
const EMPTY = new Uint8Array(0)

// ignoreBOM: a leading U+FEFF is kept, as Go keeps the bytes (a default TextDecoder would drop it). Invalid
// UTF-8 becomes U+FFFD, which the validators then refuse, as Go refuses the raw bytes.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true })
const utf8Encoder = new TextEncoder()

// ---------------------------------------------------------------------------------------------
// Reader

/**
 * Reads one message's fields in order, from `buf[pos, end)`. One reader can be reused for many messages with
 * {@link ProtoReader.reset}, so a hot loop allocates nothing per message.
 *
 * @example
 * ```ts
 * const r = new ProtoReader(bytes, 'mempool Txs')
 * while (!r.done) {
 *   if (r.key() === 1) { r.expect(WIRE_BYTES, 'txs'); txs.push(r.bytes()) } else r.skip()
 * }
 * ```
 */
export class ProtoReader {
  /** The bytes read from. */
  buf: Uint8Array
  /** The next byte to read. */
  pos: number
  /** The end (exclusive) of the message being read. */
  end: number
  /** The message's name, at the start of every error. */
  what: string
  /** Field number of the last key read (Go's `int32(key >> 3)`). */
  field = 0
  /** Wire type of the last key read. */
  wireType = 0
  // The last varint read: bits 0..31 and 32..63, unsigned.
  #lo = 0
  #hi = 0

  constructor (buf: Uint8Array = EMPTY, what = 'message', start = 0, end = buf.byteLength) {
    this.buf = buf
    this.pos = start
    this.end = end
    this.what = what
  }

  /** Points the reader at `buf[start, end)`, a message named `what`. */
  reset (buf: Uint8Array, start: number, end: number, what: string): this {
    this.buf = buf
    this.pos = start
    this.end = end
    this.what = what
    return this
  }

  /** True when every byte of the message has been read. */
  get done (): boolean {
    return this.pos >= this.end
  }

  /**
   * Reads a field key; returns its field number (also in {@link ProtoReader.field}, the wire type in
   * {@link ProtoReader.wireType}).
   *
   * @throws {DecodeError} an end-group key, or a field number of 0 or less
   */
  key (): number {
    this.#varint()
    const wireType = this.#lo & 7
    const field = ((this.#lo >>> 3) | (this.#hi << 29)) | 0
    if (wireType === WIRE_END_GROUP) throw this.error('end-group wire type for a non-group')
    if (field <= 0) throw this.error(`illegal field number ${field}`)
    this.wireType = wireType
    this.field = field
    return field
  }

  /** Throws unless the last key's wire type is `wireType`; `name` names the field in the error. */
  expect (wireType: number, name: string): void {
    if (this.wireType !== wireType) throw this.error(`wrong wire type ${this.wireType} for field ${name}`)
  }

  /** A varint's low 32 bits, unsigned (Go's `uint32` decoding). */
  uint32 (): number {
    this.#varint()
    return this.#lo
  }

  /** A varint's low 32 bits, signed (Go's `int32` decoding; -1 arrives as a 10-byte varint). */
  int32 (): number {
    this.#varint()
    return this.#lo | 0
  }

  /** A varint as Go's `bool`: true unless all of its 64 bits are zero. */
  bool (): boolean {
    this.#varint()
    return (this.#lo | this.#hi) !== 0
  }

  /** A varint as a signed 64-bit integer. */
  int64 (): bigint {
    this.#varint()
    return BigInt.asIntN(64, (BigInt(this.#hi) << 32n) | BigInt(this.#lo))
  }

  /** A varint as an unsigned 64-bit integer. */
  uint64 (): bigint {
    this.#varint()
    return (BigInt(this.#hi) << 32n) | BigInt(this.#lo)
  }

  /** A varint as an unsigned 64-bit number (exact up to 2^53, rounded above). */
  uint64Number (): number {
    this.#varint()
    return this.#hi * TWO_32 + this.#lo
  }

  /**
   * Reads the length of a length-delimited field and returns where its bytes end; {@link ProtoReader.pos} is then
   * at their start.
   *
   * @throws {DecodeError} a negative length, or one that runs past the end of the message
   */
  delimitedEnd (): number {
    this.#varint()
    const hi = this.#hi
    if (hi >= 0x80000000) throw this.error('negative length')
    const len = hi * TWO_32 + this.#lo
    if (len > this.end - this.pos) throw this.error(`length ${len} runs past the end of the message`)
    return this.pos + len
  }

  /** A length-delimited field's bytes, as a view into the buffer (no copy). */
  bytes (): Uint8Array {
    const end = this.delimitedEnd()
    const out = this.buf.subarray(this.pos, end)
    this.pos = end
    return out
  }

  /** A length-delimited field as UTF-8 text (a leading BOM kept, invalid bytes as U+FFFD). */
  string (): string {
    const end = this.delimitedEnd()
    const s = utf8Decoder.decode(this.buf.subarray(this.pos, end))
    this.pos = end
    return s
  }

  /**
   * A reader over the length-delimited field that follows (an embedded message named `what`); this reader moves
   * past it.
   */
  message (what: string): ProtoReader {
    const end = this.delimitedEnd()
    const sub = new ProtoReader(this.buf, what, this.pos, end)
    this.pos = end
    return sub
  }

  /**
   * Skips the value of the field whose key was just read (of `wireType`, by default the last key's), a whole
   * group included, as gogoproto's `skip` does: the keys inside a group are not checked, and an end-group closes
   * the innermost open group whatever its field number.
   *
   * @throws {DecodeError} a truncated value, an end-group with no group open, or wire type 6 or 7
   */
  skip (wireType = this.wireType): void {
    let depth = 0
    for (;;) {
      switch (wireType) {
        case WIRE_VARINT: this.#varint(); break
        case WIRE_FIXED64: this.#advance(8); break
        case WIRE_BYTES: this.pos = this.delimitedEnd(); break
        case WIRE_START_GROUP: depth++; break
        case WIRE_END_GROUP:
          if (depth === 0) throw this.error('unexpected end of group')
          depth--
          break
        case WIRE_FIXED32: this.#advance(4); break
        default: throw this.error(`illegal wire type ${wireType}`)
      }
      if (depth === 0) return
      if (this.pos >= this.end) throw this.error('truncated group')
      this.#varint()
      wireType = this.#lo & 7
    }
  }

  /** A {@link DecodeError} for this message: `<what>: <message>`. */
  error (message: string): DecodeError {
    return new DecodeError(`${this.what}: ${message}`)
  }

  #advance (n: number): void {
    if (n > this.end - this.pos) throw this.error('truncated field')
    this.pos += n
  }

  // Reads a varint into #lo / #hi as Go's decoder does: at most 10 bytes, bits beyond 64 dropped.
  #varint (): void {
    const buf = this.buf
    const end = this.end
    let pos = this.pos
    if (pos < end) {
      // One byte: most keys, lengths below 128, small numbers.
      const b = buf[pos]!
      if (b < 0x80) {
        this.pos = pos + 1
        this.#lo = b
        this.#hi = 0
        return
      }
    }
    let lo = 0
    let hi = 0
    for (let i = 0; ; i++) {
      if (i === 10) throw this.error('varint overflows 64 bits')
      if (pos >= end) throw this.error('truncated varint')
      const b = buf[pos++]!
      const bits = b & 0x7f
      if (i < 4) lo |= bits << (7 * i)
      else if (i === 4) { lo |= bits << 28; hi |= bits >>> 4 } else if (i < 9) hi |= bits << (7 * i - 32)
      else hi |= (bits & 1) << 31
      if (b < 0x80) break
    }
    this.pos = pos
    this.#lo = lo >>> 0
    this.#hi = hi >>> 0
  }
}

// ---------------------------------------------------------------------------------------------
// Sizes

/**
 * Bytes a varint of `n` takes (`n` a non-negative safe integer).
 *
 * @example
 * ```ts
 * varintSize(127) // => 1
 * varintSize(1034) // => 2
 * ```
 */
export function varintSize (n: number): number {
  if (n < 0x80) return 1
  if (n < 0x4000) return 2
  if (n < 0x200000) return 3
  if (n < 0x10000000) return 4
  let size = 4
  n = Math.floor(n / 0x10000000)
  while (n > 0) {
    size++
    n = Math.floor(n / 128)
  }
  return size
}

const MASK_64 = (1n << 64n) - 1n

/** Bytes a 64-bit varint takes; a negative value is written as its two's complement (10 bytes). */
export function varint64Size (v: bigint): number {
  let u = v & MASK_64
  let size = 1
  while (u >= 128n) {
    u >>= 7n
    size++
  }
  return size
}

/** Bytes of the UTF-8 encoding of `s` (a lone surrogate counts 3, as U+FFFD). */
export function utf8Size (s: string): number {
  let size = s.length
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) {
      size += 1
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      size += 2 // a surrogate pair: two UTF-16 units, four bytes
      i++
    } else {
      size += 2
    }
  }
  return size
}

/** Bytes of a length-delimited field of `length` bytes with its key (`field` below 2^29). */
export function delimitedFieldSize (field: number, length: number): number {
  return varintSize(field * 8) + varintSize(length) + length
}

/** Bytes of a varint field of value `n` with its key (`field` below 2^29, `n` a non-negative safe integer). */
export function varintFieldSize (field: number, n: number): number {
  return varintSize(field * 8) + varintSize(n)
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Writes a varint of `n` (a non-negative safe integer) at `pos`; returns the position after it. */
export function writeVarint (buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80
    n = n >= 0x80000000 ? Math.floor(n / 128) : n >>> 7
  }
  buf[pos++] = n
  return pos
}

/** Writes a 64-bit varint (two's complement for a negative value, as Go's `uint64(x)`); returns the next position. */
export function writeVarint64 (buf: Uint8Array, pos: number, v: bigint): number {
  let u = v & MASK_64
  while (u >= 128n) {
    buf[pos++] = Number(u & 0x7fn) | 0x80
    u >>= 7n
  }
  buf[pos++] = Number(u)
  return pos
}

/**
 * Writes a message whose size was measured first into one buffer of exactly that size.
 *
 * @example
 * ```ts
 * const w = new ProtoWriter(delimitedFieldSize(1, tx.byteLength))
 * w.key(1, WIRE_BYTES).bytes(tx)
 * w.finish() // the buffer, checked to be full
 * ```
 */
export class ProtoWriter {
  /** The buffer written into. */
  readonly buf: Uint8Array
  /** The next byte to write. */
  pos = 0

  /** @param size the measured size of everything that will be written */
  constructor (size: number) {
    this.buf = new Uint8Array(size)
  }

  /** Writes the key of field `field` with `wireType`. */
  key (field: number, wireType: number): this {
    this.pos = writeVarint(this.buf, this.pos, field * 8 + wireType)
    return this
  }

  /** Writes a varint (a non-negative safe integer). */
  varint (n: number): this {
    this.pos = writeVarint(this.buf, this.pos, n)
    return this
  }

  /** Writes a 64-bit varint (two's complement for a negative value). */
  varint64 (v: bigint): this {
    this.pos = writeVarint64(this.buf, this.pos, v)
    return this
  }

  /** Writes `bytes` with their length in front (a length-delimited value). */
  bytes (bytes: Uint8Array): this {
    this.pos = writeVarint(this.buf, this.pos, bytes.byteLength)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.byteLength
    return this
  }

  /** Writes `s` as UTF-8 with its length in front; `size` is its {@link utf8Size}. */
  string (s: string, size: number = utf8Size(s)): this {
    this.pos = writeVarint(this.buf, this.pos, size)
    if (size > 0) utf8Encoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + size))
    this.pos += size
    return this
  }

  /** The buffer, once exactly its measured size has been written. */
  finish (): Uint8Array {
    if (this.pos !== this.buf.byteLength) throw new RangeError(`ProtoWriter: wrote ${this.pos} bytes into ${this.buf.byteLength}`)
    return this.buf
  }
}
