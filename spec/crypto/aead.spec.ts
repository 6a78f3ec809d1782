import { expect } from 'chai'
import fc from 'fast-check'
import { availableAeadBackends, defaultAeadBackend, FRAME_SIZE, FrameAead, SEALED_FRAME_SIZE, type AeadBackend } from '../../lib/crypto/aead.js'
import { DecryptionError, NonceOverflowError } from '../../lib/errors.js'
import { handshakeVector, hex, type VectorFrame } from '../conn/secret-support.js'

describe('crypto/aead', () => {
  const v = handshakeVector()
  const k = v.step2_key_schedule
  // Every sealed frame of the vector, with the key that sealed it.
  const frames: Array<{ name: string, key: string, frame: VectorFrame }> = [
    ...v.step3_auth_sig.A_to_B_frames.map((frame) => ({ name: 'A AuthSig', key: k.A_send_key_hex, frame })),
    ...v.step3_auth_sig.B_to_A_frames.map((frame) => ({ name: 'B AuthSig', key: k.B_send_key_hex, frame })),
    ...v.step4_node_info.A_to_B_frames.map((frame) => ({ name: 'A NodeInfo', key: k.A_send_key_hex, frame })),
    ...v.step4_node_info.B_to_A_frames.map((frame) => ({ name: 'B NodeInfo', key: k.B_send_key_hex, frame })),
    ...v.step5_mconnection.A_to_B_ping_frames.map((frame) => ({ name: 'A ping', key: k.A_send_key_hex, frame })),
    ...v.step5_mconnection['B_mempool_tx_abc=def'].B_to_A_frames.map((frame) => ({ name: 'B mempool tx', key: k.B_send_key_hex, frame }))
  ]

  it('sodium-native loads here (the fast path is what runs in production)', () => {
    expect(availableAeadBackends()).to.deep.equal(['sodium-native', 'node'])
  })

  for (const backend of ['sodium-native', 'node'] as AeadBackend[]) {
    describe(`backend ${backend}`, () => {
      for (const { name, key, frame } of frames) {
        it(`seals and opens the ${name} frame (counter ${frame.nonce_counter}) byte for byte`, () => {
          const send = new FrameAead(hex(key), backend)
          send.counter = BigInt(frame.nonce_counter)
          expect(Buffer.from(send.nonce).toString('hex')).to.equal(frame.nonce_hex)
          const buf = Buffer.alloc(SEALED_FRAME_SIZE)
          hex(frame.plaintext_frame_hex).copy(buf)
          send.seal(buf, 0)
          expect(buf.toString('hex')).to.equal(frame.sealed_frame_hex)
          expect(send.counter).to.equal(BigInt(frame.nonce_counter) + 1n)

          const recv = new FrameAead(hex(key), backend)
          recv.counter = BigInt(frame.nonce_counter)
          const sealed = hex(frame.sealed_frame_hex)
          recv.open(sealed, 0, sealed, 0) // in place
          expect(sealed.subarray(0, FRAME_SIZE).toString('hex')).to.equal(frame.plaintext_frame_hex)
        })
      }

      it('sealData frames the data as the vector does (LE32 length, zero padding)', () => {
        const { frame } = frames.find((f) => f.name === 'B mempool tx')!
        const send = new FrameAead(hex(k.B_send_key_hex), backend)
        send.counter = 2n
        const sealed = send.sealData(hex(v.step5_mconnection['B_mempool_tx_abc=def'].packet_delimited_hex))
        expect(Buffer.from(sealed).toString('hex')).to.equal(frame.sealed_frame_hex)
      })

      it('refuses a tampered frame with DecryptionError (every byte position checked in samples)', () => {
        const { frame, key } = frames[0]!
        for (const pos of [0, 3, 4, 500, 1027, 1028, 1043]) {
          const recv = new FrameAead(hex(key), backend)
          const sealed = hex(frame.sealed_frame_hex)
          sealed[pos]! ^= 0x01
          expect(() => { recv.open(sealed, 0, Buffer.alloc(FRAME_SIZE), 0) }).to.throw(DecryptionError)
        }
      })

      it('refuses a frame opened with the wrong nonce', () => {
        const { frame, key } = frames[0]!
        const recv = new FrameAead(hex(key), backend)
        recv.counter = 1n
        expect(() => { recv.open(hex(frame.sealed_frame_hex), 0, Buffer.alloc(FRAME_SIZE), 0) }).to.throw(DecryptionError)
      })

      it('refuses to use the nonce 2^64 - 1 (NonceOverflowError), like Go', () => {
        const key = Buffer.alloc(32, 1)
        const send = new FrameAead(key, backend)
        send.counter = 0xfffffffffffffffen
        const recv = new FrameAead(key, backend)
        recv.counter = 0xfffffffffffffffen
        const one = send.sealData(Uint8Array.of(1, 2, 3))
        expect(send.counter).to.equal(0xffffffffffffffffn)
        expect(() => send.sealData(Uint8Array.of(4))).to.throw(NonceOverflowError)
        recv.open(one, 0, one, 0)
        expect(() => { recv.open(one, 0, one, 0) }).to.throw(NonceOverflowError)
      })

      it('sealData refuses up front when the frames would pass the last nonce', () => {
        const send = new FrameAead(Buffer.alloc(32, 2), backend)
        send.counter = 0xfffffffffffffffdn // two frames left
        expect(() => send.sealData(new Uint8Array(3 * 1024))).to.throw(NonceOverflowError)
        expect(send.counter).to.equal(0xfffffffffffffffdn)
        expect(send.sealData(new Uint8Array(2 * 1024)).length).to.equal(2 * SEALED_FRAME_SIZE)
      })

      it('the nonce counter carries from the low into the high 32 bits', () => {
        const send = new FrameAead(Buffer.alloc(32, 3), backend)
        send.counter = 0xffffffffn
        send.sealData(Uint8Array.of(1))
        expect(Buffer.from(send.nonce).toString('hex')).to.equal('000000000000000001000000')
      })
    })
  }

  it('both backends produce identical frames for any data (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (data, key) => {
      const a = new FrameAead(key, 'sodium-native').sealData(data)
      const b = new FrameAead(key, 'node').sealData(data)
      expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(true)
      expect(a.length).to.equal(Math.ceil(data.length / 1024) * SEALED_FRAME_SIZE)
      // Open with the other backend and reassemble.
      const recv = new FrameAead(key, 'node')
      const out: Buffer[] = []
      for (let off = 0; off < b.length; off += SEALED_FRAME_SIZE) {
        const pt = Buffer.alloc(FRAME_SIZE)
        recv.open(a, off, pt, 0)
        out.push(pt.subarray(4, 4 + pt.readUInt32LE(0)))
      }
      expect(Buffer.concat(out).equals(Buffer.from(data))).to.equal(true)
    }), { numRuns: 50 })
  })

  it('defaults to sodium-native; RX_P2P_AEAD=node selects the Node crypto fallback', () => {
    const saved = process.env['RX_P2P_AEAD']
    try {
      delete process.env['RX_P2P_AEAD']
      expect(defaultAeadBackend()).to.equal('sodium-native')
      expect(new FrameAead(Buffer.alloc(32)).backend).to.equal('sodium-native')
      process.env['RX_P2P_AEAD'] = 'node'
      expect(defaultAeadBackend()).to.equal('node')
      expect(new FrameAead(Buffer.alloc(32)).backend).to.equal('node')
    } finally {
      if (saved === undefined) delete process.env['RX_P2P_AEAD']
      else process.env['RX_P2P_AEAD'] = saved
    }
  })

  it('rejects keys that are not 32 bytes', () => {
    expect(() => new FrameAead(new Uint8Array(31))).to.throw(RangeError)
  })
})
