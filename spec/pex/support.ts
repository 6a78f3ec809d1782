/** Helpers for the PEX and address-book specs: seeded randomness, a virtual clock, test addresses. */
import { createHash } from 'node:crypto'
import { VirtualTimeScheduler } from 'rxjs'
import { NetAddress } from '../../lib/transport/net-address.js'
import { AddrBook } from '../../lib/pex/addr-book.js'

/** A seeded PRNG (mulberry32) in [0, 1): the same seed gives the same sequence. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** 2023-11-14T22:13:20Z, a realistic start for virtual clocks. */
export const T0 = 1_700_000_000_000

/** A virtual clock starting at {@link T0}; `advance` runs whatever falls due. */
export function virtualClock (): VirtualTimeScheduler & { advance: (ms: number) => void } {
  const vts = new VirtualTimeScheduler() as VirtualTimeScheduler & { advance: (ms: number) => void }
  vts.frame = T0
  vts.advance = (ms: number) => {
    const target = vts.frame + ms
    vts.schedule(() => {}, ms)
    vts.maxFrames = target
    vts.flush()
    vts.frame = target
  }
  return vts
}

/** A valid, deterministic node ID for `n`. */
export function idOf (n: number | string): string {
  return createHash('sha1').update(`node-${n}`).digest('hex')
}

/** A routable address in the /16 group `a.b.0.0`, host number `host`. */
export function addrIn (a: number, b: number, host: number, port = 26656, id: string = idOf(`${a}.${b}.${host}:${port}`)): NetAddress {
  return new NetAddress(id, `${a}.${b}.${(host >> 8) & 255}.${host & 255}`, port)
}

/** A source address in the /16 group `a.b.0.0`. */
export function srcIn (a: number, b: number): NetAddress {
  return new NetAddress(idOf(`src-${a}.${b}`), `${a}.${b}.0.1`, 26656)
}

/**
 * A deterministic book with new and old entries, IPv4 and IPv6, attempts and a reinstated ban, built through
 * the book's own operations on a seeded random source and a virtual clock with sub-millisecond steps. The
 * fixture `fixtures/addrbook-rx-p2p.json` is this book as rx-p2p saves it (and as CometBFT loaded it).
 */
export function sampleBook (): AddrBook {
  const clock = virtualClock()
  const book = new AddrBook({ random: seededRandom(2024), scheduler: clock, key: '0123456789abcdef01234567' })
  const src4 = srcIn(198, 51)
  const src6 = new NetAddress(idOf('src6'), '2a01:4f8:1:2::3', 26656)
  for (let i = 0; i < 24; i++) {
    clock.advance(1234.567891)
    book.addAddress(addrIn(20 + (i % 5), i, i + 1), i % 2 === 0 ? src4 : src6)
  }
  for (let i = 0; i < 6; i++) {
    clock.advance(999.000001)
    book.addAddress(new NetAddress(idOf(`v6-${i}`), `2600:1f18:${i}::${i + 1}`, 26656 + i), src4)
  }
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 6; j++) book.addAddress(addrIn(20 + (i % 5), i, i + 1), srcIn(100 + j, j))
  }
  for (let i = 0; i < 24; i += 3) {
    clock.advance(60_000.5)
    book.markGood(addrIn(20 + (i % 5), i, i + 1).id)
  }
  for (let i = 1; i < 24; i += 4) {
    clock.advance(10.25)
    book.markAttempt(addrIn(20 + (i % 5), i, i + 1))
  }
  const banned = addrIn(20 + (5 % 5), 5, 6)
  book.markBad(banned, 1000)
  clock.advance(2000)
  book.reinstateBadPeers()
  return book
}
