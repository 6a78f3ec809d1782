import { expect } from 'chai'
import { EMPTY, filter, map } from 'rxjs'
import { x25519KeyPair } from '../../lib/crypto/x25519.js'
import { PeerRejectedError } from '../../lib/errors.js'
import { actions } from '../../lib/switch/actions.js'
import type { PeerEvent, PeerRejectedEvent } from '../../lib/switch/events.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import type { SwitchInit } from '../../lib/switch/switch.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { TestNetwork } from '../../lib/testing/network.js'

const SILENT: Reactor = { name: 'silent', channels: [{ id: 0x7f, priority: 1 }], run: () => EMPTY }

/** A SecretConnection's first message: a length-prefixed BytesValue with a fresh X25519 public key (35 bytes). */
function ephemeralKeyMessage (): Uint8Array {
  return Uint8Array.of(0x22, 0x0a, 0x20, ...x25519KeyPair().publicKey)
}

/** Refusals seen by a switch, with their virtual time. */
function rejections (net: TestNetwork, index: number): Array<{ t: number, e: PeerRejectedEvent, reason: string | undefined }> {
  const out: Array<{ t: number, e: PeerRejectedEvent, reason: string | undefined }> = []
  net.switches[index]!.peerEvents$.subscribe((e: PeerEvent) => {
    if (e.type === 'rejected') out.push({ t: net.now(), e, reason: (e.error as Partial<PeerRejectedError>).reason })
  })
  return out
}

/**
 * Sockets from `hosts` to node 0 that never send a byte (or, with `sendKey`, send an ephemeral key and then
 * nothing), each reopened `reopenMs` after it is closed, until `stop()`.
 */
function squatters (net: TestNetwork, hosts: readonly string[], init: { reopenMs?: number, sendKey?: boolean } = {}): { opened: () => number, stop: () => void } {
  let stopped = false
  let opened = 0
  const live = new Set<DuplexConnection>()
  const target = { host: TestNetwork.hostOf(0), port: 26656 }
  const open = (host: string): void => {
    if (stopped) return
    const again = (): void => { net.scheduler.schedule(() => { open(host) }, init.reopenMs ?? 5) }
    net.memory.transport(host).dial(target).then((raw) => {
      opened++
      live.add(raw)
      if (init.sendKey === true) raw.write(ephemeralKeyMessage())
      raw.closed$.subscribe(() => {
        live.delete(raw)
        again()
      })
    }, again)
  }
  for (const host of hosts) open(host)
  return {
    opened: () => opened,
    stop: () => {
      stopped = true
      for (const raw of live) raw.destroy()
    }
  }
}

const hosts = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`)

describe('switch/Switch admission in virtual time: pending handshakes, handshake rate, bans', () => {
  let net: TestNetwork | undefined
  afterEach(async () => {
    await net?.stop()
    net = undefined
  })

  async function network (size: number, target: Partial<SwitchInit>, reactors?: (i: number) => Reactor[]): Promise<TestNetwork> {
    net = await TestNetwork.create({ size, switchInit: (i) => i === 0 ? target : {}, reactors })
    return net
  }

  it('40 silent sockets from 40 IPs, reopened as they close, do not keep an honest peer out (and do not count as inbound peers)', async () => {
    const n = await network(2, { maxInboundPeers: 10 })
    const refused = rejections(n, 0)
    const squat = squatters(n, hosts('10.1.0', 40))
    await n.advance(100)
    expect(n.switches[0]!.admissionStats().pendingHandshakes).to.equal(32)
    const start = n.now()
    await n.connect(1, 0)
    expect(n.now() - start).to.be.below(1000)
    expect(n.switches[0]!.peers.has(n.switches[1]!.nodeId)).to.equal(true)
    // the squatters evicted each other, and the newcomer evicted one of them, never the other way round
    expect(refused.filter((r) => r.reason === 'pending-evicted').length).to.be.greaterThan(8)
    expect(refused.filter((r) => r.reason === 'max-inbound')).to.deep.equal([])
    squat.stop()
  })

  it('40 silent sockets from one IP: 4 pending at a time (pending-per-ip), the rest refused at once; an honest peer gets in', async () => {
    const n = await network(2, { allowDuplicateIp: true, maxPendingHandshakesPerIp: 4, handshakeRate: { burstPerIp: 1000 } })
    const refused = rejections(n, 0)
    const squat = squatters(n, new Array<string>(40).fill('10.1.0.1'))
    await n.advance(100)
    expect(n.switches[0]!.admissionStats().pendingHandshakes).to.equal(4)
    expect(refused.filter((r) => r.reason === 'pending-per-ip').length).to.be.at.least(36)
    expect(refused.every((r) => r.e.peerId === undefined && r.e.remoteAddress?.host === '10.1.0.1')).to.equal(true)
    const start = n.now()
    await n.connect(1, 0)
    expect(n.now() - start).to.be.below(1000)
    squat.stop()
  })

  it('handshakes from one IP: a burst of burstPerIp, then ratePerIp a second, each refusal a handshake-rate rejection', async () => {
    const n = await network(1, { allowDuplicateIp: true, maxPendingHandshakesPerIp: 100, handshakeRate: { burstPerIp: 3, ratePerIp: 1 } })
    const refused = rejections(n, 0)
    const dial = n.memory.transport('10.2.0.1')
    const target = { host: TestNetwork.hostOf(0), port: 26656 }
    await n.settle(Promise.all(Array.from({ length: 5 }, async () => await dial.dial(target))))
    await n.advance(10)
    expect(refused.map((r) => r.reason)).to.deep.equal(['handshake-rate', 'handshake-rate'])
    expect(refused[0]!.e.error.message).to.match(/from 10\.2\.0\.1/)
    expect(n.switches[0]!.admissionStats().refused['handshake-rate']).to.equal(2)
    await n.advance(1000)
    await n.settle(Promise.all(Array.from({ length: 2 }, async () => await dial.dial(target))))
    await n.advance(10)
    expect(refused.map((r) => r.reason)).to.deep.equal(['handshake-rate', 'handshake-rate', 'handshake-rate'])
  })

  it('the node-wide bucket bounds key agreements over many IPs; silent sockets never take from it', async () => {
    const n = await network(2, { handshakeRate: { burst: 2, rate: 1 } })
    const refused = rejections(n, 0)
    // four half handshakes from four IPs: each sends its ephemeral key; two get a key agreement
    squatters(n, hosts('10.3.0', 4), { sendKey: true, reopenMs: 1_000_000 })
    await n.advance(50)
    const total = refused.filter((r) => r.reason === 'handshake-rate')
    expect(total).to.have.length(2)
    expect(total[0]!.e.error.message).to.match(/in total/)
    // 40 silent squatters reopening meanwhile: after the refill, the honest peer gets its key agreement
    const squat = squatters(n, hosts('10.4.0', 40))
    await n.advance(1000)
    await n.connect(1, 0)
    squat.stop()
  })

  it('a banned ID is refused right after the secret handshake (named, before NodeInfo) for the ban\'s duration, and a connected one is stopped', async () => {
    const n = await network(2, {})
    const refused = rejections(n, 0)
    const sw = n.switches[0]!
    const other = n.switches[1]!.nodeId
    await n.connect(1, 0)
    const removed: PeerEvent[] = []
    sw.peerEvents$.subscribe((e) => { if (e.type === 'removed') removed.push(e) })
    sw.ban(other, 60_000, 'test')
    expect(removed.map((e) => e.type === 'removed' && (e.reason as PeerRejectedError).reason)).to.deep.equal(['banned'])
    await n.advance(100)
    let err: unknown
    await n.settle(n.switches[1]!.dial(n.address(0)).catch((e: unknown) => { err = e }))
    expect(err).to.be.instanceOf(Error)
    const r = refused.at(-1)!
    expect([r.reason, r.e.peerId]).to.deep.equal(['banned', other])
    expect(sw.isBanned(other)).to.equal(true)
    await n.advance(60_000)
    expect(sw.isBanned(other)).to.equal(false)
    await n.connect(1, 0)
  })

  it('a banned IP is refused at accept before any handshake; a dial to a banned ID or IP is refused without connecting', async () => {
    const n = await network(3, {})
    const refused = rejections(n, 0)
    const sw = n.switches[0]!
    sw.ban(TestNetwork.hostOf(1), 10_000, 'flood')
    await n.settle(n.switches[1]!.dial(n.address(0)).catch(() => undefined))
    expect(refused.map((r) => [r.reason, r.e.peerId, r.e.remoteAddress?.host])).to.deep.equal([['banned', undefined, TestNetwork.hostOf(1)]])
    sw.ban(n.switches[2]!.nodeId, 10_000)
    const atTwo = rejections(n, 2)
    for (const i of [1, 2]) {
      let err: unknown
      await n.settle(sw.dial(n.address(i)).catch((e: unknown) => { err = e }))
      expect((err as PeerRejectedError).reason).to.equal('banned')
    }
    expect(atTwo).to.deep.equal([])
    expect(sw.admissionStats().refused.banned).to.equal(3)
  })

  it('a dial-only ban (an address that failed too often) refuses our dials but not the peer calling us', async () => {
    const n = await network(3, {})
    const sw = n.switches[0]!
    sw.ban(n.address(1), 10_000, 'failed too often', { scope: 'dial' })
    sw.ban(n.address(2), 10_000, 'failed too often', { scope: 'dial' })
    expect(sw.isBanned(n.address(1))).to.equal(false)
    expect(sw.isBanned(n.address(1), 'dial')).to.equal(true)
    await n.connect(1, 0)
    let err: unknown
    await n.settle(sw.dial(n.address(2)).catch((e: unknown) => { err = e }))
    expect((err as PeerRejectedError).reason).to.equal('banned')
  })

  it('actions.ban from a reactor: the Switch stops the peer with the reason and refuses it when it comes back', async () => {
    const reason = new Error('misbehaved')
    const banner: Reactor = {
      name: 'banner',
      channels: [{ id: 0x7f, priority: 1 }],
      run: (ctx) => ctx.peerEvents$.pipe(
        filter((e) => e.type === 'added' && e.peer.nodeInfo.moniker === 'node1'),
        map((e) => actions.ban((e as { peer: Parameters<typeof actions.ban>[0] }).peer, 5000, reason))
      )
    }
    const n = await network(2, {}, (i) => i === 0 ? [banner] : [SILENT])
    const removed: Array<Error | undefined> = []
    n.switches[0]!.peerEvents$.subscribe((e) => { if (e.type === 'removed') removed.push(e.reason) })
    await n.connect(1, 0)
    await n.advance(10)
    expect(removed).to.deep.equal([reason])
    const refused = rejections(n, 0)
    await n.settle(n.switches[1]!.dial(n.address(0)).catch(() => undefined))
    expect(refused.map((r) => r.reason)).to.deep.equal(['banned'])
  })
})
