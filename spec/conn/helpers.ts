/**
 * Test helpers for the MConnection specs: pairs in virtual time, write spies, deterministic payloads.
 */
import { expect } from 'chai'
import { TestScheduler } from 'rxjs/testing'
import type { SchedulerLike } from 'rxjs'
import { MConnection, type MConnectionInit } from '../../lib/conn/mconnection.js'
import type { ChannelDescriptor } from '../../lib/conn/channel.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { memoryPair, type MemoryPairInit } from '../../lib/transport/memory.js'

/** A TestScheduler whose assertions are chai deep equality. */
export function newTestScheduler (): TestScheduler {
  return new TestScheduler((actual, expected) => { expect(actual).to.deep.equal(expected) })
}

/** Runs the virtual clock of a scheduler not in run mode up to `t` (inclusive). */
export function advanceTo (scheduler: TestScheduler, t: number): void {
  scheduler.maxFrames = t
  scheduler.flush()
  if (scheduler.frame < t) scheduler.frame = t
}

/** Lets pending promise callbacks run. */
export async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

/** Records every chunk written to `conn` (sizes and times). */
export function spyWrites (conn: DuplexConnection, scheduler: SchedulerLike): Array<{ t: number, bytes: Uint8Array }> {
  const writes: Array<{ t: number, bytes: Uint8Array }> = []
  const original = conn.write.bind(conn)
  ;(conn as { write: (c: Uint8Array) => boolean }).write = (chunk: Uint8Array): boolean => {
    writes.push({ t: scheduler.now(), bytes: chunk.slice() })
    return original(chunk)
  }
  return writes
}

/** Rate limits lifted, everything on `scheduler`. */
export function unlimited (scheduler: SchedulerLike, extra: MConnectionInit = {}): MConnectionInit {
  return { scheduler, sendRate: 0, recvRate: 0, ...extra }
}

export interface Pair {
  a: DuplexConnection
  b: DuplexConnection
  ma: MConnection
  mb: MConnection
}

/** Two started MConnections over a memoryPair on `scheduler`; stopped at `stopAt` so virtual time ends. */
export function mconnPair (
  scheduler: SchedulerLike, channels: readonly ChannelDescriptor[],
  init: { a?: MConnectionInit, b?: MConnectionInit, link?: MemoryPairInit, stopAt?: number, start?: boolean } = {}
): Pair {
  const [a, b] = memoryPair({ scheduler, ...init.link })
  const ma = new MConnection(a, channels, unlimited(scheduler, init.a))
  const mb = new MConnection(b, channels, unlimited(scheduler, init.b))
  if (init.start !== false) {
    ma.start()
    mb.start()
  }
  if (init.stopAt !== undefined) {
    scheduler.schedule(() => { ma.stop(); mb.stop() }, init.stopAt)
  }
  return { a, b, ma, mb }
}

/** Deterministic bytes for message `index` of channel `chId`: every byte can be checked at the receiver. */
export function payload (chId: number, index: number, size: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = (chId * 0x9e3779b1 + index * 0x85ebca6b + size) >>> 0
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

/** True when `msg` is exactly `payload(chId, index, size)`. */
export function isPayload (msg: Uint8Array, chId: number, index: number, size: number): boolean {
  if (msg.byteLength !== size) return false
  const want = payload(chId, index, size)
  return Buffer.compare(Buffer.from(msg.buffer, msg.byteOffset, msg.byteLength), Buffer.from(want.buffer)) === 0
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const str = (b: Uint8Array): string => new TextDecoder().decode(b)
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
