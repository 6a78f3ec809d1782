/**
 * The connection contract that every layer of rx-p2p builds on: a byte stream as a **duplex Observable**.
 *
 * ## Reading
 * - {@link DuplexConnection.source$} emits the received chunks. It is **unicast and resumable**: at most one
 *   subscriber at a time. While nobody is subscribed the connection stops reading from the network and keeps
 *   what it has already received, so a handshake can subscribe, read what it needs, unsubscribe,
 *   {@link DuplexConnection.unshift | unshift} the bytes it did not use, and hand the connection to the next
 *   layer without losing a byte.
 * - `source$` completes when the remote ends its side (EOF) and errors with a {@link TransportError} when the
 *   transport fails. After that, subscribing again replays the same ending.
 * - {@link DuplexConnection.pause | pause} / {@link DuplexConnection.resume | resume} stop and restart the
 *   reader (receive rate limiting, a busy consumer). Paused, no chunk is emitted and the transport stops reading,
 *   so the remote feels TCP backpressure.
 *
 * ## Writing
 * - {@link DuplexConnection.write | write} always takes the chunk (the caller must not reuse its memory) and
 *   returns `false` once the transport's buffer is above its high-water mark. A writer that sees `false` waits
 *   for {@link DuplexConnection.drain$ | drain$} before writing more; that is the whole backpressure contract.
 * - {@link DuplexConnection.end | end} flushes what was written and half-closes; {@link DuplexConnection.destroy |
 *   destroy} aborts at once.
 *
 * ## Closing
 * {@link DuplexConnection.closed$ | closed$} is hot and replays: it emits once, `undefined` for an orderly close
 * or the error that ended the connection, then completes.
 *
 * @module
 */
import { Observable, ReplaySubject, Subject, type Subscriber } from 'rxjs'
import { TransportError } from '../errors.js'

/** A host and port pair. */
export interface HostPort {
  host: string
  port: number
}

/** A bidirectional byte stream with backpressure. See the module documentation for the contract. */
export interface DuplexConnection {
  /** Received chunks. Cold-resumable and unicast: one subscriber at a time; reading pauses while none. */
  readonly source$: Observable<Uint8Array>
  /**
   * Queues `chunk` for sending. Returns `false` when the buffer is full: wait for {@link drain$} before the
   * next write. Writing after {@link end} or {@link destroy} is ignored and returns `false`.
   */
  write (chunk: Uint8Array): boolean
  /** Hot: emits each time the write buffer has emptied after `write` returned `false`. */
  readonly drain$: Observable<void>
  /** True between a `write` that returned `false` and the following drain. */
  readonly writableNeedDrain: boolean
  /** Stops reading until {@link resume}; chunks already received are held. */
  pause (): void
  /** Restarts reading after {@link pause}. */
  resume (): void
  /** True while paused by {@link pause}. */
  readonly isPaused: boolean
  /** Puts bytes back in front of the read side; the next subscriber to `source$` receives them first. */
  unshift (chunk: Uint8Array): void
  /** Flushes written data, then half-closes the write side. The connection closes once both sides end. */
  end (): void
  /** Aborts the connection now; `err` becomes the close reason. */
  destroy (err?: Error): void
  /** Hot, replays its one emission: `undefined` for an orderly close, else the error; then completes. */
  readonly closed$: Observable<Error | undefined>
  /** True once closed. */
  readonly closed: boolean
  /** The remote end, when the transport knows it. */
  readonly remoteAddress?: HostPort
  /** The local end, when the transport knows it. */
  readonly localAddress?: HostPort
}

/**
 * A base class that implements the read side of the contract (unicast source, holding, pause, unshift,
 * endings) and the close bookkeeping, so each transport only moves bytes.
 *
 * Subclasses call {@link push}, {@link pushEnd}, {@link emitDrain} and {@link finalize}, and implement the
 * abstract hooks.
 */
export abstract class AbstractDuplex implements DuplexConnection {
  readonly source$: Observable<Uint8Array>
  readonly closed$: Observable<Error | undefined>
  readonly drain$: Observable<void>
  remoteAddress?: HostPort
  localAddress?: HostPort

  #pending: Uint8Array[] = []
  #pendingHead = 0
  #pendingBytes = 0
  #subscriber: Subscriber<Uint8Array> | undefined
  #userPaused = false
  #readingStopped = false
  #readEnded = false
  #readError: Error | undefined
  #delivering = false
  #closed = false
  #needDrain = false
  /** Chunks put back with unshift: handing them out again must not count them as consumed twice. */
  readonly #unshifted = new WeakSet<Uint8Array>()
  /** Chunks in {@link #unshifted} not yet handed out again (so that the usual case skips the WeakSet). */
  #unshiftedCount = 0
  readonly #closedSubject = new ReplaySubject<Error | undefined>(1)
  readonly #drainSubject = new Subject<void>()

  constructor () {
    this.closed$ = this.#closedSubject.asObservable()
    this.drain$ = this.#drainSubject.asObservable()
    this.source$ = new Observable<Uint8Array>((subscriber) => {
      if (this.#subscriber !== undefined) {
        subscriber.error(new TransportError('source$ already has a subscriber: a connection is read by one layer at a time'))
        return
      }
      this.#subscriber = subscriber
      this.#deliver()
      return () => {
        if (this.#subscriber === subscriber) {
          this.#subscriber = undefined
          this.#updateReading()
        }
      }
    })
  }

  // ---- hooks ---------------------------------------------------------------------------------
  /** Send a chunk; return false when above the high-water mark. */
  protected abstract _write (chunk: Uint8Array): boolean
  /** Stop pulling bytes from the underlying transport. */
  protected abstract _readStop (): void
  /** Start pulling bytes again. */
  protected abstract _readStart (): void
  /** Flush and half-close the write side. */
  protected abstract _end (): void
  /** Abort the transport. */
  protected abstract _destroy (err?: Error): void
  /** Called after a held or fresh chunk has been handed to the subscriber. */
  protected onConsumed (_chunk: Uint8Array): void {}

  // ---- subclass API --------------------------------------------------------------------------
  /** Hands a received chunk to the reader, or holds it while there is no reader or it is paused. */
  protected push (chunk: Uint8Array): void {
    if (this.#readEnded || chunk.byteLength === 0) return
    this.#pending.push(chunk)
    this.#pendingBytes += chunk.byteLength
    this.#deliver()
  }

  /** The remote ended its side; with `err`, the transport failed. */
  protected pushEnd (err?: Error): void {
    if (this.#readEnded) return
    this.#readEnded = true
    this.#readError = err
    this.#deliver()
  }

  /** Signals that the write buffer has emptied. */
  protected emitDrain (): void {
    if (!this.#needDrain) return
    this.#needDrain = false
    this.#drainSubject.next()
  }

  /** Marks the connection closed with `reason` (first call wins) and ends the read side. */
  protected finalize (reason?: Error): void {
    if (this.#closed) return
    this.#closed = true
    if (!this.#readEnded) this.pushEnd(reason)
    this.#needDrain = false
    this.#closedSubject.next(reason)
    this.#closedSubject.complete()
    this.#drainSubject.complete()
  }

  /** Bytes received and not yet handed to a reader. */
  protected get readableLength (): number {
    return this.#pendingBytes
  }

  // ---- public API ----------------------------------------------------------------------------
  get closed (): boolean {
    return this.#closed
  }

  get writableNeedDrain (): boolean {
    return this.#needDrain
  }

  get isPaused (): boolean {
    return this.#userPaused
  }

  write (chunk: Uint8Array): boolean {
    if (this.#closed) return false
    const ok = this._write(chunk)
    if (!ok) this.#needDrain = true
    return ok
  }

  pause (): void {
    this.#userPaused = true
    this.#updateReading()
  }

  resume (): void {
    if (!this.#userPaused) return
    this.#userPaused = false
    this.#deliver()
  }

  unshift (chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return
    this.#unshifted.add(chunk)
    this.#unshiftedCount++
    if (this.#pendingHead > 0) {
      this.#pending[--this.#pendingHead] = chunk
    } else {
      this.#pending.unshift(chunk)
    }
    this.#pendingBytes += chunk.byteLength
  }

  end (): void {
    if (this.#closed) return
    this._end()
  }

  destroy (err?: Error): void {
    if (this.#closed) return
    this._destroy(err)
    this.finalize(err)
  }

  // ---- internals -----------------------------------------------------------------------------
  #canDeliver (): boolean {
    return this.#subscriber !== undefined && !this.#userPaused
  }

  #deliver (): void {
    if (this.#delivering) return
    this.#delivering = true
    try {
      while (this.#canDeliver() && this.#pendingHead < this.#pending.length) {
        const chunk = this.#pending[this.#pendingHead]!
        this.#pending[this.#pendingHead++] = undefined as unknown as Uint8Array
        this.#pendingBytes -= chunk.byteLength
        if (this.#pendingHead === this.#pending.length) {
          this.#pending.length = 0
          this.#pendingHead = 0
        }
        this.#subscriber!.next(chunk)
        if (this.#unshiftedCount > 0 && this.#unshifted.delete(chunk)) this.#unshiftedCount--
        else this.onConsumed(chunk)
      }
      if (this.#readEnded && this.#pendingHead >= this.#pending.length && this.#subscriber !== undefined) {
        const s = this.#subscriber
        if (this.#readError !== undefined) s.error(this.#readError)
        else s.complete()
      }
    } finally {
      this.#delivering = false
    }
    this.#updateReading()
  }

  #updateReading (): void {
    if (this.#readEnded) return
    const stop = !this.#canDeliver() || this.#pendingHead < this.#pending.length
    if (stop && !this.#readingStopped) {
      this.#readingStopped = true
      this._readStop()
    } else if (!stop && this.#readingStopped) {
      this.#readingStopped = false
      this._readStart()
    }
  }
}
