// The address book resists poisoning, over real TCP, while two honest peers talk to the node the whole time.
// On main before the fix: 30 peers with fresh keys answering our PEX requests, or 1,000 self-reported listen_addrs
// in distinct /16s, made 49.5 % of a 1,000-entry book theirs in 9 s, and a book of 2,000 honest entries grew to
// 13,714 entries, 13,056 of them the attacker's. The book took each inbound peer's listen_addr as the source
// (its own /16: a new source group every time, CometBFT's way, tendermint#4846) and had no bound per source.
// Now the source is the IP the peer connected from, and one source group places at most 128 addresses.
// Long version: RX_P2P_ATTACK_LONG=1 (npm run attack -- --long).
import { expect } from 'chai'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { MConnection } from '../../lib/conn/mconnection.js'
import { AddrBook } from '../../lib/pex/addr-book.js'
import { DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP } from '../../lib/pex/params.js'
import { PEX_CHANNEL_DESCRIPTOR } from '../../lib/pex/pex-reactor.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { PEX_CHANNEL, decodePexMessage, encodePexAddrs } from '../../lib/wire/pex.js'
import { attackerHandshake, honestTraffic, LONG, mib, sampleStats, sleep, startTarget, waitFor, type AttackerConnection, type Target } from './support/harness.js'

const id = (s: string): string => createHash('sha1').update(s).digest('hex')
/** An attacker's address `i`: 20,480 of them in as many /16s (20.0.0.0/16 … 99.255.0.0/16), then again. */
const evil = (i: number): NetAddress =>
  new NetAddress(id(`evil-${i}`), `${20 + (Math.floor(i / 256) % 80)}.${i % 256}.${Math.floor(i / 20_480) % 256}.7`, 26656)

/** Writes an addrbook.json of `n` honest entries: 100 honest sources in their own /16s, n/100 addresses each. */
async function honestBookFile (path: string, n: number): Promise<Set<string>> {
  const book = new AddrBook({ filePath: path, key: '0123456789abcdef01234567' })
  await book.start()
  const honest = new Set<string>()
  for (let i = 0; i < n; i++) {
    const s = i % 100
    const a = new NetAddress(id(`honest-${i}`), `${20 + (i % 80)}.${1 + s}.${(i >> 8) & 255}.${1 + (i & 127)}`, 26656)
    if (book.addAddress(a, new NetAddress(id(`honest-src-${s}`), `${150 + (s % 40)}.${s}.0.1`, 26656)) === 'added') honest.add(a.id)
  }
  await book.stop()
  return honest
}

/** Counts the target's entries: the attacker's (ID in `evilIds`) and the rest. */
async function shareOf (target: Target, evilIds: Set<string>): Promise<{ attacker: number, honest: number, size: number }> {
  const entries = await target.book()
  const attacker = entries.filter((e) => evilIds.has(e.addr.split('@')[0]!)).length
  return { attacker, honest: entries.length - attacker, size: entries.length }
}

// The target: a strict book (public-network rules) loaded from the file; handshakes not rate-limited, so that the
// attack reaches the book (the handshake limits, spec/attack/half-handshake.spec.ts, slow it down on their own).
const SWITCH_INIT = { handshakeRate: { burst: 100_000, rate: 100_000, burstPerIp: 1000, ratePerIp: 1000 }, maxInboundPeers: 60 }

describe('attack: PEX poisoning of the address book', function () {
  this.timeout(120_000)
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'rx-p2p-attack-pex-')) })
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  it('1,000 inbound peers with fresh keys, each reporting a listen_addr in its own /16, place at most 128 addresses in a book of 2,000 honest ones', async () => {
    const file = join(dir, 'book-self-reported.json')
    const honest = await honestBookFile(file, 2000)
    expect(honest.size).to.equal(2000)
    const target = await startTarget({ pex: true, addrBookFile: file, addrBookStrict: true, switchInit: SWITCH_INIT })
    const traffic = await honestTraffic(target, { peers: 2 })
    const sampler = sampleStats(target, 200)
    const count = LONG ? 5000 : 1000
    const evilIds = new Set<string>()
    const started = Date.now()
    try {
      await waitFor(async () => (await target.stats()).bookSize === 2000, 10_000, 'the honest book to load')
      const before = (await target.stats()).events.added ?? 0
      // 16 at a time: handshake from its own loopback IP (127.2.x.y, so no per-IP rule refuses it), report
      // `evil(i)` as the listen address, stay until the node has added the peer, leave.
      let next = 0
      const worker = async (): Promise<void> => {
        for (let i = next++; i < count; i = next++) {
          const self = evil(i)
          let conn: AttackerConnection | undefined
          try {
            conn = await attackerHandshake(target, { sourceIp: `127.2.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`, channels: [PEX_CHANNEL], listenAddr: `${self.host}:${self.port}` })
            evilIds.add(conn.nodeKey.id)
            await sleep(30)
          } catch {
            // refused: counted by the node's stats
          } finally {
            conn?.close()
          }
        }
      }
      await Promise.all(Array.from({ length: 16 }, worker))
      await waitFor(async () => ((await target.stats()).events.added ?? 0) - before >= count, 10_000, 'every attacker to be added')
      const attackMs = Date.now() - started
      const { attacker, honest: honestLeft, size } = await shareOf(target, evilIds)
      const stats = await sampler.stop()
      await traffic.stop()
      traffic.assertNoLoss()
      console.log(`      self-reported: ${count} peers in ${attackMs} ms; book ${size} = ${attacker} attacker's (${(100 * attacker / size).toFixed(1)} %) + ${honestLeft} honest; peak RSS ${mib(stats.peakRss)}, CPU ${(100 * stats.cpuShare).toFixed(0)} % of a core; honest messages ${traffic.received}`)
      expect(attacker).to.be.at.most(DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
      expect(attacker / size).to.be.below(0.065)
      expect(honestLeft).to.be.at.least(2000 - DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
      // every entry of theirs has the IP it connected from as its source, not the address it reported
      for (const e of await target.book()) if (evilIds.has(e.addr.split('@')[0]!)) expect(e.src).to.match(/@127\.2\.\d+\.\d+:\d+$/)
    } finally {
      await sampler.stop()
      await traffic.stop()
      await target.stop()
    }
  })

  it('30 peers with fresh keys from one /16, answering each PEX request of the node with 250 addresses in distinct /16s, hold at most 128 entries of a book of 500 honest ones', async () => {
    const file = join(dir, 'book-answers.json')
    const honest = await honestBookFile(file, 500)
    // maxOutboundPeers 0: the node dials nobody (the honest entries are not real), and at its target it asks a
    // random peer for addresses every ensure-peers period while answers bring news (askWhenAtTarget).
    const target = await startTarget({
      pex: true,
      addrBookFile: file,
      addrBookStrict: true,
      switchInit: { ...SWITCH_INIT, maxOutboundPeers: 0 },
      pexInit: { ensurePeersPeriodMs: 150 }
    })
    const traffic = await honestTraffic(target, { peers: 2 })
    const sampler = sampleStats(target, 200)
    const evilIds = new Set<string>()
    const conns: Array<{ conn: AttackerConnection, mconn: MConnection }> = []
    let asked = 0
    let offered = 0
    const attackMs = LONG ? 30_000 : 6000
    try {
      await waitFor(async () => (await target.stats()).bookSize === honest.size, 10_000, 'the honest book to load')
      for (let p = 0; p < 30; p++) {
        const conn = await attackerHandshake(target, { sourceIp: `127.3.0.${p + 1}`, channels: [PEX_CHANNEL], listenAddr: `${evil(100_000 + p).host}:26656` })
        const mconn = new MConnection(conn.sc, [PEX_CHANNEL_DESCRIPTOR])
        let round = 0
        mconn.inbound$.subscribe(({ message }) => {
          if (decodePexMessage(message).type !== 'request') return
          asked++
          // 250 fresh addresses, each in a /16 of its own
          const addrs = Array.from({ length: 250 }, (_, k) => evil(p * 100_000 + round * 250 + k))
          for (const a of addrs) evilIds.add(a.id)
          round++
          offered += addrs.length
          mconn.trySend(PEX_CHANNEL, encodePexAddrs(addrs))
        })
        mconn.start()
        evilIds.add(conn.nodeKey.id)
        conns.push({ conn, mconn })
      }
      const end = Date.now() + attackMs
      while (Date.now() < end) await sleep(200)
      const { attacker, honest: honestLeft, size } = await shareOf(target, evilIds)
      const stats = await sampler.stop()
      await traffic.stop()
      traffic.assertNoLoss()
      console.log(`      answers: ${asked} requests answered with ${offered} addresses in ${attackMs} ms; book ${size} = ${attacker} attacker's (${(100 * attacker / size).toFixed(1)} %) + ${honestLeft} honest; peak RSS ${mib(stats.peakRss)}, CPU ${(100 * stats.cpuShare).toFixed(0)} % of a core`)
      expect(asked).to.be.at.least(5) // the node did ask them, over and over
      expect(offered).to.be.above(4 * DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
      expect(attacker).to.be.at.most(DEFAULT_MAX_ADDRS_PER_SOURCE_GROUP)
      expect(attacker / size).to.be.below(0.21) // 128 of 628
      expect(honestLeft).to.equal(honest.size) // nothing honest was pushed out
    } finally {
      for (const { conn, mconn } of conns) { mconn.stop(); conn.close() }
      await sampler.stop()
      await traffic.stop()
      await target.stop()
    }
  })
})
