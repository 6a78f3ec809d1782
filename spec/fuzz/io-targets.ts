/**
 * Fuzz targets for bytes that come through a live connection or from disk: a SecretConnection's receive path
 * (handshake included), the `addrbook.json` loader (both asynchronous), and `node_key.json`.
 */
import fc from 'fast-check'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { readFileSync } from 'node:fs'
import { makeSecretConnection, type SecretConnection } from '../../lib/conn/secret-connection.js'
import { availableAeadBackends, FRAME_DATA_MAX, FrameAead, SEALED_FRAME_SIZE, type AeadBackend } from '../../lib/crypto/aead.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { AddrBookCorruptError } from '../../lib/errors.js'
import { AddrBookFile, decodeAddrBookJson, encodeAddrBookJson, parseGoTime, type AddrBookData } from '../../lib/pex/addr-book-file.js'
import { KnownAddress, ZERO_TIME } from '../../lib/pex/known-address.js'
import { NEW_BUCKET_COUNT, OLD_BUCKET_COUNT } from '../../lib/pex/params.js'
import { formatIp, NetAddress, parseIp } from '../../lib/transport/net-address.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { encodeAuthSig } from '../../lib/wire/auth-sig.js'
import { encodeDelimited } from '../../lib/wire/delimited.js'
import {
  cutArb, expectEqual, type FuzzTarget, hex, invariant, join, mutatedArb, roundTripTarget, typedOrThrow, unhex, valueOrTyped, watchUnhandledRejections
} from './harness.js'
import { handshakeVector as v } from './wire-targets.js'

/** Rejects with an invariant failure when `p` has not settled within `ms` (a hang is a failure too). */
function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`invariant broken: ${what} did not settle within ${ms} ms`)) }, ms)
  })
  return Promise.race([p, timeout]).finally(() => { clearTimeout(timer) })
}

// ---------------------------------------------------------------------------------------------
// SecretConnection: we are B of the derived handshake vector; the peer's bytes (A's) are scripted

const nodeKeyB = NodeKey.fromSeed(unhex(v.inputs.B_ed25519_seed_hex!))
const ephemeralB = unhex(v.inputs.B_x25519_ephemeral_private_hex!)
const sendKeyA = unhex(v.step2_key_schedule.A_send_key_hex!)
const ephWireA = unhex(v.step1_ephemeral_exchange.A_wire_bytes_hex!)
const authFrameA = unhex(v.step3_auth_sig.A_to_B_frames[0]!.sealed_frame_hex)
const authPlainA = unhex(v.step3_auth_sig.A_auth_sig_delimited_hex!)
const backends = availableAeadBackends()
const pubA = unhex(v.identities.A_ed25519_pub_hex!)
const sigA = unhex(v.step3_auth_sig.A_signature_hex!)
/** Ephemeral key messages that are well framed but wrong: a short and a long key, no key, an unknown field. */
const oddEphemerals = [new Uint8Array(31), new Uint8Array(33)].map((k) => encodeDelimited(Uint8Array.of(0x0a, k.length, ...k)))
  .concat([encodeDelimited(new Uint8Array(0)), encodeDelimited(Uint8Array.of(0x12, 0x00, 0x0a, 0x20, ...ephWireA.subarray(3)))])
/** AuthSigs that are well framed but wrong: short key, other key types, no or a short signature. */
const oddAuthSigs = [
  encodeAuthSig(pubA.subarray(1), sigA),
  encodeAuthSig(pubA, new Uint8Array(0)),
  encodeAuthSig(pubA, sigA.subarray(1)),
  Uint8Array.of(0x0a, 0x22, 0x12, 0x20, ...pubA, 0x12, 0x40, ...sigA), // secp256k1 case
  Uint8Array.of(0x0a, 0x00, 0x12, 0x40, ...sigA), // no key
  Uint8Array.of(0x0a, 0x22, 0x0a, 0x20, ...pubA, 0x12, 0x40, ...sigA, 0x18, 0x01) // an unknown field after a valid AuthSig
].map(encodeDelimited)

/** What A sends after the AuthSig: data sealed as A would, a frame with a chosen length field, or raw bytes. */
type Segment =
  | { kind: 'data', data: Uint8Array }
  | { kind: 'frame', len: number, fill: number }
  | { kind: 'raw', bytes: Uint8Array }

const segmentArb: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('data' as const), data: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1000, maxLength: 3000 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('frame' as const), len: fc.oneof(fc.constantFrom(0, 1024, 1025, 1028, 0xffff, 0xffffffff), fc.nat()), fill: fc.nat(255) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('raw' as const), bytes: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: SEALED_FRAME_SIZE, maxLength: SEALED_FRAME_SIZE })) }) }
)

/** A's side of the connection: ephemeral key, AuthSig frame, then segments; any part may be mutated. */
const secretStreamArb: fc.Arbitrary<Uint8Array[]> = cutArb(fc.record({
  eph: fc.oneof(
    { weight: 24, arbitrary: fc.constant(ephWireA) },
    { weight: 1, arbitrary: fc.constantFrom(...oddEphemerals) },
    { weight: 1, arbitrary: mutatedArb(fc.constant(ephWireA), 3) }
  ),
  auth: fc.oneof(
    { weight: 8, arbitrary: fc.constant({ sealed: authFrameA }) },
    { weight: 1, arbitrary: fc.constantFrom(...oddAuthSigs).map((plain) => ({ plain })) },
    { weight: 2, arbitrary: mutatedArb(fc.constant(authPlainA), 4).map((plain) => ({ plain })) },
    { weight: 1, arbitrary: mutatedArb(fc.constant(authFrameA), 3).map((sealed) => ({ sealed })) }
  ),
  segments: fc.array(segmentArb, { maxLength: 5 }),
  bodyMutations: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
}).chain(({ eph, auth, segments, bodyMutations }) => {
  const sealer = new FrameAead(sendKeyA)
  const parts: Uint8Array[] = [eph]
  if ('plain' in auth) parts.push(sealer.sealData(auth.plain))
  else {
    parts.push(auth.sealed)
    sealer.counter = 1n
  }
  const body: Uint8Array[] = []
  for (const s of segments) {
    if (s.kind === 'data') body.push(sealer.sealData(s.data))
    else if (s.kind === 'raw') body.push(s.bytes)
    else {
      const frame = new Uint8Array(SEALED_FRAME_SIZE).fill(s.fill)
      new DataView(frame.buffer).setUint32(0, s.len >>> 0, true)
      sealer.seal(frame, 0)
      body.push(frame)
    }
  }
  const head = join(parts)
  const rest = join(body)
  return (bodyMutations ? mutatedArb(fc.constant(rest), 3) : fc.constant(rest)).map((b) => join([head, b]))
}))

async function checkSecretConnection (chunks: Uint8Array[]): Promise<void> {
  const rejections = watchUnhandledRejections()
  const [ours, theirs] = memoryPair()
  theirs.source$.subscribe({ error: () => {} }) // what we send to A is not looked at
  const aeadBackend: AeadBackend = backends[chunks.length % backends.length]!
  const handshake = makeSecretConnection(ours, nodeKeyB, { ephemeralPrivateKey: ephemeralB, aeadBackend, handshakeTimeoutMs: 5000 })
  for (const c of chunks) theirs.write(c)
  theirs.end()
  let sc: SecretConnection | undefined
  try {
    sc = await within(handshake, 4000, 'the handshake')
  } catch (err) {
    typedOrThrow('makeSecretConnection', err)
  }
  try {
    if (sc !== undefined) {
      invariant(sc.remoteId === v.identities.A_node_id, `authenticated as ${sc.remoteId}`)
      let closedWith: unknown = null
      sc.closed$.subscribe((reason) => { closedWith = reason })
      let received = 0
      const ended = new Promise<unknown>((resolve) => {
        sc!.source$.subscribe({ next: (c) => { received += c.byteLength }, error: resolve, complete: () => { resolve(undefined) } })
      })
      const reason = await within(ended, 4000, 'the read side')
      if (reason !== undefined) typedOrThrow('SecretConnection source$', reason)
      if (closedWith !== null && closedWith !== undefined) typedOrThrow('SecretConnection closed$', closedWith)
      const sealedAfterAuth = join(chunks).byteLength
      invariant(received <= Math.floor(sealedAfterAuth / SEALED_FRAME_SIZE) * FRAME_DATA_MAX, `${received} plaintext bytes out of ${sealedAfterAuth} bytes`)
    }
  } finally {
    sc?.destroy()
    ours.destroy()
    theirs.destroy()
    const unhandled = await rejections()
    invariant(unhandled.length === 0, `unhandled rejection: ${String(unhandled[0])}`)
  }
}

// ---------------------------------------------------------------------------------------------
// addrbook.json

const fixturesDir = new URL('../pex/fixtures/', import.meta.url)
const addrBookFixtures = ['addrbook-handmade.json', 'addrbook-cometbft-v0.38.26.json', 'addrbook-rx-p2p.json']
  .map((name) => readFileSync(new URL(name, fixturesDir)))

/** Values a mutated field may take: wrong types, edges of every range Go checks, odd times and IPs. */
const strangeValues: unknown[] = [
  null, true, 0, -1, 1.5, 1e308, -0, 65535, 65536, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53, 255, 256, 3,
  '', 'x', '1.2.3.4', '::1', '::ffff:1.2.3.4', '1.2.3.04', 'fe80::1%eth0', '256.1.1.1', '2001:db8::', 'ZZ',
  '2024-02-29T23:59:59.9999999999Z', '2025-02-29T00:00:00Z', '0001-01-01T00:00:00Z', '0000-01-01T00:00:00Z',
  '0000-01-01T00:00:00+00:01', '9999-12-31T23:59:59-00:01', '9999-12-31T23:59:59.999999999Z', '2025-01-01T24:00:00Z',
  '2025-01-01T00:00:00+24:00', '2025-01-01t00:00:00z', [], {}, [1, 2], [0, 255], { id: '', ip: '', port: 0 }
]

type JsonEdit = { op: 'set', at: number, value: number } | { op: 'delete', at: number } | { op: 'upper', at: number } | { op: 'dup', at: number }

const jsonEditArb: fc.Arbitrary<JsonEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat(strangeValues.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('upper' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dup' as const), at: fc.nat() }) }
)

/** Every (parent, key) of a JSON document, depth first. */
function slots (doc: unknown): Array<[Record<string, unknown> | unknown[], string | number]> {
  const out: Array<[Record<string, unknown> | unknown[], string | number]> = []
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach((child, i) => { out.push([node, i]); walk(child) })
    else if (typeof node === 'object' && node !== null) {
      for (const [k, child] of Object.entries(node)) { out.push([node as Record<string, unknown>, k]); walk(child) }
    }
  }
  walk(doc)
  return out
}

function editJson (text: string, edits: JsonEdit[]): unknown {
  const doc = JSON.parse(text) as unknown
  for (const e of edits) {
    const all = slots(doc)
    if (all.length === 0) break
    const [parent, key] = all[e.at % all.length]!
    const value = (parent as Record<string | number, unknown>)[key]
    if (e.op === 'set') (parent as Record<string | number, unknown>)[key] = structuredClone(strangeValues[e.value])
    else if (Array.isArray(parent)) {
      if (e.op === 'delete') parent.splice(key as number, 1)
      else parent.splice(key as number, 0, structuredClone(value))
    } else if (e.op === 'delete') {
      delete parent[key as string]
    } else if (e.op === 'upper') {
      delete parent[key as string]
      parent[(key as string).toUpperCase()] = value
    } else {
      parent[`${(key as string)[0]!.toUpperCase()}${(key as string).slice(1)}`] = structuredClone(strangeValues[(e.at >>> 3) % strangeValues.length])
    }
  }
  return doc
}

const addrBookBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(fc.constantFrom(...addrBookFixtures), fc.array(jsonEditArb, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([file, edits, tabs]) => new Uint8Array(Buffer.from(JSON.stringify(editJson(file.toString('utf8'), edits), null, tabs ? '\t' : undefined))))
  },
  { weight: 2, arbitrary: mutatedArb(fc.constantFrom(...addrBookFixtures.map((f) => new Uint8Array(f))), 4) },
  { weight: 1, arbitrary: fc.constantFrom(...addrBookFixtures.map((f) => new Uint8Array(f))) },
  { weight: 1, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.json().map((j) => new Uint8Array(Buffer.from(j)))) }
)

/** An address book's data as plain values. */
function bookPlain (data: AddrBookData): unknown {
  const addr = (a: NetAddress): unknown => ({ id: a.id, host: a.host, port: a.port })
  return {
    key: data.key,
    addrs: data.addrs.map((ka) => ({
      addr: addr(ka.addr),
      src: addr(ka.src),
      buckets: [...ka.buckets],
      attempts: ka.attempts,
      bucketType: ka.bucketType,
      lastAttempt: ka.lastAttempt,
      lastSuccess: ka.lastSuccess,
      lastBanTime: ka.lastBanTime
    }))
  }
}

async function checkAddrBookFile (chunks: Uint8Array[]): Promise<void> {
  const bytes = join(chunks)
  const dir = await mkdtemp(joinPath(tmpdir(), 'rx-p2p-fuzz-'))
  try {
    const path = joinPath(dir, 'addrbook.json')
    await writeFile(path, bytes)
    const file = new AddrBookFile(path)
    let data: AddrBookData | undefined
    try {
      data = await file.load()
    } catch (err) {
      const typed = typedOrThrow('AddrBookFile.load', err)
      invariant(typed instanceof AddrBookCorruptError, `load failed with ${typed.name}: ${typed.message}`)
      const movedTo = (typed as AddrBookCorruptError).movedTo
      invariant(movedTo !== undefined, 'the corrupt file was not set aside')
      expectEqual(hex(await readFile(movedTo!)), hex(bytes), 'the set-aside copy')
      invariant(await stat(path).then(() => false, () => true), 'the corrupt file is still in place')
      invariant(await file.load() === undefined, 'loading again does not start empty')
      return
    }
    invariant(data !== undefined, 'an existing file loaded as none')
    expectEqual(hex(await readFile(path)), hex(bytes), 'the file after a successful load')
    // What was loaded can be saved, and loads back the same.
    try {
      await file.save(data!)
    } catch (err) {
      const typed = typedOrThrow('AddrBookFile.save', err)
      throw new Error(`invariant broken: a loaded book cannot be saved: ${typed.name}: ${typed.message}`)
    }
    expectEqual(bookPlain((await file.load())!), bookPlain(data!), 'the book saved and loaded again')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// Generated books for the JSON round trip.
const MAX_TIME = parseGoTime('9999-12-31T23:59:59.999999999Z')
const timeArb = fc.oneof(fc.constant(ZERO_TIME), fc.bigInt({ min: ZERO_TIME, max: MAX_TIME }), fc.bigInt({ min: 1_600_000_000n * 10n ** 9n, max: 1_900_000_000n * 10n ** 9n }))
const bookAddrArb = fc.record({
  id: fc.oneof(fc.uint8Array({ minLength: 20, maxLength: 20 }).map(hex), fc.constant(''), fc.string({ maxLength: 20 })),
  ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('')),
  port: fc.integer({ min: 0, max: 65535 })
})
interface PlainKnown { addr: { id: string, ip: string, port: number }, src: { id: string, ip: string, port: number }, old: boolean, buckets: number[], attempts: number, times: [bigint, bigint, bigint] }
const bookArb: fc.Arbitrary<{ key: string, addrs: PlainKnown[] }> = fc.record({
  key: fc.oneof(fc.uint8Array({ minLength: 12, maxLength: 12 }).map(hex), fc.string({ unit: 'binary', maxLength: 30 })),
  addrs: fc.array(fc.record({
    addr: bookAddrArb,
    src: bookAddrArb,
    old: fc.boolean(),
    buckets: fc.array(fc.nat(NEW_BUCKET_COUNT - 1), { maxLength: 4 }),
    attempts: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    times: fc.tuple(timeArb, timeArb, timeArb)
  }), { maxLength: 6 })
})

function toBook (plain: { key: string, addrs: PlainKnown[] }): AddrBookData {
  const net = (a: { id: string, ip: string, port: number }): NetAddress => new NetAddress(a.id, a.ip === '' ? '' : formatIp(parseIp(a.ip)!), a.port)
  return {
    key: plain.key,
    addrs: plain.addrs.map((k) => new KnownAddress(net(k.addr), net(k.src), k.old ? k.buckets.map((b) => b % OLD_BUCKET_COUNT) : k.buckets, k.attempts,
      k.old ? 2 : 1, ...k.times))
  }
}

// ---------------------------------------------------------------------------------------------
// node_key.json

const nodeKeyCorpus: Uint8Array[] = ['A', 'B'].map((who) => new Uint8Array(Buffer.from(JSON.stringify((v.identities as Record<string, unknown>)[`${who}_node_key_json`], null, 2))))
const nodeKeyBytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(...nodeKeyCorpus), fc.array(jsonEditArb, { minLength: 1, maxLength: 3 }))
      .map(([file, edits]) => new Uint8Array(Buffer.from(JSON.stringify(editJson(Buffer.from(file).toString('utf8'), edits)))))
  },
  { weight: 2, arbitrary: mutatedArb(fc.constantFrom(...nodeKeyCorpus), 4) },
  { weight: 1, arbitrary: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.json().map((j) => new Uint8Array(Buffer.from(j)))) }
)

// ---------------------------------------------------------------------------------------------
// Targets

export const ioTargets: FuzzTarget[] = [
  {
    name: 'secret-connection',
    async: true,
    runScale: 0.25,
    input: secretStreamArb,
    golden: [[ephWireA, authFrameA], [join([ephWireA, authFrameA, ...v.step4_node_info.A_to_B_frames.map((f) => unhex(f.sealed_frame_hex))])]],
    check: checkSecretConnection
  },
  {
    name: 'addrbook-file',
    async: true,
    runScale: 0.25,
    input: cutArb(addrBookBytesArb),
    golden: addrBookFixtures.map((f) => [new Uint8Array(f)]),
    check: checkAddrBookFile
  },
  {
    name: 'node-key-json',
    input: cutArb(nodeKeyBytesArb),
    golden: nodeKeyCorpus.map((f) => [f]),
    check: (chunks) => {
      // node_key.json (from disk): a key, or InvalidNodeKeyError; a key read is written back the same.
      const text = Buffer.from(join(chunks)).toString('utf8')
      const key = valueOrTyped('NodeKey.fromJSON', () => NodeKey.fromJSON(text))
      if (key === undefined) return
      expectEqual(hex(NodeKey.fromJSON(JSON.stringify(key.toJSON())).publicKey), hex(key.publicKey), 'node key written back')
    }
  },
  roundTripTarget('addrbook-json-roundtrip', bookArb, (plain) => {
    const book = toBook(plain)
    expectEqual(bookPlain(decodeAddrBookJson(encodeAddrBookJson(book))), bookPlain(book), 'addrbook.json round trip')
  })
]
