/**
 * SecretConnection: CometBFT's authenticated, encrypted connection (`p2p/conn/secret_connection.go`), as a
 * {@link DuplexConnection} over another one, so MConnection runs over it unchanged.
 *
 * The handshake:
 * 1. write our ephemeral X25519 public key (`uvarint(34) || BytesValue{32 bytes}`), then read the peer's;
 * 2. sort the two keys into lo/hi; Merlin transcript over lo, hi and the X25519 secret (an all-zero secret is
 *    refused); HKDF-SHA256 gives the two AEAD keys, the transcript the 32-byte challenge;
 * 3. exchange `AuthSigMessage{ed25519 key, signature over the challenge}` in the first encrypted frame;
 *    the peer's key must be ed25519 and its signature must verify (ZIP-215).
 *
 * Then every byte travels in 1044-byte sealed frames (see {@link FrameAead}).
 *
 * @module
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs'
import { AbortError, ChallengeVerificationError, DecodeError, HandshakeError, TimeoutError, TruncatedFrameError, UnsupportedKeyTypeError } from '../errors.js'
import { allocUnsafeBytes, FRAME_DATA_MAX, FRAME_LEN_SIZE, FrameAead, SEALED_FRAME_SIZE, type AeadBackend } from '../crypto/aead.js'
import { ED25519_PUBLIC_KEY_SIZE, ED25519_SIGNATURE_SIZE, verifyEd25519 } from '../crypto/ed25519.js'
import { compareBytes, deriveSecrets, handshakeChallenge, type SecretConnectionKeys } from '../crypto/key-schedule.js'
import { nodeIdFromPublicKey } from '../crypto/node-id.js'
import type { NodeKey } from '../crypto/node-key.js'
import { X25519_KEY_SIZE, x25519, x25519KeyPair } from '../crypto/x25519.js'
import { AbstractDuplex, type DuplexConnection } from '../transport/duplex.js'
import type { NodeId } from '../crypto/node-id.js'
import { decodeAuthSig, encodeAuthSig } from '../wire/auth-sig.js'
import { encodeDelimited, readDelimited } from '../wire/delimited.js'
import { delimitedFieldSize, ProtoReader, ProtoWriter, WIRE_BYTES } from '../wire/proto.js'
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, HANDSHAKE_MESSAGE_MAX } from './defaults.js'

/** Options of {@link makeSecretConnection}. */
export interface SecretConnectionInit {
  /** Runs the handshake deadline. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** The whole handshake must finish within this time, else it fails with {@link TimeoutError}. @default 3000 */
  handshakeTimeoutMs?: number
  /** Aborts the handshake ({@link AbortError}, or the signal's reason when it is an Error). */
  signal?: AbortSignal
  /** The frame AEAD implementation. @default defaultAeadBackend() (sodium-native when it loads) */
  aeadBackend?: AeadBackend
  /**
   * Called once the remote's ephemeral key has arrived and parsed, before the X25519 agreement and our
   * signature (the handshake's CPU). Throwing abandons the handshake with that error: the Switch's handshake
   * CPU limit refuses here. @default undefined
   */
  beforeKeyAgreement?: () => void
  /**
   * A fixed ephemeral X25519 private key instead of a random one. Only for test vectors: reusing an ephemeral
   * key breaks forward secrecy.
   * @internal
   */
  ephemeralPrivateKey?: Uint8Array
}

/**
 * An authenticated, encrypted {@link DuplexConnection} over another one. Create it with
 * {@link makeSecretConnection} (or {@link rx-p2p!upgradeConnection}, which adds the NodeInfo exchange).
 *
 * - Each `write` is cut into frames of up to 1024 bytes, all sealed into one buffer and handed to the
 *   underlying connection in **one** write; its `false` / `drain$` pass straight through.
 * - Each received chunk is opened frame by frame in a tight loop and emitted as **one** chunk of plaintext;
 *   `pause` / `resume` pause and resume the underlying connection.
 * - A frame that does not authenticate closes the connection with {@link rx-p2p!DecryptionError}; a frame length
 *   over 1024 with {@link DecodeError}; an EOF inside a frame with {@link TruncatedFrameError}; a nonce
 *   counter at 2^64 - 1 with {@link rx-p2p!NonceOverflowError}.
 *
 * @example
 * ```ts
 * const sc = await makeSecretConnection(await tcp.dial(addr), nodeKey)
 * console.log('talking to', sc.remoteId)
 * const mconn = new MConnection(sc, channels)
 * ```
 */
export class SecretConnection extends AbstractDuplex {
  readonly #conn: DuplexConnection
  readonly #send: FrameAead
  readonly #recv: FrameAead
  /**
   * The first bytes of a sealed frame split across received chunks. Allocated when a frame is split and dropped
   * when a chunk ends on a frame boundary, so an idle connection holds none.
   */
  #partial: Uint8Array | undefined
  #partialLen = 0
  #remotePublicKey: Uint8Array = new Uint8Array(0)
  #remoteId: NodeId = ''
  #underlyingClosed = false
  #readDone = false
  #draining = false
  readonly #subs: Subscription[] = []

  /**
   * Wraps `conn` with already derived keys. Use {@link makeSecretConnection}: this constructor does no
   * handshake.
   * @internal
   */
  constructor (conn: DuplexConnection, keys: SecretConnectionKeys, aeadBackend?: AeadBackend) {
    super()
    this.#conn = conn
    this.#send = new FrameAead(keys.sendKey, aeadBackend)
    this.#recv = new FrameAead(keys.recvKey, aeadBackend)
    if (conn.remoteAddress !== undefined) this.remoteAddress = conn.remoteAddress
    if (conn.localAddress !== undefined) this.localAddress = conn.localAddress
    // Reading first: when `conn` has already closed, its held bytes and its end arrive before closed$ does.
    this.#subs.push(conn.source$.subscribe({
      next: (chunk) => { this.#onData(chunk) },
      error: (err: unknown) => { this.#onReadEnd(err instanceof Error ? err : new HandshakeError(String(err))) },
      complete: () => { this.#onReadEnd() }
    }))
    this.#subs.push(conn.drain$.subscribe(() => { this.emitDrain() }))
    this.#subs.push(conn.closed$.subscribe((reason) => { this.#onUnderlyingClosed(reason) }))
  }

  /** The remote's authenticated ed25519 public key (32 bytes). */
  get remotePublicKey (): Uint8Array {
    return this.#remotePublicKey
  }

  /** The remote's node ID, derived from {@link SecretConnection.remotePublicKey}. */
  get remoteId (): NodeId {
    return this.#remoteId
  }

  /** The AEAD implementation sealing and opening frames. */
  get aeadBackend (): AeadBackend {
    return this.#send.backend
  }

  /** Records the remote key once its signature has verified. @internal */
  _setRemotePublicKey (publicKey: Uint8Array): void {
    this.#remotePublicKey = publicKey
    this.#remoteId = nodeIdFromPublicKey(publicKey)
  }

  /** Moves the nonce counters (tests reach the overflow with it). @internal */
  _setNonceCounters (send?: bigint, recv?: bigint): void {
    if (send !== undefined) this.#send.counter = send
    if (recv !== undefined) this.#recv.counter = recv
  }

  // ---- write side ----------------------------------------------------------------------------
  protected _write (chunk: Uint8Array): boolean {
    if (chunk.byteLength === 0) return !this.#conn.writableNeedDrain
    let sealed: Uint8Array
    try {
      sealed = this.#send.sealData(chunk)
    } catch (err) {
      this.destroy(err as Error)
      return false
    }
    return this.#conn.write(sealed)
  }

  protected _end (): void {
    this.#conn.end()
  }

  protected _destroy (err?: Error): void {
    for (const s of this.#subs) s.unsubscribe()
    this.#conn.destroy(err)
  }

  // ---- read side -----------------------------------------------------------------------------
  protected _readStop (): void {
    if (!this.#draining) this.#conn.pause()
  }

  protected _readStart (): void {
    this.#conn.resume()
  }

  #onData (chunk: Uint8Array): void {
    if (this.closed) return
    const have = this.#partialLen + chunk.byteLength
    if (have < SEALED_FRAME_SIZE) {
      (this.#partial ??= allocUnsafeBytes(SEALED_FRAME_SIZE)).set(chunk, this.#partialLen)
      this.#partialLen = have
      return
    }
    const frames = Math.floor(have / SEALED_FRAME_SIZE)
    // Frame i is opened at `pos` (≤ i * 1024), its data moved down over its own length prefix.
    const out = allocUnsafeBytes(frames * FRAME_DATA_MAX + FRAME_LEN_SIZE)
    let pos = 0
    let off = 0
    let failure: Error | undefined
    try {
      if (this.#partialLen > 0) {
        const partial = this.#partial!
        off = SEALED_FRAME_SIZE - this.#partialLen
        partial.set(chunk.subarray(0, off), this.#partialLen)
        this.#partialLen = 0
        pos = this.#openFrame(partial, 0, out, pos)
      }
      const last = chunk.byteLength - SEALED_FRAME_SIZE
      while (off <= last) {
        pos = this.#openFrame(chunk, off, out, pos)
        off += SEALED_FRAME_SIZE
      }
      if (off < chunk.byteLength) {
        (this.#partial ??= allocUnsafeBytes(SEALED_FRAME_SIZE)).set(chunk.subarray(off), 0)
        this.#partialLen = chunk.byteLength - off
      } else {
        this.#partial = undefined
      }
    } catch (err) {
      failure = err as Error
    }
    if (pos > 0) this.push(out.subarray(0, pos))
    if (failure !== undefined) this.destroy(failure)
  }

  /** Opens one sealed frame into `out` at `pos`; returns the position after its data. */
  #openFrame (src: Uint8Array, off: number, out: Uint8Array, pos: number): number {
    this.#recv.open(src, off, out, pos)
    const len = (out[pos]! | (out[pos + 1]! << 8) | (out[pos + 2]! << 16) | (out[pos + 3]! << 24)) >>> 0
    if (len > FRAME_DATA_MAX) throw new DecodeError(`SecretConnection frame announces ${len} data bytes, more than ${FRAME_DATA_MAX}`)
    out.copyWithin(pos, pos + FRAME_LEN_SIZE, pos + FRAME_LEN_SIZE + len)
    return pos + len
  }

  #onReadEnd (err?: Error): void {
    if (this.closed) return
    if (err !== undefined) {
      this.destroy(err)
      return
    }
    if (this.#partialLen > 0) {
      this.destroy(new TruncatedFrameError(`connection ended inside a sealed frame (${this.#partialLen} of ${SEALED_FRAME_SIZE} bytes)`))
      return
    }
    this.#readDone = true
    this.pushEnd()
    if (this.#underlyingClosed) this.finalize()
  }

  #onUnderlyingClosed (reason: Error | undefined): void {
    this.#underlyingClosed = true
    if (this.closed) return
    if (reason !== undefined) {
      this.finalize(reason)
      return
    }
    if (!this.#readDone) {
      // Pull what the underlying connection still holds (already received) before ending.
      this.#draining = true
      this.#conn.resume()
      this.#draining = false
    }
    if (!this.closed) {
      if (!this.#readDone && this.#partialLen > 0) {
        this.finalize(new TruncatedFrameError('connection closed inside a sealed frame'))
      } else {
        this.finalize()
      }
    }
  }
}

/** Options of {@link runWithDeadline}. @internal */
export interface DeadlineInit {
  scheduler: SchedulerLike
  timeoutMs: number
  signal?: AbortSignal | undefined
  /** Names the operation in the TimeoutError message. */
  what: string
  /** Called once with the error when the task fails, times out or is aborted (before the promise rejects). */
  onFail: (err: Error) => void
}

/**
 * Runs `task` with a deadline on a scheduler and an optional AbortSignal. The task receives a signal that
 * aborts when the deadline passes or the caller aborts, so its pending reads stop.
 * @internal
 */
export function runWithDeadline<T> (task: (signal: AbortSignal) => Promise<T>, init: DeadlineInit): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const inner = new AbortController()
    let settled = false
    let timer: Subscription | undefined
    const finish = (err: Error | undefined, value?: T): void => {
      if (settled) return
      settled = true
      timer?.unsubscribe()
      init.signal?.removeEventListener('abort', onAbort)
      if (err !== undefined) {
        inner.abort(err)
        try {
          init.onFail(err)
        } finally {
          reject(err)
        }
      } else {
        resolve(value as T)
      }
    }
    const onAbort = (): void => {
      finish(abortReason(init.signal?.reason, init.what))
    }
    if (init.signal?.aborted === true) {
      onAbort()
      return
    }
    init.signal?.addEventListener('abort', onAbort, { once: true })
    timer = init.scheduler.schedule(() => {
      finish(new TimeoutError(`${init.what} did not finish within ${init.timeoutMs} ms`))
    }, init.timeoutMs)
    let started: Promise<T>
    try {
      started = task(inner.signal)
    } catch (err) {
      finish(err as Error)
      return
    }
    started.then((value) => { finish(undefined, value) }, (err: unknown) => {
      finish(err instanceof Error ? err : new HandshakeError(String(err)))
    })
  })
}

/**
 * The error an aborted operation rejects with: the signal's reason when it is an Error of ours or the caller's,
 * else (the default `DOMException`s of `abort()` / `AbortSignal.timeout()`) {@link AbortError} or
 * {@link TimeoutError} with the reason as cause.
 */
function abortReason (reason: unknown, what: string): Error {
  if (reason instanceof DOMException || !(reason instanceof Error)) {
    if (reason instanceof DOMException && reason.name === 'TimeoutError') return new TimeoutError(`${what} timed out (signal)`, { cause: reason })
    return new AbortError(`${what} aborted`, { cause: reason })
  }
  return reason
}

/** `BytesValue{value = key}` with its length prefix: `22 0a 20 <32 bytes>`. */
function encodeEphemeralKey (publicKey: Uint8Array): Uint8Array {
  return encodeDelimited(new ProtoWriter(delimitedFieldSize(1, publicKey.length)).key(1, WIRE_BYTES).bytes(publicKey).finish())
}

/** Reads `BytesValue.value`; the key must be exactly 32 bytes. */
function decodeEphemeralKey (msg: Uint8Array): Uint8Array {
  // google.protobuf.BytesValue { bytes value = 1; }: the only field we expect; a repeated one keeps the last.
  let value: Uint8Array | undefined
  const r = new ProtoReader(msg, 'BytesValue')
  try {
    while (!r.done) {
      const field = r.key()
      if (field !== 1 || r.wireType !== WIRE_BYTES) {
        throw new HandshakeError(`unexpected field ${field} (wire type ${r.wireType}) in the remote ephemeral key message`)
      }
      value = r.bytes()
    }
  } catch (err) {
    if (err instanceof DecodeError) throw new HandshakeError(`malformed remote ephemeral key message: ${err.message}`, { cause: err })
    throw err
  }
  if (value === undefined || value.length !== X25519_KEY_SIZE) {
    throw new HandshakeError(`remote ephemeral key must be ${X25519_KEY_SIZE} bytes, got ${value?.length ?? 0}`)
  }
  return Uint8Array.from(value)
}

/**
 * Runs CometBFT's SecretConnection handshake over `conn` and resolves with the authenticated, encrypted
 * connection. On any failure the promise rejects with a typed error and `conn` is destroyed:
 * {@link HandshakeError} (malformed messages), {@link rx-p2p!LowOrderPointError}, {@link UnsupportedKeyTypeError},
 * {@link ChallengeVerificationError}, {@link rx-p2p!DecryptionError}, {@link TimeoutError} (3 s by default, on the
 * scheduler), {@link AbortError}, or the transport's error.
 *
 * @example
 * ```ts
 * const raw = await new TcpTransport().dial({ host: '127.0.0.1', port: 26656 })
 * const sc = await makeSecretConnection(raw, await NodeKey.loadOrGenerate('node_key.json'))
 * sc.remoteId // the peer's node ID, authenticated
 * ```
 */
export function makeSecretConnection (conn: DuplexConnection, nodeKey: NodeKey, init: SecretConnectionInit = {}): Promise<SecretConnection> {
  let sc: SecretConnection | undefined
  const timeoutMs = init.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  return runWithDeadline(async (signal) => {
    // 1. Ephemeral keys, in the clear: write ours first, then read theirs.
    const eph = x25519KeyPair(init.ephemeralPrivateKey)
    conn.write(encodeEphemeralKey(eph.publicKey))
    const remoteEph = decodeEphemeralKey(await readDelimited(conn, HANDSHAKE_MESSAGE_MAX, { signal }))
    init.beforeKeyAgreement?.()

    // 2. Key schedule and challenge.
    const locIsLeast = compareBytes(eph.publicKey, remoteEph) < 0
    const [lo, hi] = locIsLeast ? [eph.publicKey, remoteEph] : [remoteEph, eph.publicKey]
    const dh = x25519(eph.privateKey, remoteEph)
    const challenge = handshakeChallenge(lo, hi, dh)
    sc = new SecretConnection(conn, deriveSecrets(dh, locIsLeast), init.aeadBackend)

    // 3. AuthSig in the first encrypted frame, both ways.
    sc.write(encodeDelimited(encodeAuthSig(nodeKey.publicKey, nodeKey.sign(challenge))))
    const auth = decodeAuthSigOrFail(await readDelimited(sc, HANDSHAKE_MESSAGE_MAX, { signal }))
    if (auth.keyType !== 'ed25519') throw new UnsupportedKeyTypeError(`expected ed25519 pubkey, got ${auth.keyType ?? 'none'}`)
    if (auth.publicKey.length !== ED25519_PUBLIC_KEY_SIZE) {
      throw new HandshakeError(`invalid size for ed25519 public key: got ${auth.publicKey.length}, expected ${ED25519_PUBLIC_KEY_SIZE}`)
    }
    if (auth.sig.length !== ED25519_SIGNATURE_SIZE || !verifyEd25519(auth.publicKey, challenge, auth.sig)) {
      throw new ChallengeVerificationError('challenge verification failed')
    }
    sc._setRemotePublicKey(Uint8Array.from(auth.publicKey))
    return sc
  }, {
    scheduler: init.scheduler ?? asyncScheduler,
    timeoutMs,
    signal: init.signal,
    what: 'SecretConnection handshake',
    onFail: (err) => {
      if (sc !== undefined) sc.destroy(err)
      conn.destroy(err)
    }
  })
}

function decodeAuthSigOrFail (bytes: Uint8Array): ReturnType<typeof decodeAuthSig> {
  try {
    return decodeAuthSig(bytes)
  } catch (err) {
    throw new HandshakeError(`malformed AuthSigMessage: ${(err as Error).message}`, { cause: err })
  }
}
