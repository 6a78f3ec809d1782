/**
 * A saved address book packed into typed arrays, for the {@link Simulation}'s in-memory book stores: a restarted
 * node gets back exactly what it saved, at a fraction of the heap.
 *
 * @module
 */
import type { AddrBookData, AddrBookStore } from '../pex/addr-book-file.js'
import { ZERO_TIME, type KnownAddressInfo } from '../pex/known-address.js'
import type { BucketType } from '../pex/params.js'
import type { NetAddress } from '../transport/net-address.js'

// Go's zero time is below the range of a signed 64-bit integer of nanoseconds: it is stored as this instead.
const ZERO_SLOT = -(2n ** 63n)
// An entry is in at most 4 new buckets (or 1 old one).
const SLOTS = 4

/**
 * {@link AddrBookData} as typed arrays: the addresses and sources (shared `NetAddress` objects, as the book holds
 * them), then one slot per entry for attempts, type and times, and four for buckets. A book of 1,000 entries
 * takes ~60 KiB here against ~130 KiB as `KnownAddressInfo` objects with their bucket arrays; a simulation
 * of 10,000 nodes keeps 10,000 of them.
 */
export class PackedAddrBook {
  readonly key: string
  readonly #addrs: NetAddress[]
  readonly #srcs: NetAddress[]
  readonly #attempts: Int32Array
  readonly #types: Uint8Array
  readonly #buckets: Int16Array
  readonly #times: BigInt64Array

  /** Packs `data` (the caller may drop `data` afterwards). */
  constructor (data: AddrBookData) {
    const n = data.addrs.length
    this.key = data.key
    this.#addrs = new Array<NetAddress>(n)
    this.#srcs = new Array<NetAddress>(n)
    this.#attempts = new Int32Array(n)
    this.#types = new Uint8Array(n)
    this.#buckets = new Int16Array(n * SLOTS).fill(-1)
    this.#times = new BigInt64Array(n * 3)
    for (let i = 0; i < n; i++) {
      const e = data.addrs[i]!
      if (e.buckets.length > SLOTS) throw new RangeError(`an address book entry in ${e.buckets.length} buckets (at most ${SLOTS})`)
      this.#addrs[i] = e.addr
      this.#srcs[i] = e.src
      this.#attempts[i] = e.attempts
      this.#types[i] = e.bucketType
      for (let k = 0; k < e.buckets.length; k++) this.#buckets[i * SLOTS + k] = e.buckets[k]!
      this.#times[i * 3] = pack(e.lastAttempt)
      this.#times[i * 3 + 1] = pack(e.lastSuccess)
      this.#times[i * 3 + 2] = pack(e.lastBanTime)
    }
  }

  /** Entries. */
  get size (): number {
    return this.#addrs.length
  }

  /** The data again, equal to what was packed (new objects each call). */
  unpack (): AddrBookData {
    const n = this.#addrs.length
    const addrs: KnownAddressInfo[] = new Array<KnownAddressInfo>(n)
    for (let i = 0; i < n; i++) {
      const buckets: number[] = []
      for (let k = 0; k < SLOTS; k++) {
        const b = this.#buckets[i * SLOTS + k]!
        if (b < 0) break
        buckets.push(b)
      }
      addrs[i] = {
        addr: this.#addrs[i]!,
        src: this.#srcs[i]!,
        buckets,
        attempts: this.#attempts[i]!,
        bucketType: this.#types[i]! as BucketType,
        lastAttempt: unpack(this.#times[i * 3]!),
        lastSuccess: unpack(this.#times[i * 3 + 1]!),
        lastBanTime: unpack(this.#times[i * 3 + 2]!)
      }
    }
    return { key: this.key, addrs }
  }
}

function pack (t: bigint): bigint {
  if (t === ZERO_TIME) return ZERO_SLOT
  if (t <= ZERO_SLOT || t >= 2n ** 63n) throw new RangeError(`time ${t} ns out of range`)
  return t
}

function unpack (t: bigint): bigint {
  return t === ZERO_SLOT ? ZERO_TIME : t
}

/**
 * An in-memory {@link AddrBookStore} that keeps the last saved book packed ({@link PackedAddrBook}).
 *
 * @example
 * ```ts
 * const store = packedBookStore()
 * const book = new AddrBook({ store, addrBookStrict: false })
 * ```
 */
export function packedBookStore (): AddrBookStore & { readonly saved: PackedAddrBook | undefined } {
  let saved: PackedAddrBook | undefined
  return {
    get saved () { return saved },
    load: async () => saved?.unpack(),
    save: async (data: AddrBookData) => { saved = new PackedAddrBook(data) }
  }
}
