/**
 * The mempool reactor's messages (channel `0x30`): `tendermint.mempool.Message` (v1.0:
 * `cometbft.mempool.v1.Message`, same field numbers).
 *
 * ```proto
 * message Txs     { repeated bytes txs = 1; }
 * message Message { oneof sum { Txs txs = 1; } }
 * ```
 *
 * A CometBFT node gossips one tx per message. The bytes travel inside `PacketMsg.data` without a length
 * prefix of their own.
 *
 * @module
 */
import { DecodeError } from '../errors.js'
import { delimitedFieldSize, ProtoReader, ProtoWriter, WIRE_BYTES } from './proto.js'

/** The mempool reactor's channel. */
export const MEMPOOL_CHANNEL = 0x30

/** `Message{txs}`: the only case of the mempool message. */
export interface MempoolTxsMessage {
  type: 'txs'
  /** The transactions; after {@link decodeMempoolMessage}, views into the decoded buffer. */
  txs: Uint8Array[]
}

/** A mempool message (the oneof has a single case). */
export type MempoolMessage = MempoolTxsMessage

/**
 * Encodes a mempool message in one allocation.
 *
 * @example
 * ```ts
 * const tx = new TextEncoder().encode('abc=def')
 * encodeMempoolMessage({ type: 'txs', txs: [tx] }) // 0a 09 0a 07 61 62 63 3d 64 65 66
 * ```
 */
export function encodeMempoolMessage (msg: MempoolMessage): Uint8Array {
  if (msg.type !== 'txs') throw new TypeError(`unknown mempool message type ${String((msg as { type: unknown }).type)}`)
  let inner = 0
  for (const tx of msg.txs) inner += delimitedFieldSize(1, tx.byteLength)
  const w = new ProtoWriter(delimitedFieldSize(1, inner))
  w.key(1, WIRE_BYTES).varint(inner) // Message.txs
  for (const tx of msg.txs) w.key(1, WIRE_BYTES).bytes(tx) // Txs.txs
  return w.finish()
}

/**
 * Encodes `Message{txs{txs}}`, the message a node gossips (with one tx) on channel `0x30`.
 *
 * @example
 * ```ts
 * mconn.trySend(MEMPOOL_CHANNEL, encodeTxs([new TextEncoder().encode('name=satoshi')]))
 * ```
 */
export function encodeTxs (txs: readonly Uint8Array[]): Uint8Array {
  return encodeMempoolMessage({ type: 'txs', txs: [...txs] })
}

/**
 * Decodes a mempool message. Unknown fields are skipped, as Go's decoder does; a message without the `txs`
 * case (empty, or only unknown fields) is refused, since a CometBFT node drops a peer that sends one.
 *
 * The decoder does not apply the reactor's policy (empty list, empty tx, size limits): a reactor checks those.
 *
 * @example
 * ```ts
 * mconn.inbound$.pipe(filter((m) => m.chId === MEMPOOL_CHANNEL)).subscribe(({ message }) => {
 *   for (const tx of decodeMempoolMessage(message).txs) console.log(tx.byteLength)
 * })
 * ```
 * @throws {DecodeError} malformed protobuf, a wrong wire type, or no `txs` case
 */
export function decodeMempoolMessage (bytes: Uint8Array): MempoolMessage {
  const r = new ProtoReader(bytes, 'mempool Message')
  let txs: Uint8Array[] | undefined
  while (!r.done) {
    if (r.key() === 1) {
      r.expect(WIRE_BYTES, 'txs')
      // A repeated oneof field replaces the previous value, as in Go's generated Unmarshal.
      txs = decodeTxs(r.message('mempool Txs'))
    } else {
      r.skip()
    }
  }
  if (txs === undefined) throw new DecodeError('mempool Message: no txs (empty or unknown message type)')
  return { type: 'txs', txs }
}

function decodeTxs (r: ProtoReader): Uint8Array[] {
  const txs: Uint8Array[] = []
  while (!r.done) {
    if (r.key() === 1) {
      r.expect(WIRE_BYTES, 'txs')
      txs.push(r.bytes())
    } else {
      r.skip()
    }
  }
  return txs
}
