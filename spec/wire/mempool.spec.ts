import { expect } from 'chai'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { DecodeError } from '../../lib/errors.js'
import { decodeMempoolMessage, encodeMempoolMessage, encodeTxs, MEMPOOL_CHANNEL } from '../../lib/wire/mempool.js'

interface Vector { name: string, test: string, value: Record<string, unknown>, hex: string }
const VECTORS = (JSON.parse(readFileSync(new URL('../fixtures/cometbft/proto_vectors_from_tests.json', import.meta.url), 'utf8')) as { vectors: Vector[] })
  .vectors.filter((v) => v.test === 'TestMempoolVectors')

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

function vectorTxs (v: Vector): Uint8Array[] {
  const txs = v.value.txs as { txs_hex?: string[], txs_utf8?: string[] }
  if (txs.txs_hex !== undefined) return txs.txs_hex.map(bytes)
  return (txs.txs_utf8 ?? []).map(utf8)
}

describe('wire/mempool', function () {
  it('is on channel 0x30', function () {
    expect(MEMPOOL_CHANNEL).to.equal(0x30)
  })

  describe('upstream vectors (TestMempoolVectors)', function () {
    it('has the vectors to check', function () {
      expect(VECTORS.length).to.be.at.least(2)
    })
    for (const v of VECTORS) {
      it(`encodes ${v.name} byte-exact`, function () {
        expect(hex(encodeMempoolMessage({ type: 'txs', txs: vectorTxs(v) }))).to.equal(v.hex)
      })
      it(`decodes ${v.name}`, function () {
        const msg = decodeMempoolMessage(bytes(v.hex))
        expect(msg.type).to.equal('txs')
        expect(msg.txs.map(hex)).to.deep.equal(vectorTxs(v).map(hex))
      })
    }
  })

  it('encodes a gossiped tx as the spec shows it inside PacketMsg.data', function () {
    expect(hex(encodeTxs([utf8('abc=def')]))).to.equal('0a090a076162633d646566')
  })

  it('encodes several txs and an empty list', function () {
    expect(hex(encodeTxs([bytes('01'), bytes('0203')]))).to.equal('0a070a01010a020203')
    // gogoproto writes the Txs field even when it is empty (a non-nil oneof value).
    expect(hex(encodeTxs([]))).to.equal('0a00')
    expect(decodeMempoolMessage(bytes('0a00')).txs).to.deep.equal([])
  })

  it('encodes a tx of 1 MiB with a multi-byte length prefix and decodes it as a view', function () {
    const tx = new Uint8Array(1 << 20).fill(7)
    const enc = encodeTxs([tx])
    expect(enc.byteLength).to.equal(1 + 3 + 1 + 3 + (1 << 20))
    const [back] = decodeMempoolMessage(enc).txs
    expect(back!.byteLength).to.equal(1 << 20)
    expect(back!.buffer).to.equal(enc.buffer)
  })

  it('skips unknown fields in Message and Txs, as Go does', function () {
    // Message{ txs{ txs:["a"], 99: varint 5 }, 15: "zz" }
    const msg = bytes('0a06 0a0161 98 06 05' + '7a 02 7a7a')
    expect(decodeMempoolMessage(msg).txs.map(hex)).to.deep.equal(['61'])
  })

  it('refuses a message without the txs case (empty, or only an unknown case)', function () {
    expect(() => decodeMempoolMessage(new Uint8Array())).to.throw(DecodeError, /no txs/)
    expect(() => decodeMempoolMessage(bytes('12020a00'))).to.throw(DecodeError, /no txs/)
  })

  it('refuses a wrong wire type, a truncated length and a bad varint with DecodeError', function () {
    expect(() => decodeMempoolMessage(bytes('0801'))).to.throw(DecodeError, /wrong wire type/)
    expect(() => decodeMempoolMessage(bytes('0a050a0161'))).to.throw(DecodeError, /past the end/)
    expect(() => decodeMempoolMessage(bytes('0a030a0561'))).to.throw(DecodeError, /past the end/)
    expect(() => decodeMempoolMessage(bytes('0aff'))).to.throw(DecodeError, /truncated/)
    expect(() => decodeMempoolMessage(bytes('0affffffffffffffffffff01'))).to.throw(DecodeError)
    expect(() => decodeMempoolMessage(bytes('0a020b00'))).to.throw(DecodeError, /wire type/)
  })

  it('round-trips any list of txs (property)', function () {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (txs) => {
      const back = decodeMempoolMessage(encodeTxs(txs)).txs
      expect(back.map(hex)).to.deep.equal(txs.map(hex))
    }))
  })

  it('never throws anything but DecodeError on random bytes (property)', function () {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      try {
        decodeMempoolMessage(junk)
      } catch (err) {
        expect(err).to.be.instanceOf(DecodeError)
      }
    }))
  })
})
