/**
 * Adapters between {@link DuplexConnection} and the it-pipe / libp2p style duplex `{ source, sink }`: an async
 * iterable of chunks to read, and a sink function that consumes an iterable of chunks to write.
 *
 * Backpressure carries across both ways: {@link toItDuplex} reads ahead a bounded number of bytes and pauses the
 * connection beyond it, and its sink waits for `drain$` when `write` returns false; {@link fromItDuplex} pulls
 * the next chunk from `source` only while someone reads, and its `write` returns false once the bytes the sink has
 * not pulled yet pass the high-water mark.
 *
 * @module
 */
import { ConnectionClosedError, P2PError, TransportError } from '../errors.js'
import { DEFAULT_HIGH_WATER_MARK, DEFAULT_READ_AHEAD } from './defaults.js'
import { AbstractDuplex, type DuplexConnection, type HostPort } from './duplex.js'

/** A chunk as libp2p streams yield them: a `Uint8Array` or a list of them (`Uint8ArrayList`). */
export type ItChunk = Uint8Array | { subarray: () => Uint8Array, byteLength: number }

/** The it-pipe duplex shape: `source` is read with `for await`, `sink` consumes an iterable and resolves when done. */
export interface ItDuplex<TSource = AsyncIterable<Uint8Array>, TSink = AsyncIterable<Uint8Array> | Iterable<Uint8Array>> {
  /** Chunks received. */
  source: TSource
  /** Writes every chunk of the iterable it is given, then ends the stream. */
  sink: (source: TSink) => Promise<void>
}

/** Options of {@link toItDuplex}. */
export interface ToItDuplexInit {
  /** Bytes read ahead of the consumer before the connection is paused. @default 65536 */
  readAhead?: number
}

/**
 * Wraps a {@link DuplexConnection} as an it-pipe duplex. `source` may be iterated once at a time (the connection is
 * unicast); bytes read ahead but not consumed when the iteration stops early are put back with `unshift`.
 * `sink` writes each chunk, waits for drain when the connection is full, ends the connection when the iterable is
 * done, and rejects with {@link ConnectionClosedError} when the connection closes first.
 *
 * @example
 * ```ts
 * import { pipe } from 'it-pipe'
 * const duplex = toItDuplex(conn)
 * await pipe([new TextEncoder().encode('hello')], duplex)
 * for await (const chunk of duplex.source) console.log(chunk.byteLength)
 * ```
 */
export function toItDuplex (conn: DuplexConnection, init: ToItDuplexInit = {}): ItDuplex {
  const readAhead = init.readAhead ?? DEFAULT_READ_AHEAD
  return {
    source: {
      [Symbol.asyncIterator]: () => readConnection(conn, readAhead)
    },
    sink: async (source) => { await writeConnection(conn, source) }
  }
}

async function * readConnection (conn: DuplexConnection, readAhead: number): AsyncGenerator<Uint8Array, void, undefined> {
  const queue: Uint8Array[] = []
  let queued = 0
  let ended = false
  let error: unknown
  let wake: (() => void) | undefined
  let pausedByUs = false
  const sub = conn.source$.subscribe({
    next: (chunk) => {
      queue.push(chunk)
      queued += chunk.byteLength
      if (queued >= readAhead && !conn.isPaused) {
        conn.pause()
        pausedByUs = true
      }
      wake?.()
    },
    error: (err: unknown) => { error = err; ended = true; wake?.() },
    complete: () => { ended = true; wake?.() }
  })
  try {
    for (;;) {
      const chunk = queue.shift()
      if (chunk !== undefined) {
        queued -= chunk.byteLength
        if (pausedByUs && queued < readAhead) {
          pausedByUs = false
          conn.resume()
        }
        yield chunk
        continue
      }
      if (ended) {
        if (error !== undefined) throw error
        return
      }
      await new Promise<void>((resolve) => { wake = resolve })
      wake = undefined
    }
  } finally {
    sub.unsubscribe()
    // Hand back what was read ahead, so the next reader finds the stream where this one stopped.
    for (let i = queue.length - 1; i >= 0; i--) conn.unshift(queue[i]!)
    if (pausedByUs) conn.resume()
  }
}

async function writeConnection (conn: DuplexConnection, source: AsyncIterable<ItChunk> | Iterable<ItChunk>): Promise<void> {
  const iterator: AsyncIterator<ItChunk> | Iterator<ItChunk> = Symbol.asyncIterator in source
    ? (source as AsyncIterable<ItChunk>)[Symbol.asyncIterator]()
    : (source as Iterable<ItChunk>)[Symbol.iterator]()
  // The connection may close while the source has nothing to give: stop waiting for it then.
  let onClosed: ((reason: Error | undefined) => void) | undefined
  const closed = new Promise<{ closed: Error | undefined }>((resolve) => { onClosed = (reason) => { resolve({ closed: reason }) } })
  const closedSub = conn.closed$.subscribe((reason) => { onClosed!(reason) })
  try {
    for (;;) {
      const step = await Promise.race([Promise.resolve(iterator.next()), closed])
      if ('closed' in step) {
        abandon(iterator)
        if (step.closed === undefined) return
        throw step.closed instanceof P2PError ? step.closed : new ConnectionClosedError('connection closed while writing', { cause: step.closed })
      }
      if (step.done === true) break
      if (conn.closed) throw new ConnectionClosedError('connection closed while writing')
      const chunk = toBytes(step.value)
      if (chunk.byteLength === 0) continue
      if (!conn.write(chunk)) await waitForDrain(conn)
    }
    conn.end()
  } catch (err) {
    if (!conn.closed) conn.destroy(err instanceof Error ? err : new TransportError(String(err)))
    throw err
  } finally {
    closedSub.unsubscribe()
  }
}

function abandon (iterator: AsyncIterator<unknown> | Iterator<unknown>): void {
  try {
    const ret = iterator.return?.()
    if (ret instanceof Promise) ret.catch(() => {})
  } catch {
    // the source is being abandoned
  }
}

function waitForDrain (conn: DuplexConnection): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (conn.closed) {
      reject(new ConnectionClosedError('connection closed while waiting for drain'))
      return
    }
    const drain = conn.drain$.subscribe(() => { done(); resolve() })
    const closed = conn.closed$.subscribe((reason) => {
      done()
      reject(reason instanceof P2PError ? reason : new ConnectionClosedError('connection closed while waiting for drain', { cause: reason }))
    })
    function done (): void {
      drain.unsubscribe()
      closed.unsubscribe()
    }
    if (!conn.writableNeedDrain && !conn.closed) { done(); resolve() }
  })
}

function toBytes (item: ItChunk): Uint8Array {
  return item instanceof Uint8Array ? item : item.subarray()
}

/** Options of {@link fromItDuplex}. */
export interface FromItDuplexInit {
  /** Bytes written but not yet pulled by the sink before `write` returns false. @default 65536 */
  highWaterMark?: number
  /** The remote end, when known. */
  remoteAddress?: HostPort
  /** The local end, when known. */
  localAddress?: HostPort
}

class ItDuplexConnection extends AbstractDuplex {
  readonly #iterator: AsyncIterator<ItChunk> | Iterator<ItChunk>
  readonly #highWaterMark: number
  #readStopped = false
  #readGate: (() => void) | undefined
  #readDone = false
  #writeQueue: Uint8Array[] = []
  #writeBytes = 0
  #writeEnded = false
  #writeDone = false
  #writeError: Error | undefined
  #writeWake: (() => void) | undefined

  constructor (duplex: ItDuplex<AsyncIterable<ItChunk> | Iterable<ItChunk>, AsyncIterable<Uint8Array>>, init: FromItDuplexInit) {
    super()
    this.#highWaterMark = init.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
    if (init.remoteAddress !== undefined) this.remoteAddress = init.remoteAddress
    if (init.localAddress !== undefined) this.localAddress = init.localAddress
    const source = duplex.source
    this.#iterator = Symbol.asyncIterator in source
      ? (source as AsyncIterable<ItChunk>)[Symbol.asyncIterator]()
      : (source as Iterable<ItChunk>)[Symbol.iterator]()
    void this.#readLoop()
    let sinkResult: Promise<void>
    try {
      sinkResult = Promise.resolve(duplex.sink(this.#writeSource()))
    } catch (err) {
      sinkResult = Promise.reject(err)
    }
    sinkResult.then(() => {
      this.#writeDone = true
      this.#maybeFinish()
    }, (err: unknown) => {
      this.finalize(err instanceof P2PError ? err : new TransportError(`sink failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }))
    })
  }

  async #readLoop (): Promise<void> {
    try {
      for (;;) {
        while (this.#readStopped && !this.closed) await new Promise<void>((resolve) => { this.#readGate = resolve })
        if (this.closed) return
        const { value, done } = await this.#iterator.next()
        if (done === true) break
        const chunk = toBytes(value)
        this.push(chunk)
      }
      this.#readDone = true
      this.pushEnd()
      this.#maybeFinish()
    } catch (err) {
      this.finalize(err instanceof P2PError ? err : new TransportError(`source failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }))
    }
  }

  async * #writeSource (): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      // Destroyed: make the sink's loop throw, the only way an it-pipe sink learns of an abort.
      if (this.#writeError !== undefined) throw this.#writeError
      const chunk = this.#writeQueue.shift()
      if (chunk !== undefined) {
        this.#writeBytes -= chunk.byteLength
        yield chunk
        continue
      }
      this.emitDrain()
      if (this.#writeEnded) return
      await new Promise<void>((resolve) => { this.#writeWake = resolve })
      this.#writeWake = undefined
    }
  }

  #maybeFinish (): void {
    if (this.#readDone && this.#writeDone) this.finalize()
  }

  protected _write (chunk: Uint8Array): boolean {
    if (this.#writeEnded) return false
    this.#writeQueue.push(chunk)
    this.#writeBytes += chunk.byteLength
    this.#writeWake?.()
    return this.#writeBytes < this.#highWaterMark
  }

  protected _readStop (): void {
    this.#readStopped = true
  }

  protected _readStart (): void {
    this.#readStopped = false
    const gate = this.#readGate
    this.#readGate = undefined
    gate?.()
  }

  protected _end (): void {
    this.#writeEnded = true
    this.#writeWake?.()
  }

  protected _destroy (err?: Error): void {
    this.#writeError = err ?? new ConnectionClosedError('connection destroyed')
    this.#writeEnded = true
    this.#writeQueue = []
    this.#writeBytes = 0
    this.#writeWake?.()
    const gate = this.#readGate
    this.#readGate = undefined
    gate?.()
    abandon(this.#iterator)
  }
}

/**
 * Wraps an it-pipe duplex (a libp2p stream, a `{ source, sink }` pair) as a {@link DuplexConnection}. Chunks may be
 * `Uint8Array`s or `Uint8ArrayList`s. The connection closes once `source` is exhausted and `sink` has resolved; a
 * `source` that throws or a `sink` that rejects closes it with a {@link TransportError}.
 *
 * @example
 * ```ts
 * const conn = fromItDuplex(libp2pStream)
 * const mconn = new MConnection(conn, channels)
 * ```
 */
export function fromItDuplex (
  duplex: ItDuplex<AsyncIterable<ItChunk> | Iterable<ItChunk>, AsyncIterable<Uint8Array>>,
  init: FromItDuplexInit = {}
): DuplexConnection {
  return new ItDuplexConnection(duplex, init)
}
