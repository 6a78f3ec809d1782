import { expect } from 'chai'
import { filter, firstValueFrom, map, tap, timeout, EMPTY, type Observable } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import {
  AlreadyConnectedError,
  ConnectionClosedError,
  DuplicateChannelError,
  PeerRejectedError,
  PexViolationError,
  ReactorError,
  TimeoutError
} from '../../lib/errors.js'
import { actions } from '../../lib/switch/actions.js'
import { utf8Codec, withCodec } from '../../lib/switch/codec.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { mapToActions } from '../../lib/switch/map-to-actions.js'
import type { Peer } from '../../lib/switch/peer.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { Switch, type SwitchInit } from '../../lib/switch/switch.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'

const ECHO = 0x70
const CHAT = 0x71
const text = (m: Uint8Array): string => new TextDecoder().decode(m)
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Replies `pong:x` to `ping:x`. */
const echoReactor: Reactor = {
  name: 'echo',
  channels: [{ id: ECHO, priority: 1, sendQueueCapacity: 10 }],
  run: (ctx) => ctx.envelopes$.pipe(mapToActions((env) => {
    const t = text(env.message)
    return t.startsWith('ping:') ? actions.trySend(env.from, ECHO, bytes(`pong:${t.slice(5)}`)) : undefined
  }))
}

/** Records chat lines; a line `bad` is a protocol violation that stops the sender. */
function chatReactor (log: string[]): Reactor {
  return {
    name: 'chat',
    channels: [{ id: CHAT, priority: 1, sendQueueCapacity: 10 }],
    run: withCodec(utf8Codec, (ctx) => ctx.envelopes$.pipe(mapToActions((env) => {
      if (env.message === 'bad') throw new PexViolationError('bad-address', 'that line is forbidden')
      log.push(`${env.from.nodeInfo.moniker}:${env.message}`)
      return undefined
    })))
  }
}

interface Node { sw: Switch, chat: string[], events: PeerEvent[] }

const started: Switch[] = []

async function node (moniker: string, init: Partial<SwitchInit> = {}, reactors?: Reactor[]): Promise<Node> {
  const chat: string[] = []
  const events: PeerEvent[] = []
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    moniker,
    network: 'rx-p2p-spec',
    listenAddress: '127.0.0.1:0',
    allowDuplicateIp: true,
    dialRandomizerMs: 0,
    stopFlushTimeoutMs: 200,
    reactors: reactors ?? [echoReactor, chatReactor(chat)],
    ...init
  })
  sw.peerEvents$.subscribe((e) => { events.push(e) })
  await sw.start()
  started.push(sw)
  return { sw, chat, events }
}

function next<T extends PeerEvent['type']> (sw: Switch, type: T, pred: (e: Extract<PeerEvent, { type: T }>) => boolean = () => true, ms = 5000): Promise<Extract<PeerEvent, { type: T }>> {
  return firstValueFrom((sw.peerEvents$ as Observable<PeerEvent>).pipe(
    filter((e): e is Extract<PeerEvent, { type: T }> => e.type === type),
    filter(pred),
    timeout(ms)
  ))
}

async function eventually (cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('switch/Switch over TCP', function () {
  this.timeout(15000)

  afterEach(async () => {
    await Promise.all(started.splice(0).map(async (sw) => { await sw.stop() }))
  })

  after(async () => {
    // stop() leaves no socket or listener behind
    await eventually(() => !process.getActiveResourcesInfo().some((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap'), 2000)
  })

  it('three switches dial and accept each other and exchange messages on two reactors', async () => {
    const a = await node('a')
    const b = await node('b')
    const c = await node('c')
    await a.sw.dial(b.sw.listenAddress!)
    await b.sw.dial(c.sw.listenAddress!)
    await c.sw.dial(a.sw.listenAddress!)
    await eventually(() => [a, b, c].every((n) => n.sw.peers.size === 2))

    const bAtA = a.sw.peers.get(b.sw.nodeId)!
    const aAtB = b.sw.peers.get(a.sw.nodeId)!
    expect(bAtA.isOutbound).to.equal(true)
    expect(aAtB.isOutbound).to.equal(false)
    expect(bAtA.nodeInfo.moniker).to.equal('b')
    expect(bAtA.remoteAddress.host).to.equal('127.0.0.1')
    expect(bAtA.socketAddr.equals(b.sw.listenAddress!)).to.equal(true)
    expect(bAtA.status().channels.map((ch) => ch.id)).to.deep.equal([ECHO, CHAT])
    expect([...bAtA.nodeInfo.channels]).to.deep.equal([ECHO, CHAT])

    // echo: a asks b, b's reactor answers with an action
    const pong = firstValueFrom(a.sw.inbound$.pipe(filter((e) => e.chId === ECHO), map((e) => `${e.from.nodeInfo.moniker}:${text(e.message)}`), timeout(5000)))
    expect(bAtA.trySend(ECHO, bytes('ping:1'))).to.equal(true)
    expect(await pong).to.equal('b:pong:1')

    // chat: a broadcasts, b and c receive it on the other reactor
    const results = await a.sw.broadcast(CHAT, bytes('hello all'))
    expect(results.map((r) => r.queued)).to.deep.equal([true, true])
    await eventually(() => b.chat.length === 1 && c.chat.length === 1)
    expect(b.chat).to.deep.equal(['a:hello all'])
    expect(c.chat).to.deep.equal(['a:hello all'])
    expect(a.sw.peers$).to.not.equal(undefined)
    const list = await firstValueFrom(c.sw.peers$)
    expect(list.map((p) => p.nodeInfo.moniker).sort()).to.deep.equal(['a', 'b'])
  })

  it('stops a peer for an error: removed from every reactor with the reason on one side, ConnectionClosedError on the other', async () => {
    const a = await node('a')
    const b = await node('b')
    const c = await node('c')
    await c.sw.dial(a.sw.listenAddress!)
    await b.sw.dial(a.sw.listenAddress!)
    const removedAtA = next(a.sw, 'removed')
    const removedAtC = next(c.sw, 'removed')
    c.sw.peers.get(a.sw.nodeId)!.trySend(CHAT, bytes('bad'))
    const atA = await removedAtA
    expect(atA.peer.id).to.equal(c.sw.nodeId)
    expect(atA.reason).to.be.instanceOf(PexViolationError)
    const atC = await removedAtC
    expect(atC.reason).to.be.instanceOf(ConnectionClosedError)
    expect(a.sw.peers.has(c.sw.nodeId)).to.equal(false)
    expect(a.sw.peers.has(b.sw.nodeId)).to.equal(true)
    // the stopped peer's connection is dead: nothing more is delivered to it
    expect(atA.peer.isRunning).to.equal(false)
    expect(atA.peer.trySend(CHAT, bytes('x'))).to.equal(false)
  })

  it('redials a persistent peer at once after the other side closes the socket', async () => {
    const a = await node('a')
    const b = await node('b')
    const first = await a.sw.dial(b.sw.listenAddress!, { persistent: true })
    expect(first.isPersistent).to.equal(true)
    await eventually(() => b.sw.peers.size === 1)
    const removed = next(a.sw, 'removed')
    const readded = next(a.sw, 'added', (e) => e.peer !== first)
    await b.sw.stopPeer(a.sw.nodeId) // b closes the connection
    expect((await removed).reason).to.be.instanceOf(ConnectionClosedError)
    const again = (await readded).peer
    expect(again.id).to.equal(b.sw.nodeId)
    expect(again.isOutbound).to.equal(true)
    expect(again.isPersistent).to.equal(true)
  })

  it('keeps redialing a persistent peer that went down, and reconnects when it is back', async () => {
    const a = await node('a', { reconnect: { intervalMs: 100, jitterMs: 0 } })
    const key = NodeKey.generate()
    const b1 = await node('b', { nodeKey: key })
    const port = b1.sw.listenAddress!.port
    await a.sw.dial(b1.sw.listenAddress!, { persistent: true })
    const failures: Error[] = []
    a.sw.peerEvents$.pipe(filter((e) => e.type === 'dialFailed'), tap((e) => { if (e.type === 'dialFailed') failures.push(e.error) })).subscribe()
    await b1.sw.stop()
    await eventually(() => failures.length >= 2)
    const back = next(a.sw, 'added')
    await node('b', { nodeKey: key, listenAddress: `127.0.0.1:${port}` })
    const peer = (await back).peer
    expect(peer.id).to.equal(key.id)
    expect(failures.every((e) => e.name === 'TransportError')).to.equal(true)
  })

  it('refuses an inbound connection beyond maxInboundPeers, except from an unconditional peer', async () => {
    const u = NodeKey.generate()
    const a = await node('a', { maxInboundPeers: 1, unconditionalPeerIds: [u.id] })
    const b = await node('b')
    const c = await node('c')
    const d = await node('d', { nodeKey: u })
    await b.sw.dial(a.sw.listenAddress!)
    const rejected = next(a.sw, 'rejected')
    // c completes its handshake (a's limit is checked after it, as in CometBFT's acceptRoutine), then a drops it
    await c.sw.dial(a.sw.listenAddress!).catch(() => {})
    const event = await rejected
    await eventually(() => c.sw.peers.size === 0)
    expect(event.error).to.be.instanceOf(PeerRejectedError)
    expect((event.error as PeerRejectedError).reason).to.equal('max-inbound')
    expect(a.sw.peers.size).to.equal(1)
    await d.sw.dial(a.sw.listenAddress!)
    await eventually(() => a.sw.peers.has(u.id))
    expect(a.sw.numPeers()).to.deep.equal({ outbound: 0, inbound: 1, dialing: 0 })
  })

  it('refuses a second dial of a connected peer, and a dial of itself', async () => {
    const a = await node('a')
    const b = await node('b')
    await a.sw.dial(b.sw.listenAddress!)
    let err: unknown
    await a.sw.dial(b.sw.listenAddress!).catch((e: unknown) => { err = e })
    expect(err).to.be.instanceOf(AlreadyConnectedError)
    await a.sw.dial(a.sw.listenAddress!).catch((e: unknown) => { err = e })
    expect(err).to.be.instanceOf(PeerRejectedError)
    expect((err as PeerRejectedError).reason).to.equal('self')
  })

  it('reports a failing reactor, stops the peer that caused it, restarts the reactor, and the node goes on', async () => {
    const seen: string[] = []
    const fragile = (record: boolean): Reactor => ({
      name: 'fragile',
      channels: [{ id: 0x72, priority: 1, sendQueueCapacity: 10 }],
      run: (ctx) => ctx.envelopes$.pipe(
        filter((env) => text(env.message) !== 'ok'),
        map((env) => {
          if (text(env.message) === 'crash') throw new Error('boom')
          if (record) seen.push(`${env.from.nodeInfo.moniker}:${text(env.message)}`)
          return actions.trySend(env.from, 0x72, bytes('ok'))
        })
      )
    })
    const reactors = (record = false): Reactor[] => [echoReactor, fragile(record)]
    const a = await node('a', { reactorRestartDelayMs: 20 }, reactors(true))
    const b = await node('b', {}, reactors())
    const c = await node('c', {}, reactors())
    await b.sw.dial(a.sw.listenAddress!)
    await c.sw.dial(a.sw.listenAddress!)
    const failure = firstValueFrom(a.sw.reactorErrors$.pipe(timeout(5000)))
    const removed = next(a.sw, 'removed')
    b.sw.peers.get(a.sw.nodeId)!.trySend(0x72, bytes('crash'))
    const f = await failure
    expect(f.reactor).to.equal('fragile')
    expect(f.error).to.be.instanceOf(ReactorError)
    expect((f.error.cause as Error).message).to.equal('boom')
    expect(f.peer?.id).to.equal(b.sw.nodeId)
    const r = await removed
    expect(r.peer.id).to.equal(b.sw.nodeId)
    expect(r.reason).to.equal(f.error)
    // restarted: c is still served
    await new Promise((resolve) => setTimeout(resolve, 50))
    const reply = firstValueFrom(c.sw.inbound$.pipe(filter((e) => e.chId === 0x72), timeout(5000)))
    c.sw.peers.get(a.sw.nodeId)!.trySend(0x72, bytes('hi'))
    expect(text((await reply).message)).to.equal('ok')
    expect(seen).to.deep.equal(['c:hi'])
  })

  it('refuses two reactors on one channel', () => {
    const clash: Reactor = { name: 'clash', channels: [{ id: ECHO, priority: 1 }], run: () => EMPTY }
    expect(() => new Switch({ nodeKey: NodeKey.generate(), reactors: [echoReactor, clash] })).to.throw(DuplicateChannelError, 'clash')
  })

  it('broadcasts per peer: false for a peer that did not advertise the channel', async () => {
    const a = await node('a')
    const b = await node('b')
    const d = await node('d', {}, [echoReactor]) // no chat channel
    await a.sw.dial(b.sw.listenAddress!)
    await a.sw.dial(d.sw.listenAddress!)
    const results = a.sw.tryBroadcast(CHAT, bytes('hey'))
    const byName = Object.fromEntries(results.map((r) => [r.peer.nodeInfo.moniker, r.queued]))
    expect(byName).to.deep.equal({ b: true, d: false })
    const dAtA: Peer = a.sw.peers.get(d.sw.nodeId)!
    expect(dAtA.hasChannel(CHAT)).to.equal(false)
    expect(await dAtA.send(CHAT, bytes('x'))).to.equal(false)
    expect(dAtA.trySend(ECHO, bytes('ping:x'))).to.equal(true)
    const except = a.sw.tryBroadcast(ECHO, bytes('x'), { except: [dAtA] })
    expect(except.map((r) => r.peer.nodeInfo.moniker)).to.deep.equal(['b'])
  })

  it('gives up a handshake with a silent remote after the handshake timeout', async () => {
    const tcp = new TcpTransport()
    const silent = await tcp.listen({ host: '127.0.0.1', port: 0 })
    const held: DuplexConnection[] = []
    silent.connections$.subscribe((conn) => { held.push(conn) })
    try {
      const a = await node('a', { handshakeTimeoutMs: 150 })
      const target = `${NodeKey.generate().id}@127.0.0.1:${silent.address.port}`
      const t0 = Date.now()
      let err: unknown
      await a.sw.dial(target).catch((e: unknown) => { err = e })
      expect(err).to.be.instanceOf(TimeoutError)
      expect(Date.now() - t0).to.be.within(100, 2000)
    } finally {
      for (const conn of held) conn.destroy()
      await silent.close()
    }
  })

  it('stop() closes the listener and every peer; a stopped switch refuses to dial', async () => {
    const a = await node('a')
    const b = await node('b')
    await a.sw.dial(b.sw.listenAddress!)
    const removedAtB = next(b.sw, 'removed')
    await a.sw.stop()
    expect(a.sw.isRunning).to.equal(false)
    expect((await removedAtB).reason).to.be.instanceOf(ConnectionClosedError)
    let err: unknown
    await a.sw.dial(b.sw.listenAddress!).catch((e: unknown) => { err = e })
    expect(err).to.be.instanceOf(PeerRejectedError)
    await b.sw.dial(a.sw.listenAddress!).catch((e: unknown) => { err = e })
    expect((err as Error).name).to.equal('TransportError')
  })
})
