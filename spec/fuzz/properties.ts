/**
 * Fuzz targets: every decoder of bytes from a remote peer or from disk, fed random bytes and mutations of golden
 * inputs, must return a value or throw one of rx-p2p's typed errors (a `P2PError`), nothing else. Here: the
 * packet layer (frames, packets, the packet stream, MConnection inbound, the protobufjs reference codec), seeded
 * from the CometBFT vectors in `spec/fixtures/cometbft/proto_vectors_from_tests.json`; in `wire-targets.ts`: the
 * protobuf reader, PEX, NodeInfo and its validation, AuthSig, consensus, mempool and the delimited reader, each
 * with a round trip of generated valid messages; in `io-targets.ts`: a SecretConnection's receive path after a real handshake, and the
 * `addrbook.json` loader. Used by `spec/fuzz/decoders.spec.ts` (a few hundred runs per target in the default
 * suite) and by `npm run fuzz` (`spec/fuzz/run.ts`: fresh seeds for a given time, with coverage).
 *
 * Every target takes the same input, a list of chunks as they might arrive from a socket (a round-trip target's
 * generated value travels as JSON in one chunk), so a failure can be written down as hex and replayed by a
 * regression test.
 */
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { MConnection } from '../../lib/conn/mconnection.js'
import { P2PError } from '../../lib/errors.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { FrameDecoder } from '../../lib/wire/delimited.js'
import {
  decodePacket, encodePacketFrame, maxPacketMsgSize, PacketStreamDecoder, type PacketSink
} from '../../lib/wire/packet.js'
import { decodePacketProtobuf } from '../wire/reference-codec.js'
import { TestScheduler } from 'rxjs/testing'
import { chunksArbOf, type FuzzTarget, hex, invariant, join, onlyTyped, prefixed, unhex, UntypedErrorEscaped } from './harness.js'
import { ioTargets } from './io-targets.js'
import { wireTargets } from './wire-targets.js'

export { onlyTyped, UntypedErrorEscaped, type FuzzTarget }

// ---------------------------------------------------------------------------------------------
// Corpus: the golden frames

const vectorsUrl = new URL('../fixtures/cometbft/proto_vectors_from_tests.json', import.meta.url)
const vectors = (JSON.parse(readFileSync(vectorsUrl, 'utf8')) as { vectors: Array<{ hex: string }> }).vectors

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

/** Bytes cut into chunks at random points (as a socket might deliver them): random, or mutated golden frames. */
export const chunksArb: fc.Arbitrary<Uint8Array[]> = chunksArbOf(corpus)

// ---------------------------------------------------------------------------------------------
// Targets

const MAX = maxPacketMsgSize(1024)

const packetTargets: FuzzTarget[] = [
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

/** Every target: the packet layer above, then the message decoders, then the SecretConnection and addrbook.json. */
export const targets: FuzzTarget[] = [...packetTargets, ...wireTargets, ...ioTargets]

/** The generated inputs of a target. */
export function inputOf (target: FuzzTarget): fc.Arbitrary<Uint8Array[]> {
  return target.input ?? chunksArb
}

/** Inputs of a target that must pass: its golden inputs, else every golden frame. */
export function goldenOf (target: FuzzTarget): Uint8Array[][] {
  return target.golden ?? corpus.map((g) => [g])
}

/** The fast-check property of a target (asynchronous for an asynchronous target). */
export function propertyOf (target: FuzzTarget): fc.IRawProperty<[Uint8Array[]]> {
  if (target.async === true) return fc.asyncProperty(inputOf(target), async (chunks) => { await target.check(chunks) })
  return fc.property(inputOf(target), (chunks) => { void target.check(chunks) })
}

/** Replays a recorded counterexample (hex chunks) against a target: rejects if the failure is still there. */
export async function replay (name: string, hexChunks: string[]): Promise<void> {
  const target = targets.find((t) => t.name === name)
  if (target === undefined) throw new Error(`no fuzz target named ${name}`)
  await target.check(hexChunks.map(unhex))
}
