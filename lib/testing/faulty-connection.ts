/**
 * Fault injection for any {@link DuplexConnection}: a wrapper that drops, delays, duplicates, corrupts or cuts
 * the bytes going each way, at a rate or on a schedule, in virtual time (a `SchedulerLike` and a seeded random).
 *
 * Faults act on chunks, the unit a transport hands over (a `write` going out, a `source$` emission coming in):
 * a dropped chunk is lost, a duplicated one arrives twice, a corrupted one has one byte flipped. Delays keep the
 * order of the stream (a chunk never overtakes an earlier one), as TCP does; so do `end` and the close, which
 * follow the data they come after. Without a fault configured the wrapper passes every chunk through at once,
 * on the same turn, and honours the whole duplex contract (it runs the shared compliance suite).
 *
 * @module
 */
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from 'rxjs'
import { TransportError } from '../errors.js'
import { AbstractDuplex, type DuplexConnection, type HostPort } from '../transport/duplex.js'
import type { Listener, Transport } from '../transport/transport.js'

/** What happens to the chunks going one way. Every rate is a probability per chunk, in [0, 1]. */
export interface FaultPlan {
  /** Probability that a chunk is lost. @default 0 */
  drop?: number
  /** Probability that a chunk is delivered twice in a row. @default 0 */
  duplicate?: number
  /** Probability that one random byte of a chunk is changed (XOR with a random non-zero byte). @default 0 */
  corrupt?: number
  /** Flips (XOR 0xff) the byte at each of these offsets of this direction's stream. @default [] */
  corruptAt?: readonly number[]
  /** Extra one-way delay of every chunk, in scheduler ms (the order is kept). @default 0 */
  delayMs?: number
  /** Plus a uniform random delay in [0, jitterMs) per chunk (the order is still kept). @default 0 */
  jitterMs?: number
  /** Probability that the connection is cut (reset) instead of passing a chunk. @default 0 */
  cut?: number
  /**
   * Cuts the connection once this many bytes have gone this way: the chunk that crosses the mark is cut short
   * there, and the reset follows it. @default Infinity
   */
  cutAfterBytes?: number
}

/** A change of plan at a time, counted in scheduler ms from the wrapper's creation. */
export interface FaultStep {
  /** When, in scheduler ms after the connection was wrapped. */
  atMs: number
  /** The plan for written chunks from then on (replaces the previous one; `{}` = no fault). @default unchanged */
  send?: FaultPlan
  /** The plan for received chunks from then on. @default unchanged */
  receive?: FaultPlan
  /** Cuts the connection then. @default false */
  cut?: boolean
}

/** Options of {@link FaultyConnection}. */
export interface FaultyConnectionInit {
  /** Faults on the chunks we write. @default {} (none) */
  send?: FaultPlan
  /** Faults on the chunks we receive. @default {} (none) */
  receive?: FaultPlan
  /** Changes of plan over time (partitions of a link, a cut at a time). @default [] */
  schedule?: readonly FaultStep[]
  /** The clock of delays and of the schedule. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** The random source of every rate and of the corrupted bytes; seed it for a reproducible run. @default Math.random */
  random?: () => number
  /** Delayed written bytes the wrapper holds before `write` returns false (on top of the inner connection's own). @default 65536 */
  highWaterMark?: number
}

/** What a {@link FaultyConnection} has done so far. */
export interface FaultCounts {
  /** Chunks and bytes written by us (before faults). */
  chunksSent: number
  /** Bytes written by us (before faults). */
  bytesSent: number
  /** Bytes handed to the inner connection (after faults: what left this end). */
  bytesForwarded: number
  /** Chunks received from the inner connection (before faults). */
  chunksReceived: number
  /** Bytes received from the inner connection (before faults). */
  bytesReceived: number
  /** Chunks lost, both ways. */
  dropped: number
  /** Chunks delivered twice, both ways. */
  duplicated: number
  /** Bytes changed, both ways. */
  corrupted: number
  /** Chunks held back by a delay, both ways. */
  delayed: number
  /** Whether a fault cut the connection. */
  cut: boolean
}

interface LaneItem { due: number, bytes: number, run: () => void }

/** One direction: applies its plan to each chunk and hands the result on in order, after its delay. */
class Lane {
  plan: FaultPlan
  /** Bytes that went this way (before faults). */
  offset = 0
  /** Bytes waiting for their delay. */
  queuedBytes = 0
  readonly #queue: LaneItem[] = []
  #head = 0
  #lastDue = 0
  #timer: Subscription | undefined
  #cutDone = false

  constructor (
    plan: FaultPlan,
    private readonly scheduler: SchedulerLike,
    private readonly random: () => number,
    private readonly counts: FaultCounts,
    private readonly sink: (chunk: Uint8Array) => void,
    private readonly onCut: () => void,
    private readonly onRelease: () => void
  ) {
    this.plan = plan
  }

  get idle (): boolean {
    return this.#head >= this.#queue.length
  }

  /** Applies the plan to `chunk`. */
  pass (chunk: Uint8Array): void {
    const p = this.plan
    if (this.#cutDone) return
    if (p.cut !== undefined && p.cut > 0 && this.random() < p.cut) {
      this.#cut()
      return
    }
    const start = this.offset
    const limit = p.cutAfterBytes ?? Infinity
    let cutAfter = false
    if (start + chunk.byteLength >= limit) {
      chunk = chunk.subarray(0, Math.max(0, limit - start))
      cutAfter = true
    }
    this.offset += chunk.byteLength
    if (chunk.byteLength > 0) {
      if (p.drop !== undefined && p.drop > 0 && this.random() < p.drop) {
        this.counts.dropped++
        chunk = new Uint8Array(0)
      } else {
        chunk = this.#corrupt(chunk, start)
      }
    }
    if (chunk.byteLength > 0) {
      const c = chunk
      // The usual case passes the chunk on at once, without a closure (millions of chunks in a simulation).
      const due = this.#due()
      if (due <= this.scheduler.now() && this.idle) this.sink(c)
      else this.#enqueueAt(due, c.byteLength, () => { this.sink(c) })
      if (p.duplicate !== undefined && p.duplicate > 0 && this.random() < p.duplicate) {
        this.counts.duplicated++
        this.#enqueue(c.byteLength, () => { this.sink(c) })
      }
    }
    if (cutAfter) {
      this.#cutDone = true
      this.#enqueue(0, () => { this.onCut() })
    }
  }

  /** Runs `work` in order after everything passed so far (an end, a close), with the lane's delay. */
  control (work: () => void): void {
    if (this.#cutDone) return
    this.#enqueue(0, work)
  }

  /** Forgets everything waiting. */
  cancel (): void {
    this.#timer?.unsubscribe()
    this.#timer = undefined
    this.#queue.length = 0
    this.#head = 0
    this.queuedBytes = 0
  }

  #cut (): void {
    this.#cutDone = true
    this.counts.cut = true
    this.onCut()
  }

  #corrupt (chunk: Uint8Array, start: number): Uint8Array {
    const p = this.plan
    let out: Uint8Array | undefined
    if (p.corrupt !== undefined && p.corrupt > 0 && this.random() < p.corrupt) {
      out = Uint8Array.from(chunk)
      const i = Math.floor(this.random() * out.byteLength)
      out[i] = out[i]! ^ (1 + Math.floor(this.random() * 255))
      this.counts.corrupted++
    }
    if (p.corruptAt !== undefined) {
      for (const at of p.corruptAt) {
        if (at < start || at >= start + chunk.byteLength) continue
        out ??= Uint8Array.from(chunk)
        out[at - start] = out[at - start]! ^ 0xff
        this.counts.corrupted++
      }
    }
    return out ?? chunk
  }

  #enqueue (bytes: number, run: () => void): void {
    const due = this.#due()
    if (due <= this.scheduler.now() && this.idle) run()
    else this.#enqueueAt(due, bytes, run)
  }

  /** When the next item may go: after the plan's delay (and jitter), never before the one before it. */
  #due (): number {
    const p = this.plan
    let delay = p.delayMs ?? 0
    if (p.jitterMs !== undefined && p.jitterMs > 0) delay += this.random() * p.jitterMs
    const due = Math.max(this.scheduler.now() + delay, this.#lastDue)
    this.#lastDue = due
    return due
  }

  /** Queues `run` for `due` (the caller runs it at once instead when it is due now and nothing waits). */
  #enqueueAt (due: number, bytes: number, run: () => void): void {
    if (bytes > 0) this.counts.delayed++
    this.#queue.push({ due, bytes, run })
    this.queuedBytes += bytes
    this.#arm()
  }

  #arm (): void {
    if (this.#timer !== undefined || this.idle) return
    const delay = Math.max(0, this.#queue[this.#head]!.due - this.scheduler.now())
    this.#timer = this.scheduler.schedule(() => {
      this.#timer = undefined
      this.#flush()
    }, delay)
  }

  #flush (): void {
    const now = this.scheduler.now()
    let released = false
    while (!this.idle && this.#queue[this.#head]!.due <= now) {
      const item = this.#queue[this.#head]!
      this.#queue[this.#head++] = undefined as unknown as LaneItem
      if (this.idle) {
        this.#queue.length = 0
        this.#head = 0
      }
      this.queuedBytes -= item.bytes
      if (item.bytes > 0) released = true
      item.run()
    }
    this.#arm()
    if (released) this.onRelease()
  }
}

/**
 * A {@link DuplexConnection} over another one that injects faults into each direction (see {@link FaultPlan}):
 * the grown-up form of CometBFT's `FuzzedConnection`, in virtual time. Plans change on a {@link FaultStep}
 * schedule or with {@link FaultyConnection.setFaults}; {@link FaultyConnection.cut} resets the connection now.
 * It takes over the inner connection (reads it, writes it, closes it): use only the wrapper afterwards.
 *
 * @example
 * ```ts
 * const [a, b] = memoryPair({ scheduler })
 * const lossy = new FaultyConnection(a, { scheduler, random: seededRandom('run-1'),
 *   send: { drop: 0.01, delayMs: 50 }, schedule: [{ atMs: 10_000, cut: true }] })
 * const mconn = new MConnection(lossy, channels, { scheduler })
 * ```
 */
export class FaultyConnection extends AbstractDuplex {
  readonly #inner: DuplexConnection
  readonly #counts: FaultCounts = {
    chunksSent: 0, bytesSent: 0, bytesForwarded: 0, chunksReceived: 0, bytesReceived: 0, dropped: 0, duplicated: 0, corrupted: 0, delayed: 0, cut: false
  }

  readonly #send: Lane
  readonly #receive: Lane
  readonly #hwm: number
  readonly #subs: Subscription[] = []
  #consumed = 0
  #ended = false

  constructor (inner: DuplexConnection, init: FaultyConnectionInit = {}) {
    super()
    this.#inner = inner
    const scheduler = init.scheduler ?? asyncScheduler
    const random = init.random ?? Math.random
    this.#hwm = init.highWaterMark ?? 65536
    if (inner.remoteAddress !== undefined) this.remoteAddress = inner.remoteAddress
    if (inner.localAddress !== undefined) this.localAddress = inner.localAddress
    const cut = (): void => { this.cut() }
    this.#send = new Lane(init.send ?? {}, scheduler, random, this.#counts, (c) => { this.#counts.bytesForwarded += c.byteLength; inner.write(c) }, cut, () => { this.#maybeDrain() })
    this.#receive = new Lane(init.receive ?? {}, scheduler, random, this.#counts, (c) => { this.push(c) }, cut, () => {})
    this.#subs.push(inner.source$.subscribe({
      next: (chunk) => {
        this.#counts.chunksReceived++
        this.#counts.bytesReceived += chunk.byteLength
        this.#receive.pass(chunk)
      },
      error: (err: Error) => { this.#receive.control(() => { this.pushEnd(err) }) },
      complete: () => { this.#receive.control(() => { this.pushEnd() }) }
    }))
    this.#subs.push(inner.drain$.subscribe(() => { this.#maybeDrain() }))
    this.#subs.push(inner.closed$.subscribe((reason) => {
      this.#receive.control(() => { this.#close(reason) })
    }))
    for (const step of init.schedule ?? []) {
      this.#subs.push(scheduler.schedule(() => {
        if (this.closed) return
        this.setFaults(step)
        if (step.cut === true) this.cut()
      }, step.atMs))
    }
  }

  /** Counts of what passed and what the faults did. */
  get counts (): Readonly<FaultCounts> {
    return this.#counts
  }

  /** The wrapped connection. */
  get inner (): DuplexConnection {
    return this.#inner
  }

  /**
   * Bytes this end holds: received and not yet read, plus those waiting for a delay either way. In a simulation
   * this is the memory a peer makes the node spend on the connection, outside the MConnection's own queues.
   */
  get bufferedBytes (): number {
    return this.readableLength + this.#send.queuedBytes + this.#receive.queuedBytes
  }

  /** Bytes handed to this end's reader so far. */
  get bytesConsumed (): number {
    return this.#consumed
  }

  /** Replaces the plan of one or both directions from now on (`{}` lifts every fault of that direction). */
  setFaults (plans: { send?: FaultPlan, receive?: FaultPlan }): void {
    if (plans.send !== undefined) this.#send.plan = plans.send
    if (plans.receive !== undefined) this.#receive.plan = plans.receive
  }

  /** Cuts the connection now: both ends see a reset (`reason`, by default a {@link TransportError}). */
  cut (reason: Error = new TransportError('connection cut (fault injection)')): void {
    if (this.closed) return
    this.#counts.cut = true
    this.destroy(reason)
  }

  protected override onConsumed (chunk: Uint8Array): void {
    this.#consumed += chunk.byteLength
  }

  protected _write (chunk: Uint8Array): boolean {
    if (this.#ended) return false
    this.#counts.chunksSent++
    this.#counts.bytesSent += chunk.byteLength
    this.#send.pass(chunk)
    return this.#send.queuedBytes < this.#hwm && !this.#inner.writableNeedDrain && !this.#inner.closed
  }

  protected _readStop (): void {
    this.#inner.pause()
  }

  protected _readStart (): void {
    this.#inner.resume()
  }

  protected _end (): void {
    if (this.#ended) return
    this.#ended = true
    this.#send.control(() => { this.#inner.end() })
  }

  protected _destroy (err?: Error): void {
    this.#send.cancel()
    this.#receive.cancel()
    for (const s of this.#subs) s.unsubscribe()
    this.#inner.destroy(err)
  }

  #maybeDrain (): void {
    if (this.#send.queuedBytes < this.#hwm && !this.#inner.writableNeedDrain) this.emitDrain()
  }

  #close (reason: Error | undefined): void {
    this.#send.cancel()
    this.#receive.cancel()
    for (const s of this.#subs) s.unsubscribe()
    this.finalize(reason)
  }
}

/** Where a connection of a {@link faultyTransport} comes from, for choosing its faults. */
export interface FaultyConnectionContext {
  /** `'dial'` for a connection we opened, `'accept'` for one a listener took. */
  readonly direction: 'dial' | 'accept'
  /** The remote end (the dialed address for a dial). */
  readonly remote: HostPort | undefined
  /** The local end, when the transport knows it. */
  readonly local: HostPort | undefined
}

/**
 * Wraps every connection a transport dials or accepts in a {@link FaultyConnection} with the options `faults`
 * returns for it (`undefined`: the connection passes untouched). `onConnection` sees each wrapper (to cut it
 * later, or to read its counts).
 *
 * @example
 * ```ts
 * const transport = faultyTransport(new TcpTransport(), () => ({ receive: { corruptAt: [5000] } }))
 * const sw = new Switch({ nodeKey, transport, listenAddress: '127.0.0.1:0', reactors })
 * ```
 */
export function faultyTransport (
  transport: Transport,
  faults: (ctx: FaultyConnectionContext) => FaultyConnectionInit | undefined,
  onConnection?: (conn: FaultyConnection, ctx: FaultyConnectionContext) => void
): Transport {
  const wrap = (conn: DuplexConnection, ctx: FaultyConnectionContext): DuplexConnection => {
    const init = faults(ctx)
    if (init === undefined) return conn
    const faulty = new FaultyConnection(conn, init)
    onConnection?.(faulty, ctx)
    return faulty
  }
  return {
    dial: async (addr, options) => {
      const conn = await transport.dial(addr, options)
      return wrap(conn, { direction: 'dial', remote: addr, local: conn.localAddress })
    },
    listen: async (addr) => {
      const listener = await transport.listen(addr)
      const wrapped: Listener = {
        address: listener.address,
        connections$: new Observable<DuplexConnection>((subscriber) => listener.connections$.subscribe({
          next: (conn) => { subscriber.next(wrap(conn, { direction: 'accept', remote: conn.remoteAddress, local: conn.localAddress })) },
          error: (err: unknown) => { subscriber.error(err) },
          complete: () => { subscriber.complete() }
        })),
        close: async () => { await listener.close() }
      }
      if (listener.acceptErrors$ !== undefined) (wrapped as { acceptErrors$?: Observable<Error> }).acceptErrors$ = listener.acceptErrors$
      return wrapped
    }
  }
}
