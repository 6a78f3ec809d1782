import { expect } from 'chai'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { DecodeError } from '../../lib/errors.js'
import {
  CONSENSUS_STATE_CHANNEL, decodeConsensusMessage, decodeNewRoundStep, encodeConsensusMessage, encodeNewRoundStep,
  type NewRoundStep
} from '../../lib/wire/consensus.js'

interface Vector { name: string, test: string, value: Record<string, Record<string, number | string>>, hex: string }
const VECTORS = (JSON.parse(readFileSync(new URL('../fixtures/cometbft/proto_vectors_from_tests.json', import.meta.url), 'utf8')) as { vectors: Vector[] })
  .vectors.filter((v) => v.test === 'TestConsMsgsVectors')

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))

function nrsOf (v: Record<string, number | string>): NewRoundStep {
  return {
    height: BigInt(v.height!),
    round: Number(v.round),
    step: Number(v.step),
    secondsSinceStartTime: BigInt(v.seconds_since_start_time!),
    lastCommitRound: Number(v.last_commit_round)
  }
}

describe('wire/consensus', function () {
  it('uses channel 0x20 for the state messages', function () {
    expect(CONSENSUS_STATE_CHANNEL).to.equal(0x20)
  })

  describe('upstream vectors (TestConsMsgsVectors)', function () {
    const nrsVectors = VECTORS.filter((v) => 'new_round_step' in v.value)
    const otherVectors = VECTORS.filter((v) => !('new_round_step' in v.value))
    it('has the vectors to check', function () {
      expect(nrsVectors.length).to.be.at.least(2)
      expect(otherVectors.length).to.be.at.least(1)
    })
    for (const v of nrsVectors) {
      it(`encodes ${v.name} byte-exact`, function () {
        expect(hex(encodeNewRoundStep(nrsOf(v.value.new_round_step!)))).to.equal(v.hex)
      })
      it(`decodes ${v.name}`, function () {
        expect(decodeConsensusMessage(bytes(v.hex))).to.deep.equal({ type: 'newRoundStep', ...nrsOf(v.value.new_round_step!) })
      })
    }
    for (const v of otherVectors) {
      it(`decodes ${v.name} as an undecoded case and re-encodes it byte-exact`, function () {
        const msg = decodeConsensusMessage(bytes(v.hex))
        expect(msg).to.include({ type: 'other', case: 7, name: 'HasVote' })
        expect(hex(encodeConsensusMessage(msg))).to.equal(v.hex)
      })
    }
  })

  it('encodes a NewRoundStep at the initial height with last_commit_round -1 as Go does (10-byte varint)', function () {
    const nrs: NewRoundStep = { height: 1n, round: 0, step: 1, secondsSinceStartTime: 0n, lastCommitRound: -1 }
    const enc = encodeNewRoundStep(nrs)
    expect(hex(enc)).to.equal('0a0f' + '0801' + '1801' + '28ffffffffffffffffff01')
    expect(decodeConsensusMessage(enc)).to.deep.equal({ type: 'newRoundStep', ...nrs })
  })

  it('omits zero fields and decodes an empty NewRoundStep to zeros', function () {
    const zero: NewRoundStep = { height: 0n, round: 0, step: 0, secondsSinceStartTime: 0n, lastCommitRound: 0 }
    expect(hex(encodeNewRoundStep(zero))).to.equal('0a00')
    expect(decodeNewRoundStep(new Uint8Array())).to.deep.equal(zero)
  })

  it('decodes the HasProposalBlockPart case that v1.0 sends to every peer, and unknown cases, as "other"', function () {
    // Message{has_proposal_block_part{height:5, round:0, index:0}}: field 10, length-delimited.
    const msg = decodeConsensusMessage(bytes('52020805'))
    expect(msg).to.deep.include({ type: 'other', case: 10, name: 'HasProposalBlockPart' })
    expect(hex((msg as { body: Uint8Array }).body)).to.equal('0805')
    // A case no version defines yet (field 42).
    const unknown = decodeConsensusMessage(bytes('d2020100'))
    expect(unknown).to.deep.equal({ type: 'other', case: 42, body: bytes('00') })
    expect(hex(encodeConsensusMessage(unknown))).to.equal('d2020100')
  })

  it('decodes every known case other than NewRoundStep as "other" with its name', function () {
    const names = ['NewValidBlock', 'Proposal', 'ProposalPOL', 'BlockPart', 'Vote', 'HasVote', 'VoteSetMaj23', 'VoteSetBits', 'HasProposalBlockPart']
    names.forEach((name, i) => {
      const field = i + 2
      const msg = decodeConsensusMessage(encodeConsensusMessage({ type: 'other', case: field, body: bytes('0801') }))
      expect(msg).to.deep.include({ type: 'other', case: field, name })
    })
  })

  it('skips unknown scalar fields and keeps the last case when the oneof repeats', function () {
    // unknown varint field 50, then NewRoundStep{height:1}, then NewRoundStep{height:2}
    expect(decodeConsensusMessage(bytes('9003 07' + '0a020801' + '0a020802'))).to.include({ type: 'newRoundStep', height: 2n })
    // NewRoundStep with an unknown fixed32 field 9 inside
    expect(decodeConsensusMessage(bytes('0a07' + '0803' + '4d01020304'))).to.include({ type: 'newRoundStep', height: 3n })
  })

  it('refuses malformed input with DecodeError', function () {
    expect(() => decodeConsensusMessage(new Uint8Array())).to.throw(DecodeError, /no message case/)
    expect(() => decodeConsensusMessage(bytes('0801'))).to.throw(DecodeError, /wrong wire type/)
    expect(() => decodeConsensusMessage(bytes('0a020a01'))).to.throw(DecodeError, /wrong wire type.*height/)
    expect(() => decodeConsensusMessage(bytes('0a0508'))).to.throw(DecodeError, /past the end/)
    expect(() => decodeConsensusMessage(bytes('0a0208ff'))).to.throw(DecodeError, /truncated/)
    expect(() => decodeConsensusMessage(bytes('0a0b08ffffffffffffffffffff01'))).to.throw(DecodeError, /64 bits/)
    expect(() => decodeConsensusMessage(bytes('0b'))).to.throw(DecodeError)
  })

  it('round-trips any NewRoundStep (property)', function () {
    const int64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })
    const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
    const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 })
    fc.assert(fc.property(int64, int32, uint32, int64, int32, (height, round, step, secondsSinceStartTime, lastCommitRound) => {
      const nrs: NewRoundStep = { height, round, step, secondsSinceStartTime, lastCommitRound }
      expect(decodeConsensusMessage(encodeNewRoundStep(nrs))).to.deep.equal({ type: 'newRoundStep', ...nrs })
    }))
  })

  it('never throws anything but DecodeError on random bytes (property)', function () {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
      try {
        decodeConsensusMessage(junk)
      } catch (err) {
        expect(err).to.be.instanceOf(DecodeError)
      }
    }))
  })
})
