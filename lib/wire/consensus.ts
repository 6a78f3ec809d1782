/**
 * The consensus reactor's messages, as far as a peer that is not a validator needs them:
 * `tendermint.consensus.Message` (v1.0: `cometbft.consensus.v1.Message`, same field numbers) with its
 * `NewRoundStep` case decoded, and every other case passed through as `{ type: 'other', case }`.
 *
 * Why a non-validator needs this at all: a CometBFT node gossips mempool txs to a peer only once the peer's
 * consensus state says it is at (or one below) the tx's height, and that state comes from the `NewRoundStep`
 * messages the peer sends on channel `0x20`. Mirroring the node's own `NewRoundStep` is enough.
 *
 * The decoder must not fail on cases it does not model: v1.0 sends `HasProposalBlockPart` (case 10) to every
 * peer, and future versions may add more.
 *
 * @module
 */
import { DecodeError } from '../errors.js'
import { delimitedFieldSize, ProtoReader, ProtoWriter, varint64Size, varintSize, WIRE_BYTES, WIRE_VARINT } from './proto.js'

/** Consensus state channel (NewRoundStep, NewValidBlock, HasVote, VoteSetMaj23, HasProposalBlockPart). */
export const CONSENSUS_STATE_CHANNEL = 0x20
/** Consensus data channel (Proposal, ProposalPOL, BlockPart). */
export const CONSENSUS_DATA_CHANNEL = 0x21
/** Consensus vote channel (Vote). */
export const CONSENSUS_VOTE_CHANNEL = 0x22
/** Consensus vote-set-bits channel (VoteSetBits). */
export const CONSENSUS_VOTE_SET_BITS_CHANNEL = 0x23

/** The cases of the consensus `Message` oneof, by field number. */
export const CONSENSUS_MESSAGE_CASES: Readonly<Record<number, string>> = {
  1: 'NewRoundStep',
  2: 'NewValidBlock',
  3: 'Proposal',
  4: 'ProposalPOL',
  5: 'BlockPart',
  6: 'Vote',
  7: 'HasVote',
  8: 'VoteSetMaj23',
  9: 'VoteSetBits',
  10: 'HasProposalBlockPart'
}

/**
 * `NewRoundStep`: where the sender is in consensus. A node also sends it on every step change, so a peer can
 * copy the node's own values to announce the same height.
 */
export interface NewRoundStep {
  /** int64 (field 1). */
  height: bigint
  /** int32 (field 2). */
  round: number
  /** uint32 (field 3): 1 NewHeight, 2 NewRound, 3 Propose, 4 Prevote, 5 PrevoteWait, 6 Precommit, 7 PrecommitWait, 8 Commit. */
  step: number
  /** int64 (field 4). */
  secondsSinceStartTime: bigint
  /** int32 (field 5): -1 at the initial height, else the round of the last commit. */
  lastCommitRound: number
}

/** The `NewRoundStep` case. */
export interface NewRoundStepMessage extends NewRoundStep {
  type: 'newRoundStep'
}

/** Any other case, known or not, kept undecoded. */
export interface OtherConsensusMessage {
  type: 'other'
  /** The oneof field number (e.g. 6 Vote, 10 HasProposalBlockPart). */
  case: number
  /** The case's name when it is one CometBFT defines (see {@link CONSENSUS_MESSAGE_CASES}). */
  name?: string
  /** The case's encoded body (a view into the decoded buffer); re-encoded as is. */
  body: Uint8Array
}

/** A consensus message as a non-validator sees it. */
export type ConsensusMessage = NewRoundStepMessage | OtherConsensusMessage

/**
 * Encodes a consensus message in one allocation. Zero fields are omitted, as proto3 does; negative int32 and
 * int64 values take ten bytes, as Go writes them.
 *
 * @example
 * ```ts
 * const bytes = encodeConsensusMessage({
 *   type: 'newRoundStep', height: 5n, round: 0, step: 1, secondsSinceStartTime: 0n, lastCommitRound: 0
 * })
 * mconn.trySend(CONSENSUS_STATE_CHANNEL, bytes)
 * ```
 */
export function encodeConsensusMessage (msg: ConsensusMessage): Uint8Array {
  if (msg.type === 'newRoundStep') {
    const fields: Array<[number, bigint]> = [
      [1, BigInt.asIntN(64, msg.height)],
      [2, BigInt(msg.round | 0)],
      [3, BigInt(msg.step >>> 0)],
      [4, BigInt.asIntN(64, msg.secondsSinceStartTime)],
      [5, BigInt(msg.lastCommitRound | 0)]
    ]
    let inner = 0
    for (const [field, v] of fields) if (v !== 0n) inner += varintSize(field * 8) + varint64Size(v)
    const w = new ProtoWriter(delimitedFieldSize(1, inner))
    w.key(1, WIRE_BYTES).varint(inner)
    for (const [field, v] of fields) if (v !== 0n) w.key(field, WIRE_VARINT).varint64(v)
    return w.finish()
  }
  if (msg.type === 'other') {
    if (!Number.isInteger(msg.case) || msg.case < 1 || msg.case > 0x1fffffff) throw new RangeError(`invalid consensus message case ${msg.case}`)
    return new ProtoWriter(delimitedFieldSize(msg.case, msg.body.byteLength)).key(msg.case, WIRE_BYTES).bytes(msg.body).finish()
  }
  throw new TypeError(`unknown consensus message type ${String((msg as { type: unknown }).type)}`)
}

/**
 * Encodes `Message{new_round_step}`.
 *
 * @example
 * ```ts
 * // Announce the node's own position back to it (enough for it to gossip mempool txs to us).
 * mconn.trySend(CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(theirs))
 * ```
 */
export function encodeNewRoundStep (nrs: NewRoundStep): Uint8Array {
  return encodeConsensusMessage({
    type: 'newRoundStep',
    height: nrs.height,
    round: nrs.round,
    step: nrs.step,
    secondsSinceStartTime: nrs.secondsSinceStartTime,
    lastCommitRound: nrs.lastCommitRound
  })
}

/**
 * Decodes a consensus message: `NewRoundStep` in full, any other case (known or unknown) as
 * `{ type: 'other', case, body }`. When the oneof appears more than once, the last one wins (proto3).
 *
 * @example
 * ```ts
 * const msg = decodeConsensusMessage(message)
 * if (msg.type === 'newRoundStep') console.log('peer at height', msg.height)
 * ```
 * @throws {DecodeError} malformed protobuf, a wrong wire type, or no case at all
 */
export function decodeConsensusMessage (bytes: Uint8Array): ConsensusMessage {
  const r = new ProtoReader(bytes, 'consensus Message')
  let result: ConsensusMessage | undefined
  while (!r.done) {
    const field = r.key()
    if (r.wireType !== WIRE_BYTES) {
      // Every case of the oneof is a message; a scalar here is either a wrong wire type for a known case or an
      // unknown field, which Go's decoder skips.
      if (field in CONSENSUS_MESSAGE_CASES) r.expect(WIRE_BYTES, CONSENSUS_MESSAGE_CASES[field]!)
      r.skip()
      continue
    }
    if (field === 1) {
      result = { type: 'newRoundStep', ...readNewRoundStep(r.message('consensus NewRoundStep')) }
    } else {
      const body = r.bytes()
      const name = CONSENSUS_MESSAGE_CASES[field]
      result = name !== undefined ? { type: 'other', case: field, name, body } : { type: 'other', case: field, body }
    }
  }
  if (result === undefined) throw new DecodeError('consensus Message: no message case set')
  return result
}

/**
 * Decodes a bare `NewRoundStep` body (the bytes inside `Message.new_round_step`).
 *
 * @throws {DecodeError} malformed protobuf or a wrong wire type
 */
export function decodeNewRoundStep (bytes: Uint8Array): NewRoundStep {
  return readNewRoundStep(new ProtoReader(bytes, 'consensus NewRoundStep'))
}

function readNewRoundStep (r: ProtoReader): NewRoundStep {
  const nrs: NewRoundStep = { height: 0n, round: 0, step: 0, secondsSinceStartTime: 0n, lastCommitRound: 0 }
  while (!r.done) {
    switch (r.key()) {
      case 1: r.expect(WIRE_VARINT, 'height'); nrs.height = r.int64(); break
      case 2: r.expect(WIRE_VARINT, 'round'); nrs.round = r.int32(); break
      case 3: r.expect(WIRE_VARINT, 'step'); nrs.step = r.uint32(); break
      case 4: r.expect(WIRE_VARINT, 'seconds_since_start_time'); nrs.secondsSinceStartTime = r.int64(); break
      case 5: r.expect(WIRE_VARINT, 'last_commit_round'); nrs.lastCommitRound = r.int32(); break
      default: r.skip()
    }
  }
  return nrs
}
