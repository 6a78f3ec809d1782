/**
 * The MConnection's write buffer: where its loop encodes packets before they are handed to the transport in one
 * `write`. The contract is {@link WriteBuffer}; {@link PooledWriteBuffer} is the default: a small buffer of the
 * connection's own for the usual trickle, and a large one taken from a {@link WriteBufferPool} for the length of a
 * burst.
 *
 * The connection's loop reads and writes the fields directly (`bytes`, `pos`, `growAt`): one property access
 * per packet, no call, no allocation, as when the buffers were fields of the connection.
 *
 * @module
 */
import {
  DEFAULT_COPY_WRITE_BELOW, DEFAULT_LARGE_WRITE_BUFFER_POOL_SIZE, DEFAULT_SMALL_WRITE_BUFFER_SIZE, WRITE_BUFFER_HIGH_WATER_MARK
} from './defaults.js'

/**
 * Where an {@link MConnection} encodes its outbound frames. The connection writes frames into {@link bytes} at
 * {@link pos} and moves `pos` on; it calls {@link grow} before a frame when `pos >= growAt`, and {@link take}
 * when `pos` reaches {@link highWaterMark}, when the flush throttle fires or when it writes a ping or pong.
 *
 * What an implementation promises: at any `pos` below `growAt` (after `grow()`, at any `pos` below
 * `highWaterMark`), {@link frameRoom} bytes are free from `pos` on. A chunk returned by `take()` belongs to the
 * transport from then on: its bytes are never written again.
 *
 * @example
 * ```ts
 * // the connections of one node share a pool of their own instead of the process-wide one
 * const pool = new WriteBufferPool({ size: 4 })
 * new MConnection(conn, channels, { writeBuffer: (frameRoom) => new PooledWriteBuffer({ frameRoom, pool }) })
 * ```
 */
export interface WriteBuffer {
  /** The buffer being filled. */
  readonly bytes: Uint8Array
  /** Bytes written into {@link bytes} so far (the connection moves it on). */
  pos: number
  /** A frame at or after this position needs {@link grow} first. */
  readonly growAt: number
  /** Once `pos` reaches this, the connection takes the content and writes it without waiting for the flush. */
  readonly highWaterMark: number
  /** Bytes guaranteed free at any position below {@link growAt} (and, after a grow, below the high-water mark). */
  readonly frameRoom: number
  /** Moves the bytes so far into a buffer with room up to the high-water mark and returns it (the new {@link bytes}). */
  grow: () => Uint8Array
  /** The `pos` bytes written so far, as a chunk the transport may keep; `pos` is 0 again. Call only when `pos > 0`. */
  take: () => Uint8Array
  /** Drops the content (the connection is closing): `pos` is 0 and a large buffer goes back to its pool. */
  clear: () => void
}

/**
 * Makes the write buffer of one connection. `frameRoom` is the connection's largest frame (a packet of
 * `maxPacketMsgPayloadSize` with its length prefix) plus room for a ping or pong after it.
 */
export type WriteBufferFactory = (frameRoom: number) => WriteBuffer

/** Options of {@link WriteBufferPool}. */
export interface WriteBufferPoolInit {
  /** Buffers kept for reuse per capacity; more given back are left to the garbage collector. @default 16 */
  size?: number
}

/**
 * Large write buffers kept for reuse, per capacity. {@link WriteBufferPool.shared} is the one every connection of
 * the process uses by default; give connections a pool of their own to keep their memory apart.
 *
 * @example
 * ```ts
 * const pool = new WriteBufferPool({ size: 4 })
 * const buf = pool.take(70_000)
 * pool.release(buf)
 * ```
 */
export class WriteBufferPool {
  /** The process-wide pool (16 buffers per capacity), the default of every {@link PooledWriteBuffer}. */
  static readonly shared = new WriteBufferPool()

  readonly #size: number
  readonly #free = new Map<number, Uint8Array[]>()

  /** @throws {RangeError} `size` is not an integer >= 0 */
  constructor (init: WriteBufferPoolInit = {}) {
    const size = init.size ?? DEFAULT_LARGE_WRITE_BUFFER_POOL_SIZE
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`size must be an integer >= 0, got ${size}`)
    this.#size = size
  }

  /** A buffer of `capacity` bytes, from the pool or new (not zero-filled: every byte is written before it is sent). */
  take (capacity: number): Uint8Array {
    return this.#free.get(capacity)?.pop() ?? allocWriteBuffer(capacity)
  }

  /** Gives `buf` back for reuse. Its bytes must not have been handed to anyone who still reads them. */
  release (buf: Uint8Array): void {
    let free = this.#free.get(buf.byteLength)
    if (free === undefined) {
      free = []
      this.#free.set(buf.byteLength, free)
    }
    if (free.length < this.#size) free.push(buf)
  }

  /** Buffers held for reuse now, all capacities together. */
  get held (): number {
    let n = 0
    for (const free of this.#free.values()) n += free.length
    return n
  }
}

/** Options of {@link PooledWriteBuffer}. */
export interface PooledWriteBufferInit {
  /** Bytes free at any position below `growAt`: the largest frame plus a ping (see {@link WriteBufferFactory}). */
  frameRoom: number
  /** Bytes collected before the content is written at once (CometBFT's bufio writer size). @default 65536 */
  highWaterMark?: number
  /**
   * Bytes the connection's own small buffer collects before a burst moves on to a large one from the pool. An idle
   * connection holds only this buffer (plus `frameRoom`, resident only where written). @default 4096
   */
  smallSize?: number
  /**
   * Chunks shorter than this are copied out, so the buffer is kept; longer ones are handed over with the large
   * buffer they were written in (the burst goes on in a fresh one). @default 16384
   */
  copyBelow?: number
  /** Where large buffers come from and go back to. @default WriteBufferPool.shared */
  pool?: WriteBufferPool
}

/**
 * The default {@link WriteBuffer}: a small buffer of its own and, for a burst, a large one (`highWaterMark +
 * frameRoom` bytes) taken from a pool and given back once the burst is written, or handed to the transport with
 * a long chunk.
 *
 * @example
 * ```ts
 * const wb = new PooledWriteBuffer({ frameRoom: 1100 })
 * wb.pos = encodePingFrameInto(wb.bytes, wb.pos)
 * conn.write(wb.take())
 * ```
 */
export class PooledWriteBuffer implements WriteBuffer {
  /** The buffer being filled: the small one or a large one. */
  bytes: Uint8Array
  /** Bytes written so far. */
  pos = 0
  /**
   * `smallSize` while in the small buffer (a frame past it moves the bytes so far to a large one), 0 right after a
   * large buffer was handed over (the burst goes on in a fresh large buffer, nothing to move), Infinity in a large
   * buffer.
   */
  growAt: number
  /** Bytes collected before the content is written at once. */
  readonly highWaterMark: number
  /** Bytes free at any position below `growAt`. */
  readonly frameRoom: number
  readonly #small: Uint8Array
  readonly #smallSize: number
  readonly #largeCapacity: number
  readonly #copyBelow: number
  readonly #pool: WriteBufferPool

  /** @throws {RangeError} a size is not an integer (`frameRoom` and `highWaterMark` > 0, the others >= 0) */
  constructor (init: PooledWriteBufferInit) {
    const { frameRoom } = init
    const highWaterMark = init.highWaterMark ?? WRITE_BUFFER_HIGH_WATER_MARK
    const smallSize = init.smallSize ?? DEFAULT_SMALL_WRITE_BUFFER_SIZE
    const copyBelow = init.copyBelow ?? DEFAULT_COPY_WRITE_BELOW
    for (const [name, v, min] of [['frameRoom', frameRoom, 1], ['highWaterMark', highWaterMark, 1], ['smallSize', smallSize, 0], ['copyBelow', copyBelow, 0]] as const) {
      if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`)
    }
    this.frameRoom = frameRoom
    this.highWaterMark = highWaterMark
    this.#smallSize = Math.min(smallSize, highWaterMark)
    this.#largeCapacity = highWaterMark + frameRoom
    this.#copyBelow = copyBelow
    this.#pool = init.pool ?? WriteBufferPool.shared
    this.#small = allocWriteBuffer(this.#smallSize + frameRoom)
    this.bytes = this.#small
    this.growAt = this.#smallSize
  }

  /** Moves the bytes so far from the small buffer into a large one from the pool and returns it. */
  grow (): Uint8Array {
    const large = this.#pool.take(this.#largeCapacity)
    const pos = this.pos
    if (pos > 0) large.set(this.bytes.subarray(0, pos), 0)
    this.bytes = large
    this.growAt = Infinity
    return large
  }

  /** The content as a chunk: a copy when short or in the small buffer (the burst, if any, is over), else the buffer itself. */
  take (): Uint8Array {
    const n = this.pos
    const buf = this.bytes
    let chunk: Uint8Array
    if (n < this.#copyBelow || buf === this.#small) {
      chunk = buf.slice(0, n) // a copy (the buffer is a plain Uint8Array, not a Buffer)
      this.#shrink()
    } else {
      chunk = buf.subarray(0, n) // the large buffer goes to the transport; a burst goes on in a fresh one
      this.bytes = this.#small
      this.growAt = 0
    }
    this.pos = 0
    return chunk
  }

  /** Drops the content; a large buffer goes back to the pool. */
  clear (): void {
    this.pos = 0
    this.#shrink()
  }

  /** Back to the small buffer; a large one goes back to the pool (its bytes were copied out or dropped). */
  #shrink (): void {
    const buf = this.bytes
    if (buf !== this.#small) this.#pool.release(buf)
    this.bytes = this.#small
    this.growAt = this.#smallSize
  }
}

/** A plain Uint8Array (so `slice` copies) over memory that is not zero-filled: every byte sent is written first. */
function allocWriteBuffer (size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size)
  return new Uint8Array(b.buffer, b.byteOffset, size)
}
