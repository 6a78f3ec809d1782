import { expect } from 'chai'
import { filter, firstValueFrom, timeout, type Observable } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { DecryptionError, TransportError } from '../../lib/errors.js'
import { actions } from '../../lib/switch/actions.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { mapToActions } from '../../lib/switch/map-to-actions.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { Switch } from '../../lib/switch/switch.js'
import { FaultyConnection, faultyTransport, type FaultyConnectionInit } from '../../lib/testing/faulty-connection.js'
import { seededRandom, SimulationScheduler } from '../../lib/testing/simulation.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { duplexCompliance } from '../../lib/testing/compliance.js'

duplexCompliance('FaultyConnection without faults, over memoryPair', async () => {
  const [a, b] = memoryPair()
  return { a: new FaultyConnection(a), b: new FaultyConnection(b), close: async () => {} }
})

duplexCompliance('FaultyConnection without faults, over TCP (127.0.0.1)', async () => {
  const tcp = new TcpTransport()
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
  const accepted = firstValueFrom(listener.connections$)
  const a = await tcp.dial(listener.address)
  const b = await accepted
  return { a: new FaultyConnection(a), b: new FaultyConnection(b), close: async () => { await listener.close() } }
})

const pattern = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff)

/** A pair on a virtual clock: `a` wrapped with `init`, `b` plain; what `b` reads, with the clock time of each chunk. */
function virtualPair (init: Omit<FaultyConnectionInit, 'scheduler'>, latencyMs = 0) {
  const clock = new SimulationScheduler(0)
  const [rawA, b] = memoryPair({ scheduler: clock, latencyMs })
  const a = new FaultyConnection(rawA, { scheduler: clock, ...init })
  const got: Array<{ t: number, chunk: Uint8Array }> = []
  let ended: string | undefined
  b.source$.subscribe({
    next: (chunk) => { got.push({ t: clock.now(), chunk }) },
    error: (err: Error) => { ended = err.name },
    complete: () => { ended = 'complete' }
  })
  const bytesOf = (): Uint8Array => Buffer.concat(got.map((g) => g.chunk))
  return { clock, a, b, got, bytesOf, ended: () => ended }
}

describe('testing/FaultyConnection', () => {
  it('delays every chunk in virtual time and keeps the order, jitter included; end follows the data', () => {
    const { clock, a, got, ended } = virtualPair({ send: { delayMs: 100, jitterMs: 50 }, random: seededRandom('jitter') }, 5)
    for (let i = 0; i < 20; i++) a.write(pattern(10, i))
    a.end()
    clock.runUntil(104)
    expect(got).to.have.length(0)
    clock.runUntil(1000)
    expect(got.map((g) => g.chunk[0])).to.deep.equal(Array.from({ length: 20 }, (_, i) => pattern(10, i)[0]))
    const times = got.map((g) => g.t)
    expect(times).to.deep.equal([...times].sort((x, y) => x - y))
    expect(times[0]).to.be.within(105, 155)
    expect(times.at(-1)).to.be.within(105, 155)
    expect(ended()).to.equal('complete')
    expect(a.counts.delayed).to.equal(20)
  })

  it('write returns false while delayed bytes pass the high-water mark, and drain$ follows when they leave', () => {
    const { clock, a, bytesOf } = virtualPair({ send: { delayMs: 50 }, highWaterMark: 1000 })
    expect(a.write(pattern(600))).to.equal(true)
    expect(a.write(pattern(600))).to.equal(false)
    expect(a.writableNeedDrain).to.equal(true)
    let drained = -1
    a.drain$.subscribe(() => { drained = clock.now() })
    clock.runUntil(49)
    expect(drained).to.equal(-1)
    expect(a.bufferedBytes).to.equal(1200)
    clock.runUntil(100)
    expect(drained).to.equal(50)
    expect(bytesOf().byteLength).to.equal(1200)
    expect(a.bufferedBytes).to.equal(0)
  })

  it('drops, duplicates and corrupts chunks at their rates, the same way for the same seed', () => {
    const run = (seed: string) => {
      const { clock, a, got } = virtualPair({ send: { drop: 0.1, duplicate: 0.1, corrupt: 0.1 }, random: seededRandom(seed) })
      for (let i = 0; i < 1000; i++) a.write(Uint8Array.of(i & 0xff, i >> 8, 0, 0))
      clock.runUntil(10)
      return { counts: { ...a.counts }, got: got.map((g) => Buffer.from(g.chunk).toString('hex')).join(',') }
    }
    const first = run('rates')
    expect(run('rates')).to.deep.equal(first)
    expect(run('other').got).to.not.equal(first.got)
    const c = first.counts
    expect(c.dropped).to.be.within(60, 140)
    expect(c.duplicated).to.be.within(60, 140)
    expect(c.corrupted).to.be.within(60, 140)
    expect(first.got.split(',')).to.have.length(1000 - c.dropped + c.duplicated)
    // a corrupted chunk differs from every chunk that was written in exactly one byte
    const written = new Set(Array.from({ length: 1000 }, (_, i) => Buffer.from([i & 0xff, i >> 8, 0, 0]).toString('hex')))
    const foreign = first.got.split(',').filter((h) => !written.has(h))
    expect(foreign.length).to.be.within(1, c.corrupted * 2)
  })

  it('corrupts the bytes at given stream offsets only, however the stream is chunked', () => {
    const { clock, a, bytesOf } = virtualPair({ send: { corruptAt: [3, 250, 999] } })
    const data = pattern(1000)
    for (let off = 0; off < 1000; off += 97) a.write(data.slice(off, off + 97))
    clock.runUntil(1)
    const got = bytesOf()
    const diff = [...got.keys()].filter((i) => got[i] !== data[i])
    expect(diff).to.deep.equal([3, 250, 999])
    expect(got[250]).to.equal(data[250]! ^ 0xff)
  })

  it('cuts after a byte count (the crossing chunk cut short), and on a schedule in virtual time: both ends see the reset', async () => {
    const byCount = virtualPair({ send: { cutAfterBytes: 150 } }, 5)
    byCount.a.write(pattern(100))
    byCount.a.write(pattern(100, 1))
    byCount.a.write(pattern(100, 2))
    byCount.clock.runUntil(100)
    expect(byCount.bytesOf().byteLength).to.equal(150)
    expect(byCount.a.closed).to.equal(true)
    expect(await firstValueFrom(byCount.a.closed$)).to.be.instanceOf(TransportError)
    expect(byCount.b.closed).to.equal(true)
    expect(byCount.ended()).to.equal('TransportError')

    const scheduled = virtualPair({ schedule: [{ atMs: 1000, send: { delayMs: 20 } }, { atMs: 5000, cut: true }] }, 5)
    scheduled.a.write(pattern(10))
    scheduled.clock.runUntil(1500)
    scheduled.a.write(pattern(10, 1))
    scheduled.clock.runUntil(4999)
    expect(scheduled.got.map((g) => g.t)).to.deep.equal([5, 1525])
    expect(scheduled.a.closed).to.equal(false)
    scheduled.clock.runUntil(5000)
    expect(scheduled.a.closed).to.equal(true)
    expect(scheduled.a.write(pattern(1))).to.equal(false)
    scheduled.clock.runUntil(5005)
    expect(scheduled.ended()).to.equal('TransportError')
  })

  it('faults on the receive side too: a dropped and delayed inbound stream, pause and unshift still honoured', () => {
    const clock = new SimulationScheduler(0)
    const [a, rawB] = memoryPair({ scheduler: clock })
    const b = new FaultyConnection(rawB, { scheduler: clock, receive: { delayMs: 30 } })
    const seen: number[] = []
    const sub = b.source$.subscribe((c) => { seen.push(...c) })
    b.pause()
    a.write(Uint8Array.of(1, 2, 3))
    clock.runUntil(100)
    // paused, the wrapper stops reading its inner connection: the bytes wait there (backpressure on the link)
    expect(seen).to.deep.equal([])
    expect(b.bufferedBytes).to.equal(0)
    b.resume()
    expect(seen).to.deep.equal([])
    expect(b.bufferedBytes).to.equal(3)
    clock.runUntil(129)
    expect(seen).to.deep.equal([])
    clock.runUntil(130)
    expect(seen).to.deep.equal([1, 2, 3])
    sub.unsubscribe()
    b.unshift(Uint8Array.of(9))
    const again: number[] = []
    b.source$.subscribe((c) => { again.push(...c) })
    expect(again).to.deep.equal([9])
    b.setFaults({ receive: { drop: 1 } })
    a.write(Uint8Array.of(4))
    clock.runUntil(200)
    expect(again).to.deep.equal([9])
    expect(b.counts.dropped).to.equal(1)
  })
})

const ECHO = 0x70
const echoReactor: Reactor = {
  name: 'echo',
  channels: [{ id: ECHO, priority: 1, sendQueueCapacity: 100 }],
  run: (ctx) => ctx.envelopes$.pipe(mapToActions((env) => env.message[0] === 0 ? actions.trySend(env.from, ECHO, Uint8Array.of(1, ...env.message.subarray(1))) : undefined))
}

function nextEvent<T extends PeerEvent['type']> (sw: Switch, type: T, ms = 5000): Promise<Extract<PeerEvent, { type: T }>> {
  return firstValueFrom((sw.peerEvents$ as Observable<PeerEvent>).pipe(filter((e): e is Extract<PeerEvent, { type: T }> => e.type === type), timeout(ms)))
}

describe('testing/faultyTransport over TCP', function () {
  this.timeout(20_000)
  const switches: Switch[] = []
  afterEach(async () => { await Promise.all(switches.splice(0).map(async (s) => { await s.stop() })) })

  function node (moniker: string, transport?: ReturnType<typeof faultyTransport>): Switch {
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      moniker,
      network: 'rx-p2p-faults',
      listenAddress: '127.0.0.1:0',
      allowDuplicateIp: true,
      dialRandomizerMs: 0,
      stopFlushTimeoutMs: 200,
      reactors: [echoReactor],
      ...(transport === undefined ? {} : { transport })
    })
    switches.push(sw)
    return sw
  }

  it('a byte corrupted inside a SecretConnection frame stops that peer with DecryptionError; the node and its other peer go on', async () => {
    const faulty: FaultyConnection[] = []
    // The victim's first connection has its inbound stream corrupted at byte 20,000: well past the handshake,
    // inside the echo traffic. Later connections pass untouched.
    let dials = 0
    const plan = (): FaultyConnectionInit | undefined => dials++ === 0 ? { receive: { corruptAt: [20_000] } } : undefined
    const victim = node('victim', faultyTransport(new TcpTransport(), plan, (c) => faulty.push(c)))
    const hub = node('hub')
    const other = node('other')
    await Promise.all([hub.start(), victim.start(), other.start()])
    const echoes = { victim: 0, other: 0 }
    victim.inbound$.subscribe(() => { echoes.victim++ })
    other.inbound$.subscribe(() => { echoes.other++ })
    const removedAtVictim = nextEvent(victim, 'removed')
    const removedAtHub = nextEvent(hub, 'removed')
    const victimPeer = await victim.dial(hub.listenAddress!)
    const otherPeer = await other.dial(hub.listenAddress!)
    const msg = new Uint8Array(1000)
    for (let i = 0; i < 50; i++) {
      victimPeer.trySend(ECHO, msg)
      otherPeer.trySend(ECHO, msg)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const removed = await removedAtVictim
    expect(removed.reason).to.be.instanceOf(DecryptionError)
    expect(faulty).to.have.length(1)
    expect(faulty[0]!.counts.corrupted).to.equal(1)
    expect(echoes.victim).to.be.within(1, 49) // some echoes arrived before byte 20,000, not all
    // the hub saw its peer go (the victim hung up) and keeps serving the other peer
    expect((await removedAtHub).peer.id).to.equal(victim.nodeInfo.id)
    for (let i = 0; i < 100 && echoes.other < 50; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(echoes.other).to.equal(50)
    for (let i = 0; i < 10; i++) otherPeer.trySend(ECHO, msg)
    for (let i = 0; i < 100 && echoes.other < 60; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(echoes.other).to.equal(60)
    expect(hub.numPeers().inbound).to.equal(1)
    // and the victim itself is still a working node: it connects again
    const again = await victim.dial(hub.listenAddress!)
    expect(again.isRunning).to.equal(true)
  })
})
