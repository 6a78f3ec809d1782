/**
 * Node identity: the ed25519 node key and CometBFT's `node_key.json` (the IDs it derives are in `node-id.ts`).
 *
 * @module
 */
import { randomBytes, type KeyObject } from 'node:crypto'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { InvalidNodeKeyError } from '../errors.js'
import { ED25519_PUBLIC_KEY_SIZE, ED25519_SEED_SIZE, ed25519PrivateKeyObject, ed25519PublicKeyOf, ed25519Sign } from './ed25519.js'
import { nodeIdFromPublicKey, type NodeId } from './node-id.js'

/** The amino type name CometBFT writes for an ed25519 private key (the same in v0.34 through v1.x). */
export const PRIV_KEY_ED25519_TYPE = 'tendermint/PrivKeyEd25519'

/** The JSON shape of CometBFT's `node_key.json`. */
export interface NodeKeyJSON {
  priv_key: {
    type: string
    value: string
  }
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * A node's long-term ed25519 key. Its {@link NodeKey.id} is the node ID peers know it by.
 *
 * The file format is CometBFT's `node_key.json`:
 * `{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"<base64 of seed || public key>"}}`, written with
 * mode 0600, so a key made by `cometbft init` works here and the other way round.
 *
 * @example
 * ```ts
 * const key = await NodeKey.loadOrGenerate('config/node_key.json')
 * console.log(key.id) // 40 hex characters
 * ```
 */
export class NodeKey {
  /** The 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array
  /** The node ID derived from {@link NodeKey.publicKey}. */
  readonly id: NodeId
  readonly #seed: Uint8Array
  readonly #privateKey: KeyObject

  private constructor (seed: Uint8Array) {
    this.#seed = Uint8Array.from(seed)
    this.#privateKey = ed25519PrivateKeyObject(this.#seed)
    this.publicKey = ed25519PublicKeyOf(this.#privateKey)
    this.id = nodeIdFromPublicKey(this.publicKey)
  }

  /** A fresh random key. */
  static generate (): NodeKey {
    return new NodeKey(randomBytes(ED25519_SEED_SIZE))
  }

  /**
   * The key with this 32-byte ed25519 seed.
   *
   * @throws {InvalidNodeKeyError} the seed is not 32 bytes
   */
  static fromSeed (seed: Uint8Array): NodeKey {
    if (seed.length !== ED25519_SEED_SIZE) throw new InvalidNodeKeyError(`ed25519 seed must be ${ED25519_SEED_SIZE} bytes, got ${seed.length}`)
    return new NodeKey(seed)
  }

  /**
   * Reads CometBFT's `node_key.json` content (a string or the parsed object).
   *
   * @throws {InvalidNodeKeyError} not JSON, not that shape, not an ed25519 key, a value that is not 64 bytes of
   *   base64, or a public half that does not belong to the seed
   */
  static fromJSON (json: string | object): NodeKey {
    let obj: unknown = json
    if (typeof json === 'string') {
      try {
        obj = JSON.parse(json)
      } catch (err) {
        throw new InvalidNodeKeyError('node key is not valid JSON', { cause: err })
      }
    }
    const privKey = (obj as { priv_key?: unknown } | null)?.priv_key as { type?: unknown, value?: unknown } | undefined
    if (privKey === null || typeof privKey !== 'object') throw new InvalidNodeKeyError('node key has no "priv_key" object')
    if (privKey.type !== PRIV_KEY_ED25519_TYPE) {
      throw new InvalidNodeKeyError(`node key type ${JSON.stringify(privKey.type)} is not supported: want ${PRIV_KEY_ED25519_TYPE}`)
    }
    if (typeof privKey.value !== 'string' || !BASE64_RE.test(privKey.value)) throw new InvalidNodeKeyError('node key value is not base64')
    const raw = Buffer.from(privKey.value, 'base64')
    if (raw.length !== ED25519_SEED_SIZE + ED25519_PUBLIC_KEY_SIZE) {
      throw new InvalidNodeKeyError(`ed25519 private key must be 64 bytes (seed || public key), got ${raw.length}`)
    }
    const key = new NodeKey(raw.subarray(0, ED25519_SEED_SIZE))
    if (!Buffer.from(key.publicKey).equals(raw.subarray(ED25519_SEED_SIZE))) {
      throw new InvalidNodeKeyError('node key public half does not match its seed')
    }
    return key
  }

  /**
   * Loads a `node_key.json` file.
   *
   * @throws {InvalidNodeKeyError} the file cannot be read (the cause holds the fs error) or does not parse
   */
  static async load (path: string): Promise<NodeKey> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      throw new InvalidNodeKeyError(`cannot read node key ${path}`, { cause: err })
    }
    return NodeKey.fromJSON(text)
  }

  /** Loads `path`, or generates a key and saves it there (mode 0600) when the file does not exist. */
  static async loadOrGenerate (path: string): Promise<NodeKey> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new InvalidNodeKeyError(`cannot read node key ${path}`, { cause: err })
      const key = NodeKey.generate()
      await key.save(path)
      return key
    }
    return NodeKey.fromJSON(text)
  }

  /** Writes the key as `node_key.json` (compact JSON, as Go writes it) with file mode 0600. */
  async save (path: string): Promise<void> {
    await writeFile(path, JSON.stringify(this.toJSON()), { mode: 0o600 })
    await chmod(path, 0o600)
  }

  /** The `node_key.json` object. */
  toJSON (): NodeKeyJSON {
    return {
      priv_key: {
        type: PRIV_KEY_ED25519_TYPE,
        value: Buffer.concat([this.#seed, this.publicKey]).toString('base64')
      }
    }
  }

  /** Signs `msg` with pure Ed25519 (RFC 8032); 64 bytes. */
  sign (msg: Uint8Array): Uint8Array {
    return ed25519Sign(this.#privateKey, msg)
  }
}
