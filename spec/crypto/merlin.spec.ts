import { expect } from 'chai'
import { Transcript } from '../../lib/crypto/merlin.js'
import { vectorText } from '../conn/secret-support.js'

interface Op { op: string, label?: string, message_utf8?: string, message?: string, length?: number, bind_as?: string, times?: number, body?: Op[] }
interface MerlinVector { name: string, ops: Op[], expected_hex: string }

const enc = new TextEncoder()

/** Runs the vector's ops; returns the last challenge. */
function run (ops: Op[]): Uint8Array {
  let t: Transcript | undefined
  let last: Uint8Array = new Uint8Array(0)
  const bound = new Map<string, Uint8Array>()
  const message = (op: Op): Uint8Array => {
    if (op.message_utf8 !== undefined) return enc.encode(op.message_utf8)
    if (op.message === '1024 bytes each equal to 99 (0x63)') return new Uint8Array(1024).fill(99)
    const b = bound.get(op.message!)
    if (b === undefined) throw new Error(`unknown message ${op.message}`)
    return b
  }
  const exec = (list: Op[]): void => {
    for (const op of list) {
      switch (op.op) {
        case 'new': t = new Transcript(op.label!); break
        case 'append_message': t!.appendMessage(op.label!, message(op)); break
        case 'challenge_bytes':
          last = t!.challengeBytes(op.label!, op.length!)
          if (op.bind_as !== undefined) bound.set(op.bind_as, last)
          break
        case 'repeat': for (let i = 0; i < op.times!; i++) exec(op.body!); break
        default: throw new Error(`unknown op ${op.op}`)
      }
    }
  }
  exec(ops)
  return last
}

describe('crypto/merlin', () => {
  const { vectors } = JSON.parse(vectorText('merlin_vectors.json')) as { vectors: MerlinVector[] }

  it('has both upstream vectors', () => {
    expect(vectors.map((v) => v.name)).to.deep.equal(['simple', 'complex'])
  })

  for (const v of vectors) {
    it(`reproduces the "${v.name}" vector byte for byte`, () => {
      expect(Buffer.from(run(v.ops)).toString('hex')).to.equal(v.expected_hex)
    })
  }

  it('binds challenges to every message: a changed byte changes the output', () => {
    const a = new Transcript('p')
    a.appendMessage('m', Uint8Array.of(1, 2, 3))
    const b = new Transcript('p')
    b.appendMessage('m', Uint8Array.of(1, 2, 4))
    expect(Buffer.from(a.challengeBytes('c', 32)).equals(Buffer.from(b.challengeBytes('c', 32)))).to.equal(false)
  })

  it('squeezes across the STROBE rate boundary (long outputs) deterministically', () => {
    const a = new Transcript('p')
    const b = new Transcript('p')
    const outA = a.challengeBytes('c', 500)
    const outB = new Uint8Array(500)
    b.extractBytes(outB, 'c')
    expect(Buffer.from(outA).equals(Buffer.from(outB))).to.equal(true)
    expect(new Set(outA).size).to.be.greaterThan(100)
  })
})
