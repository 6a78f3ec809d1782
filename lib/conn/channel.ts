/**
 * Channels of an MConnection: the descriptor a reactor declares, and the per-channel state the connection keeps
 * (a bounded send queue, the message being cut into packets, the reassembly buffer, `recentlySent`).
 *
 * @module
 */
import { MessageTooLargeError } from '../errors.js'
import { encodePacketMsgFrameInto } from '../wire/packet.js'
import { varintSize } from '../wire/proto.js'
import { DEFAULT_RECV_BUFFER_CAPACITY, DEFAULT_RECV_MESSAGE_CAPACITY, DEFAULT_SEND_QUEUE_CAPACITY } from './defaults.js'
import type { RecvBudget } from './recv-budget.js'

/** Payloads up to this many bytes are copied into the reassembly buffer byte by byte (no view object). */
const SMALL_COPY = 64

/** A plain Uint8Array over memory that is not zero-filled (every byte is written before it is read). */
function allocUnfilled (size: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(size)
  return new Uint8Array(b.buffer, b.byteOffset, size)
}

/**
 * Declares one channel of an MConnection (CometBFT `ChannelDescriptor`).
 *
 * @example
 * ```ts
 * const mempool: ChannelDescriptor = { id: 0x30, priority: 5, sendQueueCapacity: 100 }
 * ```
 */
export interface ChannelDescriptor {
  /** The channel byte, 0..255. */
  id: number
  /** Scheduling weight, > 0: a channel with priority 4 gets four times the bytes of one with priority 1. */
  priority: number
  /** Messages queued for sending before `trySend` fails and `send` waits. @default 1 */
  sendQueueCapacity?: number
  /**
   * `send` calls that may wait for room in the queue at once; past it `send` resolves `false` at once (0: `send`
   * never waits). Beyond CometBFT, where each waiting `Send` is a blocked goroutine. @default sendQueueCapacity
   */
  maxSendWaiters?: number
  /**
   * Initial capacity of the reassembly buffer in bytes: a message of several packets is copied into one buffer
   * of this size, doubled as needed (never past `recvMessageCapacity`). @default 4096
   */
  recvBufferCapacity?: number
  /** Largest message accepted on this channel, in bytes; more stops the connection. @default 22020096 (21 MiB) */
  recvMessageCapacity?: number
}

/** A {@link ChannelDescriptor} with every default filled in. */
export type FilledChannelDescriptor = Required<ChannelDescriptor>

/**
 * Fills the defaults of a descriptor (CometBFT `FillDefaults`) and checks it.
 *
 * @throws {RangeError} the id is not in 0..255, the priority is not > 0, a capacity is not a positive integer, or
 *   `maxSendWaiters` is not an integer >= 0
 */
export function fillChannelDefaults (desc: ChannelDescriptor): FilledChannelDescriptor {
  const filled: FilledChannelDescriptor = {
    id: desc.id,
    priority: desc.priority,
    sendQueueCapacity: desc.sendQueueCapacity ?? DEFAULT_SEND_QUEUE_CAPACITY,
    maxSendWaiters: desc.maxSendWaiters ?? desc.sendQueueCapacity ?? DEFAULT_SEND_QUEUE_CAPACITY,
    recvBufferCapacity: desc.recvBufferCapacity ?? DEFAULT_RECV_BUFFER_CAPACITY,
    recvMessageCapacity: desc.recvMessageCapacity ?? DEFAULT_RECV_MESSAGE_CAPACITY
  }
  if (!Number.isInteger(filled.id) || filled.id < 0 || filled.id > 255) throw new RangeError(`channel id must be 0..255, got ${filled.id}`)
  if (!(filled.priority > 0) || !Number.isFinite(filled.priority)) throw new RangeError(`channel 0x${filled.id.toString(16)}: priority must be > 0, got ${filled.priority}`)
  for (const key of ['sendQueueCapacity', 'recvBufferCapacity', 'recvMessageCapacity'] as const) {
    const v = filled[key]
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`channel 0x${filled.id.toString(16)}: ${key} must be a positive integer, got ${v}`)
  }
  if (!Number.isInteger(filled.maxSendWaiters) || filled.maxSendWaiters < 0) {
    throw new RangeError(`channel 0x${filled.id.toString(16)}: maxSendWaiters must be an integer >= 0, got ${filled.maxSendWaiters}`)
  }
  return filled
}

/** A snapshot of one channel (CometBFT `ChannelStatus`, plus byte counters). */
export interface ChannelStatus {
  /** The channel byte. */
  id: number
  /** Capacity of the send queue. */
  sendQueueCapacity: number
  /** Messages queued or being sent (a message counts until its last packet is written). */
  sendQueueSize: number
  /** The channel's priority. */
  priority: number
  /** Encoded bytes sent recently: grows with each packet, decays by 0.8 every 2 s. */
  recentlySent: number
  /** Encoded bytes (frames, prefixes included) written on this channel since the start. */
  bytesSent: number
  /** Whole messages received on this channel. */
  messagesReceived: number
  /** Payload bytes received on this channel. */
  bytesReceived: number
}

/**
 * A `send` call waiting for room in a channel's queue (see {@link Channel.wait}). The connection makes it, with
 * its timer and abort listener; the channel keeps it in line and ends it.
 */
export interface SendWaiter {
  /** The message to queue. */
  readonly msg: Uint8Array
  /** Ends the wait (called once by the channel): `true` once `msg` is queued, `false` when the channel gave up. */
  finish: (queued: boolean) => void
}

/**
 * The connection-side state of one channel: the bounded send queue with the `send` calls waiting for room in
 * it (at most `maxSendWaiters`), the message being cut into packets, the reassembly buffer. Internal to
 * {@link MConnection}; exported for tests and tools. Nothing here schedules or emits: the connection's loop
 * drives it.
 */
export class Channel {
  /** The descriptor, defaults filled in. */
  readonly desc: FilledChannelDescriptor
  /** Payload bytes per packet on this channel (one less for ids ≥ 0x80, so frames stay within the receive limit). */
  readonly maxPayload: number
  // Send queue: a ring of capacity `sendQueueCapacity`.
  readonly #queue: Array<Uint8Array | undefined>
  #qHead = 0
  #qLen = 0
  /** `send` calls waiting for room in the queue, first come first queued (at most `maxSendWaiters`). */
  readonly #waiters: SendWaiter[] = []
  /** The message being cut into packets, and how far. */
  #sending: Uint8Array | undefined
  #sendingPos = 0
  /** Encoded bytes sent recently (CometBFT `recentlySent`): grows per packet, decays every 2 s. */
  recentlySent = 0
  /** Encoded bytes sent since the start. */
  bytesSent = 0
  // Reassembly: the payload of the message so far, copied into one buffer that doubles as needed.
  /** The reassembly buffer (its whole length is its capacity), or none between messages. */
  #rbuf: Uint8Array | undefined
  #recvLen = 0
  /** Where the reassembly buffer's bytes are accounted. */
  readonly #budget: RecvBudget | undefined
  /** Whole messages received. */
  messagesReceived = 0
  /** Payload bytes of the whole messages received. */
  bytesReceived = 0

  /**
   * @param desc the channel's descriptor (defaults are filled in)
   * @param maxPacketMsgPayloadSize the connection's largest packet payload
   * @param budget takes the bytes of the reassembly buffer while the channel holds it (the connection's budget)
   * @throws {RangeError} an invalid descriptor
   */
  constructor (desc: ChannelDescriptor, maxPacketMsgPayloadSize: number, budget?: RecvBudget) {
    this.desc = fillChannelDefaults(desc)
    this.#budget = budget
    this.maxPayload = Math.max(1, maxPacketMsgPayloadSize - (varintSize(this.desc.id) - 1))
    this.#queue = new Array(this.desc.sendQueueCapacity).fill(undefined)
  }

  /** The channel byte. */
  get id (): number {
    return this.desc.id
  }

  /** True when the queue has room for one more message. */
  get hasRoom (): boolean {
    return this.#qLen < this.desc.sendQueueCapacity
  }

  /** Messages queued or being sent (CometBFT `sendQueueSize`). */
  get sendQueueSize (): number {
    return this.#qLen + (this.#sending !== undefined ? 1 : 0)
  }

  /** True when a packet is ready to be written. */
  get isSendPending (): boolean {
    return this.#sending !== undefined || this.#qLen > 0
  }

  /** Appends `msg` to the queue; false when full. */
  enqueue (msg: Uint8Array): boolean {
    if (this.#qLen >= this.desc.sendQueueCapacity) return false
    const cap = this.desc.sendQueueCapacity
    this.#queue[(this.#qHead + this.#qLen) % cap] = msg
    this.#qLen++
    return true
  }

  /** `send` calls waiting for room now. */
  get waiting (): number {
    return this.#waiters.length
  }

  /** True when a message may be queued now without overtaking a waiting `send` (CometBFT `CanSend`). */
  get canQueueNow (): boolean {
    return this.#waiters.length === 0 && this.#qLen < this.desc.sendQueueCapacity
  }

  /**
   * Puts `waiter` in line for room in the queue; false (and nothing kept) when `maxSendWaiters` already wait.
   * {@link admitWaiters} queues it once there is room, {@link releaseWaiters} gives up on it.
   */
  wait (waiter: SendWaiter): boolean {
    if (this.#waiters.length >= this.desc.maxSendWaiters) return false
    this.#waiters.push(waiter)
    return true
  }

  /** Takes `waiter` out of line without ending it (its time ran out, or it was aborted); false when not in line. */
  unwait (waiter: SendWaiter): boolean {
    const i = this.#waiters.indexOf(waiter)
    if (i < 0) return false
    this.#waiters.splice(i, 1)
    return true
  }

  /** Moves waiting `send` calls into the queue while it has room, in order; each ends with `true`. */
  admitWaiters (): void {
    const waiters = this.#waiters
    while (waiters.length > 0 && this.#qLen < this.desc.sendQueueCapacity) {
      const w = waiters.shift()!
      this.enqueue(w.msg)
      w.finish(true)
    }
  }

  /** Ends every waiting `send` call with `false` (the connection is closing or flushing). */
  releaseWaiters (): void {
    const all = this.#waiters.splice(0)
    for (const w of all) w.finish(false)
  }

  /** Drops everything queued and half-sent (the connection is closing). */
  clearSend (): void {
    this.#queue.fill(undefined)
    this.#qHead = 0
    this.#qLen = 0
    this.#sending = undefined
    this.#sendingPos = 0
  }

  /**
   * Encodes the next packet of this channel into `out` at `pos` (which must have room for the largest frame)
   * and returns the position after it. Takes the next message off the queue when none is being sent; call
   * only when {@link isSendPending}. `tookFromQueue` tells the caller a queue slot freed up.
   */
  writePacketTo (out: Uint8Array, pos: number): number {
    let msg = this.#sending
    if (msg === undefined) {
      msg = this.#queue[this.#qHead]!
      this.#queue[this.#qHead] = undefined
      this.#qHead = this.#qHead + 1 === this.desc.sendQueueCapacity ? 0 : this.#qHead + 1
      this.#qLen--
      this.#sending = msg
      this.#sendingPos = 0
      this.tookFromQueue = true
    }
    const start = this.#sendingPos
    const left = msg.byteLength - start
    let end: number
    let eof: boolean
    if (left <= this.maxPayload) {
      end = msg.byteLength
      eof = true
      this.#sending = undefined
      this.#sendingPos = 0
    } else {
      end = start + this.maxPayload
      eof = false
      this.#sendingPos = end
    }
    const next = encodePacketMsgFrameInto(out, pos, this.desc.id, eof, msg, start, end)
    const n = next - pos
    this.recentlySent += n
    this.bytesSent += n
    return next
  }

  /** Set by {@link writePacketTo} when it took a message off the queue; the caller resets it. */
  tookFromQueue = false

  /**
   * Takes the payload `buf[start, end)` of a received PacketMsg. Returns the whole message on `eof`, or
   * `undefined` while more is to come. A message that came in one packet is a view of `buf` (so `buf` must not be
   * modified later); a longer one is copied, packet by packet, into one reassembly buffer that starts at
   * `recvBufferCapacity` and doubles as needed, never past `recvMessageCapacity` (CometBFT appends to one slice
   * the same way). A partial message therefore holds at most twice its payload plus `recvBufferCapacity`,
   * whatever the packets' size, and nothing of the received chunks. On `eof` the buffer itself is handed on when
   * the message fills at least half of it (no second copy); a smaller message is copied out to its exact size and
   * a buffer of `recvBufferCapacity` is kept for the next one.
   *
   * @throws {MessageTooLargeError} the message grows past `recvMessageCapacity`
   * @throws {RecvBudgetExceededError} the buffer cannot grow within the budget
   */
  receive (buf: Uint8Array, start: number, end: number, eof: boolean): Uint8Array | undefined {
    const n = end - start
    const len = this.#recvLen
    const total = len + n
    const max = this.desc.recvMessageCapacity
    if (total > max) throw new MessageTooLargeError(this.desc.id, total, max)
    if (eof && len === 0) {
      this.messagesReceived++
      this.bytesReceived += n
      // A plain Uint8Array view (not buf.subarray: for a Buffer that is a slower species construction, and the
      // message type would depend on the transport).
      return new Uint8Array(buf.buffer, buf.byteOffset + start, n)
    }
    let rbuf = this.#rbuf
    if (n > 0) {
      if (rbuf === undefined || total > rbuf.byteLength) rbuf = this.#grow(total)
      if (n <= SMALL_COPY) {
        for (let i = 0; i < n; i++) rbuf[len + i] = buf[start + i]!
      } else {
        rbuf.set(start === 0 && end === buf.byteLength ? buf : new Uint8Array(buf.buffer, buf.byteOffset + start, n), len)
      }
      this.#recvLen = total
    }
    if (!eof) return undefined
    this.#recvLen = 0
    this.messagesReceived++
    this.bytesReceived += total
    const cap = rbuf!.byteLength
    if (total * 2 >= cap) {
      // The message fills at least half the buffer: hand the buffer on, the next message starts a new one.
      this.#releaseRecv()
      return new Uint8Array(rbuf!.buffer, rbuf!.byteOffset, total)
    }
    const out = allocUnfilled(total)
    out.set(new Uint8Array(rbuf!.buffer, rbuf!.byteOffset, total), 0)
    if (cap > this.desc.recvBufferCapacity) this.#releaseRecv() // shrink back after a large message
    return out
  }

  /** Grows the reassembly buffer to hold `need` bytes: doubles it (at least), within the capacity and the budget. */
  #grow (need: number): Uint8Array {
    const old = this.#rbuf
    const oldCap = old === undefined ? 0 : old.byteLength
    const cap = Math.min(this.desc.recvMessageCapacity, Math.max(need, oldCap * 2, this.desc.recvBufferCapacity))
    this.#budget?.take(cap - oldCap)
    const grown = allocUnfilled(cap)
    if (old !== undefined && this.#recvLen > 0) grown.set(new Uint8Array(old.buffer, old.byteOffset, this.#recvLen), 0)
    this.#rbuf = grown
    return grown
  }

  /** Drops the reassembly buffer and gives its bytes back to the budget. */
  #releaseRecv (): void {
    const rbuf = this.#rbuf
    if (rbuf === undefined) return
    this.#rbuf = undefined
    this.#budget?.give(rbuf.byteLength)
  }

  /** Drops the message being reassembled and the buffer (the connection is closing). */
  clearRecv (): void {
    this.#recvLen = 0
    this.#releaseRecv()
  }

  /** Bytes of the reassembly buffer held now (0 between messages once a large one has been handed on). */
  get recvBufferSize (): number {
    return this.#rbuf?.byteLength ?? 0
  }

  /** Payload bytes of the message being reassembled. */
  get recvPending (): number {
    return this.#recvLen
  }

  /** Applies `epochs` decay periods to `recentlySent` (CometBFT `updateStats`, each `int64(x * 0.8)`). */
  decay (epochs: number, factor: number): void {
    let rs = this.recentlySent
    for (let i = 0; i < epochs && rs > 0; i++) rs = Math.floor(rs * factor)
    this.recentlySent = rs
  }

  /** A snapshot for {@link ChannelStatus}. */
  status (): ChannelStatus {
    return {
      id: this.desc.id,
      sendQueueCapacity: this.desc.sendQueueCapacity,
      sendQueueSize: this.sendQueueSize,
      priority: this.desc.priority,
      recentlySent: this.recentlySent,
      bytesSent: this.bytesSent,
      messagesReceived: this.messagesReceived,
      bytesReceived: this.bytesReceived
    }
  }
}
