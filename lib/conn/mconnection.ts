/**
 * `MConnection`: CometBFT's multiplexed connection. Many prioritized channels share one byte stream of
 * length-prefixed `Packet`s, with bounded send queues, ping/pong keepalive and send/receive rate limits.
 *
 * ## Outbound
 * Messages wait in each channel's bounded queue. One loop per connection, woken when a queue gains a message,
 * the transport drains or the rate limiter allows more, picks the channel with the least
 * `recentlySent / priority` (`recentlySent` decays by 0.8 every 2 s) and encodes one packet of at most
 * `maxPacketMsgPayloadSize` bytes straight into one write buffer; then picks again. The buffer is written when it
 * passes 64 KiB or when the flush throttle fires (one flush armed per burst; `flushThrottleMs: 0` flushes at the
 * end of the current turn). When `write` returns false the loop stops until `drain$`. Pings and pongs are
 * written at once. Nothing is emitted, scheduled or allocated per packet.
 *
 * ## Inbound
 * Chunks are decoded in place; a message that arrives in one packet is handed on as a view of the received
 * chunk, a longer one is reassembled per channel. {@link MConnection.inbound$} emits once per whole message.
 * The receive rate limit and {@link MConnection.holdReading} pause the transport's reader, so a fast sender
 * feels TCP backpressure.
 *
 * @module
 */
import { asyncScheduler, Observable, ReplaySubject, Subject, Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs'
import { AbortError, ConnectionClosedError, PongTimeoutError, UnknownChannelError, WriteStallError } from '../errors.js'
import type { DuplexConnection } from '../transport/duplex.js'
import { encodePingFrameInto, encodePongFrameInto, maxPacketMsgSize, PacketStreamDecoder, PING_PONG_FRAME_SIZE, type PacketSink } from '../wire/packet.js'
import { varintSize } from '../wire/proto.js'
import { Channel, type ChannelDescriptor, type ChannelStatus, type SendWaiter } from './channel.js'
import {
  DEFAULT_CONN_RECV_BUDGET_SLACK, DEFAULT_FLUSH_THROTTLE_MS, DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE, DEFAULT_PING_INTERVAL_MS,
  DEFAULT_PONG_TIMEOUT_MS, DEFAULT_RECV_MESSAGE_CAPACITY, DEFAULT_RECV_RATE, DEFAULT_SEND_RATE, DEFAULT_SEND_TIMEOUT_MS, DEFAULT_WRITE_STALL_TIMEOUT_MS,
  FLUSH_STOP_LINGER_MS, RECENTLY_SENT_DECAY, STATS_UPDATE_INTERVAL_MS
} from './defaults.js'
import { FlowMonitor, type FlowStatus } from './flow-rate.js'
import { RecvBudget } from './recv-budget.js'
import { PooledWriteBuffer, type WriteBuffer, type WriteBufferFactory } from './write-buffer.js'

/** Options of {@link MConnection}. */
export interface MConnectionInit {
  /** Clock of every timer (flush, ping, pong, send timeout, rate limits). @default asyncScheduler */
  scheduler?: SchedulerLike
  /** How long a partly filled write buffer may wait before it is written; 0 = at the end of the current turn. @default 10 */
  flushThrottleMs?: number
  /** Interval between pings. @default 60000 */
  pingIntervalMs?: number
  /** How long to wait for a pong after a ping; must be below `pingIntervalMs`. @default 45000 */
  pongTimeoutMs?: number
  /** Send rate limit in bytes/s; 0 = unlimited. @default 5120000 */
  sendRate?: number
  /** Receive rate limit in bytes/s; 0 = unlimited. @default 5120000 */
  recvRate?: number
  /** Largest payload of one PacketMsg, sent and accepted. @default 1024 */
  maxPacketMsgPayloadSize?: number
  /** How long {@link MConnection.send} waits for room in a queue. @default 10000 */
  sendTimeoutMs?: number
  /**
   * Bytes of partial messages (reassembly buffers) all channels of this connection may hold together; past it the
   * connection stops with `RecvBudgetExceededError` (`budget: 'connection'`).
   * @default the largest channel's recvMessageCapacity + 4 MiB
   */
  connRecvBudget?: number
  /**
   * A budget shared with other connections (the node's): this connection's partial messages count against it
   * too, and it may stop this connection (`RecvBudgetExceededError`, `budget: 'node'`) to make room for another.
   * The Switch hands every peer its own. @default none
   */
  recvBudget?: RecvBudget
  /**
   * How long our writes may stay blocked (the transport returned false and did not drain) before the connection
   * stops with `WriteStallError`; 0 = never. Pings and pongs from the peer do not reset it. @default 60000
   */
  writeStallTimeoutMs?: number
  /**
   * Where outbound frames are encoded before each `write`: a factory called once with the room one frame needs
   * (the largest packet and a ping), or a buffer made for this connection alone (its `frameRoom` must be at
   * least that room).
   * @default a PooledWriteBuffer: a 4 KiB buffer of the connection's own, large buffers from WriteBufferPool.shared
   */
  writeBuffer?: WriteBuffer | WriteBufferFactory
}

/** One whole message received on a channel. */
export interface InboundMessage {
  /** The channel byte. */
  chId: number
  /** The message bytes (possibly a view into a received chunk: copy it to keep it long). */
  message: Uint8Array
}

/** Options of {@link MConnection.send}. */
export interface MConnectionSendOptions {
  /** Stops waiting for room: the promise rejects with {@link AbortError}. */
  signal?: AbortSignal
  /** How long to wait for room; 0 = do not wait. @default the connection's `sendTimeoutMs` */
  timeoutMs?: number
}

/** A snapshot of a connection (CometBFT `ConnectionStatus`). */
export interface ConnectionStatus {
  /** Milliseconds since the connection was created. */
  duration: number
  /** Outbound flow statistics (encoded bytes). */
  sendMonitor: FlowStatus
  /** Inbound flow statistics (encoded bytes). */
  recvMonitor: FlowStatus
  /** One entry per channel, in descriptor order. */
  channels: ChannelStatus[]
}

const NEW: number = 0
const RUNNING: number = 1
const FLUSHING: number = 2
const CLOSED: number = 3

const RESOLVED_TRUE = Promise.resolve(true)
const RESOLVED_FALSE = Promise.resolve(false)

/** A {@link MConnection.send} waiting in a channel's line, with its timer and abort listener. */
class PendingSend implements SendWaiter {
  timer: Subscription | undefined = undefined
  onAbort: (() => void) | undefined = undefined

  constructor (
    readonly msg: Uint8Array,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (ok: boolean) => void,
    readonly reject: (err: Error) => void
  ) {}

  finish (queued: boolean): void {
    this.release()
    this.resolve(queued)
  }

  /** Cancels the timer and the abort listener. */
  release (): void {
    this.timer?.unsubscribe()
    this.timer = undefined
    if (this.onAbort !== undefined) this.signal?.removeEventListener('abort', this.onAbort)
    this.onAbort = undefined
  }
}

/**
 * Many prioritized channels over one {@link DuplexConnection}, wire-compatible with CometBFT's MConnection.
 *
 * @example
 * ```ts
 * const mconn = new MConnection(conn, [{ id: 0x30, priority: 5, sendQueueCapacity: 100 }])
 * mconn.inbound$.subscribe(({ chId, message }) => console.log(chId, message.byteLength))
 * mconn.closed$.subscribe((reason) => console.log('closed', reason))
 * mconn.start()
 * await mconn.send(0x30, new TextEncoder().encode('hello'))
 * ```
 */
export class MConnection {
  /**
   * Hot: one emission per whole message received, in arrival order (per channel, in the order sent).
   * Completes when the connection closes. Subscribe before {@link start} to see every message.
   */
  readonly inbound$: Observable<InboundMessage>
  /**
   * Hot, replays its one emission: `undefined` when stopped locally without error (or after
   * {@link flushStop}), a {@link ConnectionClosedError} when the remote closed, else the typed error that
   * ended the connection; then completes.
   */
  readonly closed$: Observable<Error | undefined>

  readonly #conn: DuplexConnection
  readonly #scheduler: SchedulerLike
  readonly #channels: Channel[]
  /**
   * Channel id → 1 + its position in {@link #channels} (0: no such channel). 256 bytes instead of two 256-slot
   * arrays (4 KiB of heap per connection).
   */
  readonly #index = new Uint8Array(256)
  readonly #inbound = new Subject<InboundMessage>()
  readonly #closed = new ReplaySubject<Error | undefined>(1)
  readonly #subs = new Subscription()
  #state = NEW
  readonly #created: number

  // options
  readonly #flushThrottleMs: number
  readonly #pingIntervalMs: number
  readonly #pongTimeoutMs: number
  readonly #sendRate: number
  readonly #recvRate: number
  readonly #sendTimeoutMs: number
  readonly #writeStallTimeoutMs: number
  readonly #maxPacketSize: number
  /** This connection's receive budget (its parent is the node's, when given). */
  readonly #recvBudget: RecvBudget

  // write side
  /** Where frames are encoded before each write. */
  readonly #wb: WriteBuffer
  #blocked = false
  /** When {@link #blocked} last became true. */
  #blockedSince = 0
  /** The write-stall check: armed when the writes block, re-armed while they stay blocked. */
  #stallTask: Subscription | undefined
  /** A pong is owed but the writes are blocked: it goes out first on drain (at most one is owed, as CometBFT). */
  #pongOwed = false
  #pumping = false
  #flushArmed = false
  #flushDue = false
  #flushTask: Subscription | undefined
  #sendWakeTask: Subscription | undefined
  readonly #sendMonitor: FlowMonitor
  #startedAt = 0
  #decayEpoch = 0

  // keepalive
  #pingTask: Subscription | undefined
  #pongTask: Subscription | undefined
  #pongPending = false

  // read side
  readonly #decoder: PacketStreamDecoder
  readonly #recvMonitor: FlowMonitor
  #held: Uint8Array | undefined
  #heldPos = 0
  #ratePaused = false
  #recvWakeTask: Subscription | undefined
  #holds = 0
  #consuming = false
  #eofPending = false

  // flushStop
  #flushStopPromise: Promise<void> | undefined
  #flushStopResolve: (() => void) | undefined
  #lingering = false
  #lingerTask: Subscription | undefined

  /**
   * @param conn the byte stream (TCP, in-memory, a SecretConnection); the MConnection becomes its only reader
   * @param channels one descriptor per channel; ids must be distinct
   * @throws {RangeError} a descriptor or an option is invalid, or two channels share an id
   */
  constructor (conn: DuplexConnection, channels: readonly ChannelDescriptor[], init: MConnectionInit = {}) {
    this.#conn = conn
    this.#scheduler = init.scheduler ?? asyncScheduler
    this.#flushThrottleMs = init.flushThrottleMs ?? DEFAULT_FLUSH_THROTTLE_MS
    this.#pingIntervalMs = init.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS
    this.#pongTimeoutMs = init.pongTimeoutMs ?? DEFAULT_PONG_TIMEOUT_MS
    this.#sendRate = init.sendRate ?? DEFAULT_SEND_RATE
    this.#recvRate = init.recvRate ?? DEFAULT_RECV_RATE
    this.#sendTimeoutMs = init.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS
    this.#writeStallTimeoutMs = init.writeStallTimeoutMs ?? DEFAULT_WRITE_STALL_TIMEOUT_MS
    const maxPayload = init.maxPacketMsgPayloadSize ?? DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE
    if (!Number.isInteger(maxPayload) || maxPayload < 1) throw new RangeError(`maxPacketMsgPayloadSize must be a positive integer, got ${maxPayload}`)
    if (!(this.#pingIntervalMs > 0)) throw new RangeError(`pingIntervalMs must be > 0, got ${this.#pingIntervalMs}`)
    if (!(this.#pongTimeoutMs > 0) || this.#pongTimeoutMs >= this.#pingIntervalMs) {
      throw new RangeError(`pongTimeoutMs must be > 0 and below pingIntervalMs (${this.#pingIntervalMs}), got ${this.#pongTimeoutMs}`)
    }
    for (const [name, v] of [['flushThrottleMs', this.#flushThrottleMs], ['sendRate', this.#sendRate], ['recvRate', this.#recvRate], ['sendTimeoutMs', this.#sendTimeoutMs], ['writeStallTimeoutMs', this.#writeStallTimeoutMs]] as const) {
      if (!(v >= 0)) throw new RangeError(`${name} must be >= 0, got ${v}`)
    }
    if (channels.length === 0) throw new RangeError('an MConnection needs at least one channel')
    const largest = Math.max(...channels.map((d) => d.recvMessageCapacity ?? DEFAULT_RECV_MESSAGE_CAPACITY))
    this.#recvBudget = new RecvBudget({
      limit: init.connRecvBudget ?? largest + DEFAULT_CONN_RECV_BUDGET_SLACK,
      kind: 'connection',
      parent: init.recvBudget,
      onEvict: (reason) => { this.stop(reason) }
    })
    this.#channels = channels.map((desc) => new Channel(desc, maxPayload, this.#recvBudget))
    for (const [i, ch] of this.#channels.entries()) {
      if (this.#index[ch.id] !== 0) throw new RangeError(`duplicate channel id 0x${ch.id.toString(16)}`)
      this.#index[ch.id] = i + 1
    }
    this.#maxPacketSize = maxPacketMsgSize(maxPayload)
    const frameRoom = varintSize(this.#maxPacketSize) + this.#maxPacketSize + PING_PONG_FRAME_SIZE
    const wb = init.writeBuffer
    this.#wb = wb === undefined ? new PooledWriteBuffer({ frameRoom }) : typeof wb === 'function' ? wb(frameRoom) : wb
    if (!(this.#wb.frameRoom >= frameRoom)) throw new RangeError(`writeBuffer.frameRoom must be at least ${frameRoom}, got ${this.#wb.frameRoom}`)
    this.#decoder = new PacketStreamDecoder(this.#maxPacketSize)
    this.#sendMonitor = new FlowMonitor({ scheduler: this.#scheduler })
    this.#recvMonitor = new FlowMonitor({ scheduler: this.#scheduler })
    this.#created = this.#scheduler.now()
    this.inbound$ = this.#inbound.asObservable()
    this.closed$ = this.#closed.asObservable()
  }

  /** True once the connection has stopped (or {@link flushStop} has finished). */
  get isClosed (): boolean {
    return this.#state === CLOSED
  }

  /**
   * Starts reading and writing: subscribes to the transport, arms the ping timer and sends what was queued
   * before. Idempotent.
   */
  start (): void {
    if (this.#state !== NEW) return
    this.#state = RUNNING
    const now = this.#scheduler.now()
    this.#startedAt = now
    this.#decayEpoch = 0
    const conn = this.#conn
    this.#subs.add(conn.drain$.subscribe(() => { this.#onDrain() }))
    this.#subs.add(conn.closed$.subscribe((reason) => { this.#onConnClosed(reason) }))
    if (this.#state === CLOSED) return
    this.#subs.add(conn.source$.subscribe({
      next: (chunk) => { this.#onChunk(chunk) },
      error: (err: unknown) => { this.#onSourceEnd(err instanceof Error ? err : new ConnectionClosedError(String(err))) },
      complete: () => { this.#onSourceEnd(undefined) }
    }))
    if (this.#state === CLOSED) return
    this.#syncPause() // the reader is ours now: resume it unless a hold says otherwise
    const self = this
    const interval = this.#pingIntervalMs
    this.#pingTask = this.#scheduler.schedule(function (this: SchedulerAction<unknown>) {
      self.#sendPing()
      if (self.#state === RUNNING) this.schedule(undefined, interval)
    }, interval)
    this.#pump()
  }

  /**
   * Queues `msg` on channel `chId`, waiting up to `timeoutMs` for room (CometBFT `Send`). Resolves `true` once
   * queued; `false` when the connection is closed or closing, the channel is unknown, or no room came in time.
   * At most the channel's `maxSendWaiters` calls (by default its `sendQueueCapacity`) wait at once: past that,
   * `send` resolves `false` at once, so a peer that never reads holds at most twice its queues, however many
   * messages are sent to it. The caller must not modify `msg` afterwards.
   *
   * @throws {AbortError} (as a rejection) when `options.signal` aborts before the message is queued
   * @example
   * ```ts
   * if (!await mconn.send(0x30, tx)) console.log('peer too slow or gone')
   * ```
   */
  send (chId: number, msg: Uint8Array, options: MConnectionSendOptions = {}): Promise<boolean> {
    const ch = this.#channel(chId)
    if (ch === undefined || (this.#state !== NEW && this.#state !== RUNNING)) return RESOLVED_FALSE
    const { signal } = options
    if (signal?.aborted === true) return Promise.reject(abortReason(signal))
    if (ch.waiting === 0 && ch.enqueue(msg)) {
      this.#pump()
      return RESOLVED_TRUE
    }
    const timeoutMs = options.timeoutMs ?? this.#sendTimeoutMs
    if (!(timeoutMs > 0) || ch.waiting >= ch.desc.maxSendWaiters) return RESOLVED_FALSE
    return new Promise<boolean>((resolve, reject) => {
      const waiter = new PendingSend(msg, signal, resolve, reject)
      if (Number.isFinite(timeoutMs)) {
        waiter.timer = this.#scheduler.schedule(() => {
          if (!ch.unwait(waiter)) return
          waiter.release()
          resolve(false)
        }, timeoutMs)
      }
      if (signal !== undefined) {
        waiter.onAbort = () => {
          if (!ch.unwait(waiter)) return
          waiter.release()
          reject(abortReason(signal))
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      ch.wait(waiter) // room in line: checked above
    })
  }

  /**
   * Queues `msg` on channel `chId` if there is room now (CometBFT `TrySend`). Returns `false` at once when the
   * queue is full (or others are waiting for it), the connection is closed or closing, or the channel is unknown.
   * The caller must not modify `msg` afterwards.
   *
   * @example
   * ```ts
   * if (!mconn.trySend(0x30, tx)) dropped++
   * ```
   */
  trySend (chId: number, msg: Uint8Array): boolean {
    const ch = this.#channel(chId)
    if (ch === undefined || (this.#state !== NEW && this.#state !== RUNNING)) return false
    if (ch.waiting > 0) return false
    if (!ch.enqueue(msg)) return false
    this.#pump()
    return true
  }

  /** True when {@link trySend} on `chId` would succeed now. */
  canSend (chId: number): boolean {
    const ch = this.#channel(chId)
    if (ch === undefined || (this.#state !== NEW && this.#state !== RUNNING)) return false
    return ch.canQueueNow
  }

  /**
   * Pauses reading until the returned function is called (idempotent). Holds add up; reading resumes when all
   * are released. While held no message is emitted and the transport stops reading, so the remote feels
   * backpressure. Keepalive still needs reading: hold briefly.
   */
  holdReading (): () => void {
    this.#holds++
    this.#syncPause()
    let released = false
    return () => {
      if (released) return
      released = true
      this.#holds--
      this.#tryResumeReading()
    }
  }

  /** A snapshot of the connection's statistics (CometBFT `Status`). */
  status (): ConnectionStatus {
    if (this.#state === RUNNING || this.#state === FLUSHING) this.#applyDecay()
    return {
      duration: this.#scheduler.now() - this.#created,
      sendMonitor: this.#sendMonitor.status(),
      recvMonitor: this.#recvMonitor.status(),
      channels: this.#channels.map((ch) => ch.status())
    }
  }

  /**
   * Sends everything already queued (send waiters not yet queued get `false`), then ends the connection
   * (CometBFT `FlushStop`). Resolves once every queued byte is handed to the transport and its write side is
   * ended; {@link closed$} then emits `undefined`. The transport is released when the remote closes its side
   * (or after 10 s).
   */
  flushStop (): Promise<void> {
    if (this.#state === CLOSED) return Promise.resolve()
    if (this.#flushStopPromise !== undefined) return this.#flushStopPromise
    if (this.#state === NEW) this.start()
    if (this.#state === CLOSED) return Promise.resolve()
    this.#state = FLUSHING
    this.#pingTask?.unsubscribe()
    this.#pingTask = undefined
    this.#pongTask?.unsubscribe()
    this.#pongTask = undefined
    this.#rejectWaiters()
    this.#flushStopPromise = new Promise<void>((resolve) => { this.#flushStopResolve = resolve })
    this.#pump()
    return this.#flushStopPromise
  }

  /**
   * Closes now: drops what is queued, ends and destroys the transport. `reason` becomes {@link closed$}'s
   * value (`undefined` for a plain local stop). Idempotent.
   */
  stop (reason?: Error): void {
    if (this.#state === CLOSED) {
      if (this.#lingering) this.#endLinger()
      return
    }
    this.#close(reason)
    try {
      this.#conn.end()
      this.#conn.destroy(reason)
    } catch {
      // the transport is gone either way
    }
  }

  // ---------------------------------------------------------------------------------------------
  // closing

  #close (reason: Error | undefined): void {
    this.#state = CLOSED
    this.#cancelTimers()
    this.#subs.unsubscribe()
    this.#held = undefined
    this.#wb.clear()
    for (const ch of this.#channels) {
      ch.clearSend()
      ch.clearRecv()
    }
    this.#recvBudget.close()
    this.#pongOwed = false
    this.#rejectWaiters()
    this.#sendMonitor.done()
    this.#recvMonitor.done()
    this.#inbound.complete()
    this.#closed.next(reason)
    this.#closed.complete()
    const resolve = this.#flushStopResolve
    this.#flushStopResolve = undefined
    resolve?.()
  }

  #cancelTimers (): void {
    this.#flushTask?.unsubscribe()
    this.#flushTask = undefined
    this.#sendWakeTask?.unsubscribe()
    this.#sendWakeTask = undefined
    this.#recvWakeTask?.unsubscribe()
    this.#recvWakeTask = undefined
    this.#pingTask?.unsubscribe()
    this.#pingTask = undefined
    this.#pongTask?.unsubscribe()
    this.#pongTask = undefined
    this.#stallTask?.unsubscribe()
    this.#stallTask = undefined
  }

  #rejectWaiters (): void {
    for (const ch of this.#channels) ch.releaseWaiters()
  }

  #onConnClosed (reason: Error | undefined): void {
    if (this.#lingering) {
      this.#endLinger()
      return
    }
    if (this.#state === CLOSED) return
    this.stop(reason ?? new ConnectionClosedError('the connection was closed'))
  }

  #onSourceEnd (err: Error | undefined): void {
    if (this.#lingering) {
      this.#endLinger()
      return
    }
    if (this.#state === CLOSED) return
    if (err !== undefined) {
      this.stop(err)
      return
    }
    if (this.#held !== undefined) {
      this.#eofPending = true // finish the held bytes first
      return
    }
    this.stop(new ConnectionClosedError('the remote closed the connection'))
  }

  /** flushStop has handed everything over: end the write side and wait for the remote to close. */
  #finishFlushStop (): void {
    this.#close(undefined)
    this.#lingering = true
    const conn = this.#conn
    const linger = new Subscription()
    linger.add(conn.closed$.subscribe(() => { this.#endLinger() }))
    if (this.#lingering) {
      try {
        linger.add(conn.source$.subscribe({ error: () => { this.#endLinger() }, complete: () => { this.#endLinger() } }))
      } catch {
        // source$ reports its errors through `error`
      }
    }
    if (this.#lingering) {
      try { conn.end() } catch {}
      if (conn.isPaused) conn.resume()
      linger.add(this.#scheduler.schedule(() => { this.#endLinger() }, FLUSH_STOP_LINGER_MS))
      this.#lingerTask = linger
    } else {
      linger.unsubscribe()
    }
  }

  #endLinger (): void {
    if (!this.#lingering) return
    this.#lingering = false
    const task = this.#lingerTask
    this.#lingerTask = undefined
    task?.unsubscribe()
    try { this.#conn.destroy() } catch {}
  }

  // ---------------------------------------------------------------------------------------------
  // write side

  #channel (chId: number): Channel | undefined {
    if (!(Number.isInteger(chId) && chId >= 0 && chId <= 255)) return undefined
    const i = this.#index[chId]!
    return i === 0 ? undefined : this.#channels[i - 1]
  }

  #applyDecay (now = this.#scheduler.now()): void {
    const epoch = Math.floor((now - this.#startedAt) / STATS_UPDATE_INTERVAL_MS)
    if (epoch <= this.#decayEpoch) return
    const n = epoch - this.#decayEpoch
    this.#decayEpoch = epoch
    for (const ch of this.#channels) ch.decay(n, RECENTLY_SENT_DECAY)
  }

  /** The loop: picks channels by priority and encodes packets into the write buffer. */
  #pump (): void {
    if (this.#pumping || this.#blocked || this.#sendWakeTask !== undefined) return
    if (this.#state !== RUNNING && this.#state !== FLUSHING) return
    this.#pumping = true
    let written = 0
    let rateHit = false
    const now = this.#scheduler.now()
    try {
      let budget = Infinity
      if (this.#sendRate > 0) {
        budget = this.#sendMonitor.limit(Number.MAX_SAFE_INTEGER, this.#sendRate, now)
        if (budget === 0) rateHit = true
      }
      if (!rateHit) {
        this.#applyDecay(now)
        const channels = this.#channels
        const count = channels.length
        const wb = this.#wb
        const highWaterMark = wb.highWaterMark
        let wbuf = wb.bytes
        let wpos = wb.pos
        for (;;) {
          let best: Channel | undefined
          let bestRatio = Infinity
          for (let i = 0; i < count; i++) {
            const ch = channels[i]!
            if (!ch.isSendPending) continue
            const ratio = Math.fround(Math.fround(ch.recentlySent) / Math.fround(ch.desc.priority))
            if (ratio < bestRatio) {
              bestRatio = ratio
              best = ch
            }
          }
          if (best === undefined) break
          if (wpos >= wb.growAt) {
            wb.pos = wpos
            wbuf = wb.grow()
          }
          const next = best.writePacketTo(wbuf, wpos)
          written += next - wpos
          wpos = next
          if (best.tookFromQueue) {
            best.tookFromQueue = false
            best.admitWaiters()
          }
          if (wpos >= highWaterMark) {
            wb.pos = wpos
            this.#writeOut()
            wbuf = wb.bytes
            wpos = wb.pos
            if (this.#blocked || this.#state === CLOSED) break
          }
          if (written >= budget) {
            rateHit = true
            break
          }
        }
        wb.pos = wpos
      }
    } finally {
      this.#pumping = false
    }
    if (written > 0) this.#sendMonitor.update(written, now)
    if (this.#state === CLOSED) return
    if (rateHit && this.#anySendPending()) {
      this.#sendWakeTask = this.#scheduler.schedule(() => {
        this.#sendWakeTask = undefined
        this.#pump()
      }, this.#sendMonitor.nextSampleDelay())
    }
    if (this.#wb.pos > 0 && !this.#blocked) {
      if (this.#state === FLUSHING || this.#flushDue) this.#writeOut()
      else this.#armFlush()
    }
    if (this.#state === FLUSHING && this.#wb.pos === 0 && !this.#anySendPending()) this.#finishFlushStop()
  }

  #anySendPending (): boolean {
    for (const ch of this.#channels) if (ch.isSendPending) return true
    return false
  }

  /** Hands the write buffer's content to the transport. */
  #writeOut (): void {
    if (this.#wb.pos === 0) return
    const chunk = this.#wb.take()
    this.#flushDue = false
    let ok: boolean
    try {
      ok = this.#conn.write(chunk)
    } catch (err) {
      this.stop(err instanceof Error ? err : new ConnectionClosedError(String(err)))
      return
    }
    if (!ok) this.#onBlocked()
  }

  /** The transport said full: wait for drain, and watch how long it takes. */
  #onBlocked (): void {
    this.#blocked = true
    this.#blockedSince = this.#scheduler.now()
    if (this.#stallTask === undefined && this.#writeStallTimeoutMs > 0) this.#armStall(this.#writeStallTimeoutMs)
  }

  /**
   * One check per period, not one timer per blocked write: when it fires the writes may have drained since (it
   * lapses until they block again) or blocked anew (it waits for the rest of that block's period).
   */
  #armStall (delay: number): void {
    this.#stallTask = this.#scheduler.schedule(() => {
      this.#stallTask = undefined
      if (!this.#blocked || (this.#state !== RUNNING && this.#state !== FLUSHING)) return
      const stalled = this.#scheduler.now() - this.#blockedSince
      if (stalled >= this.#writeStallTimeoutMs) this.stop(new WriteStallError(stalled))
      else this.#armStall(this.#writeStallTimeoutMs - stalled)
    }, delay)
  }

  #armFlush (): void {
    if (this.#flushArmed) return
    this.#flushArmed = true
    if (this.#flushThrottleMs === 0 && this.#scheduler === asyncScheduler) {
      queueMicrotask(() => { this.#onFlushTimer() })
    } else {
      this.#flushTask = this.#scheduler.schedule(() => { this.#onFlushTimer() }, this.#flushThrottleMs)
    }
  }

  #onFlushTimer (): void {
    this.#flushArmed = false
    this.#flushTask = undefined
    if (this.#state === CLOSED || this.#wb.pos === 0) return
    if (this.#blocked) this.#flushDue = true
    else this.#writeOut()
  }

  #onDrain (): void {
    if (!this.#blocked) return
    this.#blocked = false
    if (this.#state === CLOSED) return
    if (this.#pongOwed) {
      this.#pongOwed = false
      this.#writeControl(true)
      if (this.#state === CLOSED || this.#blocked) return
    }
    this.#pump()
  }

  /** Writes a ping or pong now (CometBFT flushes them immediately). */
  #writeControl (pong: boolean): void {
    if (this.#blocked && pong) {
      // The peer pings but does not read: owe it one pong, written first on drain (a pong per ping into a full
      // socket would grow its buffer without bound).
      this.#pongOwed = true
      return
    }
    if (this.#blocked) {
      // Frames are atomic: a control frame may overtake the packets still in our buffer.
      const frame = new Uint8Array(PING_PONG_FRAME_SIZE)
      if (pong) encodePongFrameInto(frame, 0)
      else encodePingFrameInto(frame, 0)
      try {
        this.#conn.write(frame)
      } catch (err) {
        this.stop(err instanceof Error ? err : new ConnectionClosedError(String(err)))
        return
      }
    } else {
      const wb = this.#wb
      wb.pos = pong ? encodePongFrameInto(wb.bytes, wb.pos) : encodePingFrameInto(wb.bytes, wb.pos)
      this.#writeOut()
    }
    this.#sendMonitor.update(PING_PONG_FRAME_SIZE)
  }

  #sendPing (): void {
    if (this.#state !== RUNNING) return
    this.#writeControl(false)
    if (this.#state !== RUNNING || this.#pongTask !== undefined) return
    this.#pongTask = this.#scheduler.schedule(() => {
      this.#pongTask = undefined
      this.stop(new PongTimeoutError(`no pong within ${this.#pongTimeoutMs} ms of a ping`))
    }, this.#pongTimeoutMs)
  }

  // ---------------------------------------------------------------------------------------------
  // read side

  readonly #sink: PacketSink = {
    ping: () => {
      this.#pongPending = true
      return true
    },
    pong: () => {
      // Unsolicited pongs are ignored.
      this.#pongTask?.unsubscribe()
      this.#pongTask = undefined
      return true
    },
    msg: (chId, eof, buf, start, end) => {
      const i = chId >= 0 && chId <= 255 ? this.#index[chId]! : 0
      if (i === 0) throw new UnknownChannelError(chId)
      const ch = this.#channels[i - 1]!
      const message = ch.receive(buf, start, end, eof)
      if (message !== undefined) this.#inbound.next({ chId: ch.id, message })
      return this.#holds === 0 && this.#state !== CLOSED
    }
  }

  #onChunk (chunk: Uint8Array): void {
    if (this.#state === CLOSED) return
    if (this.#held !== undefined) {
      // Not expected (the reader is paused while bytes are held), but never lose or reorder bytes.
      const rest = this.#held.subarray(this.#heldPos)
      const joined = new Uint8Array(rest.byteLength + chunk.byteLength)
      joined.set(rest, 0)
      joined.set(chunk, rest.byteLength)
      this.#held = joined
      this.#heldPos = 0
      this.#syncPause()
      return
    }
    this.#consume(chunk, 0)
  }

  /** Decodes `chunk` from `offset`, as far as the receive rate limit and holds allow; holds the rest. */
  #consume (chunk: Uint8Array, offset: number): void {
    this.#consuming = true
    try {
      if (this.#holds > 0 || this.#ratePaused) {
        this.#held = chunk
        this.#heldPos = offset
        return
      }
      let budget = Infinity
      if (this.#recvRate > 0) {
        budget = this.#recvMonitor.limit(chunk.byteLength - offset, this.#recvRate)
        if (budget === 0) {
          this.#held = chunk
          this.#heldPos = offset
          this.#armRecvWake()
          return
        }
      }
      const pos = this.#decoder.decode(chunk, offset, budget, this.#sink)
      this.#recvMonitor.update(pos - offset)
      if (this.#state === CLOSED) return
      if (this.#pongPending) {
        this.#pongPending = false
        this.#writeControl(true)
        if (this.#state === CLOSED) return
      }
      if (pos < chunk.byteLength) {
        this.#held = chunk
        this.#heldPos = pos
        if (this.#holds === 0) this.#armRecvWake()
      }
    } catch (err) {
      this.stop(err instanceof Error ? err : new ConnectionClosedError(String(err)))
    } finally {
      this.#consuming = false
    }
    this.#syncPause()
  }

  #armRecvWake (): void {
    this.#ratePaused = true
    if (this.#recvWakeTask !== undefined) return
    this.#recvWakeTask = this.#scheduler.schedule(() => {
      this.#recvWakeTask = undefined
      this.#ratePaused = false
      this.#tryResumeReading()
    }, this.#recvMonitor.nextSampleDelay())
  }

  /** Pauses or resumes the transport's reader to match the state. */
  #syncPause (): void {
    if (this.#consuming || this.#state === CLOSED) return
    const conn = this.#conn
    const block = this.#held !== undefined || this.#ratePaused || this.#holds > 0
    if (block) {
      if (!conn.isPaused) conn.pause()
    } else if (conn.isPaused) {
      conn.resume()
    }
  }

  #tryResumeReading (): void {
    if (this.#consuming || this.#state === CLOSED) return
    if (this.#held !== undefined && !this.#ratePaused && this.#holds === 0) {
      const chunk = this.#held
      const pos = this.#heldPos
      this.#held = undefined
      this.#consume(chunk, pos)
      if (this.#eofPending && this.#held === undefined && this.#state !== CLOSED) {
        this.stop(new ConnectionClosedError('the remote closed the connection'))
      }
      return
    }
    this.#syncPause()
  }
}

function abortReason (signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  return reason instanceof AbortError ? reason : new AbortError('send aborted', { cause: reason })
}
