/**
 * Fuzz targets: every decoder of received bytes, fed random bytes and mutations of golden frames (the CometBFT
 * vectors in `../shared/vectors/cometbft/proto_vectors_from_tests.json`), must throw nothing but rx-p2p's typed
 * errors. Used by `spec/fuzz/decoders.spec.ts` (a few hundred runs per target in the default suite) and by
 * `npm run fuzz` (`spec/fuzz/run.ts`: fresh seeds for a given time, with coverage).
 *
 * Every target takes the same input, a list of chunks as they might arrive from a socket, so a failure can be
 * written down as hex and replayed by a regression test.
 */
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { MConnection } from '../../lib/conn/mconnection.js'
import { P2PError } from '../../lib/errors.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { FrameDecoder } from '../../lib/wire/delimited.js'
import {
  decodePacket, decodePacketProtobuf, encodePacketFrame, maxPacketMsgSize, PacketStreamDecoder, type PacketSink
} from '../../lib/wire/packet.js'
import { TestScheduler } from 'rxjs/testing'

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

// ---------------------------------------------------------------------------------------------
// Corpus: the golden frames

const vectorsUrl = new URL('../../../shared/vectors/cometbft/proto_vectors_from_tests.json', import.meta.url)
const vectors = (JSON.parse(readFileSync(vectorsUrl, 'utf8')) as { vectors: Array<{ hex: string }> }).vectors

function prefixed (body: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(uvarint(body.byteLength)), body])
}

function uvarint (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

/** Golden bytes: every upstream vector (bare and length-prefixed) and frames of each packet kind. */
export const corpus: Uint8Array[] = [
  ...vectors.map((v) => unhex(v.hex)),
  ...vectors.map((v) => prefixed(unhex(v.hex))),
  encodePacketFrame({ type: 'ping' }),
  encodePacketFrame({ type: 'pong' }),
  encodePacketFrame({ type: 'msg', channelId: 1, eof: false, data: new Uint8Array(1024).fill(0x61) }),
  encodePacketFrame({ type: 'msg', channelId: 0x30, eof: true, data: new Uint8Array(0) }),
  encodePacketFrame({ type: 'msg', channelId: 0, eof: true, data: Uint8Array.of(1, 2, 3) }),
  encodePacketFrame({ type: 'msg', channelId: 0x80, eof: true, data: new Uint8Array(20) })
]

type Mutation =
  | { kind: 'flip', at: number, bit: number }
  | { kind: 'set', at: number, value: number }
  | { kind: 'insert', at: number, bytes: Uint8Array }
  | { kind: 'delete', at: number, len: number }
  | { kind: 'truncate', at: number }
  | { kind: 'varint', at: number, value: bigint }

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x1a, 0x10) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 12 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('varint' as const), at: fc.nat(), value: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(0n, 1n, 127n, 128n, 1034n, 1035n, 1n << 31n, 1n << 32n, 1n << 63n)) })
)

function encodeVarint64 (v: bigint): number[] {
  const out: number[] = []
  while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n }
  out.push(Number(v))
  return out
}

function mutate (input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Array.from(input)
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1)
    switch (m.kind) {
      case 'flip': if (at < b.length) b[at] = b[at]! ^ (1 << m.bit); break
      case 'set': if (at < b.length) b[at] = m.value; break
      case 'insert': b.splice(at, 0, ...m.bytes); break
      case 'delete': b.splice(at, m.len); break
      case 'truncate': b = b.slice(0, at); break
      case 'varint': b.splice(at, 0, ...encodeVarint64(m.value)); break
    }
  }
  return Uint8Array.from(b)
}

/** Golden frames, concatenated and mutated. */
const mutatedArb: fc.Arbitrary<Uint8Array> = fc.tuple(
  fc.array(fc.constantFrom(...corpus), { minLength: 1, maxLength: 4 }),
  fc.array(mutationArb, { maxLength: 6 })
).map(([parts, mutations]) => mutate(Buffer.concat(parts), mutations))

const bytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 2500 }) },
  { weight: 4, arbitrary: mutatedArb }
)

/** Bytes cut into chunks at random points (as a socket might deliver them). */
export const chunksArb: fc.Arbitrary<Uint8Array[]> = fc.tuple(bytesArb, fc.array(fc.nat(), { maxLength: 8 }))
  .map(([bytes, cuts]) => {
    const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((x, y) => x - y)
    const chunks: Uint8Array[] = []
    let last = 0
    for (const p of points) { chunks.push(bytes.subarray(last, p)); last = p }
    chunks.push(bytes.subarray(last))
    return chunks
  })

// ---------------------------------------------------------------------------------------------
// Targets

/** Thrown when a decoder lets something other than a typed rx-p2p error escape. */
export class UntypedErrorEscaped extends Error {
  override name = 'UntypedErrorEscaped'
}

/** Runs `fn`; lets typed rx-p2p errors pass, turns anything else into {@link UntypedErrorEscaped}. */
export function onlyTyped (what: string, fn: () => void): void {
  try {
    fn()
  } catch (err) {
    if (err instanceof P2PError) return
    throw new UntypedErrorEscaped(`${what} threw ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
  }
}

function invariant (ok: boolean, message: string): void {
  if (!ok) throw new Error(`invariant broken: ${message}`)
}

export interface FuzzTarget {
  /** Stable name (used in regression file names). */
  name: string
  /** Runs the decoder on the chunks; throws when the property does not hold. */
  check: (chunks: Uint8Array[]) => void
}

const join = (chunks: Uint8Array[]): Uint8Array => Buffer.concat(chunks)
const MAX = maxPacketMsgSize(1024)

export const targets: FuzzTarget[] = [
  {
    name: 'frame-decoder',
    check: (chunks) => {
      const decoder = new FrameDecoder(MAX)
      onlyTyped('FrameDecoder', () => {
        for (const c of chunks) {
          decoder.push(c)
          for (let f = decoder.next(); f !== undefined; f = decoder.next()) invariant(f.byteLength <= MAX, 'frame over the maximum')
        }
      })
    }
  },
  {
    name: 'packet-decode',
    check: (chunks) => {
      const bytes = join(chunks)
      onlyTyped('decodePacket', () => {
        const p = decodePacket(bytes)
        if (p.type === 'msg') invariant(p.data.byteLength <= bytes.byteLength, 'payload longer than the packet')
      })
    }
  },
  {
    name: 'packet-decode-protobufjs',
    check: (chunks) => { onlyTyped('decodePacketProtobuf', () => { decodePacketProtobuf(join(chunks)) }) }
  },
  {
    name: 'packet-stream-decoder',
    check: (chunks) => {
      // Whatever the cuts, the packets (and the error, if any) are those of the whole stream in one chunk.
      const run = (parts: Uint8Array[], budget: number): string[] => {
        const out: string[] = []
        const sink: PacketSink = {
          ping: () => { out.push('ping'); return true },
          pong: () => { out.push('pong'); return true },
          msg: (ch, eof, buf, s, e) => { out.push(`${ch}/${eof ? 1 : 0}/${hex(buf.subarray(s, e))}`); return true }
        }
        const decoder = new PacketStreamDecoder(MAX)
        try {
          for (const part of parts) {
            for (let pos = 0; pos < part.byteLength || pos === 0;) {
              const next = decoder.decode(part, pos, budget, sink)
              invariant(next > pos || part.byteLength === 0, 'no progress')
              pos = next
              if (part.byteLength === 0) break
            }
          }
        } catch (err) {
          if (!(err instanceof P2PError)) throw new UntypedErrorEscaped(`PacketStreamDecoder threw ${(err as Error)?.name}: ${(err as Error)?.message}`)
          out.push(`error:${err.name}`)
        }
        return out
      }
      const whole = run([join(chunks)], Infinity)
      const split = run(chunks, 7)
      invariant(JSON.stringify(whole) === JSON.stringify(split), `split decoding differs: ${JSON.stringify(whole)} vs ${JSON.stringify(split)}`)
    }
  },
  {
    name: 'mconnection-inbound',
    check: (chunks) => {
      // The bytes arrive at an MConnection: it either goes on, or closes with a typed error; nothing escapes.
      const scheduler = new TestScheduler(() => {})
      scheduler.maxFrames = 10_000
      const [a, b] = memoryPair({ scheduler })
      const m = new MConnection(a, [{ id: 1, priority: 1, recvMessageCapacity: 3000 }, { id: 0x30, priority: 2 }], { scheduler, sendRate: 0, recvRate: 100_000 })
      let reason: unknown = null
      m.closed$.subscribe((r) => { reason = r })
      m.inbound$.subscribe(({ message }) => { invariant(message.byteLength <= 3000, 'message over capacity delivered') })
      b.source$.subscribe({ error: () => {} })
      m.start()
      chunks.forEach((c, i) => { scheduler.schedule(() => { b.write(c) }, i) })
      scheduler.schedule(() => { m.stop() }, 5000)
      scheduler.flush()
      invariant(reason === undefined || reason instanceof P2PError, `closed with ${String(reason)}`)
    }
  }
]

/** The fast-check property of a target. */
export function propertyOf (target: FuzzTarget): fc.IPropertyWithHooks<[Uint8Array[]]> {
  return fc.property(chunksArb, (chunks) => { target.check(chunks) })
}

/** Replays a recorded counterexample (hex chunks) against a target: throws if the failure is still there. */
export function replay (name: string, hexChunks: string[]): void {
  const target = targets.find((t) => t.name === name)
  if (target === undefined) throw new Error(`no fuzz target named ${name}`)
  target.check(hexChunks.map(unhex))
}
