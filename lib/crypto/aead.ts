/**
 * ChaCha20-Poly1305 (IETF, 12-byte nonce, no associated data) over SecretConnection frames: the hot path of
 * an encrypted connection.
 *
 * A plaintext frame is `LE32(chunkLen) || chunk || padding`, 1028 bytes; sealed it is 1044 bytes. Each
 * direction has its own key and a 12-byte nonce `00 00 00 00 || LE64(counter)`, counter from 0, one nonce
 * buffer reused for every frame.
 *
 * Backends:
 * - `sodium-native` (libsodium, about 1.5 µs per frame): used when it loads;
 * - `node` (Node's `crypto`, about 10 µs per frame): the fallback where sodium-native cannot load (or when
 *   `RX_P2P_AEAD=node` is set).
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { DecryptionError, NonceOverflowError } from '../errors.js'

/** AEAD key size in bytes. */
export const AEAD_KEY_SIZE = 32
/** AEAD nonce size in bytes. */
export const AEAD_NONCE_SIZE = 12
/** Poly1305 tag size in bytes. */
export const AEAD_TAG_SIZE = 16
/** Size of the little-endian chunk length at the start of a frame. */
export const FRAME_LEN_SIZE = 4
/** The most data bytes one frame carries. */
export const FRAME_DATA_MAX = 1024
/** A plaintext frame: length, data, padding. */
export const FRAME_SIZE = FRAME_LEN_SIZE + FRAME_DATA_MAX
/** A sealed frame on the wire. */
export const SEALED_FRAME_SIZE = FRAME_SIZE + AEAD_TAG_SIZE

/** Which implementation seals and opens frames. */
export type AeadBackend = 'sodium-native' | 'node'

interface SodiumAead {
  crypto_aead_chacha20poly1305_ietf_encrypt: (c: Uint8Array, m: Uint8Array, ad: null, nsec: null, npub: Uint8Array, k: Uint8Array) => number
  crypto_aead_chacha20poly1305_ietf_decrypt: (m: Uint8Array, nsec: null, c: Uint8Array, ad: null, npub: Uint8Array, k: Uint8Array) => number
}

let sodiumLoaded = false
let sodium: SodiumAead | undefined
let sodiumLoadError: unknown

function loadSodium (): SodiumAead | undefined {
  if (!sodiumLoaded) {
    sodiumLoaded = true
    try {
      const mod = createRequire(import.meta.url)('sodium-native') as Partial<SodiumAead>
      if (typeof mod.crypto_aead_chacha20poly1305_ietf_encrypt === 'function' && typeof mod.crypto_aead_chacha20poly1305_ietf_decrypt === 'function') {
        sodium = mod as SodiumAead
      } else {
        sodiumLoadError = new Error('sodium-native lacks crypto_aead_chacha20poly1305_ietf_*')
      }
    } catch (err) {
      sodiumLoadError = err
    }
  }
  return sodium
}

/** The backends that work on this machine, fastest first. */
export function availableAeadBackends (): AeadBackend[] {
  return loadSodium() !== undefined ? ['sodium-native', 'node'] : ['node']
}

/**
 * The backend used when none is named: `sodium-native` when it loads, else `node`. Setting the environment
 * variable `RX_P2P_AEAD=node` selects the fallback everywhere (to test or compare it).
 */
export function defaultAeadBackend (): AeadBackend {
  if (process.env['RX_P2P_AEAD'] === 'node') return 'node'
  return availableAeadBackends()[0]!
}

/** Why sodium-native did not load (undefined when it did, or was not tried yet). */
export function sodiumLoadFailure (): unknown {
  loadSodium()
  return sodiumLoadError
}

const MAX_U32 = 0xffffffff

/**
 * Uninitialized memory as a plain `Uint8Array` (its `subarray` is cheaper than a Buffer's on the per-frame
 * path). Every byte handed out must be written first.
 * @internal
 */
export function allocUnsafeBytes (size: number): Uint8Array {
  const b = Buffer.allocUnsafe(size)
  return new Uint8Array(b.buffer, b.byteOffset, size)
}

/**
 * One direction of a SecretConnection's AEAD: a key and its nonce counter. Seals or opens 1028-byte frames
 * in place.
 *
 * @example
 * ```ts
 * const send = new FrameAead(sendKey)
 * const wire = send.sealData(new TextEncoder().encode('hello')) // 1044 bytes
 * const recv = new FrameAead(sendKey)
 * recv.open(wire, 0, wire, 0) // wire[0..1028] is now the plaintext frame
 * ```
 */
export class FrameAead {
  /** The implementation in use. */
  readonly backend: AeadBackend
  readonly #key: Uint8Array
  readonly #nodeKey: KeyObject | undefined
  readonly #sodium: SodiumAead | undefined
  /** The nonce of the next frame; one buffer, rewritten after every frame. */
  readonly #nonce = new Uint8Array(AEAD_NONCE_SIZE)
  #lo = 0
  #hi = 0

  /**
   * @param key the 32-byte key of this direction
   * @param backend @default {@link defaultAeadBackend}()
   * @throws {RangeError} the key is not 32 bytes, or the backend is not available
   */
  constructor (key: Uint8Array, backend: AeadBackend = defaultAeadBackend()) {
    if (key.length !== AEAD_KEY_SIZE) throw new RangeError(`AEAD key must be ${AEAD_KEY_SIZE} bytes, got ${key.length}`)
    this.#key = Uint8Array.from(key)
    this.backend = backend
    if (backend === 'sodium-native') {
      this.#sodium = loadSodium()
      if (this.#sodium === undefined) throw new RangeError('the sodium-native AEAD backend is not available', { cause: sodiumLoadError })
    } else {
      this.#nodeKey = createSecretKey(this.#key)
    }
  }

  /** The counter of the next frame's nonce. */
  get counter (): bigint {
    return (BigInt(this.#hi) << 32n) | BigInt(this.#lo)
  }

  /** Moves the counter (tests use this to reach the overflow). @internal */
  set counter (value: bigint) {
    if (value < 0n || value > 0xffffffffffffffffn) throw new RangeError('nonce counter out of range')
    this.#lo = Number(value & 0xffffffffn)
    this.#hi = Number(value >> 32n)
    this.#writeNonce()
  }

  /** A copy of the next frame's 12-byte nonce. */
  get nonce (): Uint8Array {
    return this.#nonce.slice()
  }

  /** How many more frames this direction may seal or open before the counter would overflow (capped). */
  framesLeft (): number {
    if (this.#hi < MAX_U32) return Number.MAX_SAFE_INTEGER
    return MAX_U32 - this.#lo
  }

  /**
   * Seals the plaintext frame at `buf[offset .. offset+1028]` in place into `buf[offset .. offset+1044]` and
   * advances the nonce.
   *
   * @throws {NonceOverflowError} the counter is at 2^64 - 1 (Go refuses to go past it)
   */
  seal (buf: Uint8Array, offset: number): void {
    this.#checkNonce()
    const c = buf.subarray(offset, offset + SEALED_FRAME_SIZE)
    const m = c.subarray(0, FRAME_SIZE)
    if (this.#sodium !== undefined) {
      this.#sodium.crypto_aead_chacha20poly1305_ietf_encrypt(c, m, null, null, this.#nonce, this.#key)
    } else {
      const cipher = createCipheriv('chacha20-poly1305', this.#nodeKey!, this.#nonce, { authTagLength: AEAD_TAG_SIZE })
      const ct = cipher.update(m)
      cipher.final()
      c.set(ct, 0)
      c.set(cipher.getAuthTag(), FRAME_SIZE)
    }
    this.#advance()
  }

  /**
   * Opens the sealed frame at `sealed[sealedOffset .. +1044]` into `out[outOffset .. +1028]` and advances the
   * nonce. `out` may be `sealed` itself (in place).
   *
   * @throws {DecryptionError} the frame does not authenticate
   * @throws {NonceOverflowError} the counter is at 2^64 - 1
   */
  open (sealed: Uint8Array, sealedOffset: number, out: Uint8Array, outOffset: number): void {
    this.#checkNonce()
    const c = sealed.subarray(sealedOffset, sealedOffset + SEALED_FRAME_SIZE)
    const m = out.subarray(outOffset, outOffset + FRAME_SIZE)
    if (c.length !== SEALED_FRAME_SIZE || m.length !== FRAME_SIZE) throw new RangeError('frame buffers too short')
    if (this.#sodium !== undefined) {
      try {
        this.#sodium.crypto_aead_chacha20poly1305_ietf_decrypt(m, null, c, null, this.#nonce, this.#key)
      } catch (err) {
        throw new DecryptionError('failed to decrypt SecretConnection frame', { cause: err })
      }
    } else {
      const decipher = createDecipheriv('chacha20-poly1305', this.#nodeKey!, this.#nonce, { authTagLength: AEAD_TAG_SIZE })
      decipher.setAuthTag(c.subarray(FRAME_SIZE))
      const pt = decipher.update(c.subarray(0, FRAME_SIZE))
      try {
        decipher.final()
      } catch (err) {
        throw new DecryptionError('failed to decrypt SecretConnection frame', { cause: err })
      }
      m.set(pt, 0)
    }
    this.#advance()
  }

  /**
   * Cuts `data` into frames of at most 1024 bytes and seals them all into one new buffer of
   * `ceil(len / 1024) * 1044` bytes (nothing for empty data). Padding is zeros.
   *
   * @throws {NonceOverflowError} sealing them all would pass the last nonce; nothing is sealed then
   */
  sealData (data: Uint8Array): Uint8Array {
    const frames = Math.ceil(data.length / FRAME_DATA_MAX)
    if (frames > this.framesLeft()) throw new NonceOverflowError('SecretConnection send nonce would overflow 2^64 - 1')
    const out = allocUnsafeBytes(frames * SEALED_FRAME_SIZE)
    let src = 0
    for (let i = 0, off = 0; i < frames; i++, off += SEALED_FRAME_SIZE) {
      const n = Math.min(FRAME_DATA_MAX, data.length - src)
      out[off] = n & 0xff
      out[off + 1] = n >>> 8
      out[off + 2] = 0
      out[off + 3] = 0
      out.set(data.subarray(src, src + n), off + FRAME_LEN_SIZE)
      if (n < FRAME_DATA_MAX) out.fill(0, off + FRAME_LEN_SIZE + n, off + FRAME_SIZE)
      src += n
      this.seal(out, off)
    }
    return out
  }

  #checkNonce (): void {
    if (this.#lo === MAX_U32 && this.#hi === MAX_U32) throw new NonceOverflowError('SecretConnection nonce counter reached 2^64 - 1')
  }

  #advance (): void {
    if (this.#lo === MAX_U32) {
      this.#lo = 0
      this.#hi++
    } else {
      this.#lo++
    }
    this.#writeNonce()
  }

  #writeNonce (): void {
    const n = this.#nonce
    const lo = this.#lo
    const hi = this.#hi
    n[4] = lo & 0xff
    n[5] = (lo >>> 8) & 0xff
    n[6] = (lo >>> 16) & 0xff
    n[7] = lo >>> 24
    n[8] = hi & 0xff
    n[9] = (hi >>> 8) & 0xff
    n[10] = (hi >>> 16) & 0xff
    n[11] = hi >>> 24
  }
}
