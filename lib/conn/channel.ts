/**
 * Channels of an MConnection: the descriptor a reactor declares, and the per-channel state the connection keeps
 * (a bounded send queue, the message being cut into packets, the reassembly buffer, `recentlySent`).
 *
 * @module
 */
import { MessageTooLargeError } from '../errors.js'
import { encodePacketMsgFrameInto, varintLength } from '../wire/packet.js'
import { DEFAULT_RECV_BUFFER_CAPACITY, DEFAULT_RECV_MESSAGE_CAPACITY, DEFAULT_SEND_QUEUE_CAPACITY } from './defaults.js'

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
  /** Initial capacity of the reassembly buffer in bytes. @default 4096 */
  recvBufferCapacity?: number
  /** Largest message accepted on this channel, in bytes; more stops the connection. @default 22020096 (21 MiB) */
  recvMessageCapacity?: number
}

/** A {@link ChannelDescriptor} with every default filled in. */
export type FilledChannelDescriptor = Required<ChannelDescriptor>

/**
 * Fills the defaults of a descriptor (CometBFT `FillDefaults`) and checks it.
 *
 * @throws {RangeError} the id is not in 0..255, the priority is not > 0, or a capacity is not a positive integer
 */
export function fillChannelDefaults (desc: ChannelDescriptor): FilledChannelDescriptor {
  const filled: FilledChannelDescriptor = {
    id: desc.id,
    priority: desc.priority,
    sendQueueCapacity: desc.sendQueueCapacity ?? DEFAULT_SEND_QUEUE_CAPACITY,
    recvBufferCapacity: desc.recvBufferCapacity ?? DEFAULT_RECV_BUFFER_CAPACITY,
    recvMessageCapacity: desc.recvMessageCapacity ?? DEFAULT_RECV_MESSAGE_CAPACITY
  }
  if (!Number.isInteger(filled.id) || filled.id < 0 || filled.id > 255) throw new RangeError(`channel id must be 0..255, got ${filled.id}`)
  if (!(filled.priority > 0) || !Number.isFinite(filled.priority)) throw new RangeError(`channel 0x${filled.id.toString(16)}: priority must be > 0, got ${filled.priority}`)
  for (const key of ['sendQueueCapacity', 'recvBufferCapacity', 'recvMessageCapacity'] as const) {
    const v = filled[key]
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`channel 0x${filled.id.toString(16)}: ${key} must be a positive integer, got ${v}`)
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
 * The connection-side state of one channel. Internal to {@link MConnection}; exported for tests and tools.
 * Nothing here schedules or emits: the connection's loop drives it.
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
  /** The message being cut into packets, and how far. */
  #sending: Uint8Array | undefined
  #sendingPos = 0
  /** Encoded bytes sent recently (CometBFT `recentlySent`): grows per packet, decays every 2 s. */
  recentlySent = 0
  /** Encoded bytes sent since the start. */
  bytesSent = 0
  // Reassembly: the payload segments of the message so far, still in the received chunks; copied once at eof.
  readonly #segBufs: Array<Uint8Array | undefined> = []
  readonly #segStarts: number[] = []
  readonly #segEnds: number[] = []
  #segCount = 0
  #recvLen = 0
  /** Whole messages received. */
  messagesReceived = 0
  /** Payload bytes of the whole messages received. */
  bytesReceived = 0

  /**
   * @param desc the channel's descriptor (defaults are filled in)
   * @param maxPacketMsgPayloadSize the connection's largest packet payload
   * @throws {RangeError} an invalid descriptor
   */
  constructor (desc: ChannelDescriptor, maxPacketMsgPayloadSize: number) {
    this.desc = fillChannelDefaults(desc)
    this.maxPayload = Math.max(1, maxPacketMsgPayloadSize - (varintLength(this.desc.id) - 1))
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
   * Takes the payload `buf[start, end)` of a received PacketMsg (`buf` must not be modified later). Returns the
   * whole message on `eof` (a view of `buf` when the message came in one packet, else one new buffer of the exact
   * size), or `undefined` while more is to come.
   *
   * @throws {MessageTooLargeError} the message grows past `recvMessageCapacity`
   */
  receive (buf: Uint8Array, start: number, end: number, eof: boolean): Uint8Array | undefined {
    const n = end - start
    const total = this.#recvLen + n
    const max = this.desc.recvMessageCapacity
    if (total > max) throw new MessageTooLargeError(this.desc.id, total, max)
    if (eof && this.#segCount === 0) {
      this.messagesReceived++
      this.bytesReceived += n
      // A plain Uint8Array view (not buf.subarray: for a Buffer that is a slower species construction, and the
      // message type would depend on the transport).
      return new Uint8Array(buf.buffer, buf.byteOffset + start, n)
    }
    if (n > 0) {
      const i = this.#segCount++
      this.#segBufs[i] = buf
      this.#segStarts[i] = start
      this.#segEnds[i] = end
    }
    this.#recvLen = total
    if (!eof) return undefined
    // Every byte is written below, so skip the zero fill; a plain Uint8Array over its own memory.
    const backing = Buffer.allocUnsafeSlow(total)
    const out = new Uint8Array(backing.buffer, backing.byteOffset, total)
    let pos = 0
    const count = this.#segCount
    for (let i = 0; i < count; i++) {
      const seg = this.#segBufs[i]!
      const s = this.#segStarts[i]!
      const e = this.#segEnds[i]!
      out.set(s === 0 && e === seg.byteLength ? seg : new Uint8Array(seg.buffer, seg.byteOffset + s, e - s), pos)
      pos += e - s
      this.#segBufs[i] = undefined
    }
    this.#segCount = 0
    this.#recvLen = 0
    this.messagesReceived++
    this.bytesReceived += total
    return out
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
