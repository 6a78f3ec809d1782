/**
 * uvarint length-prefixed framing, the `protoio` delimited format CometBFT uses for every message on the
 * wire: `uvarint(len(msg)) || msg`.
 *
 * @module
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { AbortError, ConnectionClosedError, DecodeError, FrameTooLargeError } from '../errors.js'
import type { DuplexConnection } from '../transport/duplex.js'
import { varintSize, writeVarint } from './proto.js'

/** The longest uvarint Go's `binary.ReadUvarint` accepts (a 64-bit value). */
export const MAX_UVARINT_BYTES = 10

/**
 * The parser of the uvarint length prefix in front of every delimited message, the one {@link FrameDecoder} and
 * the MConnection's packet stream decoder share. Go's `binary.ReadUvarint` rules (at most 10 bytes, the tenth
 * at most 1), with the announced length checked against `max` while the prefix is still being read, so a
 * prefix that claims 2^40 bytes fails at its fifth byte. Reused for every prefix: nothing is allocated per read.
 *
 * @example
 * ```ts
 * const prefix = new LengthPrefix(1034)
 * if (prefix.read(chunk, pos, chunk.byteLength)) handle(chunk.subarray(pos + prefix.size, pos + prefix.size + prefix.value))
 * ```
 */
export class LengthPrefix {
  /** The length announced by the last complete prefix. */
  value = 0
  /** Bytes of the last complete prefix. */
  size = 0

  /** @param max the largest length accepted */
  constructor (readonly max: number) {}

  /**
   * Reads a prefix from `buf[start, end)`. Returns true when it is complete ({@link LengthPrefix.value} and
   * {@link LengthPrefix.size} set), false when the bytes end inside it.
   *
   * @throws {FrameTooLargeError} the prefix announces more than `max` bytes
   * @throws {DecodeError} the prefix overflows 64 bits
   */
  read (buf: Uint8Array, start: number, end: number): boolean {
    const max = this.max
    // One or two bytes: every packet of the MConnection (up to 16383 bytes).
    if (end - start >= 2) {
      const b0 = buf[start]!
      if (b0 < 0x80) {
        if (b0 > max) throw new FrameTooLargeError(b0, max)
        this.value = b0
        this.size = 1
        return true
      }
      const b1 = buf[start + 1]!
      if (b1 < 0x80) {
        const value = (b0 & 0x7f) | (b1 << 7)
        if ((b0 & 0x7f) > max) throw new FrameTooLargeError(b0 & 0x7f, max)
        if (value > max) throw new FrameTooLargeError(value, max)
        this.value = value
        this.size = 2
        return true
      }
    }
    let value = 0
    let scale = 1
    for (let i = 0, p = start; p < end; i++) {
      const b = buf[p++]!
      if (i === MAX_UVARINT_BYTES - 1 && b > 1) throw new DecodeError('varint length prefix overflows 64 bits')
      value += (b & 0x7f) * scale
      if (value > max) throw new FrameTooLargeError(value, max)
      if (b < 0x80) {
        this.value = value
        this.size = i + 1
        return true
      }
      scale *= 128
    }
    return false
  }
}

/**
 * Encodes `msg` with its uvarint length prefix in one allocation.
 *
 * @example
 * ```ts
 * encodeDelimited(Uint8Array.of(0x0a, 0x00)) // => Uint8Array [2, 10, 0]
 * ```
 */
export function encodeDelimited (msg: Uint8Array): Uint8Array {
  const prefix = varintSize(msg.byteLength)
  const out = new Uint8Array(prefix + msg.byteLength)
  writeVarint(out, 0, msg.byteLength)
  out.set(msg, prefix)
  return out
}

/**
 * A streaming decoder for delimited frames: push chunks as they arrive, pull whole frames out.
 *
 * - Frames split across chunks and many frames in one chunk are both handled; a frame that lies inside one
 *   chunk is returned as a view, without a copy.
 * - The length is checked against `maxFrameSize` while the prefix is still being read, so a prefix that
 *   claims 2^40 bytes fails at once, before anything is buffered for it.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder(1 << 20)
 * decoder.push(chunk)
 * for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) handle(frame)
 * ```
 */
export class FrameDecoder {
  readonly #buf = new Uint8ArrayList()
  readonly #prefix: LengthPrefix
  #frameLen = -1
  #prefixLen = 0

  /** @param maxFrameSize the largest message accepted, not counting its prefix */
  constructor (readonly maxFrameSize: number) {
    this.#prefix = new LengthPrefix(maxFrameSize)
  }

  /** Appends a received chunk. */
  push (chunk: Uint8Array): void {
    if (chunk.byteLength > 0) this.#buf.append(chunk)
  }

  /** Bytes held, not yet returned as frames. */
  get bufferedBytes (): number {
    return this.#buf.byteLength
  }

  /**
   * The next whole frame, or `undefined` when more bytes are needed.
   *
   * @throws {FrameTooLargeError} the prefix announces more than `maxFrameSize` bytes
   * @throws {DecodeError} the prefix is not a valid uvarint
   */
  next (): Uint8Array | undefined {
    if (this.#frameLen < 0 && !this.#readPrefix()) return undefined
    const end = this.#prefixLen + this.#frameLen
    if (this.#buf.byteLength < end) return undefined
    const frame = this.#buf.subarray(this.#prefixLen, end)
    this.#buf.consume(end)
    this.#frameLen = -1
    this.#prefixLen = 0
    return frame
  }

  /** Removes and returns every byte held (for handing a stream over to the next layer). */
  takeRemaining (): Uint8Array {
    const rest = this.#buf.subarray()
    this.#buf.consume(this.#buf.byteLength)
    this.#frameLen = -1
    this.#prefixLen = 0
    return rest
  }

  #readPrefix (): boolean {
    // The prefix is at most 10 bytes: a view of them (a copy only when they straddle chunks).
    const head = this.#buf.subarray(0, Math.min(this.#buf.byteLength, MAX_UVARINT_BYTES))
    if (!this.#prefix.read(head, 0, head.byteLength)) return false
    this.#frameLen = this.#prefix.value
    this.#prefixLen = this.#prefix.size
    return true
  }
}

/** Options of {@link readDelimited}. */
export interface ReadDelimitedOptions {
  /** Aborts the read; the promise rejects with {@link AbortError} (or the signal's reason if it is an Error). */
  signal?: AbortSignal
}

/**
 * Reads exactly one delimited message from `conn`, then stops reading and puts any bytes that followed it
 * back with `unshift`, so the next layer finds the stream where this message ended.
 *
 * @throws {FrameTooLargeError} the message is larger than `maxSize`
 * @throws {ConnectionClosedError} the stream ended first
 */
export function readDelimited (conn: DuplexConnection, maxSize: number, options: ReadDelimitedOptions = {}): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const { signal } = options
    const decoder = new FrameDecoder(maxSize)
    let done = false
    const finish = (err: unknown, frame?: Uint8Array): void => {
      if (done) return
      done = true
      sub?.unsubscribe()
      signal?.removeEventListener('abort', onAbort)
      if (err !== undefined) reject(err)
      else resolve(frame!)
    }
    const onAbort = (): void => {
      const reason: unknown = signal?.reason
      finish(reason instanceof Error ? reason : new AbortError('read aborted'))
    }
    if (signal?.aborted === true) {
      onAbort()
      return
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    let sub: { unsubscribe: () => void } | undefined
    let frameOut: Uint8Array | undefined
    // Hands the unread bytes back once we are no longer subscribed, so nothing is lost or reordered.
    const handBack = (): void => {
      sub!.unsubscribe()
      signal?.removeEventListener('abort', onAbort)
      conn.unshift(decoder.takeRemaining())
      resolve(frameOut!)
    }
    sub = conn.source$.subscribe({
      next: (chunk) => {
        if (done) {
          // Only reached while subscribe() has not returned yet: keep the bytes for handBack().
          decoder.push(chunk)
          return
        }
        try {
          decoder.push(chunk)
          const frame = decoder.next()
          if (frame === undefined) return
          // Copy: the frame may be a view into a chunk that is handed back.
          frameOut = frame.slice()
          done = true
          if (sub !== undefined) handBack()
        } catch (err) {
          finish(err)
        }
      },
      error: (err: unknown) => { finish(err) },
      complete: () => { finish(new ConnectionClosedError('connection closed before a whole message arrived')) }
    })
    if (frameOut !== undefined) handBack()
    else if (done) sub.unsubscribe()
  })
}
