import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'chai'
import fc from 'fast-check'
import {
  AddrBookFile, decodeAddrBookJson, encodeAddrBookJson, formatGoTime, parseGoTime, writeFileAtomic
} from '../../lib/pex/addr-book-file.js'
import type { AddrBookData, AtomicWriteStep } from '../../lib/pex/addr-book-file.js'
import { AddrBook } from '../../lib/pex/addr-book.js'
import { KnownAddress, ZERO_TIME, timeFromMs } from '../../lib/pex/known-address.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { AddrBookCorruptError, AddrBookIoError, DecodeError } from '../../lib/errors.js'
import { sampleBook, virtualClock } from './support.js'

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
const NS = 1_000_000_000n
const utc = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n

describe('pex/addr-book-file', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'rx-p2p-addrbook-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  describe('Go time text form', () => {
    it('writes the zero time as 0001-01-01T00:00:00Z and reads it back as ZERO_TIME', () => {
      expect(formatGoTime(ZERO_TIME)).to.equal('0001-01-01T00:00:00Z')
      expect(parseGoTime('0001-01-01T00:00:00Z')).to.equal(ZERO_TIME)
    })

    it('writes nanoseconds with trailing zeros dropped, and no fraction for whole seconds (RFC3339Nano)', () => {
      const t = utc('2025-03-01T12:00:00Z')
      expect(formatGoTime(t)).to.equal('2025-03-01T12:00:00Z')
      expect(formatGoTime(t + 123456789n)).to.equal('2025-03-01T12:00:00.123456789Z')
      expect(formatGoTime(t + 500000000n)).to.equal('2025-03-01T12:00:00.5Z')
      expect(formatGoTime(t + 1n)).to.equal('2025-03-01T12:00:00.000000001Z')
      expect(formatGoTime(utc('1969-12-31T23:59:59Z') + 250000000n)).to.equal('1969-12-31T23:59:59.25Z')
    })

    it('reads any fraction length, truncating past nanoseconds, and ±hh:mm offsets as instants', () => {
      const t = utc('2025-03-01T12:00:00Z')
      expect(parseGoTime('2025-03-01T12:00:00.1Z')).to.equal(t + 100000000n)
      expect(parseGoTime('2025-03-01T12:00:00.1234567891Z')).to.equal(t + 123456789n)
      expect(parseGoTime('2025-03-01T13:30:00.5+01:30')).to.equal(t + 500000000n)
      expect(parseGoTime('2025-03-01T07:00:00-05:00')).to.equal(t)
    })

    it('handles leap days and the calendar edges', () => {
      expect(parseGoTime('2024-02-29T00:00:00Z')).to.equal(utc('2024-02-29T00:00:00Z'))
      expect(formatGoTime(parseGoTime('9999-12-31T23:59:59.999999999Z'))).to.equal('9999-12-31T23:59:59.999999999Z')
      expect(formatGoTime(parseGoTime('0000-01-01T00:00:00Z'))).to.equal('0000-01-01T00:00:00Z')
      expect(() => formatGoTime(parseGoTime('9999-12-31T23:59:59Z') + NS)).to.throw(RangeError)
    })

    it('refuses what Go refuses with DecodeError', () => {
      for (const s of ['2023-02-29T00:00:00Z', '2025-13-01T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T00:60:00Z',
        '2025-01-01T00:00:60Z', '2025-01-01t00:00:00Z', '2025-01-01T00:00:00', '2025-01-01T00:00:00.Z', '25-01-01T00:00:00Z',
        '2025-01-01T00:00:00+24:00', '2025-01-01 00:00:00Z', '']) {
        expect(() => parseGoTime(s), s).to.throw(DecodeError)
      }
    })

    it('round-trips every instant of years 1..9999 to the nanosecond (property)', () => {
      const lo = parseGoTime('0001-01-01T00:00:00Z')
      const hi = parseGoTime('9999-12-31T23:59:59.999999999Z')
      fc.assert(fc.property(fc.bigInt({ min: lo, max: hi }), (t) => {
        const text = formatGoTime(t)
        expect(parseGoTime(text)).to.equal(t)
        expect(text).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/)
      }), { numRuns: 2000 })
      // and agrees with JavaScript's own calendar where that is exact
      fc.assert(fc.property(fc.integer({ min: -62135596800000, max: 253402300799999 }), (ms) => {
        expect(formatGoTime(timeFromMs(ms)).replace(/(\.\d+)?Z$/, '')).to.equal(new Date(ms).toISOString().slice(0, 19))
      }), { numRuns: 500 })
    })
  })

  describe('the addrbook.json format', () => {
    it('reads the hand-made file in the exact Go shape, nanoseconds included', () => {
      const data = decodeAddrBookJson(fixture('addrbook-handmade.json'))
      expect(data.key).to.equal('3f9a0c1d2e4b5a6978d0c1e2')
      expect(data.addrs).to.have.length(3)
      const [a, b, c] = data.addrs as [KnownAddress, KnownAddress, KnownAddress]
      expect(a.addr.toString()).to.equal('56475aa75463474c0285df5dbf2bcab73da65135@203.0.113.7:26656')
      expect(a.src.toString()).to.equal('24f6ed6acbfe1009c030d7ca567c33ca48309114@198.51.100.2:26656')
      expect([a.buckets, a.attempts, a.bucketType]).to.deep.equal([[117, 3], 2, 1])
      expect(a.lastAttempt).to.equal(utc('2025-03-01T12:00:00Z') + 123456789n)
      expect([a.lastSuccess, a.lastBanTime]).to.deep.equal([ZERO_TIME, ZERO_TIME])
      expect(b.addr.host).to.equal('2600:1f18:1234::1')
      expect(b.src.host).to.equal('2a01:4f8:1:2::3')
      expect([b.buckets, b.bucketType]).to.deep.equal([[63], 2])
      expect(b.lastBanTime).to.equal(utc('2024-12-31T08:15:30Z') + 1n)
      expect([c.buckets, c.attempts, c.addr.port]).to.deep.equal([[0, 255, 128, 9], 11, 1])
    })

    for (const name of ['addrbook-handmade.json', 'addrbook-cometbft-v0.38.26.json', 'addrbook-rx-p2p.json']) {
      it(`writes ${name} back byte for byte`, () => {
        const text = fixture(name)
        expect(encodeAddrBookJson(decodeAddrBookJson(text))).to.equal(text)
      })
    }

    it('writes the file CometBFT v0.38.26 was shown to load (fixtures/addrbook-rx-p2p.json), byte for byte', () => {
      expect(encodeAddrBookJson(sampleBook().toData())).to.equal(fixture('addrbook-rx-p2p.json'))
    })

    it('loads a file CometBFT wrote into the book: buckets as listed, old entries good', () => {
      const data = decodeAddrBookJson(fixture('addrbook-cometbft-v0.38.26.json'))
      const book = new AddrBook({ store: { load: async () => data, save: async () => {} }, saveIntervalMs: 0 })
      return book.start().then(() => {
        expect(book.key).to.equal('409fd54afd706b344059a953')
        expect([book.size, book.sizeNew, book.sizeOld]).to.deep.equal([6, 4, 2])
        for (const ka of data.addrs) {
          expect(book.get(ka.addr.id)!.buckets).to.deep.equal(ka.buckets)
          expect(book.isGood(ka.addr)).to.equal(ka.bucketType === 2)
          expect(book.bucket(ka.bucketType, ka.buckets[0]!).map((e) => e.addr.id)).to.include(ka.addr.id)
        }
        expect(book.get('2f8a1c3b4d5e6f708192a3b4c5d6e7f8091a2b3c')!.attempts).to.equal(3)
        return book.stop()
      })
    })

    it('writes the Go shape: tab indent, Go field names and order, no trailing newline', () => {
      const ka = new KnownAddress(new NetAddress('56475aa75463474c0285df5dbf2bcab73da65135', '::ffff:203.0.113.7', 26656),
        new NetAddress('24f6ed6acbfe1009c030d7ca567c33ca48309114', '198.51.100.2', 26656), [117], 0, 1,
        utc('2025-03-01T12:00:00Z') + 123456789n)
      const expected = [
        '{', '\t"key": "3f9a0c1d2e4b5a6978d0c1e2",', '\t"addrs": [', '\t\t{', '\t\t\t"addr": {',
        '\t\t\t\t"id": "56475aa75463474c0285df5dbf2bcab73da65135",', '\t\t\t\t"ip": "203.0.113.7",', '\t\t\t\t"port": 26656',
        '\t\t\t},', '\t\t\t"src": {', '\t\t\t\t"id": "24f6ed6acbfe1009c030d7ca567c33ca48309114",', '\t\t\t\t"ip": "198.51.100.2",',
        '\t\t\t\t"port": 26656', '\t\t\t},', '\t\t\t"buckets": [', '\t\t\t\t117', '\t\t\t],', '\t\t\t"attempts": 0,',
        '\t\t\t"bucket_type": 1,', '\t\t\t"last_attempt": "2025-03-01T12:00:00.123456789Z",',
        '\t\t\t"last_success": "0001-01-01T00:00:00Z",', '\t\t\t"last_ban_time": "0001-01-01T00:00:00Z"', '\t\t}', '\t]', '}'
      ].join('\n')
      expect(encodeAddrBookJson({ key: '3f9a0c1d2e4b5a6978d0c1e2', addrs: [ka] })).to.equal(expected)
      expect(encodeAddrBookJson({ key: 'k', addrs: [] })).to.equal('{\n\t"key": "k",\n\t"addrs": []\n}')
    })

    it('escapes <, > and & as Go\'s encoder does', () => {
      expect(encodeAddrBookJson({ key: '<a&b>', addrs: [] })).to.include('"key": "\\u003ca\\u0026b\\u003e"')
      expect(decodeAddrBookJson(encodeAddrBookJson({ key: '<a&b>', addrs: [] })).key).to.equal('<a&b>')
    })

    it('reads what Go\'s decoder reads: any key case, missing fields as zero values, null IP, offsets, ::ffff: IPs', () => {
      const text = JSON.stringify({
        KEY: 'abc',
        Addrs: [{
          ADDR: { Id: '56475aa75463474c0285df5dbf2bcab73da65135', IP: '::ffff:1.2.3.4', port: 1 },
          src: { id: '24f6ed6acbfe1009c030d7ca567c33ca48309114', ip: null },
          buckets: [5],
          bucket_type: 1,
          last_attempt: '2025-03-01T13:00:00.5+01:00',
          extra_field: true
        }]
      })
      const data = decodeAddrBookJson(text)
      expect(data.key).to.equal('abc')
      const ka = data.addrs[0]!
      expect(ka.addr.toString()).to.equal('56475aa75463474c0285df5dbf2bcab73da65135@1.2.3.4:1')
      expect([ka.src.host, ka.src.port, ka.attempts]).to.deep.equal(['', 0, 0])
      expect(ka.lastAttempt).to.equal(utc('2025-03-01T12:00:00Z') + 500000000n)
      expect([ka.lastSuccess, ka.lastBanTime]).to.deep.equal([ZERO_TIME, ZERO_TIME])
      expect(encodeAddrBookJson(data)).to.include('"ip": ""') // Go writes a nil IP as ""
      expect(decodeAddrBookJson('{}')).to.deep.equal({ key: '', addrs: [] })
    })

    describe('refuses a broken file with DecodeError', () => {
      const good = fixture('addrbook-handmade.json')
      const entry = (patch: Record<string, unknown>): string => {
        const doc = JSON.parse(good)
        Object.assign(doc.addrs[0], patch)
        return JSON.stringify(doc)
      }
      for (const [what, text] of [
        ['an empty file', ''],
        ['a file cut in half (a torn write)', good.slice(0, good.length / 2)],
        ['bytes that are not JSON', '\u0000\u0001garbage'],
        ['trailing garbage after the document', good + 'x'],
        ['a JSON array', '[]'],
        ['null', 'null'],
        ['a key that is not a string', '{"key": 5}'],
        ['addrs that is not an array', '{"addrs": {}}'],
        ['an entry that is not an object', '{"addrs": [5]}'],
        ['an addr that is null', entry({ addr: null })],
        ['an IP that does not parse', entry({ addr: { id: 'x', ip: '1.2.3', port: 1 } })],
        ['a port over 65535', entry({ addr: { id: 'x', ip: '1.2.3.4', port: 65536 } })],
        ['a fractional port', entry({ addr: { id: 'x', ip: '1.2.3.4', port: 1.5 } })],
        ['bucket_type 3', entry({ bucket_type: 3 })],
        ['no bucket_type', entry({ bucket_type: undefined })],
        ['new bucket 256', entry({ buckets: [256] })],
        ['old bucket 64', entry({ bucket_type: 2, buckets: [64] })],
        ['a negative bucket', entry({ buckets: [-1] })],
        ['buckets that is not an array', entry({ buckets: 3 })],
        ['attempts beyond int32', entry({ attempts: 2 ** 31 })],
        ['a time that is not RFC 3339', entry({ last_attempt: 'yesterday' })],
        ['a time that is a number', entry({ last_success: 0 })]
      ] as const) {
        it(what, () => {
          expect(() => decodeAddrBookJson(text)).to.throw(DecodeError)
        })
      }
    })
  })

  describe('writeFileAtomic', () => {
    const steps: AtomicWriteStep[] = ['open', 'write', 'fsync', 'close', 'rename', 'fsync-dir']

    it('replaces the file, with mode 0644, leaving no temporary file', async () => {
      const path = join(dir, 'addrbook.json')
      await writeFileAtomic(path, 'one')
      await writeFileAtomic(path, 'two')
      expect(readFileSync(path, 'utf8')).to.equal('two')
      expect(statSync(path).mode & 0o777).to.equal(0o644 & ~process.umask())
      expect(readdirSync(dir)).to.deep.equal(['addrbook.json'])
    })

    it('goes through open, write, fsync, close, rename and a directory fsync, in that order', async () => {
      const seen: AtomicWriteStep[] = []
      await writeFileAtomic(join(dir, 'f'), 'x', { beforeStep: (s) => { seen.push(s) } })
      expect(seen).to.deep.equal(steps)
    })

    for (const failAt of steps) {
      it(`a failure before "${failAt}" leaves the old file or the new one whole, and no temporary file`, async () => {
        const path = join(dir, 'addrbook.json')
        const old = 'old '.repeat(50_000)
        const next = 'new '.repeat(50_000) // 200 KB: several write chunks
        writeFileSync(path, old)
        let writes = 0
        let err: unknown
        try {
          await writeFileAtomic(path, next, {
            beforeStep: (s) => {
              if (s === 'write' && ++writes < 2) return // fail in the middle of the data when failing at "write"
              if (s === failAt) throw new Error(`crash before ${s}`)
            }
          })
        } catch (e) { err = e }
        expect(err).to.be.instanceOf(Error)
        const now = readFileSync(path, 'utf8')
        expect(now).to.equal(failAt === 'fsync-dir' ? next : old)
        expect(readdirSync(dir)).to.deep.equal(['addrbook.json'])
      })
    }

    it('survives a writer killed at random moments: the file is always the old or the new one, whole', async function () {
      this.timeout(60_000)
      const path = join(dir, 'addrbook.json')
      const child = fileURLToPath(new URL('./support-files/atomic-writer-child.ts', import.meta.url))
      const seen = new Set<string>()
      let tornWrites = 0 // kills that left a temporary file: the writer was caught between open and rename
      for (let round = 0; round < 4; round++) {
        const proc = spawn(process.execPath, ['--import', 'tsx', child, path, 'A', 'B'], { stdio: ['ignore', 'pipe', 'inherit'] })
        await new Promise<void>((resolve, reject) => {
          proc.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
          proc.once('exit', (code) => reject(new Error(`writer exited early (${String(code)})`)))
        })
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.floor(Math.random() * 200)))
        proc.kill('SIGKILL')
        await new Promise((resolve) => proc.once('exit', resolve))
        const bytes = readFileSync(path)
        expect(bytes.length).to.equal(2 * 1024 * 1024)
        const first = String.fromCharCode(bytes[0]!)
        expect(['A', 'B']).to.include(first)
        expect(bytes.every((b) => b === bytes[0])).to.equal(true)
        seen.add(first)
        if (readdirSync(dir).some((n) => n.includes('.tmp-'))) tornWrites++
        // whatever temporary file the kill left behind, the next load clears it
        await new AddrBookFile(path).load().catch(() => {})
        expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).to.deep.equal([])
      }
      console.log(`      (${tornWrites} of 4 kills interrupted a write; contents seen: ${[...seen].join(', ')})`)
    })
  })

  describe('AddrBookFile', () => {
    const data = (): AddrBookData => decodeAddrBookJson(fixture('addrbook-handmade.json'))

    it('loads nothing (undefined) when there is no file', async () => {
      expect(await new AddrBookFile(join(dir, 'addrbook.json')).load()).to.equal(undefined)
    })

    it('saves and loads back the same data', async () => {
      const file = new AddrBookFile(join(dir, 'addrbook.json'))
      await file.save(data())
      expect(readFileSync(join(dir, 'addrbook.json'), 'utf8')).to.equal(fixture('addrbook-handmade.json'))
      expect(encodeAddrBookJson((await file.load())!)).to.equal(fixture('addrbook-handmade.json'))
    })

    it('moves a corrupt file aside and rejects with AddrBookCorruptError naming where it went', async () => {
      const path = join(dir, 'addrbook.json')
      writeFileSync(path, '{"key": "abc", "addrs": [')
      const clock = virtualClock()
      let err: unknown
      try { await new AddrBookFile(path, { scheduler: clock }).load() } catch (e) { err = e }
      expect(err).to.be.instanceOf(AddrBookCorruptError)
      const corrupt = err as AddrBookCorruptError
      expect(corrupt.path).to.equal(path)
      expect(corrupt.movedTo).to.equal(`${path}.corrupt-20231114T221320.000Z`)
      expect(corrupt.cause).to.be.instanceOf(DecodeError)
      expect(existsSync(path)).to.equal(false)
      expect(readFileSync(corrupt.movedTo!, 'utf8')).to.equal('{"key": "abc", "addrs": [')
      // a second corrupt file at the same moment does not overwrite the first
      writeFileSync(path, 'junk')
      let err2: unknown
      try { await new AddrBookFile(path, { scheduler: clock }).load() } catch (e) { err2 = e }
      expect((err2 as AddrBookCorruptError).movedTo).to.equal(`${path}.corrupt-20231114T221320.000Z-1`)
      expect(readFileSync(corrupt.movedTo!, 'utf8')).to.equal('{"key": "abc", "addrs": [')
    })

    it('reports a file it cannot read as AddrBookIoError, leaving it where it is', async () => {
      const path = join(dir, 'addrbook.json')
      mkdirSync(path)
      let err: unknown
      try { await new AddrBookFile(path).load() } catch (e) { err = e }
      expect(err).to.be.instanceOf(AddrBookIoError)
      expect((err as AddrBookIoError).op).to.equal('load')
      expect(statSync(path).isDirectory()).to.equal(true)
    })

    it('reports a failed save as AddrBookIoError and keeps the previous file', async () => {
      const path = join(dir, 'addrbook.json')
      writeFileSync(path, 'previous')
      const file = new AddrBookFile(path, { beforeStep: (s) => { if (s === 'rename') throw new Error('disk full') } })
      let err: unknown
      try { await file.save(data()) } catch (e) { err = e }
      expect(err).to.be.instanceOf(AddrBookIoError)
      expect((err as AddrBookIoError).op).to.equal('save')
      expect(readFileSync(path, 'utf8')).to.equal('previous')
    })

    it('clears temporary files an interrupted save left behind when it loads', async () => {
      const path = join(dir, 'addrbook.json')
      writeFileSync(`${path}.tmp-999-1`, 'half')
      writeFileSync(join(dir, 'other.tmp-1'), 'not ours')
      expect(await new AddrBookFile(path).load()).to.equal(undefined)
      expect(readdirSync(dir)).to.deep.equal(['other.tmp-1'])
    })
  })

  describe('AddrBook with a file', () => {
    it('starts from a corrupt file by refusing once (file set aside), then starting empty; stop writes a new file', async () => {
      const path = join(dir, 'addrbook.json')
      writeFileSync(path, 'not json')
      const book = new AddrBook({ filePath: path, scheduler: virtualClock() })
      let err: unknown
      try { await book.start() } catch (e) { err = e }
      expect(err).to.be.instanceOf(AddrBookCorruptError)
      expect(readFileSync((err as AddrBookCorruptError).movedTo!, 'utf8')).to.equal('not json')
      await book.start()
      expect(book.size).to.equal(0)
      await book.stop()
      const saved = decodeAddrBookJson(readFileSync(path, 'utf8'))
      expect(saved).to.deep.equal({ key: book.key, addrs: [] })
    })

    it('loads CometBFT\'s file on start and writes the same entries on stop', async () => {
      const path = join(dir, 'addrbook.json')
      writeFileSync(path, fixture('addrbook-cometbft-v0.38.26.json'))
      const book = new AddrBook({ filePath: path, scheduler: virtualClock() })
      await book.start()
      expect(book.size).to.equal(6)
      await book.stop()
      expect(readFileSync(path, 'utf8')).to.equal(fixture('addrbook-cometbft-v0.38.26.json'))
    })

    it('does not overwrite the file when it was never started', async () => {
      const path = join(dir, 'addrbook.json')
      writeFileSync(path, fixture('addrbook-handmade.json'))
      const book = new AddrBook({ filePath: path })
      await book.stop()
      expect(readFileSync(path, 'utf8')).to.equal(fixture('addrbook-handmade.json'))
    })
  })
})
