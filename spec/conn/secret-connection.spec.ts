import { expect } from 'chai'
import fc from 'fast-check'
import { firstValueFrom, toArray, type Subscription } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { makeSecretConnection, SecretConnection } from '../../lib/conn/secret-connection.js'
import { FRAME_SIZE, FrameAead, SEALED_FRAME_SIZE, type AeadBackend } from '../../lib/crypto/aead.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import {
  AbortError, ChallengeVerificationError, ConnectionClosedError, DecodeError, DecryptionError, HandshakeError, LowOrderPointError,
  NonceOverflowError, TimeoutError, TruncatedFrameError, UnsupportedKeyTypeError
} from '../../lib/errors.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { duplexCompliance } from '../../lib/testing/compliance.js'
import { encodeDelimited, readDelimited } from '../../lib/wire/delimited.js'
import {
  ByteCollector, closedReason, handshakeVector, hex, LOW_ORDER_POINTS, scriptedPeer, settle, watchUnhandledRejections
} from './secret-support.js'

const KEY_A = Buffer.alloc(32, 0xa1)
const KEY_B = Buffer.alloc(32, 0xb2)

duplexCompliance('SecretConnection (both ends handshaken, over memoryPair)', async () => {
  const [rawA, rawB] = memoryPair()
  const [a, b] = await Promise.all([makeSecretConnection(rawA, NodeKey.generate()), makeSecretConnection(rawB, NodeKey.generate())])
  return { a, b, close: async () => {} }
})

/** A SecretConnection over one end of a memory pair, with fixed keys, and the sealing/opening of the far end. */
function keyedPair (init: { highWaterMark?: number, backend?: AeadBackend } = {}): { sc: SecretConnection, raw: DuplexConnection, peer: DuplexConnection, peerSend: FrameAead, peerRecv: FrameAead } {
  const [raw, peer] = memoryPair(init.highWaterMark !== undefined ? { highWaterMark: init.highWaterMark } : {})
  const sc = new SecretConnection(raw, { sendKey: KEY_A, recvKey: KEY_B }, init.backend)
  return { sc, raw, peer, peerSend: new FrameAead(KEY_B), peerRecv: new FrameAead(KEY_A) }
}

/** One plaintext frame with an arbitrary length field and padding, sealed by `aead`. */
function rawFrame (aead: FrameAead, lengthField: number, data: Uint8Array, padding = 0): Buffer {
  const buf = Buffer.alloc(SEALED_FRAME_SIZE, padding)
  buf.writeUInt32LE(lengthField, 0)
  buf.set(data, 4)
  aead.seal(buf, 0)
  return buf
}

/** Everything `conn.source$` emits until it ends; rejects with its error. */
function readAll (conn: DuplexConnection): Promise<Buffer> {
  return firstValueFrom(conn.source$.pipe(toArray())).then((chunks) => Buffer.concat(chunks))
}

/** Pumps bytes from `from` to `to`, letting `tamper` edit them (absolute stream offset given). */
function relay (from: DuplexConnection, to: DuplexConnection, tamper: (bytes: Buffer, offset: number) => void = () => {}): Subscription {
  let offset = 0
  return from.source$.subscribe({
    next: (chunk) => {
      const copy = Buffer.from(chunk)
      tamper(copy, offset)
      offset += copy.length
      to.write(copy)
    },
    complete: () => { to.end() },
    error: (err: Error) => { to.destroy(err) }
  })
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the promise to reject')
}

describe('conn/SecretConnection', () => {
  let stopWatching: () => unknown[]
  beforeEach(() => { stopWatching = watchUnhandledRejections() })
  afterEach(async () => {
    await settle(5)
    expect(stopWatching()).to.deep.equal([])
  })

  describe('the derived handshake vector, byte for byte', () => {
    const v = handshakeVector()
    for (const backend of ['sodium-native', 'node'] as AeadBackend[]) {
      for (const me of ['A', 'B'] as const) {
        const other: 'A' | 'B' = me === 'A' ? 'B' : 'A'
        const out = `${me}_to_${other}_frames` as 'A_to_B_frames'
        const inn = `${other}_to_${me}_frames` as 'A_to_B_frames'
        it(`as ${me} (${backend}): ephemeral bytes, sealed AuthSig, NodeInfo and packet frames all match`, async () => {
          const [conn, peer] = memoryPair()
          const wire = new ByteCollector(peer)
          const nodeKey = NodeKey.fromSeed(hex(v.inputs[`${me}_ed25519_seed_hex`]))
          const scP = makeSecretConnection(conn, nodeKey, { ephemeralPrivateKey: hex(v.inputs[`${me}_x25519_ephemeral_private_hex`]), aeadBackend: backend })

          // Step 1: our ephemeral key goes out before we have read anything.
          expect((await wire.take(35)).toString('hex')).to.equal(v.step1_ephemeral_exchange[`${me}_wire_bytes_hex`])
          peer.write(hex(v.step1_ephemeral_exchange[`${other}_wire_bytes_hex`]))

          // Steps 2 and 3: the key schedule and challenge show in the sealed AuthSig (nonce 0).
          const authOut = v.step3_auth_sig[out]
          expect(authOut).to.have.length(1)
          expect((await wire.take(SEALED_FRAME_SIZE)).toString('hex')).to.equal(authOut[0]!.sealed_frame_hex)
          peer.write(hex(v.step3_auth_sig[inn][0]!.sealed_frame_hex))
          const sc = await scP
          expect(sc.aeadBackend).to.equal(backend)
          expect(sc.remoteId).to.equal(v.identities[`${other}_node_id`])
          expect(Buffer.from(sc.remotePublicKey).toString('hex')).to.equal(v.identities[`${other}_ed25519_pub_hex`])

          // Step 4: NodeInfo frames at nonce 1.
          sc.write(encodeDelimited(hex(v.step4_node_info[`${me}_node_info_proto_hex`])))
          expect((await wire.take(SEALED_FRAME_SIZE)).toString('hex')).to.equal(v.step4_node_info[out][0]!.sealed_frame_hex)
          peer.write(hex(v.step4_node_info[inn][0]!.sealed_frame_hex))
          expect(Buffer.from(await readDelimited(sc, 10240)).toString('hex')).to.equal(v.step4_node_info[`${other}_node_info_proto_hex`])

          // Step 5: packets at nonce 2.
          const s5 = v.step5_mconnection
          const tx = s5['B_mempool_tx_abc=def']
          const [mine, mineFrame, theirs, theirFrame] = me === 'A'
            ? [s5.A_ping_delimited_hex, s5.A_to_B_ping_frames[0]!, tx.packet_delimited_hex, tx.B_to_A_frames[0]!]
            : [tx.packet_delimited_hex, tx.B_to_A_frames[0]!, s5.A_ping_delimited_hex, s5.A_to_B_ping_frames[0]!]
          sc.write(hex(mine))
          expect((await wire.take(SEALED_FRAME_SIZE)).toString('hex')).to.equal(mineFrame.sealed_frame_hex)
          const got = new ByteCollector(sc)
          peer.write(hex(theirFrame.sealed_frame_hex))
          expect((await got.take(hex(theirs).length)).toString('hex')).to.equal(theirs)
          got.stop()
          wire.stop()
          sc.destroy()
        })
      }
    }
  })

  describe('handshake between two rx-p2p endpoints', () => {
    it('authenticates both sides over memory and both backends interoperate', async () => {
      const [a, b] = memoryPair()
      const ka = NodeKey.generate()
      const kb = NodeKey.generate()
      const [sa, sb] = await Promise.all([
        makeSecretConnection(a, ka, { aeadBackend: 'sodium-native' }),
        makeSecretConnection(b, kb, { aeadBackend: 'node' })
      ])
      expect(sa.remoteId).to.equal(kb.id)
      expect(sb.remoteId).to.equal(ka.id)
      const data = Buffer.alloc(10_000).map((_, i) => (i * 31) & 0xff)
      const got = readAll(sb)
      sa.write(data)
      sa.end()
      sb.end()
      expect((await got).equals(data)).to.equal(true)
      expect(await closedReason(sa)).to.equal(undefined)
      expect(await closedReason(sb)).to.equal(undefined)
    })

    it('over real TCP: handshake, then 1 MiB each way with every byte checked', async () => {
      const tcp = new TcpTransport()
      const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
      const ka = NodeKey.generate()
      const kb = NodeKey.generate()
      const accepted = new Promise<SecretConnection>((resolve, reject) => {
        listener.connections$.subscribe((raw) => { makeSecretConnection(raw, kb).then(resolve, reject) })
      })
      const [sa, sb] = await Promise.all([tcp.dial(listener.address).then((raw) => makeSecretConnection(raw, ka)), accepted])
      const listenerClosed = listener.close() // resolves once every accepted socket has closed
      expect(sa.remoteId).to.equal(kb.id)
      expect(sb.remoteId).to.equal(ka.id)
      expect(sa.remoteAddress?.port).to.equal(listener.address.port)
      const ab = Buffer.alloc(1 << 20).map((_, i) => (i * 7 + 3) & 0xff)
      const ba = Buffer.alloc(1 << 20).map((_, i) => (i * 13 + 1) & 0xff)
      const gotB = readAll(sb)
      const gotA = readAll(sa)
      for (let off = 0; off < ab.length; off += 100_000) sa.write(ab.subarray(off, off + 100_000))
      sb.write(ba)
      sa.end()
      sb.end()
      expect((await gotB).equals(ab)).to.equal(true)
      expect((await gotA).equals(ba)).to.equal(true)
      expect(await closedReason(sa)).to.equal(undefined)
      expect(await closedReason(sb)).to.equal(undefined)
      await listenerClosed
    })
  })

  describe('frames', () => {
    it('a 64 KiB write leaves as one write of 64 sealed frames to the underlying connection', async () => {
      const { sc, raw, peer, peerRecv } = keyedPair()
      const sizes: number[] = []
      const write = raw.write.bind(raw)
      raw.write = (chunk: Uint8Array): boolean => { sizes.push(chunk.length); return write(chunk) }
      const wire = new ByteCollector(peer)
      const data = Buffer.alloc(64 * 1024).map((_, i) => i & 0xff)
      sc.write(data)
      expect(sizes).to.deep.equal([64 * SEALED_FRAME_SIZE])
      const sealed = await wire.take(64 * SEALED_FRAME_SIZE)
      for (let i = 0; i < 64; i++) {
        peerRecv.open(sealed, i * SEALED_FRAME_SIZE, sealed, i * SEALED_FRAME_SIZE)
        expect(sealed.readUInt32LE(i * SEALED_FRAME_SIZE)).to.equal(1024)
        expect(sealed.subarray(i * SEALED_FRAME_SIZE + 4, i * SEALED_FRAME_SIZE + FRAME_SIZE).equals(data.subarray(i * 1024, (i + 1) * 1024))).to.equal(true)
      }
      wire.stop()
      sc.destroy()
    })

    it('decrypts a stream cut at any boundaries into the same bytes (property)', async () => {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 20 }),
        async (writes, cuts) => {
          const { sc, peer, peerSend } = keyedPair()
          const sealed = Buffer.concat(writes.map((w) => peerSend.sealData(w)))
          const got = readAll(sc)
          let off = 0
          for (let i = 0; off < sealed.length; i++) {
            const n = cuts[i % cuts.length]!
            peer.write(sealed.subarray(off, off + n))
            off += n
          }
          peer.end()
          sc.end()
          expect((await got).equals(Buffer.concat(writes))).to.equal(true)
        }), { numRuns: 40 })
    })

    it('accepts frames with chunkLen 0 and ignores non-zero padding', async () => {
      const { sc, peer, peerSend } = keyedPair()
      const got = readAll(sc)
      peer.write(Buffer.concat([
        rawFrame(peerSend, 0, new Uint8Array(0), 0xee),
        rawFrame(peerSend, 3, Uint8Array.of(1, 2, 3), 0x55),
        rawFrame(peerSend, 0, new Uint8Array(0)),
        rawFrame(peerSend, 1024, new Uint8Array(1024).fill(9))
      ]))
      peer.end()
      sc.end()
      expect((await got).equals(Buffer.concat([Buffer.from([1, 2, 3]), Buffer.alloc(1024, 9)]))).to.equal(true)
    })

    it('a chunkLen above 1024 closes with DecodeError, after delivering the frames before it', async () => {
      const { sc, raw, peer, peerSend } = keyedPair()
      const chunks: Buffer[] = []
      const ended = new Promise<unknown>((resolve) => {
        sc.source$.subscribe({ next: (c) => chunks.push(Buffer.from(c)), error: resolve, complete: () => resolve('complete') })
      })
      peer.write(Buffer.concat([rawFrame(peerSend, 2, Uint8Array.of(7, 7)), rawFrame(peerSend, 1025, new Uint8Array(1024))]))
      const err = await ended
      expect(err).to.be.instanceOf(DecodeError)
      expect(Buffer.concat(chunks).toString('hex')).to.equal('0707')
      expect(await closedReason(sc)).to.be.instanceOf(DecodeError)
      expect(raw.closed).to.equal(true)
    })

    it('a tampered ciphertext closes the connection with DecryptionError and closes the socket', async () => {
      const { sc, raw, peer, peerSend } = keyedPair()
      const ended = rejection(readAll(sc))
      const peerClosed = closedReason(peer)
      const frame = peerSend.sealData(Uint8Array.of(1, 2, 3))
      frame[600]! ^= 0x80
      peer.write(frame)
      expect(await ended).to.be.instanceOf(DecryptionError)
      expect(await closedReason(sc)).to.be.instanceOf(DecryptionError)
      expect(raw.closed).to.equal(true)
      expect(await peerClosed).to.be.instanceOf(Error)
    })

    it('an EOF inside a frame is a TruncatedFrameError; an EOF between frames is a clean end', async () => {
      const cut = keyedPair()
      const ended = rejection(readAll(cut.sc))
      cut.peer.write(cut.peerSend.sealData(Uint8Array.of(1)).subarray(0, 500))
      cut.peer.end()
      expect(await ended).to.be.instanceOf(TruncatedFrameError)
      expect(await closedReason(cut.sc)).to.be.instanceOf(TruncatedFrameError)
      expect(cut.raw.closed).to.equal(true)

      const clean = keyedPair()
      const got = readAll(clean.sc)
      clean.peer.write(clean.peerSend.sealData(Uint8Array.of(5, 6)))
      clean.peer.end()
      expect((await got).toString('hex')).to.equal('0506')
      clean.sc.end()
      expect(await closedReason(clean.sc)).to.equal(undefined)
    })

    it('a send nonce at its last value closes with NonceOverflowError instead of reusing a nonce', async () => {
      const { sc, raw, peer } = keyedPair()
      const wire = new ByteCollector(peer)
      sc._setNonceCounters(0xfffffffffffffffdn)
      expect(sc.write(new Uint8Array(1024))).to.equal(true)
      expect(sc.write(new Uint8Array(1025))).to.equal(false)
      expect(await closedReason(sc)).to.be.instanceOf(NonceOverflowError)
      expect(raw.closed).to.equal(true)
      expect(await wire.take(SEALED_FRAME_SIZE)).to.have.length(SEALED_FRAME_SIZE)
      await settle()
      expect(wire.available).to.equal(0)
    })

    it('a receive nonce at its last value closes with NonceOverflowError', async () => {
      const { sc, peer, peerSend } = keyedPair()
      sc._setNonceCounters(undefined, 0xffffffffffffffffn)
      peerSend.counter = 0xfffffffffffffffen
      const ended = rejection(readAll(sc))
      peer.write(peerSend.sealData(Uint8Array.of(1)))
      expect(await ended).to.be.instanceOf(NonceOverflowError)
    })
  })

  describe('the duplex contract', () => {
    it('passes backpressure through: write() false while the underlying is full, drain$ once it empties', async () => {
      const { sc, peer } = keyedPair({ highWaterMark: 8 * 1024 })
      expect(sc.write(new Uint8Array(1000))).to.equal(true)
      expect(sc.write(new Uint8Array(16 * 1024))).to.equal(false)
      expect(sc.writableNeedDrain).to.equal(true)
      const drained = firstValueFrom(sc.drain$)
      const wire = new ByteCollector(peer)
      await drained
      expect(sc.writableNeedDrain).to.equal(false)
      expect(await wire.take(17 * SEALED_FRAME_SIZE)).to.have.length(17 * SEALED_FRAME_SIZE)
      wire.stop()
      sc.destroy()
    })

    it('pause holds decrypted data and pauses the underlying connection; resume delivers it', async () => {
      const { sc, raw, peer, peerSend } = keyedPair()
      const chunks: Buffer[] = []
      const sub = sc.source$.subscribe((c) => chunks.push(Buffer.from(c)))
      sc.pause()
      peer.write(peerSend.sealData(Uint8Array.of(1, 2)))
      await settle()
      peer.write(peerSend.sealData(Uint8Array.of(3)))
      await settle()
      expect(chunks).to.have.length(0)
      expect(raw.isPaused).to.equal(true)
      sc.resume()
      await settle()
      expect(Buffer.concat(chunks).toString('hex')).to.equal('010203')
      expect(raw.isPaused).to.equal(false)
      sub.unsubscribe()
      sc.destroy()
    })

    it('a reader can take one message, unsubscribe, and the next reader gets the rest (unshift)', async () => {
      const { sc, peer, peerSend } = keyedPair()
      peer.write(peerSend.sealData(Buffer.concat([encodeDelimited(Uint8Array.of(0xaa, 0xbb)), Buffer.from([1, 2, 3])])))
      expect(Buffer.from(await readDelimited(sc, 100)).toString('hex')).to.equal('aabb')
      const rest = readAll(sc)
      peer.write(peerSend.sealData(Uint8Array.of(4)))
      peer.end()
      sc.end()
      expect((await rest).toString('hex')).to.equal('01020304')
    })

    it('source$ is unicast: a second subscriber gets an error', async () => {
      const { sc } = keyedPair()
      const sub = sc.source$.subscribe(() => {})
      let err: unknown
      sc.source$.subscribe({ error: (e: unknown) => { err = e } })
      expect(err).to.be.instanceOf(Error)
      sub.unsubscribe()
      sc.destroy()
    })

    it('when the underlying connection closes while we are paused, nothing it received is lost', async () => {
      const { sc, peer, peerSend } = keyedPair()
      sc.pause()
      const chunks: Buffer[] = []
      let completed = false
      sc.source$.subscribe({ next: (c) => chunks.push(Buffer.from(c)), complete: () => { completed = true } })
      peer.write(peerSend.sealData(Buffer.alloc(3000, 4)))
      peer.end()
      sc.end()
      expect(await closedReason(sc)).to.equal(undefined)
      expect(chunks).to.have.length(0)
      sc.resume()
      await settle()
      expect(Buffer.concat(chunks).equals(Buffer.alloc(3000, 4))).to.equal(true)
      expect(completed).to.equal(true)
    })
  })

  describe('refusals (typed error, socket closed, no unhandled rejection)', () => {
    async function refused (setup: (ours: DuplexConnection, theirs: DuplexConnection) => Promise<unknown> | void, errorClass: new (...args: never[]) => Error): Promise<Error> {
      const [ours, theirs] = memoryPair()
      const theirsClosed = closedReason(theirs)
      const p = makeSecretConnection(ours, NodeKey.generate())
      void Promise.resolve(setup(ours, theirs)).catch(() => {})
      const err = await rejection(p)
      expect(err).to.be.instanceOf(errorClass)
      expect(ours.closed).to.equal(true)
      expect(await closedReason(ours)).to.be.instanceOf(errorClass)
      expect(await theirsClosed).to.be.instanceOf(Error) // the peer sees the reset
      return err as Error
    }

    it('a wrong signature: ChallengeVerificationError', async () => {
      await refused(async (_o, theirs) => {
        await scriptedPeer(theirs, {
          nodeKey: NodeKey.generate(),
          authSig: (_challenge, key) => Uint8Array.from([0x0a, 0x22, 0x0a, 0x20, ...key.publicKey, 0x12, 0x40, ...key.sign(new Uint8Array(32))])
        })
      }, ChallengeVerificationError)
    })

    it('a signature by another key than the one presented: ChallengeVerificationError', async () => {
      const other = NodeKey.generate()
      await refused(async (_o, theirs) => {
        await scriptedPeer(theirs, {
          nodeKey: NodeKey.generate(),
          authSig: (challenge, key) => Uint8Array.from([0x0a, 0x22, 0x0a, 0x20, ...key.publicKey, 0x12, 0x40, ...other.sign(challenge)])
        })
      }, ChallengeVerificationError)
    })

    it('a truncated signature: ChallengeVerificationError', async () => {
      await refused(async (_o, theirs) => {
        await scriptedPeer(theirs, {
          nodeKey: NodeKey.generate(),
          authSig: (challenge, key) => Uint8Array.from([0x0a, 0x22, 0x0a, 0x20, ...key.publicKey, 0x12, 0x3f, ...key.sign(challenge).subarray(0, 63)])
        })
      }, ChallengeVerificationError)
    })

    it('a secp256k1 key: UnsupportedKeyTypeError ("expected ed25519 pubkey")', async () => {
      await refused(async (_o, theirs) => {
        await scriptedPeer(theirs, {
          nodeKey: NodeKey.generate(),
          authSig: () => Uint8Array.from([0x0a, 0x23, 0x12, 0x21, ...new Uint8Array(33).fill(2), 0x12, 0x40, ...new Uint8Array(64)])
        })
      }, UnsupportedKeyTypeError)
    })

    it('an ed25519 key of 31 bytes: HandshakeError', async () => {
      await refused(async (_o, theirs) => {
        await scriptedPeer(theirs, {
          nodeKey: NodeKey.generate(),
          authSig: (challenge, key) => Uint8Array.from([0x0a, 0x21, 0x0a, 0x1f, ...key.publicKey.subarray(0, 31), 0x12, 0x40, ...key.sign(challenge)])
        })
      }, HandshakeError)
    })

    for (const point of LOW_ORDER_POINTS.slice(0, 3)) {
      it(`a low-order ephemeral key ${point.slice(0, 8)}…: LowOrderPointError`, async () => {
        await refused(async (_o, theirs) => {
          await scriptedPeer(theirs, { nodeKey: NodeKey.generate(), ephemeralPublicKey: hex(point), stopAfterEphemeral: true })
        }, LowOrderPointError)
      })
    }

    it('an ephemeral key that is not 32 bytes: HandshakeError', async () => {
      await refused(async (_o, theirs) => {
        await scriptedPeer(theirs, { nodeKey: NodeKey.generate(), ephemeralPublicKey: new Uint8Array(16).fill(9), stopAfterEphemeral: true })
      }, HandshakeError)
    })

    it('a tampered AuthSig frame (man in the middle flips one bit): DecryptionError', async () => {
      const [a, relayA] = memoryPair()
      const [relayB, b] = memoryPair()
      relay(relayA, relayB, (bytes, offset) => {
        const target = 35 + 200 // inside a's first sealed frame
        if (target >= offset && target < offset + bytes.length) bytes[target - offset]! ^= 0x01
      })
      relay(relayB, relayA)
      const pa = makeSecretConnection(a, NodeKey.generate())
      const pb = makeSecretConnection(b, NodeKey.generate())
      // a's AuthSig was tampered with, so b refuses; a received b's genuine AuthSig and may finish first, but
      // then sees b hang up.
      const [ea, eb] = await Promise.all([pa.then((sc) => closedReason(sc), (err: unknown) => err), rejection(pb)])
      expect(eb).to.be.instanceOf(DecryptionError)
      expect(ea).to.be.instanceOf(Error)
      expect(b.closed).to.equal(true)
      expect(await closedReason(b)).to.be.instanceOf(DecryptionError)
    })

    it('a truncated AuthSig frame followed by EOF: TruncatedFrameError', async () => {
      await refused(async (_o, theirs) => {
        await scriptedPeer(theirs, { nodeKey: NodeKey.generate(), authSig: () => undefined })
        theirs.write(new Uint8Array(700))
        theirs.end()
      }, TruncatedFrameError)
    })

    it('a peer that hangs up before its ephemeral key: ConnectionClosedError', async () => {
      await refused((_o, theirs) => { theirs.end() }, ConnectionClosedError)
    })

    it('a peer that stalls: TimeoutError at exactly 3000 ms of virtual time, and the connection is closed', async () => {
      const scheduler = new TestScheduler(() => {})
      const [ours, theirs] = memoryPair()
      const wire = new ByteCollector(theirs)
      const theirsClosed = closedReason(theirs)
      let outcome: unknown
      makeSecretConnection(ours, NodeKey.generate(), { scheduler }).then(() => { outcome = 'resolved' }, (err: unknown) => { outcome = err })
      expect(await wire.take(35)).to.have.length(35) // our key went out; the peer never answers
      scheduler.maxFrames = 2999
      scheduler.flush()
      await settle()
      expect(outcome).to.equal(undefined)
      expect(ours.closed).to.equal(false)
      scheduler.maxFrames = Number.POSITIVE_INFINITY
      scheduler.flush()
      await settle()
      expect(scheduler.now()).to.equal(3000)
      expect(outcome).to.be.instanceOf(TimeoutError)
      expect(ours.closed).to.equal(true)
      expect(await theirsClosed).to.be.instanceOf(Error)
    })

    it('a peer that stalls after the ephemeral exchange, over TCP: TimeoutError after a short deadline, socket closed', async () => {
      const tcp = new TcpTransport()
      const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
      const serverSide = new Promise<DuplexConnection>((resolve) => { listener.connections$.subscribe(resolve) })
      const raw = await tcp.dial(listener.address)
      const server = await serverSide
      const listenerClosed = listener.close()
      const serverClosed = closedReason(server)
      // The stalling peer sends its ephemeral key, then nothing.
      void scriptedPeer(server, { nodeKey: NodeKey.generate(), authSig: () => undefined }).catch(() => {})
      const started = Date.now()
      const err = await rejection(makeSecretConnection(raw, NodeKey.generate(), { handshakeTimeoutMs: 150 }))
      expect(err).to.be.instanceOf(TimeoutError)
      expect(Date.now() - started).to.be.within(140, 2000)
      expect(raw.closed).to.equal(true)
      await serverClosed
      expect(server.closed).to.equal(true)
      await listenerClosed
    })

    it('an aborted handshake: AbortError, connection closed', async () => {
      const [ours] = memoryPair()
      const controller = new AbortController()
      const p = makeSecretConnection(ours, NodeKey.generate(), { signal: controller.signal })
      controller.abort()
      expect(await rejection(p)).to.be.instanceOf(AbortError)
      expect(ours.closed).to.equal(true)
    })
  })
})
