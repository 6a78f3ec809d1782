/**
 * Helpers for the SecretConnection, NodeInfo and upgrade specs: the derived handshake vector, a byte collector
 * for the far end of a connection, and a scriptable peer that runs the handshake by hand so it can misbehave.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { firstValueFrom, type Subscription } from 'rxjs'
import { SecretConnection } from '../../lib/conn/secret-connection.js'
import { compareBytes, deriveSecrets, handshakeChallenge } from '../../lib/crypto/key-schedule.js'
import type { NodeKey } from '../../lib/crypto/node-key.js'
import { x25519, x25519KeyPair } from '../../lib/crypto/x25519.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { encodeDelimited, readDelimited } from '../../lib/wire/delimited.js'
import type { NodeInfo } from '../../lib/wire/node-info.js'

/** The golden vectors, `spec/fixtures/cometbft/` (copied from CometBFT; their README says from where). */
export const VECTORS_DIR = fileURLToPath(new URL('../fixtures/cometbft/', import.meta.url))

/** Reads a vector file. */
export function vectorText (name: string): string {
  return readFileSync(VECTORS_DIR + name, 'utf8')
}

/** Hex to bytes (a fresh Buffer each call, so tests never share memory with each other). */
export function hex (s: string): Buffer {
  return Buffer.from(s, 'hex')
}

/** One sealed frame of the derived vector. */
export interface VectorFrame {
  nonce_counter: number
  nonce_hex: string
  plaintext_frame_hex: string
  sealed_frame_hex: string
}

/** The parts of `derived_handshake_vector.json` the specs use. */
export interface HandshakeVector {
  inputs: Record<'A_ed25519_seed_hex' | 'B_ed25519_seed_hex' | 'A_x25519_ephemeral_private_hex' | 'B_x25519_ephemeral_private_hex', string>
  identities: {
    A_ed25519_pub_hex: string
    B_ed25519_pub_hex: string
    A_node_id: string
    B_node_id: string
    A_node_key_json: { priv_key: { type: string, value: string } }
    B_node_key_json: { priv_key: { type: string, value: string } }
  }
  step1_ephemeral_exchange: Record<'A_eph_pub_hex' | 'B_eph_pub_hex' | 'A_wire_bytes_hex' | 'B_wire_bytes_hex', string>
  step2_key_schedule: {
    lo_eph_pub_hex: string
    hi_eph_pub_hex: string
    A_is_least: boolean
    dh_secret_hex: string
    merlin_challenge_hex: string
    hkdf_output_96_hex: string
    A_recv_key_hex: string
    A_send_key_hex: string
    B_recv_key_hex: string
    B_send_key_hex: string
  }
  step3_auth_sig: {
    A_signature_hex: string
    B_signature_hex: string
    A_auth_sig_delimited_hex: string
    B_auth_sig_delimited_hex: string
    A_to_B_frames: VectorFrame[]
    B_to_A_frames: VectorFrame[]
  }
  step4_node_info: {
    A_node_info_proto_hex: string
    B_node_info_proto_hex: string
    A_fields: VectorNodeInfoFields
    B_fields: VectorNodeInfoFields
    A_to_B_frames: VectorFrame[]
    B_to_A_frames: VectorFrame[]
  }
  step5_mconnection: {
    A_ping_delimited_hex: string
    A_to_B_ping_frames: VectorFrame[]
    'B_mempool_tx_abc=def': { mempool_message_hex: string, packet_delimited_hex: string, B_to_A_frames: VectorFrame[] }
  }
}

/** NodeInfo fields as the vector writes them. */
export interface VectorNodeInfoFields {
  protocol_version: { p2p: number, block: number, app: number }
  default_node_id: string
  listen_addr: string
  network: string
  version: string
  channels_hex: string
  moniker: string
  other: { tx_index: string, rpc_address: string }
}

/** The derived handshake vector. */
export function handshakeVector (): HandshakeVector {
  return JSON.parse(vectorText('derived_handshake_vector.json')) as HandshakeVector
}

/** The vector's NodeInfo fields as a {@link NodeInfo}. */
export function vectorNodeInfo (f: VectorNodeInfoFields): NodeInfo {
  return {
    protocolVersion: { ...f.protocol_version },
    id: f.default_node_id,
    listenAddr: f.listen_addr,
    network: f.network,
    version: f.version,
    channels: hex(f.channels_hex),
    moniker: f.moniker,
    other: { txIndex: f.other.tx_index, rpcAddress: f.other.rpc_address }
  }
}

/** Collects every byte arriving on a connection and hands out exact-length slices in order. */
export class ByteCollector {
  #buf = Buffer.alloc(0)
  #waiters: Array<{ n: number, resolve: (b: Buffer) => void, reject: (e: unknown) => void }> = []
  #ended = false
  #error: unknown
  readonly #sub: Subscription

  constructor (conn: DuplexConnection) {
    this.#sub = conn.source$.subscribe({
      next: (chunk) => {
        this.#buf = Buffer.concat([this.#buf, chunk])
        this.#serve()
      },
      error: (err: unknown) => {
        this.#ended = true
        this.#error = err
        this.#serve()
      },
      complete: () => {
        this.#ended = true
        this.#serve()
      }
    })
  }

  /** Bytes received and not yet taken. */
  get available (): number {
    return this.#buf.length
  }

  /** Resolves with the next `n` bytes; rejects when the stream ends first. */
  take (n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ n, resolve, reject })
      this.#serve()
    })
  }

  /** Stops collecting. */
  stop (): void {
    this.#sub.unsubscribe()
  }

  #serve (): void {
    while (this.#waiters.length > 0) {
      const w = this.#waiters[0]!
      if (this.#buf.length >= w.n) {
        this.#waiters.shift()
        const out = this.#buf.subarray(0, w.n)
        this.#buf = this.#buf.subarray(w.n)
        w.resolve(Buffer.from(out))
      } else if (this.#ended) {
        this.#waiters.shift()
        w.reject(this.#error ?? new Error(`stream ended with ${this.#buf.length} of ${w.n} bytes`))
      } else {
        return
      }
    }
  }
}

/** How a {@link scriptedPeer} misbehaves. */
export interface ScriptedPeerInit {
  /** Our long-term key. */
  nodeKey: NodeKey
  /** The 34-byte BytesValue (without length prefix) or raw bytes to send instead of a proper ephemeral key. */
  ephemeralMessage?: Uint8Array
  /** Send this ephemeral public key (e.g. a low-order point) instead of ours. */
  ephemeralPublicKey?: Uint8Array
  /**
   * Builds the AuthSig message body (without its length prefix) from the challenge; the default signs it
   * properly. Return `undefined` to send nothing.
   */
  authSig?: (challenge: Uint8Array, nodeKey: NodeKey) => Uint8Array | undefined
  /** Stop after the ephemeral key exchange (resolves without a SecretConnection). */
  stopAfterEphemeral?: boolean
}

/** What a scripted peer ends up with. */
export interface ScriptedPeer {
  /** Our side of the encrypted connection (undefined when stopped after the ephemeral exchange). */
  sc?: SecretConnection
  /** The challenge both sides should sign. */
  challenge?: Uint8Array
}

/**
 * Runs the handshake by hand on `conn` (as a real peer would, write first then read) so that a spec can
 * replace any message. It does not verify the other side.
 */
export async function scriptedPeer (conn: DuplexConnection, init: ScriptedPeerInit): Promise<ScriptedPeer> {
  const eph = x25519KeyPair()
  const pub = init.ephemeralPublicKey ?? eph.publicKey
  const body = init.ephemeralMessage ?? Uint8Array.from([0x0a, pub.length, ...pub])
  conn.write(encodeDelimited(body))
  const msg = await readDelimited(conn, 1 << 20)
  if (init.stopAfterEphemeral === true) return {}
  const remote = msg.subarray(2)
  const locIsLeast = compareBytes(eph.publicKey, remote) < 0
  const [lo, hi] = locIsLeast ? [eph.publicKey, remote] : [remote, eph.publicKey]
  const dh = x25519(eph.privateKey, remote)
  const challenge = handshakeChallenge(lo, hi, dh)
  const sc = new SecretConnection(conn, deriveSecrets(dh, locIsLeast))
  const auth = (init.authSig ?? defaultAuthSig)(challenge, init.nodeKey)
  if (auth !== undefined) sc.write(encodeDelimited(auth))
  return { sc, challenge }
}

function defaultAuthSig (challenge: Uint8Array, nodeKey: NodeKey): Uint8Array {
  const sig = nodeKey.sign(challenge)
  return Uint8Array.from([0x0a, 0x22, 0x0a, 0x20, ...nodeKey.publicKey, 0x12, 0x40, ...sig])
}

/** Resolves with the first emission of `closed$`. */
export function closedReason (conn: DuplexConnection): Promise<Error | undefined> {
  return firstValueFrom(conn.closed$)
}

/** Records unhandled rejections while a spec runs; call the returned function to stop and get them. */
export function watchUnhandledRejections (): () => unknown[] {
  const seen: unknown[] = []
  const onRejection = (reason: unknown): void => { seen.push(reason) }
  process.on('unhandledRejection', onRejection)
  return () => {
    process.off('unhandledRejection', onRejection)
    return seen
  }
}

/** Lets pending microtasks and immediates run. */
export function settle (ms = 0): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms) })
}

/** u-coordinates of points of small order (and their non-canonical encodings), from the X25519 literature. */
export const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0
  '0100000000000000000000000000000000000000000000000000000000000000', // 1
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p - 1
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p (= 0)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f' // p + 1 (= 1)
]
