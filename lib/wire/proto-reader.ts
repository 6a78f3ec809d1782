/**
 * A minimal protobuf (proto3) scanner and writer for the hand-written codecs of `lib/wire/` (mempool,
 * consensus): varints of up to 64 bits, length-delimited fields as views, unknown fields skipped the way Go's
 * generated `Unmarshal` does; and the field loop and error wrapping of the codecs that read with protobufjs's
 * `Reader` (auth-sig, node-info). Internal: not exported from the package.
 *
 * @module
 */
import { DecodeError } from '../errors.js'

/** Protobuf wire types. */
export const WIRE_VARINT = 0
/** 64-bit fixed. */
export const WIRE_FIXED64 = 1
/** Length-delimited (bytes, strings, messages). */
export const WIRE_BYTES = 2
/** 32-bit fixed. */
export const WIRE_FIXED32 = 5

const TWO_32 = 4294967296

/** Reads one message's fields in order; every failure is a {@link DecodeError} naming `what`. */
export class ProtoReader {
  pos: number
  readonly end: number
  #lo = 0
  #hi = 0

  constructor (readonly buf: Uint8Array, readonly what: string, start = 0, end = buf.byteLength) {
    this.pos = start
    this.end = end
  }

  /** True when every byte has been read. */
  get done (): boolean {
    return this.pos >= this.end
  }

  /** Reads a field key; returns `fieldNumber * 8 + wireType` (use {@link fieldOf} / `& 7`). */
  key (): number {
    this.#varint()
    if (this.#hi !== 0 || this.#lo > 0xffffffff) throw this.error('field key out of range')
    const key = this.#lo
    if ((key >>> 3) === 0) throw this.error('illegal field number 0')
    return key
  }

  /** A varint's low 32 bits, unsigned (Go's `uint32` field decoding). */
  uint32 (): number {
    this.#varint()
    return this.#lo >>> 0
  }

  /** A varint's low 32 bits, signed (Go's `int32` field decoding; -1 arrives as a 10-byte varint). */
  int32 (): number {
    this.#varint()
    return this.#lo | 0
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

  /** A varint used as a length or count; must be a safe integer. */
  length (): number {
    this.#varint()
    const n = this.#hi * TWO_32 + this.#lo
    if (!Number.isSafeInteger(n)) throw this.error('length out of range')
    return n
  }

  /** A length-delimited field's bytes, as a view into the buffer (no copy). */
  bytes (): Uint8Array {
    const len = this.length()
    if (len > this.end - this.pos) throw this.error(`length ${len} runs past the end of the message`)
    const out = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }

  /** Skips a field of `wireType` (groups are refused, as proto3 has none). */
  skip (wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT: this.#varint(); return
      case WIRE_FIXED64: this.#advance(8); return
      case WIRE_BYTES: this.bytes(); return
      case WIRE_FIXED32: this.#advance(4); return
      default: throw this.error(`unsupported wire type ${wireType}`)
    }
  }

  /** Throws unless `wireType` is what field `field` needs. */
  expect (key: number, wireType: number, field: string): void {
    if ((key & 7) !== wireType) throw this.error(`wrong wire type ${key & 7} for field ${field}`)
  }

  /** A DecodeError for this message. */
  error (message: string): DecodeError {
    return new DecodeError(`${this.what}: ${message}`)
  }

  #advance (n: number): void {
    if (n > this.end - this.pos) throw this.error('truncated')
    this.pos += n
  }

  // Reads a varint into #lo (bits 0..31) and #hi (bits 32..63) like Go's decoder: at most 10 bytes, bits
  // beyond 64 dropped.
  #varint (): void {
    const buf = this.buf
    let pos = this.pos
    let lo = 0
    let hi = 0
    for (let i = 0; ; i++) {
      if (i >= 10) throw this.error('varint overflows 64 bits')
      if (pos >= this.end) throw this.error('truncated varint')
      const b = buf[pos++]!
      const bits = b & 0x7f
      if (i < 4) {
        lo += bits * 2 ** (7 * i)
      } else if (i === 4) {
        lo += (bits & 0x0f) * 2 ** 28
        hi += bits >>> 4
      } else {
        hi += (bits * 2 ** (7 * i - 32)) % TWO_32
      }
      if ((b & 0x80) === 0) break
    }
    this.pos = pos
    this.#lo = lo >>> 0
    this.#hi = hi % TWO_32 >>> 0
  }
}

/** The field number of a key from {@link ProtoReader.key}. */
export function fieldOf (key: number): number {
  return key >>> 3
}

/** Bytes a varint of a non-negative safe integer takes. */
export function varintSize (n: number): number {
  let size = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

/** Writes a varint of a non-negative safe integer at `pos`; returns the position after it. */
export function writeVarint (buf: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

const MASK_64 = (1n << 64n) - 1n

/** Bytes a 64-bit varint takes; negative values are written as their two's complement (10 bytes). */
export function varint64Size (v: bigint): number {
  let u = v & MASK_64
  let size = 1
  while (u >= 128n) {
    u >>= 7n
    size++
  }
  return size
}

/** Writes a 64-bit varint (two's complement for negatives, as Go's `uint64(x)`); returns the next position. */
export function writeVarint64 (buf: Uint8Array, pos: number, v: bigint): number {
  let u = v & MASK_64
  while (u >= 128n) {
    buf[pos++] = Number(u & 0x7fn) | 0x80
    u >>= 7n
  }
  buf[pos++] = Number(u)
  return pos
}

/** The part of a protobufjs `Reader` that {@link forEachField} uses. */
export interface FieldReader {
  pos: number
  readonly len: number
  uint32: () => number
}

/**
 * Reads field keys from `r` to its end, calling `onField` with each field's number and wire type; `onField`
 * reads or skips the field's value.
 */
export function forEachField (r: FieldReader, onField: (field: number, wireType: number) => void): void {
  while (r.pos < r.len) {
    const tag = r.uint32()
    onField(tag >>> 3, tag & 7)
  }
}

/**
 * Runs `decode`; anything it throws that is not a {@link DecodeError} (protobufjs's range and wire type
 * errors) becomes a DecodeError `malformed <what>: <message>` with the original as its cause.
 */
export function decodeAs<T> (what: string, decode: () => T): T {
  try {
    return decode()
  } catch (err) {
    if (err instanceof DecodeError) throw err
    throw new DecodeError(`malformed ${what}: ${(err as Error).message}`, { cause: err })
  }
}
