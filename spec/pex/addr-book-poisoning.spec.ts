// rx-p2p's bounds on what one source can place in the address book (beyond CometBFT): per source ID, per source
// group, per /16 of the address, and per source group in one new bucket. Seeded random, virtual clock.
import { expect } from 'chai'
import fc from 'fast-check'
import { AddrBook } from '../../lib/pex/addr-book.js'
import type { AddAddressResult, AddrBookInit } from '../../lib/pex/addr-book.js'
import {
  BUCKET_TYPE_NEW, DEFAULT_MAX_ADDRS_PER_GROUP, DEFAULT_MAX_ADDRS_PER_SOURCE, DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP,
  DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET, NEW_BUCKET_COUNT, NEW_BUCKET_SIZE
} from '../../lib/pex/params.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { addrIn, idOf, seededRandom, srcIn, virtualClock } from './support.js'

const KEY = '0123456789abcdef01234567'
const LIFTED: AddrBookInit = {
  maxAddrsPerSource: Infinity, maxAddrsPerSourceGroup: Infinity, maxAddrsPerGroup: Infinity, maxPerSourceGroupInBucket: Infinity
}

function newBook (init: AddrBookInit = {}): { book: AddrBook, clock: ReturnType<typeof virtualClock> } {
  const clock = virtualClock()
  return { book: new AddrBook({ random: seededRandom(7), scheduler: clock, key: KEY, ...init }), clock }
}

/** 2,000 honest entries: 100 honest sources, each in its own /16, each telling 20 addresses in 20 /16s. */
function honestBook (book: AddrBook, clock: ReturnType<typeof virtualClock>): Set<string> {
  const honest = new Set<string>()
  for (let s = 0; s < 100; s++) {
    for (let k = 0; k < 20; k++) {
      clock.advance(10)
      const a = addrIn(20 + ((s * 20 + k) % 80), 1 + s, 1 + k)
      if (book.addAddress(a, srcIn(201 + (s % 20), s)) === 'added') honest.add(a.id)
    }
  }
  return honest
}

/** An attacker's address, each in its own /16 (100.0.0.0/16, 100.1.0.0/16, …, 100 per first octet), a fresh ID each. */
function attackerAddr (i: number): NetAddress {
  return new NetAddress(idOf(`attacker-addr-${i}`), `${100 + Math.floor(i / 100)}.${i % 100}.7.7`, 26656)
}

function share (book: AddrBook, isAttacker: (id: string) => boolean): { attacker: number, size: number } {
  let attacker = 0
  for (const e of book.entries()) if (isAttacker(e.addr.id)) attacker++
  return { attacker, size: book.size }
}

describe('pex/addr-book: poisoning bounds (rx-p2p, beyond CometBFT)', () => {
  it('30 peers with fresh keys from one IP, each telling 250 addresses in distinct /16s, take at most 128 entries of a book of 2,000 honest ones', () => {
    for (const [init, bounded] of [[{}, true], [LIFTED, false]] as const) {
      const { book, clock } = newBook(init)
      const honest = honestBook(book, clock)
      expect(honest.size).to.equal(2000)
      const attackers = new Set<string>()
      const results = new Map<AddAddressResult, number>()
      for (let p = 0; p < 30; p++) {
        // each attacking peer has its own ID, and all of them come from 45.76.1.2 (one source group)
        const src = new NetAddress(idOf(`attacker-${p}`), '45.76.1.2', 40_000 + p)
        for (let k = 0; k < 250; k++) {
          clock.advance(1)
          const a = attackerAddr(p * 250 + k)
          attackers.add(a.id)
          const r = book.addAddress(a, src)
          results.set(r, (results.get(r) ?? 0) + 1)
        }
      }
      const { attacker, size } = share(book, (id) => attackers.has(id))
      if (bounded) {
        expect(attacker).to.equal(DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
        expect(results.get('added')).to.equal(DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
        expect(results.get('source-group-limit')).to.be.above(7000) // the first peer hit its own bound first
        expect(attacker / size).to.be.below(0.065) // 128 of 2,128
        // and they pushed out almost nothing honest
        expect(size - attacker).to.be.at.least(2000 - DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
      } else {
        // CometBFT's rules: one source group reaches 32 of the 256 new buckets, and fills them
        expect(attacker).to.be.above(1000)
      }
    }
  })

  it('1,000 inbound peers each reporting a listen address in its own /16, all from one IP: 128 entries at most', () => {
    // The PEX reactor adds an inbound peer's self-reported address with the IP it connected from as the source
    // (spec/pex/pex-reactor.spec.ts); CometBFT's source is the address itself, a group of its own each time.
    const run = (observedSource: boolean): number => {
      const { book, clock } = newBook()
      honestBook(book, clock)
      let added = 0
      for (let i = 0; i < 1000; i++) {
        clock.advance(1)
        const self = attackerAddr(i)
        const src = observedSource ? new NetAddress(self.id, '45.76.1.2', 40_000 + i) : self
        if (book.addAddress(self, src) === 'added') added++
      }
      return added
    }
    expect(run(true)).to.equal(DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
    expect(run(false)).to.be.above(900) // with CometBFT's source, every group is a new one
  })

  it('one source ID places at most 128 addresses; once some leave the book, it may place as many again', () => {
    const { book } = newBook({ addrBookStrict: false }) // the bound that holds in a non-strict book too
    const src = srcIn(50, 1)
    const results: AddAddressResult[] = []
    for (let i = 0; i < 200; i++) results.push(book.addAddress(attackerAddr(i), src))
    expect(results.filter((r) => r === 'added')).to.have.length(DEFAULT_MAX_ADDRS_PER_SOURCE)
    expect(results.slice(DEFAULT_MAX_ADDRS_PER_SOURCE).every((r) => r === 'source-limit')).to.equal(true)
    // another source is not held back by this one
    expect(book.addAddress(attackerAddr(500), srcIn(51, 1))).to.equal('added')
    for (let i = 0; i < 10; i++) book.removeAddress(attackerAddr(i))
    const again = Array.from({ length: 20 }, (_, i) => book.addAddress(attackerAddr(600 + i), src))
    expect(again.filter((r) => r === 'added')).to.have.length(10)
  })

  it('one /16 holds at most 256 addresses, whoever tells them', () => {
    const { book } = newBook()
    let added = 0
    const results = new Set<AddAddressResult>()
    for (let i = 0; i < 600; i++) {
      // 600 sources in 600 /16s, each telling one address of 20.30.0.0/16
      const r = book.addAddress(addrIn(20, 30, i + 1), new NetAddress(idOf(`s${i}`), `${1 + (i % 200)}.${1 + Math.floor(i / 200)}.0.1`, 26656))
      if (r === 'added') added++
      else results.add(r)
    }
    expect(added).to.equal(DEFAULT_MAX_ADDRS_PER_GROUP)
    expect([...results]).to.deep.equal(['group-limit'])
  })

  it('one source group holds at most 16 entries of a new bucket, so a flood expires at most 16 honest entries there', () => {
    for (const [init, bounded] of [[{}, true], [LIFTED, false]] as const) {
      const { book, clock } = newBook(init)
      // The attacker (one source, addresses of one /16) always lands in one new bucket: find it.
      const attackerSrc = new NetAddress(idOf('flooder'), '45.76.1.2', 4000)
      const probe = addrIn(77, 7, 1, 26656, idOf('probe'))
      book.addAddress(probe, attackerSrc)
      const target = book.get(probe.id)!.buckets[0]!
      book.removeAddress(probe)
      // Fill that bucket with honest entries of the same /16, from honest source groups that map there too.
      const honest = new Set<string>()
      for (let g = 0; g < 20_000 && book.bucket(BUCKET_TYPE_NEW, target).length < NEW_BUCKET_SIZE; g++) {
        const src = srcIn(1 + (g % 200), Math.floor(g / 200))
        const first = addrIn(77, 7, 1000 + g, 26656, idOf(`h-${g}`))
        if (book.addAddress(first, src) !== 'added') continue
        if (book.get(first.id)!.buckets[0] !== target) {
          book.removeAddress(first)
          continue
        }
        honest.add(first.id)
        for (let k = 1; k < DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET && book.bucket(BUCKET_TYPE_NEW, target).length < NEW_BUCKET_SIZE; k++) {
          const a = addrIn(77, 7, 1000 + g, 26656 + k, idOf(`h-${g}-${k}`))
          expect(book.addAddress(a, src)).to.equal('added')
          honest.add(a.id)
        }
      }
      expect(book.bucket(BUCKET_TYPE_NEW, target)).to.have.length(NEW_BUCKET_SIZE)
      clock.advance(60_000)
      const results: AddAddressResult[] = []
      for (let i = 0; i < 200; i++) results.push(book.addAddress(addrIn(77, 7, 30_000 + i, 26656, idOf(`flood-${i}`)), attackerSrc))
      const inBucket = book.bucket(BUCKET_TYPE_NEW, target)
      const honestLeft = inBucket.filter((e) => honest.has(e.addr.id)).length
      if (bounded) {
        expect(results.filter((r) => r === 'added')).to.have.length(DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET)
        expect(results.slice(DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET).every((r) => r === 'bucket-share')).to.equal(true)
        expect(honestLeft).to.equal(NEW_BUCKET_SIZE - DEFAULT_MAX_PER_SOURCE_GROUP_IN_BUCKET)
      } else {
        expect(honestLeft).to.equal(0) // CometBFT: the flood expires every honest entry of the bucket
      }
    }
  })

  it('no bound is ever exceeded, and the counts stay true, whatever happens (property)', () => {
    type Op = { op: 'add', g: number, s: number, n: number } | { op: 'good' | 'remove' | 'bad', i: number } | { op: 'reinstate' | 'tick' }
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 6, arbitrary: fc.record({ op: fc.constant('add' as const), g: fc.nat(5), s: fc.nat(40), n: fc.integer({ min: 1, max: 60 }) }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('good' as const, 'remove' as const, 'bad' as const), i: fc.nat(10_000) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('reinstate' as const, 'tick' as const) }) }
    )
    const limits = { maxAddrsPerSource: 20, maxAddrsPerSourceGroup: 30, maxAddrsPerGroup: 40, maxPerSourceGroupInBucket: 8 }
    fc.assert(fc.property(fc.integer(), fc.array(opArb, { maxLength: 80 }), (seed, ops) => {
      const clock = virtualClock()
      const book = new AddrBook({ random: seededRandom(seed), scheduler: clock, key: KEY, ...limits })
      let h = 0
      let marked = false
      for (const op of ops) {
        const list = [...book.entries()].map((e) => e.addr)
        switch (op.op) {
          case 'add':
            // sources: 40 IDs in 8 groups; addresses: 6 groups
            for (let k = 0; k < op.n; k++) {
              book.addAddress(addrIn(20 + op.g, 1, ++h), new NetAddress(idOf(`src-${op.s}`), `${150 + (op.s % 8)}.1.0.${1 + op.s}`, 26656))
            }
            break
          case 'good': if (list.length > 0) { book.markGood(list[op.i % list.length]!.id); marked = true } break
          case 'remove': if (list.length > 0) book.removeAddress(list[op.i % list.length]!); break
          case 'bad': if (list.length > 0) book.markBad(list[op.i % list.length]!, 1000); break
          case 'reinstate': book.reinstateBadPeers(); break
          case 'tick': clock.advance(1500); break
        }
      }
      const bySrc = new Map<string, number>()
      const bySrcGroup = new Map<string, number>()
      const byGroup = new Map<string, number>()
      const inc = (m: Map<string, number>, k: string): void => { m.set(k, (m.get(k) ?? 0) + 1) }
      for (const e of book.entries()) {
        inc(bySrc, e.src.id)
        inc(bySrcGroup, e.src.groupKey())
        inc(byGroup, e.addr.groupKey())
      }
      for (const n of bySrc.values()) expect(n).to.be.at.most(limits.maxAddrsPerSource)
      for (const n of bySrcGroup.values()) expect(n).to.be.at.most(limits.maxAddrsPerSourceGroup)
      for (const n of byGroup.values()) expect(n).to.be.at.most(limits.maxAddrsPerGroup)
      // a demotion (markGood into a full old bucket) is not held to the bucket share; everything else is
      if (!marked) {
        for (let b = 0; b < NEW_BUCKET_COUNT; b++) {
          const shares = new Map<string, number>()
          for (const e of book.bucket(BUCKET_TYPE_NEW, b)) inc(shares, e.src.groupKey())
          for (const n of shares.values()) expect(n).to.be.at.most(limits.maxPerSourceGroupInBucket)
        }
      }
      // The counts are true: once everything is removed, a source places its full share again (addresses in
      // 20 /16s, so no group is full; a bucket-share refusal would need 9 of them in one of 32 buckets).
      for (const e of [...book.entries()]) book.removeAddress(e.addr)
      const fresh = Array.from({ length: limits.maxAddrsPerSource }, (_, k) => book.addAddress(addrIn(60 + k, 2, 1), new NetAddress(idOf('src-0'), '150.1.0.1', 26656)))
      expect(fresh.filter((r) => r !== 'added' && r !== 'bucket-share')).to.deep.equal([])
      expect(book.size).to.be.at.least(limits.maxAddrsPerSource - 8)
    }), { numRuns: 60 })
  })
})
