import { expect } from 'chai'
import fc from 'fast-check'
import { filter, toArray } from 'rxjs'
import { AddrBook, selectionSize } from '../../lib/pex/addr-book.js'
import type { AddrBookEvent, AddrBookInit } from '../../lib/pex/addr-book.js'
import type { AddrBookData, AddrBookStore } from '../../lib/pex/addr-book-file.js'
import { encodeAddrBookJson } from '../../lib/pex/addr-book-file.js'
import { timeFromMs } from '../../lib/pex/known-address.js'
import type { KnownAddressInfo } from '../../lib/pex/known-address.js'
import {
  BUCKET_TYPE_NEW, BUCKET_TYPE_OLD, DEFAULT_BAN_TIME_MS, NEW_BUCKET_COUNT, NEW_BUCKET_SIZE, OLD_BUCKET_COUNT, OLD_BUCKET_SIZE
} from '../../lib/pex/params.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { AddrBookIoError } from '../../lib/errors.js'
import { T0, addrIn, idOf, seededRandom, srcIn, virtualClock } from './support.js'

const KEY = '0123456789abcdef01234567'
const MIN = 60_000

// This file checks CometBFT's rules (one source group filling a bucket, and so on): rx-p2p's bounds on what one
// source may place are lifted here; spec/pex/addr-book-poisoning.spec.ts checks them.
const COMETBFT_RULES: AddrBookInit = {
  maxAddrsPerSource: Infinity, maxAddrsPerSourceGroup: Infinity, maxAddrsPerGroup: Infinity, maxPerSourceGroupInBucket: Infinity
}

function setup (init: AddrBookInit = {}): { book: AddrBook, clock: ReturnType<typeof virtualClock>, events: AddrBookEvent[] } {
  const clock = virtualClock()
  const book = new AddrBook({ random: seededRandom(1), scheduler: clock, key: KEY, ...COMETBFT_RULES, ...init })
  const events: AddrBookEvent[] = []
  book.events$.subscribe((e) => events.push(e))
  return { book, clock, events }
}

/** Checks every structural rule of the book; returns the number of entries seen. */
function checkInvariants (book: AddrBook): void {
  const where = new Map<string, Array<[number, number]>>()
  for (const [type, count, cap] of [[BUCKET_TYPE_NEW, NEW_BUCKET_COUNT, NEW_BUCKET_SIZE], [BUCKET_TYPE_OLD, OLD_BUCKET_COUNT, OLD_BUCKET_SIZE]] as const) {
    for (let i = 0; i < count; i++) {
      const entries = book.bucket(type, i)
      expect(entries.length, `bucket ${type}/${i} over capacity`).to.be.at.most(cap)
      for (const ka of entries) {
        const list = where.get(ka.addr.id) ?? []
        list.push([type, i])
        where.set(ka.addr.id, list)
      }
    }
  }
  let nNew = 0
  let nOld = 0
  for (const ka of book.entries()) {
    const places = where.get(ka.addr.id) ?? []
    expect(places.every(([t]) => t === ka.bucketType), `${ka.addr.id} is in both new and old buckets`).to.equal(true)
    expect(places.map(([, i]) => i).sort((a, b) => a - b)).to.deep.equal([...ka.buckets].sort((a, b) => a - b))
    if (ka.bucketType === BUCKET_TYPE_NEW) {
      nNew++
      expect(ka.buckets.length).to.be.within(1, 4)
    } else {
      nOld++
      expect(ka.buckets.length).to.equal(1)
    }
    expect(book.isBanned(ka.addr)).to.equal(false)
  }
  expect(where.size).to.equal(nNew + nOld) // nothing in a bucket that the book does not know
  expect([book.sizeNew, book.sizeOld, book.size]).to.deep.equal([nNew, nOld, nNew + nOld])
}

describe('pex/addr-book', () => {
  describe('addAddress', () => {
    it('adds a routable address to one new bucket, stamped now, and says so on events$', () => {
      const { book, clock, events } = setup()
      const addr = addrIn(20, 1, 1)
      const src = srcIn(30, 1)
      expect(book.addAddress(addr, src)).to.equal('added')
      expect([book.size, book.sizeNew, book.sizeOld, book.isEmpty()]).to.deep.equal([1, 1, 0, false])
      const ka = book.get(addr.id)!
      expect([ka.bucketType, ka.buckets.length, ka.attempts]).to.deep.equal([BUCKET_TYPE_NEW, 1, 0])
      expect(ka.lastAttempt).to.equal(timeFromMs(clock.now()))
      expect(ka.src.toString()).to.equal(src.toString())
      expect(events).to.deep.equal([{ type: 'added', addr, src }])
      expect(book.addAddress(addr, src)).to.equal('known')
      checkInvariants(book)
    })

    it('stores the host in Go text form', () => {
      const { book } = setup()
      const id = idOf('mapped')
      book.addAddress(new NetAddress(id, '::ffff:20.1.2.3', 1), srcIn(30, 1))
      expect(book.get(id)!.addr.host).to.equal('20.1.2.3')
    })

    describe('refuses, naming why', () => {
      const ID = idOf('x')
      const cases: Array<[string, NetAddress, ReturnType<AddrBook['addAddress']>]> = [
        ['a bad ID', new NetAddress('1', '20.1.2.3', 1), 'invalid'],
        ['an empty ID', new NetAddress('', '20.1.2.3', 1), 'invalid'],
        ['a hostname (no IP)', new NetAddress(ID, 'example.com', 1), 'invalid'],
        ['0.0.0.0', new NetAddress(ID, '0.0.0.0', 1), 'invalid'],
        ['::', new NetAddress(ID, '::', 1), 'invalid'],
        ['RFC 3849 documentation', new NetAddress(ID, '2001:db8::1', 1), 'invalid'],
        ['broadcast', new NetAddress(ID, '255.255.255.255', 1), 'invalid'],
        ['RFC 1918 10/8', new NetAddress(ID, '10.1.2.3', 1), 'unroutable'],
        ['RFC 1918 172.16/12', new NetAddress(ID, '172.20.0.1', 1), 'unroutable'],
        ['RFC 1918 192.168/16', new NetAddress(ID, '192.168.1.1', 1), 'unroutable'],
        ['RFC 3927 169.254/16', new NetAddress(ID, '169.254.1.1', 1), 'unroutable'],
        ['RFC 4862 fe80::/64', new NetAddress(ID, 'fe80::1', 1), 'unroutable'],
        ['RFC 4193 fc00::/7', new NetAddress(ID, 'fd00::1', 1), 'unroutable'],
        ['RFC 4843 2001:10::/28', new NetAddress(ID, '2001:10::1', 1), 'unroutable'],
        ['loopback', new NetAddress(ID, '127.0.0.1', 1), 'unroutable'],
        ['0.0.0.0/8', new NetAddress(ID, '0.1.2.3', 1), 'unroutable']
      ]
      for (const [what, addr, why] of cases) {
        it(`${what}: '${why}'`, () => {
          const { book } = setup()
          expect(book.addAddress(addr, srcIn(30, 1))).to.equal(why)
          expect(book.size).to.equal(0)
        })
      }

      it('private IDs, as the address or as its source', () => {
        const { book } = setup()
        const priv = addrIn(20, 1, 1)
        book.addPrivateIds([priv.id])
        expect(book.addAddress(priv, srcIn(30, 1))).to.equal('private')
        expect(book.addAddress(addrIn(20, 1, 2), priv)).to.equal('private-src')
        expect(book.size).to.equal(0)
      })

      it('our own address, and any address with our ID', () => {
        const { book } = setup()
        const ours = addrIn(20, 1, 1)
        book.addOurAddress(ours)
        expect(book.isOurAddress(ours)).to.equal(true)
        expect(book.addAddress(ours, srcIn(30, 1))).to.equal('self')
        expect(book.addAddress(new NetAddress(ours.id, '21.2.3.4', 5), srcIn(30, 1))).to.equal('self')
        expect(book.size).to.equal(0)
      })
    })

    it('a loose book (addrBookStrict: false) takes private and local addresses, but still not invalid ones', () => {
      const { book } = setup({ addrBookStrict: false })
      expect(book.addrBookStrict).to.equal(false)
      for (const ip of ['10.1.2.3', '192.168.1.1', '127.0.0.1', 'fd00::1']) {
        expect(book.addAddress(new NetAddress(idOf(ip), ip, 26656), new NetAddress(idOf('s'), '127.0.0.1', 1)), ip).to.equal('added')
      }
      expect(book.addAddress(new NetAddress(idOf('z'), '0.0.0.0', 1), srcIn(30, 1))).to.equal('invalid')
      expect(book.size).to.equal(4)
      checkInvariants(book)
    })

    it('leaves an old address alone (no new bucket, same IP)', () => {
      const { book } = setup({ random: () => 0 })
      const addr = addrIn(20, 1, 1)
      book.addAddress(addr, srcIn(30, 1))
      book.markGood(addr.id)
      expect(book.addAddress(addr, srcIn(31, 1))).to.equal('known')
      expect(book.addAddress(new NetAddress(addr.id, '22.2.2.2', 1), srcIn(32, 1))).to.equal('known')
      expect(book.get(addr.id)!.addr.host).to.equal(addr.host)
      expect([book.sizeOld, book.sizeNew]).to.deep.equal([1, 0])
    })

    it('puts a repeated address in up to 4 new buckets, never more', () => {
      const { book } = setup({ random: () => 0 }) // every chance taken
      const addr = addrIn(20, 1, 1)
      for (let s = 0; s < 40; s++) book.addAddress(addr, srcIn(40 + s, s))
      expect(book.get(addr.id)!.buckets).to.have.length(4)
      expect(book.size).to.equal(1)
      checkInvariants(book)
    })

    for (const k of [1, 2, 3]) {
      it(`adds an address already in ${k} new bucket(s) to another with probability 1/${2 * k}`, () => {
        const threshold = 1 / (2 * k)
        const trial = (r: number): boolean => {
          let draw = 0 // 0 until the address sits in k buckets, then r
          const { book } = setup({ random: () => draw })
          const addr = addrIn(20, 1, 1)
          for (let s = 0; book.get(addr.id) === undefined || book.get(addr.id)!.buckets.length < k; s++) book.addAddress(addr, srcIn(40 + s, s))
          draw = r
          for (let t = 0; t < 30; t++) {
            book.addAddress(addr, srcIn(100 + t, t))
            if (book.get(addr.id)!.buckets.length > k) return true
          }
          return false
        }
        expect(trial(threshold - 1e-9), 'a draw just under 1/(2k) adds a bucket').to.equal(true)
        expect(trial(threshold), 'a draw of 1/(2k) or more never does').to.equal(false)
      })
    }

    it('expires the oldest entry of a full new bucket (same /16, same source: same bucket)', () => {
      const { book, clock, events } = setup()
      const src = srcIn(30, 1)
      const addrs = Array.from({ length: NEW_BUCKET_SIZE + 1 }, (_, i) => addrIn(20, 1, i + 1))
      for (const a of addrs.slice(0, NEW_BUCKET_SIZE)) {
        clock.advance(1000)
        expect(book.addAddress(a, src)).to.equal('added')
      }
      const bucket = book.get(addrs[0]!.id)!.buckets[0]!
      expect(book.bucket(BUCKET_TYPE_NEW, bucket)).to.have.length(NEW_BUCKET_SIZE)
      clock.advance(1000)
      expect(book.addAddress(addrs[NEW_BUCKET_SIZE]!, src)).to.equal('added')
      expect(book.bucket(BUCKET_TYPE_NEW, bucket)).to.have.length(NEW_BUCKET_SIZE)
      expect(book.hasAddress(addrs[0]!)).to.equal(false)
      expect(book.hasAddress(addrs[NEW_BUCKET_SIZE]!)).to.equal(true)
      expect(events.filter((e) => e.type === 'removed')).to.deep.equal([{ type: 'removed', addr: addrs[0], reason: 'expired' }])
      checkInvariants(book)
    })

    it('expires a bad entry of a full new bucket before the oldest', () => {
      const { book, clock } = setup()
      const src = srcIn(30, 1)
      const addrs = Array.from({ length: NEW_BUCKET_SIZE + 1 }, (_, i) => addrIn(20, 1, i + 1))
      for (const a of addrs.slice(0, NEW_BUCKET_SIZE)) {
        clock.advance(1000)
        book.addAddress(a, src)
      }
      const bad = addrs[10]!
      for (let i = 0; i < 3; i++) book.markAttempt(bad) // 3 attempts, never a success
      clock.advance(2 * MIN) // and not tried in the last minute: bad
      book.addAddress(addrs[NEW_BUCKET_SIZE]!, src)
      expect(book.hasAddress(bad)).to.equal(false)
      expect(book.hasAddress(addrs[0]!)).to.equal(true)
      checkInvariants(book)
    })
  })

  describe('markGood, markAttempt', () => {
    it('markGood moves a new address to one old bucket, resetting attempts and stamping the success', () => {
      const { book, clock, events } = setup({ random: () => 0 })
      const addr = addrIn(20, 1, 1)
      for (let s = 0; s < 3; s++) book.addAddress(addr, srcIn(40 + s, s))
      book.markAttempt(addr)
      clock.advance(5000)
      book.markGood(addr.id)
      const ka = book.get(addr.id)!
      expect([ka.bucketType, ka.buckets.length, ka.attempts]).to.deep.equal([BUCKET_TYPE_OLD, 1, 0])
      expect(ka.lastSuccess).to.equal(timeFromMs(clock.now()))
      expect([book.isGood(addr), book.sizeOld, book.sizeNew]).to.deep.equal([true, 1, 0])
      expect(events.at(-1)).to.deep.equal({ type: 'promoted', addr })
      book.markGood(idOf('nobody'))
      checkInvariants(book)
    })

    it('markAttempt counts attempts and stamps the time; unknown addresses are ignored', () => {
      const { book, clock } = setup()
      const addr = addrIn(20, 1, 1)
      book.addAddress(addr, srcIn(30, 1))
      clock.advance(123)
      book.markAttempt(addr)
      book.markAttempt(addr)
      expect(book.get(addr.id)!.attempts).to.equal(2)
      expect(book.get(addr.id)!.lastAttempt).to.equal(timeFromMs(T0 + 123))
      book.markAttempt(addrIn(20, 1, 2))
      expect(book.size).to.equal(1)
    })

    it('demotes the oldest entry of a full old bucket back to a new bucket', () => {
      const { book, clock, events } = setup()
      // 300 addresses of one /16 group reach at most 4 old buckets (256 places): some must be demoted
      const addrs = Array.from({ length: 300 }, (_, i) => addrIn(20, 1, i + 1))
      addrs.forEach((a, i) => book.addAddress(a, srcIn(40 + (i % 100), i % 100)))
      expect(book.size).to.equal(300)
      let demotions = 0
      for (const a of addrs) {
        clock.advance(1000)
        const before = Array.from({ length: OLD_BUCKET_COUNT }, (_, i) => book.bucket(BUCKET_TYPE_OLD, i))
        const mark = events.length
        book.markGood(a.id)
        const demoted = events.slice(mark).filter((e) => e.type === 'demoted')
        if (demoted.length > 0) {
          demotions++
          const target = book.get(a.id)!.buckets[0]!
          const oldest = before[target]!.reduce((x, y) => (y.lastAttempt < x.lastAttempt ? y : x))
          expect((demoted[0] as { addr: NetAddress }).addr.id).to.equal(oldest.addr.id)
          expect(book.get(oldest.addr.id)!.bucketType).to.equal(BUCKET_TYPE_NEW)
        }
      }
      expect(demotions).to.be.at.least(300 - 4 * OLD_BUCKET_SIZE)
      expect(book.sizeOld).to.be.at.most(4 * OLD_BUCKET_SIZE)
      expect(book.size).to.equal(300)
      checkInvariants(book)
    })
  })

  describe('markBad and reinstateBadPeers', () => {
    it('bans: out of the buckets, refused on add, back in a new bucket only after the ban and a reinstate', () => {
      const { book, clock, events } = setup()
      const addr = addrIn(20, 1, 1)
      book.addAddress(addr, srcIn(30, 1))
      book.markAttempt(addr)
      book.markBad(addr, DEFAULT_BAN_TIME_MS)
      expect([book.hasAddress(addr), book.isBanned(addr), book.size]).to.deep.equal([false, true, 0])
      expect(events.at(-1)).to.deep.equal({ type: 'banned', addr, until: timeFromMs(T0 + DEFAULT_BAN_TIME_MS) })
      expect(book.addAddress(addr, srcIn(31, 1))).to.equal('banned')
      expect(book.getSelection()).to.deep.equal([])
      clock.advance(DEFAULT_BAN_TIME_MS - 1)
      book.reinstateBadPeers()
      expect(book.isBanned(addr)).to.equal(true)
      clock.advance(1)
      book.reinstateBadPeers()
      expect([book.hasAddress(addr), book.isBanned(addr), book.sizeNew]).to.deep.equal([true, false, 1])
      expect(book.get(addr.id)!.attempts).to.equal(1)
      expect(events.at(-1)).to.deep.equal({ type: 'reinstated', addr })
      checkInvariants(book)
    })

    it('a banned old address comes back as new', () => {
      const { book, clock } = setup()
      const addr = addrIn(20, 1, 1)
      book.addAddress(addr, srcIn(30, 1))
      book.markGood(addr.id)
      book.markBad(addr, 1000)
      clock.advance(1000)
      book.reinstateBadPeers()
      expect(book.get(addr.id)!.bucketType).to.equal(BUCKET_TYPE_NEW)
      checkInvariants(book)
    })

    it('a longer ban is not shortened by a second markBad; an unknown address cannot be banned', () => {
      const { book, clock } = setup()
      const addr = addrIn(20, 1, 1)
      book.addAddress(addr, srcIn(30, 1))
      book.markBad(addr, 10 * MIN)
      book.markBad(addr, MIN)
      clock.advance(5 * MIN)
      book.reinstateBadPeers()
      expect(book.isBanned(addr)).to.equal(true)
      book.markBad(addrIn(20, 1, 2), MIN)
      expect(book.isBanned(addrIn(20, 1, 2))).to.equal(false)
    })

    it('removeAddress takes an address out without banning it', () => {
      const { book, events } = setup()
      const addr = addrIn(20, 1, 1)
      book.addAddress(addr, srcIn(30, 1))
      book.removeAddress(addr)
      expect([book.size, book.isBanned(addr)]).to.deep.equal([0, false])
      expect(events.at(-1)).to.deep.equal({ type: 'removed', addr, reason: 'removed' })
      expect(book.addAddress(addr, srcIn(30, 1))).to.equal('added')
    })
  })

  describe('pickAddress', () => {
    function mixed (nOld: number, nNew: number, seed = 7): AddrBook {
      const { book } = setup({ random: seededRandom(seed) })
      for (let i = 0; i < nOld + nNew; i++) {
        const a = addrIn(20 + (i % 50), i, 1)
        book.addAddress(a, srcIn(100 + (i % 40), i))
        if (i < nOld) book.markGood(a.id)
      }
      expect([book.sizeOld, book.sizeNew]).to.deep.equal([nOld, nNew])
      return book
    }

    it('returns undefined from an empty book', () => {
      expect(setup().book.pickAddress(50)).to.equal(undefined)
    })

    it('bias 0 always picks old, bias 100 always new; out-of-range biases are clamped', () => {
      const book = mixed(10, 30)
      for (let i = 0; i < 200; i++) {
        expect(book.isGood(book.pickAddress(0)!)).to.equal(true)
        expect(book.isGood(book.pickAddress(-20)!)).to.equal(true)
        expect(book.isGood(book.pickAddress(100)!)).to.equal(false)
        expect(book.isGood(book.pickAddress(250)!)).to.equal(false)
      }
    })

    it('returns undefined for bias 100 with only old addresses, as CometBFT does (both weights are 0: new is chosen)', () => {
      expect(mixed(5, 0).pickAddress(100)).to.equal(undefined)
      expect(mixed(5, 0).pickAddress(99)).to.not.equal(undefined)
      expect(mixed(0, 5).pickAddress(0)).to.not.equal(undefined)
    })

    for (const [bias, nOld, nNew] of [[50, 16, 64], [30, 16, 64], [80, 100, 25]] as const) {
      const pOld = Math.sqrt(nOld) * (100 - bias) / (Math.sqrt(nOld) * (100 - bias) + Math.sqrt(nNew) * bias)
      it(`weighs sides by sqrt(n)·bias: ${nOld} old, ${nNew} new, bias ${bias} picks old ${(100 * pOld).toFixed(1)}% of the time`, () => {
        const book = mixed(nOld, nNew)
        const N = 6000
        let old = 0
        const seen = new Set<string>()
        for (let i = 0; i < N; i++) {
          const a = book.pickAddress(bias)!
          seen.add(a.id)
          if (book.isGood(a)) old++
        }
        expect(old / N).to.be.closeTo(pOld, 0.03)
        expect(seen.size).to.equal(nOld + nNew) // every address gets picked
      })
    }
  })

  describe('getSelection and getSelectionWithBias', () => {
    function bookOf (n: number, nOld = 0, seed = 3): AddrBook {
      const { book } = setup({ random: seededRandom(seed) })
      for (let i = 0; i < n; i++) {
        const a = addrIn(11 + (i % 100), (i / 100) | 0, 7)
        expect(book.addAddress(a, srcIn(100 + (i % 97), i % 7))).to.equal('added')
        if (i < nOld) book.markGood(a.id)
      }
      expect(book.size).to.equal(n)
      return book
    }

    it('has CometBFT\'s sizes: min(250, max(min(32, size), size·23/100))', () => {
      expect([0, 5, 32, 100, 139, 140, 200, 1000, 1086, 1087, 5000].map(selectionSize))
        .to.deep.equal([0, 5, 32, 32, 32, 32, 46, 230, 249, 250, 250])
    })

    it('returns that many distinct addresses from the book', () => {
      for (const n of [0, 5, 100, 1200]) {
        const book = bookOf(n)
        const sel = book.getSelection()
        expect(sel).to.have.length(selectionSize(n))
        expect(new Set(sel.map((a) => a.id)).size).to.equal(sel.length)
        for (const a of sel) expect(book.hasAddress(a)).to.equal(true)
      }
    })

    it('with bias, puts max(round(bias%·n), n − nOld) new addresses first, then old ones', () => {
      const check = (book: AddrBook, bias: number, wantNew: number): void => {
        const sel = book.getSelectionWithBias(bias)
        const n = selectionSize(book.size)
        expect(sel).to.have.length(n)
        expect(new Set(sel.map((a) => a.id)).size).to.equal(n)
        expect(sel.map((a) => book.isGood(a))).to.deep.equal([...Array(wantNew).fill(false), ...Array(n - wantNew).fill(true)])
      }
      const book = bookOf(200, 50) // n = 46
      check(book, 30, 14) // round(13.8)
      check(book, 0, 0)
      check(book, 100, 46)
      check(bookOf(200, 5), 30, 41) // only 5 old: n − nOld = 41
    })

    it('never repeats an address that sits in several new buckets', () => {
      const { book } = setup({ random: () => 0 })
      for (let i = 0; i < 10; i++) for (let s = 0; s < 6; s++) book.addAddress(addrIn(20, i, 1), srcIn(40 + s, s))
      const sel = book.getSelectionWithBias(100)
      expect(sel).to.have.length(10)
      expect(new Set(sel.map(String)).size).to.equal(10)
    })
  })

  describe('needMoreAddrs', () => {
    it('is true below 1000 addresses and false from 1000', () => {
      const { book } = setup()
      for (let i = 0; i < 999; i++) book.addAddress(addrIn(11 + (i % 100), (i / 100) | 0, 9), srcIn(100 + (i % 97), i % 5))
      expect([book.size, book.needMoreAddrs()]).to.deep.equal([999, true])
      book.addAddress(addrIn(11, 250, 9), srcIn(100, 0))
      expect([book.size, book.needMoreAddrs()]).to.deep.equal([1000, false])
    })
  })

  describe('determinism', () => {
    function run (seed: number): { json: string, picks: string[] } {
      const clock = virtualClock()
      const book = new AddrBook({ random: seededRandom(seed), scheduler: clock })
      for (let i = 0; i < 300; i++) {
        clock.advance(17)
        book.addAddress(addrIn(20 + (i % 9), i % 13, i), srcIn(40 + (i % 5), i % 3))
        if (i % 7 === 0) book.markGood(addrIn(20 + (i % 9), i % 13, i).id)
      }
      return { json: encodeAddrBookJson(book.toData()), picks: Array.from({ length: 50 }, () => String(book.pickAddress(40))) }
    }

    it('the same seed gives the same book (key, buckets, times) and the same picks', () => {
      const a = run(42)
      expect(run(42)).to.deep.equal(a)
      expect(run(43).picks).to.not.deep.equal(a.picks)
    })

    it('makes a 24-hex key: from the seeded random when given, else from the system', () => {
      expect(new AddrBook({ random: seededRandom(5) }).key).to.equal(new AddrBook({ random: seededRandom(5) }).key)
      expect(new AddrBook().key).to.match(/^[0-9a-f]{24}$/)
      expect(new AddrBook().key).to.not.equal(new AddrBook().key)
    })
  })

  describe('saving on the scheduler (virtual time)', () => {
    function memoryStore (clock: { now: () => number }, loaded?: AddrBookData): AddrBookStore & { saves: Array<{ at: number, size: number }> } {
      const saves: Array<{ at: number, size: number }> = []
      return { saves, load: async () => loaded, save: async (data) => { saves.push({ at: clock.now() - T0, size: data.addrs.length }) } }
    }
    const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await Promise.resolve() }

    it('saves every 2 minutes of virtual time, a snapshot of that moment, and once more on stop', async () => {
      const clock = virtualClock()
      const store = memoryStore(clock)
      const book = new AddrBook({ store, scheduler: clock, random: seededRandom(1) })
      await book.start()
      for (let minute = 1; minute <= 10; minute++) {
        clock.advance(MIN) // minute 1, 2, …: an address each odd minute
        await settle()
        if (minute % 2 === 1) book.addAddress(addrIn(20, minute, 1), srcIn(30, 1))
      }
      expect(store.saves).to.deep.equal([
        { at: 2 * MIN, size: 1 }, { at: 4 * MIN, size: 2 }, { at: 6 * MIN, size: 3 }, { at: 8 * MIN, size: 4 }, { at: 10 * MIN, size: 5 }
      ])
      clock.advance(30 * 1000)
      await book.stop()
      expect(store.saves.at(-1)).to.deep.equal({ at: 10 * MIN + 30 * 1000, size: 5 })
      clock.advance(10 * MIN)
      await settle()
      expect(store.saves).to.have.length(6) // the timer is gone
    })

    it('uses saveIntervalMs, and a book without a store has no timer to stop', async () => {
      const clock = virtualClock()
      const store = memoryStore(clock)
      const book = new AddrBook({ store, scheduler: clock, saveIntervalMs: 1000 })
      await book.start()
      for (let i = 0; i < 3; i++) { clock.advance(1000); await settle() }
      expect(store.saves.map((s) => s.at)).to.deep.equal([1000, 2000, 3000])
      await book.stop()
      const bare = new AddrBook({ scheduler: clock })
      await bare.start()
      expect(clock.actions).to.have.length(0)
      await bare.stop()
    })

    it('a stop while the file is still loading leaves no timer and writes nothing', async () => {
      const clock = virtualClock()
      let release: (d: AddrBookData | undefined) => void = () => {}
      let saves = 0
      const store: AddrBookStore = {
        load: async () => await new Promise<AddrBookData | undefined>((resolve) => { release = resolve }),
        save: async () => { saves++ }
      }
      const book = new AddrBook({ store, scheduler: clock })
      const starting = book.start()
      await book.stop()
      release({ key: 'k', addrs: [] })
      await starting
      clock.advance(10 * MIN)
      await settle()
      expect([saves, clock.actions.length]).to.deep.equal([0, 0])
      expect(book.key).to.not.equal('k')
    })

    it('never runs two saves at once: the next starts when the previous is done, in order', async () => {
      const clock = virtualClock()
      const calls: number[] = []
      const releases: Array<() => void> = []
      const store: AddrBookStore = {
        load: async () => undefined,
        save: (data) => { calls.push(data.addrs.length); return new Promise<void>((resolve) => releases.push(resolve)) }
      }
      const book = new AddrBook({ store, scheduler: clock })
      const p1 = book.save()
      book.addAddress(addrIn(20, 1, 1), srcIn(30, 1))
      const p2 = book.save()
      book.addAddress(addrIn(20, 2, 1), srcIn(30, 1))
      const p3 = book.save()
      await settle()
      expect(calls).to.deep.equal([0]) // the first was called at once; the others wait
      releases.shift()!()
      await settle()
      expect(calls).to.deep.equal([0, 1])
      releases.shift()!()
      await settle()
      releases.shift()!()
      await Promise.all([p1, p2, p3])
      expect(calls).to.deep.equal([0, 1, 2])
    })

    it('reports a failed save on events$ and rejects save(); the periodic save keeps going', async () => {
      const clock = virtualClock()
      let fail = true
      const saved: number[] = []
      const store: AddrBookStore = {
        load: async () => undefined,
        save: async () => { if (fail) throw new AddrBookIoError('/x', 'save', 'disk full'); saved.push(clock.now() - T0) }
      }
      const { book, events } = (() => {
        const book = new AddrBook({ store, scheduler: clock })
        const events: AddrBookEvent[] = []
        book.events$.subscribe((e) => events.push(e))
        return { book, events }
      })()
      await book.start()
      let err: unknown
      try { await book.save() } catch (e) { err = e }
      expect(err).to.be.instanceOf(AddrBookIoError)
      clock.advance(2 * MIN)
      await settle()
      expect(events.filter((e) => e.type === 'save-failed')).to.have.length(2)
      fail = false
      clock.advance(2 * MIN)
      await settle()
      expect(saved).to.deep.equal([4 * MIN])
      expect(events.at(-1)).to.deep.equal({ type: 'saved', size: 0 })
      await book.stop()
    })

    it('events$ is hot, and completes when the book stops', async () => {
      const { book } = setup()
      const all = book.events$.pipe(filter((e) => e.type === 'added'), toArray())
      let got: AddrBookEvent[] | undefined
      all.subscribe((list) => { got = list })
      book.addAddress(addrIn(20, 1, 1), srcIn(30, 1))
      await book.stop()
      expect(got).to.have.length(1)
    })

    it('loads entries into the buckets they list, skipping invalid ones, bucket-less ones and duplicate IDs', async () => {
      const clock = virtualClock()
      const a = addrIn(20, 1, 1)
      const info = (addr: NetAddress, buckets: number[], bucketType: 1 | 2 = 1): KnownAddressInfo => ({
        addr, src: srcIn(30, 1), buckets, attempts: 0, bucketType, lastAttempt: 0n, lastSuccess: 0n, lastBanTime: 0n
      })
      const store = memoryStore(clock, {
        key: 'from-file',
        addrs: [info(a, [5, 200]), info(addrIn(20, 1, 2), [7], 2), info(new NetAddress('1', '20.1.0.3', 1), [8]),
          info(addrIn(20, 1, 4), []), info(a, [9])]
      })
      const book = new AddrBook({ store, scheduler: clock })
      const events: AddrBookEvent[] = []
      book.events$.subscribe((e) => events.push(e))
      await book.start()
      expect(book.key).to.equal('from-file')
      expect([book.size, book.sizeNew, book.sizeOld]).to.deep.equal([2, 1, 1])
      expect(book.get(a.id)!.buckets).to.deep.equal([5, 200])
      expect(book.bucket(BUCKET_TYPE_NEW, 200).map((e) => e.addr.id)).to.deep.equal([a.id])
      expect(events).to.deep.equal([{ type: 'loaded', size: 2, skipped: 3, dropped: 0 }])
      checkInvariants(book)
      await book.stop()
    })
  })

  describe('properties', () => {
    type Op =
      | { op: 'add', g: number, s: number, h: number, n: number }
      | { op: 'good' | 'attempt' | 'remove', i: number, n: number }
      | { op: 'bad', i: number, ms: number }
      | { op: 'reinstate' }
      | { op: 'tick', ms: number }
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), g: fc.nat(3), s: fc.nat(2), h: fc.nat(400), n: fc.integer({ min: 1, max: 40 }) }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('good' as const, 'attempt' as const, 'remove' as const), i: fc.nat(10_000), n: fc.integer({ min: 1, max: 30 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('bad' as const), i: fc.nat(10_000), ms: fc.nat(10 * MIN) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('reinstate' as const) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.nat(3 * MIN) }) }
    )

    it('buckets never overflow, no address is both new and old, and the counts stay true, whatever happens', () => {
      fc.assert(fc.property(fc.integer(), fc.boolean(), fc.array(opArb, { maxLength: 120 }), (seed, strict, ops) => {
        const clock = virtualClock()
        const book = new AddrBook({ random: seededRandom(seed), scheduler: clock, key: KEY, addrBookStrict: strict })
        const known = (): NetAddress[] => [...book.entries()].map((e) => e.addr)
        for (const op of ops) {
          switch (op.op) {
            case 'add':
              for (let k = 0; k < op.n; k++) book.addAddress(addrIn(20 + op.g, 7, op.h + k), srcIn(40 + op.s, 1))
              break
            case 'good': case 'attempt': case 'remove': {
              const list = known()
              for (let k = 0; k < op.n && list.length > 0; k++) {
                const a = list[(op.i + k * 7919) % list.length]!
                if (op.op === 'good') book.markGood(a.id)
                else if (op.op === 'attempt') book.markAttempt(a)
                else book.removeAddress(a)
              }
              break
            }
            case 'bad': {
              const list = known()
              if (list.length > 0) book.markBad(list[op.i % list.length]!, op.ms)
              break
            }
            case 'reinstate': book.reinstateBadPeers(); break
            case 'tick': clock.advance(op.ms); break
          }
        }
        checkInvariants(book)
        const sel = book.getSelection()
        expect(sel).to.have.length(selectionSize(book.size))
        expect(book.getSelectionWithBias(seed & 127)).to.have.length(selectionSize(book.size))
      }), { numRuns: 60 })
    })

    it('fills buckets to capacity under a flood from one source group and never past it', () => {
      const { book } = setup()
      for (let h = 0; h < 3000; h++) book.addAddress(addrIn(20 + (h % 3), 7, h), srcIn(40, 1))
      checkInvariants(book)
      // one source group and three address groups reach at most 3 new buckets of 64
      expect(book.size).to.be.at.most(3 * NEW_BUCKET_SIZE)
      expect(book.size).to.be.at.least(NEW_BUCKET_SIZE)
    })

    it('selection sizes hold for any book size (property)', () => {
      fc.assert(fc.property(fc.nat(700), fc.nat(100), (n, bias) => {
        const { book } = setup({ random: seededRandom(n) })
        for (let i = 0; i < n; i++) book.addAddress(addrIn(11 + (i % 100), (i / 100) | 0, 5), srcIn(100 + (i % 97), i % 3))
        const want = selectionSize(book.size)
        const sel = book.getSelection()
        const biased = book.getSelectionWithBias(bias)
        expect([sel.length, biased.length]).to.deep.equal([want, want])
        expect(new Set(sel.map(String)).size).to.equal(want)
        expect(new Set(biased.map(String)).size).to.equal(want)
      }), { numRuns: 25 })
    })
  })
})
