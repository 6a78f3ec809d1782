/**
 * The fuzz harness shared by every target file: golden-frame mutations, chunking, the typed-error check, and
 * round-trip targets whose generated value travels as JSON (so a failing one is written down as hex chunks too).
 */
import fc from 'fast-check'
import { isDeepStrictEqual } from 'node:util'
import { P2PError } from '../../lib/errors.js'

export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'))
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
export const join = (chunks: Uint8Array[]): Uint8Array => Buffer.concat(chunks)

export function uvarint (n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
  out.push(n)
  return out
}

/** `body` with its uvarint length prefix. */
export function prefixed (body: Uint8Array): Uint8Array {
  return Buffer.concat([Buffer.from(uvarint(body.byteLength)), body])
}

// ---------------------------------------------------------------------------------------------
// Mutations of golden bytes

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

/** `bytes` mutated by up to `max` random edits (bit flips, set bytes, inserts, deletes, truncation, varints). */
export function mutatedArb (bytes: fc.Arbitrary<Uint8Array>, max = 6): fc.Arbitrary<Uint8Array> {
  return fc.tuple(bytes, fc.array(mutationArb, { maxLength: max })).map(([b, mutations]) => mutate(b, mutations))
}

/** Golden inputs, 1 to 4 of them concatenated, then mutated. */
export function mutatedCorpusArb (corpus: readonly Uint8Array[], maxParts = 4): fc.Arbitrary<Uint8Array> {
  return mutatedArb(fc.array(fc.constantFrom(...corpus), { minLength: 1, maxLength: maxParts }).map((parts) => join(parts)))
}

/** Bytes cut into chunks at random points (as a socket might deliver them). */
export function cutArb (bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array[]> {
  return fc.tuple(bytes, fc.array(fc.nat(), { maxLength: 8 })).map(([b, cuts]) => {
    const points = [...new Set(cuts.map((c) => c % (b.byteLength + 1)))].sort((x, y) => x - y)
    const chunks: Uint8Array[] = []
    let last = 0
    for (const p of points) { chunks.push(b.subarray(last, p)); last = p }
    chunks.push(b.subarray(last))
    return chunks
  })
}

/** The usual input of a decoder target: random bytes, short and long, or (mostly) mutated golden inputs, in chunks. */
export function chunksArbOf (corpus: readonly Uint8Array[], maxParts = 4): fc.Arbitrary<Uint8Array[]> {
  return cutArb(fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 2500 }) },
    { weight: 4, arbitrary: mutatedCorpusArb(corpus, maxParts) }
  ))
}

// ---------------------------------------------------------------------------------------------
// Properties

/** Thrown when a decoder lets something other than a typed rx-p2p error escape. */
export class UntypedErrorEscaped extends Error {
  override name = 'UntypedErrorEscaped'
}

/** Turns anything but a typed rx-p2p error into {@link UntypedErrorEscaped}; returns the typed error. */
export function typedOrThrow (what: string, err: unknown): P2PError {
  if (err instanceof P2PError) return err
  throw new UntypedErrorEscaped(`${what} threw ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

/** Runs `fn`; lets typed rx-p2p errors pass, turns anything else into {@link UntypedErrorEscaped}. */
export function onlyTyped (what: string, fn: () => void): void {
  try {
    fn()
  } catch (err) {
    typedOrThrow(what, err)
  }
}

/** Runs `fn` and returns its value, or `undefined` after a typed rx-p2p error; anything else escapes as {@link UntypedErrorEscaped}. */
export function valueOrTyped<T> (what: string, fn: () => T): T | undefined {
  try {
    return fn()
  } catch (err) {
    typedOrThrow(what, err)
    return undefined
  }
}

export function invariant (ok: boolean, message: string): void {
  if (!ok) throw new Error(`invariant broken: ${message}`)
}

export function expectEqual (actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`invariant broken: ${what}: got ${stringify(actual)}, want ${stringify(expected)}`)
  }
}

export interface FuzzTarget {
  /** Stable name (used in regression file names). */
  name: string
  /** Runs the decoder on the chunks; throws (or rejects) when the property does not hold. */
  check: (chunks: Uint8Array[]) => void | Promise<void>
  /** True when `check` returns a promise. */
  async?: boolean
  /** The generated inputs. @default random bytes and mutations of the shared golden corpus, cut into chunks */
  input?: fc.Arbitrary<Uint8Array[]>
  /** Inputs that must pass (replayed by the default suite). @default the shared golden corpus, one frame each */
  golden?: Uint8Array[][]
  /** A slow target runs this fraction of `--runs-per-seed` per seed, so that each seed takes about as long. @default 1 */
  runScale?: number
}

// ---------------------------------------------------------------------------------------------
// Round trips: the generated value is the input, written as JSON (bigints and bytes tagged)

export function stringify (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return { $bigint: v.toString() }
    if (v instanceof Uint8Array) return { $hex: hex(v) }
    return v
  })
}

export function parse (text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const o = v as Record<string, unknown>
      if (typeof o.$bigint === 'string') return BigInt(o.$bigint)
      if (typeof o.$hex === 'string') return unhex(o.$hex)
    }
    return v
  })
}

/**
 * A target whose input is a generated valid value `x` (as JSON in one chunk): `check(x)` encodes it and
 * checks that decoding gives it back.
 */
export function roundTripTarget<T> (name: string, arb: fc.Arbitrary<T>, check: (x: T) => void, examples: T[] = []): FuzzTarget {
  const toChunks = (x: T): Uint8Array[] => [new TextEncoder().encode(stringify(x))]
  return {
    name,
    input: arb.map(toChunks),
    check: (chunks) => { check(parse(new TextDecoder().decode(join(chunks))) as T) },
    golden: examples.map(toChunks)
  }
}

// ---------------------------------------------------------------------------------------------
// Unhandled rejections

/** Records unhandled rejections until the returned function is called (after a macrotask, so they are reported). */
export function watchUnhandledRejections (): () => Promise<unknown[]> {
  const seen: unknown[] = []
  const onRejection = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', onRejection)
  return async () => {
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    process.off('unhandledRejection', onRejection)
    return seen
  }
}
