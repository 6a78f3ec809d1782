/**
 * CometBFT's `addrbook.json`: the exact format (`p2p/pex/file.go`), Go's time and IP text forms, and an
 * atomic, crash-safe file store.
 *
 * The format, as `json.MarshalIndent(…, "", "\t")` writes it (tabs shown as two spaces):
 *
 * ```json
 * {
 *   "key": "3f9a0c1d2e4b5a6978d0c1e2",
 *   "addrs": [
 *     {
 *       "addr": {
 *         "id": "56475aa75463474c0285df5dbf2bcab73da65135",
 *         "ip": "203.0.113.7",
 *         "port": 26656
 *       },
 *       "src": { … },
 *       "buckets": [
 *         117
 *       ],
 *       "attempts": 0,
 *       "bucket_type": 1,
 *       "last_attempt": "2025-03-01T12:00:00.123456789Z",
 *       "last_success": "0001-01-01T00:00:00Z",
 *       "last_ban_time": "0001-01-01T00:00:00Z"
 *     }
 *   ]
 * }
 * ```
 *
 * @module
 */
import { open, readdir, rename, link, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { asyncScheduler } from 'rxjs'
import type { SchedulerLike } from 'rxjs'
import { AddrBookCorruptError, AddrBookIoError, AddrBookTooLargeError, DecodeError } from '../errors.js'
import { NetAddress, formatIp, parseIp } from '../transport/net-address.js'
import { KnownAddress, ZERO_TIME } from './known-address.js'
import type { GoTime, KnownAddressInfo } from './known-address.js'
import { BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, DEFAULT_MAX_ADDR_BOOK_FILE_BYTES, LOAD_BATCH_SIZE, NEW_BUCKET_COUNT, OLD_BUCKET_COUNT } from './params.js'

/** What an address book persists: its key and every known address (banned ones are not kept, as in Go). */
export interface AddrBookData {
  /** The book's bucket-placement key (24 hex characters when CometBFT made it). */
  key: string
  /** Every address in the book, new and old. */
  addrs: KnownAddressInfo[]
}

/** Options of {@link AddrBookStore.load}. */
export interface AddrBookLoadOptions {
  /** Aborted when the book stops before the load is done. @default undefined */
  signal?: AbortSignal
}

/**
 * Where an {@link AddrBook} keeps its data between runs. {@link AddrBookFile} is the usual one.
 *
 * `save` is handed a snapshot it may keep; calls are never concurrent (the book waits for one to finish
 * before starting the next).
 */
export interface AddrBookStore {
  /**
   * The stored data, or `undefined` when nothing is stored yet. A long load should give the event loop turns
   * and give up when `signal` aborts (the book stopped meanwhile; what it rejects with is then ignored).
   */
  load: (options?: AddrBookLoadOptions) => Promise<AddrBookData | undefined>
  /** Stores `data`, replacing what was there. */
  save: (data: AddrBookData) => Promise<void>
}

// ---------------------------------------------------------------------------------------------
// Go's time.Time text form (RFC 3339 with nanoseconds)

const NS_PER_S = 1_000_000_000n

/**
 * Formats a time as Go's `time.Time.MarshalJSON` does for a UTC time: RFC 3339 with the fraction of a second
 * written to the nanosecond and trailing zeros dropped (`2025-03-01T12:00:00.1234Z`), no fraction when it
 * is zero, and `0001-01-01T00:00:00Z` for {@link ZERO_TIME}.
 *
 * @throws {RangeError} a year outside 0..9999 (Go refuses those too)
 */
export function formatGoTime (t: GoTime): string {
  let secs = t / NS_PER_S
  let nanos = t - secs * NS_PER_S
  if (nanos < 0n) {
    secs -= 1n
    nanos += NS_PER_S
  }
  let days = secs / 86400n
  let sod = secs - days * 86400n
  if (sod < 0n) {
    days -= 1n
    sod += 86400n
  }
  const [y, m, d] = civilFromDays(Number(days))
  if (y < 0 || y > 9999) throw new RangeError(`time ${t} ns is outside the years 0..9999`)
  const s = Number(sod)
  let out = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`
  if (nanos !== 0n) out += '.' + nanos.toString().padStart(9, '0').replace(/0+$/, '')
  return out + 'Z'
}

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/

/**
 * Parses an RFC 3339 time as Go's `time.Time.UnmarshalJSON` does: any fraction of a second (truncated to
 * nanoseconds), `Z` or a `±hh:mm` offset. The result is an instant; the offset is not kept, so an instant that
 * the offset moves outside the years 0..9999 (UTC) is refused: {@link formatGoTime} could not write it back.
 *
 * @throws {DecodeError} not an RFC 3339 time, or a field out of range
 */
export function parseGoTime (text: string): GoTime {
  const m = RFC3339_RE.exec(text)
  if (m === null) throw new DecodeError(`not an RFC 3339 time: ${JSON.stringify(text)}`)
  const [year, month, day, hour, min, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59) {
    throw new DecodeError(`time out of range: ${JSON.stringify(text)}`)
  }
  let offset = 0
  if (m[8] === undefined) {
    const oh = Number(m[10])
    const om = Number(m[11])
    if (oh > 23 || om > 59) throw new DecodeError(`time zone offset out of range: ${JSON.stringify(text)}`)
    offset = (oh * 60 + om) * 60 * (m[9] === '-' ? -1 : 1)
  }
  const nanos = m[7] === undefined ? 0n : BigInt(m[7].slice(0, 9).padEnd(9, '0'))
  const secs = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + min * 60 + sec - offset)
  if (secs < MIN_UTC_SECONDS || secs > MAX_UTC_SECONDS) throw new DecodeError(`time outside the years 0..9999 in UTC: ${JSON.stringify(text)}`)
  return secs * NS_PER_S + nanos
}

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the epoch: what formatGoTime can write.
const MIN_UTC_SECONDS = BigInt(daysFromCivil(0, 1, 1)) * 86400n
const MAX_UTC_SECONDS = BigInt(daysFromCivil(9999, 12, 31)) * 86400n + 86399n

function pad (n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function isLeap (y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
}

function daysIn (y: number, m: number): number {
  return m === 2 ? (isLeap(y) ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]!
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
function daysFromCivil (y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

function civilFromDays (z: number): [number, number, number] {
  z += 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

// ---------------------------------------------------------------------------------------------
// The JSON document

/**
 * Writes `addrbook.json` byte for byte as CometBFT's `json.MarshalIndent(addrBookJSON, "", "\t")` would
 * (tab indent, Go's field names and order, Go's IP and time text forms, `<`, `>`, `&` escaped as Go does).
 * A host that is not an IP is written as it is (an empty host as `""`, Go's nil IP).
 *
 * @example
 * ```ts
 * await writeFile('addrbook.json', encodeAddrBookJson(book.toData()))
 * ```
 */
export function encodeAddrBookJson (data: AddrBookData): string {
  const doc = {
    key: data.key,
    addrs: data.addrs.map((ka) => ({
      addr: netAddressJson(ka.addr),
      src: netAddressJson(ka.src),
      buckets: [...ka.buckets],
      attempts: ka.attempts,
      bucket_type: ka.bucketType,
      last_attempt: formatGoTime(ka.lastAttempt),
      last_success: formatGoTime(ka.lastSuccess),
      last_ban_time: formatGoTime(ka.lastBanTime)
    }))
  }
  // Go's encoder escapes these for HTML safety; JSON.stringify does not.
  return JSON.stringify(doc, null, '\t').replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

function netAddressJson (a: NetAddress): { id: string, ip: string, port: number } {
  const ip = parseIp(a.host)
  return { id: a.id, ip: ip === undefined ? a.host : formatIp(ip), port: a.port }
}

/**
 * Reads `addrbook.json` as CometBFT's loader does, checking every field Go's decoder would: field names
 * match case-insensitively, missing fields take Go's zero values, an IP must parse, a port must fit 16 bits,
 * `bucket_type` must be 1 or 2 and every bucket index must exist. Entries come back as they are in the file
 * (nothing is rehashed); which of them the book accepts is up to the book.
 *
 * @throws {DecodeError} naming the first thing wrong (not JSON, a wrong type, a bad IP, time or bucket)
 */
export function decodeAddrBookJson (text: string): AddrBookData {
  const { key, rawAddrs } = parseTop(text)
  const addrs = rawAddrs.map((raw, i) => decodeKnownAddress(raw, `addrs[${i}]`))
  return { key, addrs }
}

/** Options of {@link decodeAddrBookJsonInSlices}. */
export interface DecodeInSlicesOptions {
  /** Gives up (rejects with the signal's reason) between two slices once aborted. @default undefined */
  signal?: AbortSignal
  /** Entries decoded between two yields. @default 2000 ({@link LOAD_BATCH_SIZE}) */
  batchSize?: number
  /**
   * Gives the event loop a turn (so that signals, sockets and timers are served). No time passes: it waits
   * for the end of the current turn, not for a clock.
   * @default one `setImmediate` turn
   */
  yieldToEventLoop?: () => Promise<void>
}

/**
 * {@link decodeAddrBookJson} in slices: the text is parsed at once (`JSON.parse`, about 6 ms per MiB), then
 * the entries are checked and decoded `batchSize` at a time with a turn of the event loop in between, so a
 * large file does not hold off a signal or a socket for the whole load. Same result, same errors.
 *
 * @throws {DecodeError} as {@link decodeAddrBookJson}
 */
export async function decodeAddrBookJsonInSlices (text: string, options: DecodeInSlicesOptions = {}): Promise<AddrBookData> {
  const batch = Math.max(1, options.batchSize ?? LOAD_BATCH_SIZE)
  const yieldTurn = options.yieldToEventLoop ?? nextTurn
  const signal = options.signal
  signal?.throwIfAborted()
  const { key, rawAddrs } = parseTop(text)
  const addrs: KnownAddress[] = new Array(rawAddrs.length)
  for (let i = 0; i < rawAddrs.length; i++) {
    if (i > 0 && i % batch === 0) {
      await yieldTurn()
      signal?.throwIfAborted()
    }
    addrs[i] = decodeKnownAddress(rawAddrs[i], `addrs[${i}]`)
    rawAddrs[i] = undefined // the parsed object can go as soon as it is decoded
  }
  return { key, addrs }
}

function nextTurn (): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve) })
}

function parseTop (text: string): { key: string, rawAddrs: unknown[] } {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new DecodeError(`addrbook.json is not JSON: ${(err as Error).message}`, { cause: err })
  }
  const top = asObject(doc, 'addrbook.json')
  const key = field(top, 'key')
  if (key !== undefined && key !== null && typeof key !== 'string') throw new DecodeError('addrbook.json: "key" is not a string')
  const rawAddrs = field(top, 'addrs')
  if (rawAddrs !== undefined && rawAddrs !== null && !Array.isArray(rawAddrs)) throw new DecodeError('addrbook.json: "addrs" is not an array')
  return { key: key ?? '', rawAddrs: (rawAddrs ?? []) as unknown[] }
}

function decodeKnownAddress (raw: unknown, where: string): KnownAddress {
  const o = asObject(raw, where)
  const addr = decodeNetAddress(field(o, 'addr'), `${where}.addr`)
  const src = decodeNetAddress(field(o, 'src'), `${where}.src`)
  const bucketType = field(o, 'bucket_type')
  if (bucketType !== BUCKET_TYPE_NEW && bucketType !== BUCKET_TYPE_OLD) {
    throw new DecodeError(`${where}.bucket_type: ${JSON.stringify(bucketType)} is not 1 (new) or 2 (old)`)
  }
  const count = bucketType === BUCKET_TYPE_NEW ? NEW_BUCKET_COUNT : OLD_BUCKET_COUNT
  const rawBuckets = field(o, 'buckets') ?? []
  if (!Array.isArray(rawBuckets)) throw new DecodeError(`${where}.buckets is not an array`)
  const buckets = rawBuckets.map((b: unknown, i) => {
    if (!Number.isInteger(b) || (b as number) < 0 || (b as number) >= count) {
      throw new DecodeError(`${where}.buckets[${i}]: ${JSON.stringify(b)} is not a bucket index below ${count}`)
    }
    return b as number
  })
  const attempts = field(o, 'attempts') ?? 0
  if (!Number.isInteger(attempts) || (attempts as number) < -(2 ** 31) || (attempts as number) >= 2 ** 31) {
    throw new DecodeError(`${where}.attempts: ${JSON.stringify(attempts)} is not an int32`)
  }
  return new KnownAddress(addr, src, buckets, attempts as number, bucketType,
    decodeTime(field(o, 'last_attempt'), `${where}.last_attempt`),
    decodeTime(field(o, 'last_success'), `${where}.last_success`),
    decodeTime(field(o, 'last_ban_time'), `${where}.last_ban_time`))
}

function decodeNetAddress (raw: unknown, where: string): NetAddress {
  const o = asObject(raw, where)
  const id = field(o, 'id') ?? ''
  if (typeof id !== 'string') throw new DecodeError(`${where}.id is not a string`)
  const ipText = field(o, 'ip') ?? ''
  if (typeof ipText !== 'string') throw new DecodeError(`${where}.ip is not a string`)
  let host = ''
  if (ipText !== '') {
    const ip = parseIp(ipText)
    if (ip === undefined) throw new DecodeError(`${where}.ip: ${JSON.stringify(ipText)} is not an IP address`)
    host = formatIp(ip)
  }
  const port = field(o, 'port') ?? 0
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new DecodeError(`${where}.port: ${JSON.stringify(port)} is not a uint16`)
  }
  return new NetAddress(id, host, port as number)
}

function decodeTime (raw: unknown, where: string): GoTime {
  if (raw === undefined || raw === null) return ZERO_TIME
  if (typeof raw !== 'string') throw new DecodeError(`${where} is not a time string`)
  try {
    return parseGoTime(raw)
  } catch (err) {
    throw new DecodeError(`${where}: ${(err as Error).message}`, { cause: err })
  }
}

function asObject (raw: unknown, where: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DecodeError(`${where} is not a JSON object`)
  return raw as Record<string, unknown>
}

// Go's decoder matches keys to fields case-insensitively; the last matching key wins.
function field (o: Record<string, unknown>, name: string): unknown {
  let value: unknown
  for (const k of Object.keys(o)) if (k === name || k.toLowerCase() === name) value = o[k]
  return value
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

/** The steps of {@link writeFileAtomic}, in order. */
export type AtomicWriteStep = 'open' | 'write' | 'fsync' | 'close' | 'rename' | 'fsync-dir'

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode of a new file. @default 0o644 */
  mode?: number
  /**
   * Called before each step (and before each chunk of the `write` step); a hook that throws makes the
   * write fail right there, as a crash would. For tests.
   *
   * @internal
   */
  beforeStep?: (step: AtomicWriteStep) => void | Promise<void>
}

let tempCounter = 0

const WRITE_CHUNK = 64 * 1024

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either the old file or the new one:
 * the data goes to a temporary file in the same directory (`<name>.tmp-<pid>-<n>`), which is synced,
 * closed and renamed over `path`; then the directory is synced so the rename itself is durable. On failure
 * the temporary file is removed and the error is thrown.
 *
 * @example
 * ```ts
 * await writeFileAtomic('/data/addrbook.json', text)
 * ```
 */
export async function writeFileAtomic (path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  const step = options.beforeStep ?? (() => {})
  const dir = dirname(path)
  const tmp = join(dir, `${basename(path)}.tmp-${process.pid}-${++tempCounter}`)
  let handle: Awaited<ReturnType<typeof open>> | undefined
  let created = false
  try {
    await step('open')
    handle = await open(tmp, 'wx', options.mode ?? 0o644)
    created = true
    let off = 0
    do {
      await step('write')
      const end = Math.min(off + WRITE_CHUNK, bytes.length)
      while (off < end) off += (await handle.write(bytes, off, end - off)).bytesWritten
    } while (off < bytes.length)
    await step('fsync')
    await handle.sync()
    await step('close')
    await handle.close()
    handle = undefined
    await step('rename')
    await rename(tmp, path)
    created = false
    await step('fsync-dir')
    await syncDir(dir)
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => {})
    if (created) await unlink(tmp).catch(() => {})
    throw err
  }
}

// The file's text; its size when it is over `limit` bytes (never read further than one byte past it, so a file
// that grows while it is read cannot make us read more); undefined when there is no file.
async function readAtMost (path: string, limit: number): Promise<string | number | undefined> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const { size } = await handle.stat()
    if (size > limit) return size
    let buf = Buffer.allocUnsafe(size + 1)
    let off = 0
    for (;;) {
      if (off === buf.length) { // it grew since the stat
        if (off > limit) return off
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, limit + 1))
        buf.copy(bigger, 0, 0, off)
        buf = bigger
      }
      const { bytesRead } = await handle.read(buf, off, buf.length - off, off)
      if (bytesRead === 0) break
      off += bytesRead
    }
    if (off > limit) return off
    return buf.toString('utf8', 0, off)
  } finally {
    await handle.close().catch(() => {})
  }
}

async function syncDir (dir: string): Promise<void> {
  let h: Awaited<ReturnType<typeof open>> | undefined
  try {
    h = await open(dir, 'r')
    await h.sync()
  } catch (err) {
    // Some platforms (Windows) and file systems cannot sync a directory; the rename is done all the same.
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EBADF') throw err
  } finally {
    await h?.close().catch(() => {})
  }
}

// ---------------------------------------------------------------------------------------------
// The file store

/** Options of {@link AddrBookFile}. */
export interface AddrBookFileInit {
  /** Clock for the time in the name a corrupt file is moved to. @default asyncScheduler */
  scheduler?: SchedulerLike
  /** Mode of a newly created file. @default 0o644 */
  mode?: number
  /**
   * A file larger than this is not read: {@link AddrBookFile.load} sets it aside and rejects with
   * {@link AddrBookTooLargeError}.
   * @default 33554432 (32 MiB, {@link DEFAULT_MAX_ADDR_BOOK_FILE_BYTES})
   */
  maxFileBytes?: number
  /** Entries decoded between two turns of the event loop while loading. @default 2000 ({@link LOAD_BATCH_SIZE}) */
  loadBatchSize?: number
  /** @internal Passed to {@link writeFileAtomic}. */
  beforeStep?: AtomicWriteOptions['beforeStep']
}

/**
 * `addrbook.json` on disk: read in CometBFT's format, written in it atomically (`writeFileAtomic`).
 *
 * A file that does not decode is never silently replaced: it is renamed to
 * `<path>.corrupt-<UTC time>` and {@link AddrBookFile.load} rejects with an {@link AddrBookCorruptError}
 * whose `movedTo` names the new path. Loading again then starts empty. A file over `maxFileBytes` is set
 * aside the same way, unread, as `<path>.too-large-<UTC time>` ({@link AddrBookTooLargeError}).
 *
 * @example
 * ```ts
 * const book = new AddrBook({ store: new AddrBookFile('/data/addrbook.json') })
 * await book.start()
 * ```
 */
export class AddrBookFile implements AddrBookStore {
  readonly #scheduler: SchedulerLike
  readonly #init: AddrBookFileInit

  /** @param path where the file is (its directory must exist) */
  constructor (readonly path: string, init: AddrBookFileInit = {}) {
    this.#scheduler = init.scheduler ?? asyncScheduler
    this.#init = init
  }

  /**
   * Reads the file; `undefined` when there is none. Temporary files that an interrupted save left beside
   * it are removed.
   *
   * The entries are decoded in slices (`decodeAddrBookJsonInSlices`); once `signal` aborts, the load
   * stops between two slices and rejects with the signal's reason, leaving the file as it is.
   *
   * @throws {AddrBookTooLargeError} the file is over `maxFileBytes`; it has been moved to `movedTo`, unread
   * @throws {AddrBookCorruptError} the file does not decode; it has been moved to `movedTo`
   * @throws {AddrBookIoError} the file exists but cannot be read
   */
  async load (options: AddrBookLoadOptions = {}): Promise<AddrBookData | undefined> {
    await this.#removeTempFiles()
    const limit = this.#init.maxFileBytes ?? DEFAULT_MAX_ADDR_BOOK_FILE_BYTES
    let text: string
    try {
      const read = await readAtMost(this.path, limit)
      if (read === undefined) return undefined
      if (typeof read === 'number') {
        const { movedTo, where } = await this.#setAside('too-large')
        throw new AddrBookTooLargeError(this.path, movedTo, read, limit,
          `address book ${this.path} is too large to load (${read} bytes, at most ${limit}: maxFileBytes); ${where}`)
      }
      text = read
    } catch (err) {
      if (err instanceof AddrBookTooLargeError) throw err
      throw new AddrBookIoError(this.path, 'load', `cannot read ${this.path}: ${(err as Error).message}`, { cause: err })
    }
    try {
      const decodeOptions: DecodeInSlicesOptions = {}
      if (options.signal !== undefined) decodeOptions.signal = options.signal
      if (this.#init.loadBatchSize !== undefined) decodeOptions.batchSize = this.#init.loadBatchSize
      return await decodeAddrBookJsonInSlices(text, decodeOptions)
    } catch (err) {
      if (options.signal?.aborted === true) throw err // abandoned, not corrupt: the file stays
      const { movedTo, where } = await this.#setAside('corrupt')
      throw new AddrBookCorruptError(this.path, movedTo, `corrupt address book ${this.path} (${(err as Error).message}); ${where}`, { cause: err })
    }
  }

  async #setAside (kind: 'corrupt' | 'too-large'): Promise<{ movedTo: string | undefined, where: string }> {
    try {
      const movedTo = await this.#moveAside(kind)
      return { movedTo, where: `moved to ${movedTo}` }
    } catch (e) {
      return { movedTo: undefined, where: `could not be moved aside (${(e as Error).message})` }
    }
  }

  /**
   * Writes the data atomically.
   *
   * @throws {AddrBookIoError} the file could not be written (the old one is left as it was)
   */
  async save (data: AddrBookData): Promise<void> {
    const options: AtomicWriteOptions = { mode: this.#init.mode ?? 0o644 }
    if (this.#init.beforeStep !== undefined) options.beforeStep = this.#init.beforeStep
    try {
      // Encoding can fail too (a time outside the years 0..9999): that is a failed save, not an untyped throw.
      await writeFileAtomic(this.path, encodeAddrBookJson(data), options)
    } catch (err) {
      throw new AddrBookIoError(this.path, 'save', `cannot save ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  // Renames the file to `<path>.<kind>-<time>`, never over an existing file.
  async #moveAside (kind: 'corrupt' | 'too-large'): Promise<string> {
    const stamp = new Date(Math.floor(this.#scheduler.now())).toISOString().replace(/[-:]/g, '')
    for (let n = 0; ; n++) {
      const target = `${this.path}.${kind}-${stamp}${n === 0 ? '' : `-${n}`}`
      try {
        await link(this.path, target)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'EEXIST') continue
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EXDEV' || code === 'EMLINK') {
          await rename(this.path, target) // no hard links here: rename (the time stamp keeps it unique)
          return target
        }
        throw err
      }
      await unlink(this.path)
      return target
    }
  }

  async #removeTempFiles (): Promise<void> {
    const dir = dirname(this.path)
    const prefix = `${basename(this.path)}.tmp-`
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      return
    }
    for (const name of names) if (name.startsWith(prefix)) await unlink(join(dir, name)).catch(() => {})
  }
}
