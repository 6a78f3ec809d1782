/**
 * Envelopes: one received message, with the peer it came from and its channel.
 *
 * @module
 */
import type { Peer } from './peer.js'

/**
 * One whole message received from a peer on a channel. `M` is `Uint8Array` as it comes off the wire, or the
 * typed message once a {@link Codec} has decoded it (see {@link withCodec}).
 *
 * @example
 * ```ts
 * sw.inbound$.subscribe(({ from, chId, message }) => console.log(from.id, chId, message.byteLength))
 * ```
 */
export interface Envelope<M = Uint8Array> {
  /** The peer that sent it. */
  readonly from: Peer
  /** The channel it arrived on (0..255). */
  readonly chId: number
  /** The message: bytes, or the decoded message under a codec. */
  readonly message: M
}
