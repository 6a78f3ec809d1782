/**
 * Merlin transcripts: the STROBE-128 based construction CometBFT's SecretConnection uses to derive its
 * handshake challenge. STROBE-128 runs on keccak-f[1600]; the permutation is `@noble/hashes`' `keccakP`.
 *
 * Only the STROBE operations Merlin needs are implemented: meta-AD, AD and PRF.
 *
 * @module
 */
import { keccakP } from '@noble/hashes/sha3.js'
import { isLE, swap32IfBE } from '@noble/hashes/utils.js'

const encoder = new TextEncoder()

/** STROBE flags. */
const FLAG_I = 1
const FLAG_A = 1 << 1
const FLAG_C = 1 << 2
const FLAG_M = 1 << 4
const FLAG_K = 1 << 5

/** STROBE-128 rate: 200 - 128/4 - 2. */
const STROBE_R = 166

function toBytes (data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data
}

function le32 (n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n, true)
  return out
}

/**
 * The subset of STROBE-128 (v1.0.2) that Merlin uses.
 *
 * @internal
 */
export class Strobe128 {
  readonly #state = new Uint8Array(200)
  readonly #state32 = new Uint32Array(this.#state.buffer)
  #pos = 0
  #posBegin = 0
  #curFlags = 0

  constructor (protocolLabel: string | Uint8Array) {
    const st = this.#state
    st.set([1, STROBE_R + 2, 1, 0, 1, 96], 0)
    st.set(encoder.encode('STROBEv1.0.2'), 6)
    this.#permute()
    this.metaAd(toBytes(protocolLabel), false)
  }

  /** Absorbs `data` as meta associated data. */
  metaAd (data: Uint8Array, more: boolean): void {
    this.#beginOp(FLAG_M | FLAG_A, more)
    this.#absorb(data)
  }

  /** Absorbs `data` as associated data. */
  ad (data: Uint8Array, more: boolean): void {
    this.#beginOp(FLAG_A, more)
    this.#absorb(data)
  }

  /** Fills `out` with pseudo-random bytes. */
  prf (out: Uint8Array, more: boolean): void {
    this.#beginOp(FLAG_I | FLAG_A | FLAG_C, more)
    this.#squeeze(out)
  }

  #permute (): void {
    if (isLE) {
      keccakP(this.#state32)
    } else {
      swap32IfBE(this.#state32)
      keccakP(this.#state32)
      swap32IfBE(this.#state32)
    }
  }

  #runF (): void {
    const st = this.#state
    st[this.#pos]! ^= this.#posBegin
    st[this.#pos + 1]! ^= 0x04
    st[STROBE_R + 1]! ^= 0x80
    this.#permute()
    this.#pos = 0
    this.#posBegin = 0
  }

  #absorb (data: Uint8Array): void {
    const st = this.#state
    for (let i = 0; i < data.length; i++) {
      st[this.#pos]! ^= data[i]!
      if (++this.#pos === STROBE_R) this.#runF()
    }
  }

  #squeeze (out: Uint8Array): void {
    const st = this.#state
    for (let i = 0; i < out.length; i++) {
      out[i] = st[this.#pos]!
      st[this.#pos] = 0
      if (++this.#pos === STROBE_R) this.#runF()
    }
  }

  #beginOp (flags: number, more: boolean): void {
    if (more) {
      if (flags !== this.#curFlags) throw new Error(`strobe: continued operation with flags ${flags}, expected ${this.#curFlags}`)
      return
    }
    const oldBegin = this.#posBegin
    this.#posBegin = this.#pos + 1
    this.#curFlags = flags
    this.#absorb(Uint8Array.of(oldBegin, flags))
    const forceF = (flags & (FLAG_C | FLAG_K)) !== 0
    if (forceF && this.#pos !== 0) this.#runF()
  }
}

/**
 * A Merlin transcript (protocol label `Merlin v1.0`): labelled messages go in, labelled challenges come out,
 * each output bound to everything appended before it.
 *
 * @example
 * ```ts
 * const t = new Transcript('test protocol')
 * t.appendMessage('some label', new TextEncoder().encode('some data'))
 * t.challengeBytes('challenge', 32) // d5a21972d0d5fe32...
 * ```
 */
export class Transcript {
  readonly #strobe = new Strobe128('Merlin v1.0')

  /** Starts a transcript for the protocol named by `label`. */
  constructor (label: string | Uint8Array) {
    this.appendMessage('dom-sep', toBytes(label))
  }

  /** Appends `message` under `label`. */
  appendMessage (label: string | Uint8Array, message: Uint8Array): void {
    this.#strobe.metaAd(toBytes(label), false)
    this.#strobe.metaAd(le32(message.length), true)
    this.#strobe.ad(message, false)
  }

  /** Fills `out` with challenge bytes bound to the transcript so far (Go's `ExtractBytes`). */
  extractBytes (out: Uint8Array, label: string | Uint8Array): void {
    this.#strobe.metaAd(toBytes(label), false)
    this.#strobe.metaAd(le32(out.length), true)
    this.#strobe.prf(out, false)
  }

  /** Returns `length` challenge bytes bound to the transcript so far. */
  challengeBytes (label: string | Uint8Array, length: number): Uint8Array {
    const out = new Uint8Array(length)
    this.extractBytes(out, label)
    return out
  }
}
