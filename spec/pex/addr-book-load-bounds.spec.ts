// What a file on disk can make the book spend: loading keeps to the bucket sizes (and so to the total cap)
// whatever the file holds, an insert into a crowded bucket stays one scan, a file over maxFileBytes is set aside
// unread, and the entries are decoded in slices that give the event loop turns and stop when the book stops.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import { AddrBook } from '../../lib/pex/addr-book.js'
import type { AddrBookEvent } from '../../lib/pex/addr-book.js'
import {
  AddrBookFile, decodeAddrBookJson, decodeAddrBookJsonInSlices, encodeAddrBookJson
} from '../../lib/pex/addr-book-file.js'
import type { AddrBookData, AddrBookStore } from '../../lib/pex/addr-book-file.js'
import { KnownAddress, timeFromMs } from '../../lib/pex/known-address.js'
import {
  BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, MAX_BOOK_SIZE, NEW_BUCKET_COUNT, NEW_BUCKET_SIZE, OLD_BUCKET_COUNT, OLD_BUCKET_SIZE
} from '../../lib/pex/params.js'
import { AddrBookCorruptError, AddrBookTooLargeError } from '../../lib/errors.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { T0, idOf, seededRandom, virtualClock } from './support.js'

const KEY = '0123456789abcdef01234567'

/** Entry `i`: its own ID, an IP spread over many /16s, in the buckets given. */
function entry (i: number, buckets: number[], bucketType: 1 | 2 = BUCKET_TYPE_NEW): KnownAddress {
  const addr = new NetAddress(idOf(`file-${i}`), `${20 + (i % 70)}.${(i >> 8) & 255}.${i & 255}.1`, 26656)
  const src = new NetAddress(idOf(`file-src-${i % 97}`), `${100 + (i % 50)}.1.0.1`, 26656)
  const t = timeFromMs(T0 - 1000 * (i % 5000))
  return new KnownAddress(addr, src, buckets, 0, bucketType, t, bucketType === BUCKET_TYPE_OLD ? t : -62135596800n * 1_000_000_000n)
}

function store (data: AddrBookData): AddrBookStore {
  return { load: async () => data, save: async () => {} }
}

async function loadBook (data: AddrBookData): Promise<{ book: AddrBook, loaded: Extract<AddrBookEvent, { type: 'loaded' }> }> {
  const book = new AddrBook({ store: store(data), scheduler: virtualClock(), random: seededRandom(3), saveIntervalMs: 0 })
  let loaded: AddrBookEvent | undefined
  book.events$.subscribe((e) => { if (e.type === 'loaded') loaded = e })
  await book.start()
  return { book, loaded: loaded as Extract<AddrBookEvent, { type: 'loaded' }> }
}

describe('pex/addr-book: what a file can make the book spend', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'rx-p2p-addrbook-bounds-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  describe('loading keeps to the bucket sizes', () => {
    it('a file crowding 5,000 entries into new bucket 0 and 500 into old bucket 3 loads 64 of each; the rest are dropped and counted', async () => {
      const addrs = [
        ...Array.from({ length: 5000 }, (_, i) => entry(i, [0])),
        ...Array.from({ length: 500 }, (_, i) => entry(10_000 + i, [3], BUCKET_TYPE_OLD)),
        entry(20_000, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), // new: at most 4 buckets
        entry(20_001, [5, 6], BUCKET_TYPE_OLD) // old: exactly one
      ]
      const { book, loaded } = await loadBook({ key: KEY, addrs })
      expect(book.bucket(BUCKET_TYPE_NEW, 0)).to.have.length(NEW_BUCKET_SIZE)
      expect(book.bucket(BUCKET_TYPE_OLD, 3)).to.have.length(OLD_BUCKET_SIZE)
      expect(book.get(idOf('file-20000'))!.buckets).to.deep.equal([1, 2, 3, 4])
      expect(book.get(idOf('file-20001'))!.buckets).to.deep.equal([5])
      expect([book.sizeNew, book.sizeOld]).to.deep.equal([NEW_BUCKET_SIZE + 1, OLD_BUCKET_SIZE + 1])
      expect(loaded).to.deep.equal({ type: 'loaded', size: book.size, skipped: 0, dropped: (5000 - 64) + (500 - 64) })
      // the entries kept are the first ones the file lists
      expect(book.bucket(BUCKET_TYPE_NEW, 0).map((e) => e.addr.id)).to.deep.equal(Array.from({ length: 64 }, (_, i) => idOf(`file-${i}`)))
    })

    it('a file of 25,000 valid entries over every bucket loads 20,480 at most (256·64 new + 64·64 old)', async () => {
      const addrs = [
        ...Array.from({ length: 20_000 }, (_, i) => entry(i, [i % NEW_BUCKET_COUNT])),
        ...Array.from({ length: 5000 }, (_, i) => entry(40_000 + i, [i % OLD_BUCKET_COUNT], BUCKET_TYPE_OLD))
      ]
      const { book, loaded } = await loadBook({ key: KEY, addrs })
      expect(book.size).to.equal(MAX_BOOK_SIZE)
      expect([book.sizeNew, book.sizeOld]).to.deep.equal([NEW_BUCKET_COUNT * NEW_BUCKET_SIZE, OLD_BUCKET_COUNT * OLD_BUCKET_SIZE])
      expect(loaded.dropped).to.equal(25_000 - MAX_BOOK_SIZE)
    })

    it('after loading 32,000 entries crowded into one bucket, an insert into that bucket takes one scan, not one per extra entry', async () => {
      const { book } = await loadBook({ key: KEY, addrs: Array.from({ length: 32_000 }, (_, i) => entry(i, [0])) })
      // find addresses that the book places in bucket 0 (the bucket the file crowded)
      const into0: NetAddress[] = []
      let spent = 0
      for (let g = 0; into0.length < 20 && g < 50_000; g++) {
        const a = new NetAddress(idOf(`probe-${g}`), `${20 + (g % 60)}.${(g >> 6) & 255}.9.9`, 26656)
        const src = new NetAddress(idOf(`probe-src-${g}`), `${150 + (g % 40)}.${g & 255}.0.1`, 26656)
        const before = book.get(a.id)
        if (before !== undefined) continue
        const t = performance.now()
        if (book.addAddress(a, src) !== 'added') continue
        const ms = performance.now() - t
        if (book.get(a.id)!.buckets[0] === 0) {
          into0.push(a)
          spent += ms
        } else {
          book.removeAddress(a)
        }
      }
      expect(into0.length).to.be.at.least(10)
      // one scan of 64 entries each (microseconds); CometBFT's loader left 32,000 there, and the first insert
      // expired them one full scan at a time (seconds)
      expect(spent, `${into0.length} inserts into the crowded bucket`).to.be.below(100)
      expect(book.bucket(BUCKET_TYPE_NEW, 0)).to.have.length(NEW_BUCKET_SIZE)
    })
  })

  describe('the file size limit', () => {
    it('a file over maxFileBytes is set aside unread as <path>.too-large-<time> (AddrBookTooLargeError); the book then starts empty', async () => {
      const path = join(dir, 'addrbook.json')
      const text = encodeAddrBookJson({ key: KEY, addrs: Array.from({ length: 50 }, (_, i) => entry(i, [i % 256])) })
      const size = Buffer.byteLength(text)
      writeFileSync(path, text)
      // exactly at the limit: read as usual
      expect((await new AddrBookFile(path, { maxFileBytes: size }).load())!.addrs).to.have.length(50)
      const book = new AddrBook({ filePath: path, maxFileBytes: size - 1, scheduler: virtualClock(), saveIntervalMs: 0 })
      let err: unknown
      try { await book.start() } catch (e) { err = e }
      expect(err).to.be.instanceOf(AddrBookTooLargeError)
      expect(err).to.be.instanceOf(AddrBookCorruptError) // so that a corrupt-file handler starts empty too
      const e = err as AddrBookTooLargeError
      expect([e.name, e.code, e.size, e.limit]).to.deep.equal(['AddrBookTooLargeError', 'ERR_ADDRBOOK_TOO_LARGE', size, size - 1])
      expect(e.movedTo).to.match(/addrbook\.json\.too-large-\d{8}T\d{6}\.\d{3}Z$/)
      expect(readFileSync(e.movedTo!, 'utf8')).to.equal(text)
      expect(existsSync(path)).to.equal(false)
      expect(book.isStarted).to.equal(false)
      await book.start()
      expect([book.isStarted, book.size]).to.deep.equal([true, 0])
      await book.stop()
    })
  })

  describe('loading in slices', () => {
    it('decodes batchSize entries between two turns of the event loop, with the same result as at once', async () => {
      const text = encodeAddrBookJson({ key: KEY, addrs: Array.from({ length: 4500 }, (_, i) => entry(i, [i % 256])) })
      let turns = 0
      const sliced = await decodeAddrBookJsonInSlices(text, { batchSize: 1000, yieldToEventLoop: async () => { turns++ } })
      expect(turns).to.equal(4)
      expect(encodeAddrBookJson(sliced)).to.equal(encodeAddrBookJson(decodeAddrBookJson(text)))
    })

    it('stops between two slices once aborted; a book stopped while it loads does not start and leaves the file as it was', async () => {
      const path = join(dir, 'addrbook.json')
      const text = encodeAddrBookJson({ key: KEY, addrs: Array.from({ length: 6000 }, (_, i) => entry(i, [i % 256])) })
      writeFileSync(path, text)
      const controller = new AbortController()
      let turns = 0
      let err: unknown
      try {
        await decodeAddrBookJsonInSlices(text, { batchSize: 1000, signal: controller.signal, yieldToEventLoop: async () => { if (++turns === 2) controller.abort(new Error('enough')) } })
      } catch (e) { err = e }
      expect((err as Error).message).to.equal('enough')
      expect(turns).to.equal(2)

      const book = new AddrBook({ store: new AddrBookFile(path, { loadBatchSize: 500 }), scheduler: virtualClock(), saveIntervalMs: 0 })
      const starting = book.start()
      await new Promise((resolve) => { setImmediate(resolve) }) // the load is under way
      await book.stop()
      await starting // resolves: the load was abandoned, not failed
      expect([book.isStarted, book.size]).to.deep.equal([false, 0])
      expect(readFileSync(path, 'utf8')).to.equal(text)
      expect(readdirSync(dir)).to.deep.equal(['addrbook.json']) // nothing set aside, nothing written
    })
  })
})
