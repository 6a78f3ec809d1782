/**
 * In-memory connections and an in-memory network, driven by an RxJS scheduler so that whole networks run in
 * virtual time under `TestScheduler`.
 *
 * @module
 */
import { asapScheduler, Subject, type SchedulerLike } from 'rxjs'
import { TransportError } from '../errors.js'
import { DEFAULT_HIGH_WATER_MARK } from './defaults.js'
import { AbstractDuplex, type DuplexConnection, type HostPort } from './duplex.js'
import type { Transport } from './transport.js'

/** Options of {@link memoryPair}. */
export interface MemoryPairInit {
  /** Delivers bytes on this scheduler. @default asapScheduler */
  scheduler?: SchedulerLike
  /** One-way latency in milliseconds (scheduler time). @default 0 */
  latencyMs?: number
  /**
   * Link bandwidth in bytes per second (scheduler time); 0 means unlimited. Chunks are serialized on the
   * link: a chunk of n bytes occupies it for n / bandwidth seconds.
   * @default 0
   */
  bandwidth?: number
  /** Bytes a writer may have in flight or unread by the remote before `write` returns false. @default 65536 */
  highWaterMark?: number
  /** Addresses reported by the two ends. */
  addresses?: [HostPort, HostPort]
}

class MemoryEnd extends AbstractDuplex {
  peer!: MemoryEnd
  #inFlight = 0
  #writeEnded = false
  #remoteEnded = false
  #linkFreeAt = 0
  /** Deliveries in the order they were written; each timer that fires runs the oldest one. */
  readonly #deliveries: Array<() => void> = []

  constructor (
    private readonly scheduler: SchedulerLike,
    private readonly latencyMs: number,
    private readonly bandwidth: number,
    private readonly highWaterMark: number
  ) {
    super()
  }

  protected _write (chunk: Uint8Array): boolean {
    if (this.#writeEnded) return false
    this.#inFlight += chunk.byteLength
    this.#schedule(() => {
      if (!this.peer.closed) this.peer.receive(chunk)
      else this.#release(chunk.byteLength)
    }, chunk.byteLength)
    return this.#inFlight < this.highWaterMark
  }

  #schedule (work: () => void, bytes: number): void {
    let delay = this.latencyMs
    if (this.bandwidth > 0) {
      const now = this.scheduler.now()
      const start = Math.max(now, this.#linkFreeAt)
      this.#linkFreeAt = start + (bytes * 1000) / this.bandwidth
      delay += this.#linkFreeAt - now
    }
    // Timers with different delays may fire out of order (a real-time scheduler rounds them), so each timer
    // delivers the oldest pending item: bytes and the end of the stream always arrive in the order written.
    this.#deliveries.push(work)
    this.scheduler.schedule(() => { this.#deliveries.shift()?.() }, delay)
  }

  /** Bytes arriving from the peer. */
  receive (chunk: Uint8Array): void {
    this.push(chunk)
  }

  protected override onConsumed (chunk: Uint8Array): void {
    this.peer.#release(chunk.byteLength)
  }

  #release (n: number): void {
    const before = this.#inFlight
    this.#inFlight -= n
    if (before >= this.highWaterMark && this.#inFlight < this.highWaterMark) this.emitDrain()
    else if (this.#inFlight === 0) this.emitDrain()
  }

  protected _readStop (): void {}
  protected _readStart (): void {}

  protected _end (): void {
    if (this.#writeEnded) return
    this.#writeEnded = true
    this.#schedule(() => { this.peer.remoteEnded() }, 0)
    if (this.#remoteEnded) this.finalize()
  }

  remoteEnded (): void {
    this.#remoteEnded = true
    this.pushEnd()
    if (this.#writeEnded) this.finalize()
    else if (this.peer.closed) this.finalize()
  }

  protected _destroy (): void {
    this.#writeEnded = true
    const peer = this.peer
    this.scheduler.schedule(() => {
      peer.finalize(new TransportError('connection reset by peer'))
    }, this.latencyMs)
  }
}

/**
 * Two connected in-memory ends.
 *
 * @example
 * ```ts
 * const [a, b] = memoryPair()
 * b.source$.subscribe((chunk) => console.log(new TextDecoder().decode(chunk)))
 * a.write(new TextEncoder().encode('hello'))
 * ```
 */
export function memoryPair (init: MemoryPairInit = {}): [DuplexConnection, DuplexConnection] {
  const scheduler = init.scheduler ?? asapScheduler
  const highWaterMark = init.highWaterMark ?? DEFAULT_HIGH_WATER_MARK
  const a = new MemoryEnd(scheduler, init.latencyMs ?? 0, init.bandwidth ?? 0, highWaterMark)
  const b = new MemoryEnd(scheduler, init.latencyMs ?? 0, init.bandwidth ?? 0, highWaterMark)
  a.peer = b
  b.peer = a
  if (init.addresses !== undefined) {
    a.localAddress = init.addresses[0]
    a.remoteAddress = init.addresses[1]
    b.localAddress = init.addresses[1]
    b.remoteAddress = init.addresses[0]
  }
  return [a, b]
}

/** Options of {@link MemoryNetwork}. */
export interface MemoryNetworkInit extends Omit<MemoryPairInit, 'addresses'> {}

/**
 * An in-memory network: a registry of listeners by `host:port`. Each {@link MemoryNetwork.transport} is one
 * host on it.
 *
 * @example
 * ```ts
 * const net = new MemoryNetwork({ scheduler, latencyMs: 20 })
 * const a = net.transport('10.0.0.1'), b = net.transport('10.0.0.2')
 * const listener = await b.listen({ host: '10.0.0.2', port: 26656 })
 * const conn = await a.dial({ host: '10.0.0.2', port: 26656 })
 * ```
 */
export class MemoryNetwork {
  readonly #listeners = new Map<string, Subject<DuplexConnection>>()
  #nextPort = 40000

  constructor (readonly init: MemoryNetworkInit = {}) {}

  /** A transport for one host of this network; dials originate from `host`. */
  transport (host: string): Transport {
    return {
      dial: async (addr) => {
        const key = `${addr.host}:${addr.port}`
        const subject = this.#listeners.get(key)
        if (subject === undefined) throw new TransportError(`dial ${key}: connection refused`)
        const local = { host, port: this.#nextPort++ }
        const [dialer, acceptor] = memoryPair({ ...this.init, addresses: [local, { host: addr.host, port: addr.port }] })
        subject.next(acceptor)
        return dialer
      },
      listen: async (addr) => {
        const port = addr.port === 0 ? this.#nextPort++ : addr.port
        const key = `${addr.host}:${port}`
        if (this.#listeners.has(key)) throw new TransportError(`listen ${key}: address in use`)
        const subject = new Subject<DuplexConnection>()
        this.#listeners.set(key, subject)
        return {
          address: { host: addr.host, port },
          connections$: subject.asObservable(),
          close: async () => {
            this.#listeners.delete(key)
            subject.complete()
          }
        }
      }
    }
  }
}
