// Inbound slots cannot be squatted: TCP connections that never send a byte, reopened as soon as the node closes
// them, from one IP or from 40, while two honest peers talk to the node. On main before the fix, 40 of them took
// every inbound slot (pending handshakes counted against max_num_inbound_peers) and no honest peer got in for
// 15 s. Here they can only take pending-handshake slots, a newcomer evicts one, and an honest peer gets in
// within a second. Long version: RX_P2P_ATTACK_LONG=1 (npm run attack -- --long).
import { expect } from 'chai'
import type net from 'node:net'
import { EMPTY } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { Switch } from '../../lib/switch/switch.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { ECHO_CHANNEL, honestTraffic, LONG, NETWORK, rawSocket, sampleStats, sleep, startTarget, type Target } from './support/harness.js'

const ATTACK_MS = LONG ? 20_000 : 2000

/** Sockets from `ips` (one socket per entry) that never write, each reopened `reopenMs` after it closes. */
function squat (target: Target, ips: readonly string[], reopenMs: number): { opened: () => number, stop: () => void } {
  let stopped = false
  let opened = 0
  const live = new Set<net.Socket>()
  const open = (ip: string): void => {
    if (stopped) return
    const again = (): void => { if (!stopped) setTimeout(() => { open(ip) }, reopenMs) }
    rawSocket(target, ip).then((socket) => {
      opened++
      live.add(socket)
      socket.on('data', () => {}) // read what the node sends (its ephemeral key), answer nothing
      socket.once('close', () => {
        live.delete(socket)
        again()
      })
    }, again)
  }
  for (const ip of ips) open(ip)
  return {
    opened: () => opened,
    stop: () => {
      stopped = true
      for (const s of live) s.destroy()
    }
  }
}

/** A fresh honest Switch dialing from `ip`: the time until it is the target's peer, in ms. */
async function honestJoin (target: Target, ip: string): Promise<{ ms: number, stop: () => Promise<void> }> {
  const reactor: Reactor = { name: 'newcomer', channels: [{ id: ECHO_CHANNEL, priority: 1 }], run: () => EMPTY }
  const sw = new Switch({ nodeKey: NodeKey.generate(), network: NETWORK, moniker: 'newcomer', transport: new TcpTransport({ localAddress: ip }), reactors: [reactor] })
  await sw.start()
  const started = Date.now()
  for (;;) {
    try {
      await sw.dial(target.address)
      break
    } catch (err) {
      if (Date.now() - started > 5000) throw err
      await sleep(20)
    }
  }
  return { ms: Date.now() - started, stop: async () => { await sw.stop() } }
}

describe('attack/squatting: silent sockets that reopen do not keep honest peers out', function () {
  this.timeout(60_000)

  const cases = [
    { name: 'from one IP', ips: new Array<string>(40).fill('127.0.3.1'), switchInit: { allowDuplicateIp: true } },
    { name: 'from 40 IPs', ips: Array.from({ length: 40 }, (_, i) => `127.0.4.${i + 1}`), switchInit: {} }
  ]
  for (const c of cases) {
    it(`40 squatting sockets ${c.name}: honest peers keep talking and a new one gets in within 1 s`, async () => {
      const target = await startTarget({ switchInit: c.switchInit })
      try {
        const honest = await honestTraffic(target, { peers: 2 })
        const sampler = sampleStats(target, 200)
        const squatters = squat(target, c.ips, 10)
        await sleep(300)
        const joins: number[] = []
        const deadline = Date.now() + ATTACK_MS
        let i = 0
        while (Date.now() < deadline) {
          const join = await honestJoin(target, `127.0.5.${++i}`)
          joins.push(join.ms)
          await join.stop()
          await sleep(100)
        }
        const stats = await target.stats()
        squatters.stop()
        const s = await sampler.stop()
        await honest.stop()
        console.log(`      ${c.name}: ${squatters.opened()} squatting sockets opened; newcomers joined in ${joins.join(', ')} ms; ` +
          `refused ${JSON.stringify(stats.rejected)}; target CPU ${(s.cpuShare * 100).toFixed(1)}% of a core, peak RSS ${(s.peakRss / 2 ** 20).toFixed(0)} MiB`)
        expect(joins.length).to.be.greaterThan(0)
        expect(Math.max(...joins)).to.be.below(1000)
        // the squatters were there all along: refused per IP (one IP) or evicted (40 IPs)
        expect(squatters.opened()).to.be.at.least(40)
        const pushedOut = (stats.rejected['pending-per-ip'] ?? 0) + (stats.rejected['pending-evicted'] ?? 0) + (stats.rejected['duplicate-ip'] ?? 0)
        expect(pushedOut).to.be.greaterThan(0)
        expect(stats.rejected['max-inbound'] ?? 0).to.equal(0)
        honest.assertNoLoss()
      } finally {
        await target.stop()
      }
    })
  }
})
