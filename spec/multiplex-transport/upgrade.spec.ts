import { expect } from 'chai'
import { TestScheduler } from 'rxjs/testing'
import { MConnection, type InboundMessage } from '../../lib/conn/mconnection.js'
import { makeSecretConnection, type SecretConnection } from '../../lib/conn/secret-connection.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import {
  FrameTooLargeError, IncompatiblePeerError, InvalidNodeInfoError, PeerIdMismatchError, SelfConnectionError, TimeoutError
} from '../../lib/errors.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import {
  authenticateConnection, checkPeerCompatible, exchangeNodeInfo, upgradeConnection, validatePeerNodeInfo, type UpgradedConnection
} from '../../lib/multiplex-transport/upgrade.js'
import { encodeDelimited, readDelimited } from '../../lib/wire/delimited.js'
import { encodeNodeInfo, type NodeInfo } from '../../lib/wire/node-info.js'
import {
  ByteCollector, closedReason, handshakeVector, hex, settle, vectorNodeInfo, watchUnhandledRejections
} from '../conn/secret-support.js'

function nodeInfoOf (key: NodeKey, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    protocolVersion: { p2p: 8, block: 11, app: 0 },
    id: key.id,
    listenAddr: 'tcp://127.0.0.1:26656',
    network: 'rx-test-chain',
    version: '0.1.0',
    channels: Uint8Array.of(0x00, 0x20, 0x30),
    moniker: `node-${key.id.slice(0, 6)}`,
    other: { txIndex: 'off', rpcAddress: '' },
    ...overrides
  }
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the promise to reject')
}

/** A TCP listener and a dialed connection, both raw; `done` closes the listener once the sockets are gone. */
async function tcpPair (): Promise<{ dialer: DuplexConnection, acceptor: DuplexConnection, done: () => Promise<void> }> {
  const tcp = new TcpTransport()
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
  const accepted = new Promise<DuplexConnection>((resolve) => { listener.connections$.subscribe(resolve) })
  const dialer = await tcp.dial(listener.address)
  const acceptor = await accepted
  const closing = listener.close()
  return { dialer, acceptor, done: () => closing }
}

/** A deterministic message: byte i = (seed + i * 31) mod 256. */
function message (size: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) b[i] = (seed + i * 31) & 0xff
  return b
}

describe('multiplex-transport/upgradeConnection', () => {
  let stopWatching: () => unknown[]
  beforeEach(() => { stopWatching = watchUnhandledRejections() })
  afterEach(async () => {
    await settle(5)
    expect(stopWatching()).to.deep.equal([])
  })

  it('as A of the derived vector: the sealed NodeInfo frame matches and B\'s NodeInfo passes every check', async () => {
    const v = handshakeVector()
    const [conn, peer] = memoryPair()
    const wire = new ByteCollector(peer)
    const upgraded = upgradeConnection(conn, {
      nodeKey: NodeKey.fromSeed(hex(v.inputs.A_ed25519_seed_hex)),
      nodeInfo: vectorNodeInfo(v.step4_node_info.A_fields),
      dialedId: v.identities.B_node_id.toUpperCase(), // a dialed ID in upper case is normalized
      ephemeralPrivateKey: hex(v.inputs.A_x25519_ephemeral_private_hex)
    })
    expect((await wire.take(35)).toString('hex')).to.equal(v.step1_ephemeral_exchange.A_wire_bytes_hex)
    peer.write(hex(v.step1_ephemeral_exchange.B_wire_bytes_hex))
    expect((await wire.take(1044)).toString('hex')).to.equal(v.step3_auth_sig.A_to_B_frames[0]!.sealed_frame_hex)
    peer.write(hex(v.step3_auth_sig.B_to_A_frames[0]!.sealed_frame_hex))
    expect((await wire.take(1044)).toString('hex')).to.equal(v.step4_node_info.A_to_B_frames[0]!.sealed_frame_hex)
    peer.write(hex(v.step4_node_info.B_to_A_frames[0]!.sealed_frame_hex))
    const { conn: sc, nodeInfo, remoteId } = await upgraded
    expect(remoteId).to.equal(v.identities.B_node_id)
    expect(nodeInfo).to.deep.equal(vectorNodeInfo(v.step4_node_info.B_fields))
    wire.stop()
    sc.destroy()
  })

  it('two rx-p2p endpoints over real TCP upgrade and exchange data', async () => {
    const { dialer, acceptor, done } = await tcpPair()
    const ka = NodeKey.generate()
    const kb = NodeKey.generate()
    const [a, b] = await Promise.all([
      upgradeConnection(dialer, { nodeKey: ka, nodeInfo: nodeInfoOf(ka), dialedId: kb.id }),
      upgradeConnection(acceptor, { nodeKey: kb, nodeInfo: nodeInfoOf(kb) })
    ])
    expect(a.remoteId).to.equal(kb.id)
    expect(b.remoteId).to.equal(ka.id)
    expect(a.nodeInfo).to.deep.equal(nodeInfoOf(kb))
    expect(b.nodeInfo).to.deep.equal(nodeInfoOf(ka))
    const data = message(300_000, 9)
    const got = new ByteCollector(b.conn)
    a.conn.write(data)
    expect((await got.take(data.length)).equals(data)).to.equal(true)
    got.stop()
    a.conn.end()
    b.conn.end()
    await Promise.all([closedReason(a.conn), closedReason(b.conn)])
    await done()
  })

  it('an MConnection with several channels carries messages up to 4 MiB over SecretConnection over TCP, every byte checked', async function () {
    this.timeout(30_000)
    const { dialer, acceptor, done } = await tcpPair()
    const ka = NodeKey.generate()
    const kb = NodeKey.generate()
    const [a, b] = await Promise.all([
      upgradeConnection(dialer, { nodeKey: ka, nodeInfo: nodeInfoOf(ka), dialedId: kb.id }),
      upgradeConnection(acceptor, { nodeKey: kb, nodeInfo: nodeInfoOf(kb) })
    ])
    const channels = [
      { id: 0x00, priority: 1, sendQueueCapacity: 4 },
      { id: 0x20, priority: 5, sendQueueCapacity: 4 },
      { id: 0x30, priority: 3, sendQueueCapacity: 4 }
    ]
    const init = { sendRate: 0, recvRate: 0, flushThrottleMs: 0 }
    const ma = new MConnection(a.conn, channels, init)
    const mb = new MConnection(b.conn, channels, init)
    const sizes = [1, 1023, 1024, 1025, 65_536, 1 << 20, 4 << 20]
    const plan = (from: number): Map<number, Buffer[]> => new Map(channels.map((c, ci) =>
      [c.id, sizes.map((s, si) => message(s + ci, from * 100 + ci * 10 + si))]))
    const aToB = plan(1)
    const bToA = plan(2)
    const total = [...aToB.values()].reduce((n, list) => n + list.length, 0)
    const collect = (m: MConnection): Promise<Map<number, Buffer[]>> => new Promise((resolve, reject) => {
      const got = new Map<number, Buffer[]>(channels.map((c) => [c.id, []]))
      let count = 0
      m.inbound$.subscribe({
        next: ({ chId, message: msg }: InboundMessage) => {
          got.get(chId)!.push(Buffer.from(msg))
          if (++count === total) resolve(got)
        },
        error: reject,
        complete: () => { if (count < total) reject(new Error(`closed after ${count} of ${total} messages`)) }
      })
    })
    const gotB = collect(mb)
    const gotA = collect(ma)
    ma.start()
    mb.start()
    const sendAll = async (m: MConnection, msgs: Map<number, Buffer[]>): Promise<void> => {
      await Promise.all([...msgs].map(async ([chId, list]) => {
        for (const msg of list) expect(await m.send(chId, msg, { timeoutMs: 20_000 })).to.equal(true)
      }))
    }
    await Promise.all([sendAll(ma, aToB), sendAll(mb, bToA)])
    const [atB, atA] = await Promise.all([gotB, gotA])
    for (const [chId, list] of aToB) {
      expect(atB.get(chId)!.map((m) => m.length)).to.deep.equal(list.map((m) => m.length))
      list.forEach((m, i) => { expect(atB.get(chId)![i]!.equals(m), `a→b channel ${chId} message ${i}`).to.equal(true) })
    }
    for (const [chId, list] of bToA) {
      list.forEach((m, i) => { expect(atA.get(chId)![i]!.equals(m), `b→a channel ${chId} message ${i}`).to.equal(true) })
    }
    ma.stop()
    mb.stop()
    a.conn.destroy()
    b.conn.destroy()
    await done()
  })

  describe('refusals (typed error, raw connection closed, no unhandled rejection)', () => {
    /**
     * Runs our upgrade against a peer that completes the SecretConnection handshake with `peerKey` and then does
     * `afterHandshake` with its side of the encrypted connection.
     */
    async function refusedBy (
      init: { ourKey?: NodeKey, peerKey?: NodeKey, dialedId?: string, ourInfo?: Partial<NodeInfo> },
      afterHandshake: (sc: SecretConnection) => void | Promise<void>,
      errorClass: new (...args: never[]) => Error
    ): Promise<Error> {
      const { dialer, acceptor, done } = await tcpPair()
      const ourKey = init.ourKey ?? NodeKey.generate()
      const peerKey = init.peerKey ?? NodeKey.generate()
      const peerClosed = closedReason(acceptor)
      // The peer keeps reading after its script, so it sees our side hang up (a paused TCP reader sees no EOF).
      void makeSecretConnection(acceptor, peerKey).then(async (sc) => {
        await afterHandshake(sc)
        sc.source$.subscribe({ error: () => {} })
      }).catch(() => {})
      const err = await rejection(upgradeConnection(dialer, {
        nodeKey: ourKey,
        nodeInfo: nodeInfoOf(ourKey, init.ourInfo),
        ...(init.dialedId !== undefined ? { dialedId: init.dialedId } : {})
      }))
      expect(err).to.be.instanceOf(errorClass)
      expect(dialer.closed).to.equal(true)
      expect(await closedReason(dialer)).to.be.instanceOf(errorClass)
      await peerClosed // the peer's socket closes too
      expect(acceptor.closed).to.equal(true)
      await done()
      return err as Error
    }

    it('a key that does not match the dialed ID: PeerIdMismatchError, before any NodeInfo is sent', async () => {
      const peerKey = NodeKey.generate()
      const expected = NodeKey.generate().id
      let peerGotNodeInfo = false
      const err = await refusedBy({ peerKey, dialedId: expected }, async (sc) => {
        await readDelimited(sc, 10240).then(() => { peerGotNodeInfo = true }, () => {})
      }, PeerIdMismatchError)
      expect((err as PeerIdMismatchError).expected).to.equal(expected)
      expect((err as PeerIdMismatchError).actual).to.equal(peerKey.id)
      expect(peerGotNodeInfo).to.equal(false)
    })

    it('a NodeInfo whose ID is not the authenticated key\'s: PeerIdMismatchError', async () => {
      const peerKey = NodeKey.generate()
      await refusedBy({ peerKey }, (sc) => {
        sc.write(encodeDelimited(encodeNodeInfo(nodeInfoOf(peerKey, { id: NodeKey.generate().id }))))
      }, PeerIdMismatchError)
    })

    it('an incompatible network: IncompatiblePeerError (rule "network")', async () => {
      const peerKey = NodeKey.generate()
      const err = await refusedBy({ peerKey }, (sc) => {
        sc.write(encodeDelimited(encodeNodeInfo(nodeInfoOf(peerKey, { network: 'another-chain' }))))
      }, IncompatiblePeerError)
      expect((err as IncompatiblePeerError).rule).to.equal('network')
    })

    it('onAuthenticated names the peer before a later rule refuses it', async () => {
      const [ours, theirs] = memoryPair()
      const ourKey = NodeKey.generate()
      const peerKey = NodeKey.generate()
      const seen: string[] = []
      const ourSide = upgradeConnection(ours, { nodeKey: ourKey, nodeInfo: nodeInfoOf(ourKey), onAuthenticated: (id) => { seen.push(id) } })
      void upgradeConnection(theirs, { nodeKey: peerKey, nodeInfo: nodeInfoOf(peerKey, { network: 'another-chain' }) }).catch(() => {})
      expect(await rejection(ourSide)).to.be.instanceOf(IncompatiblePeerError)
      expect(seen).to.deep.equal([peerKey.id])
    })

    it('no shared channel: IncompatiblePeerError (rule "channels")', async () => {
      const peerKey = NodeKey.generate()
      const err = await refusedBy({ peerKey }, (sc) => {
        sc.write(encodeDelimited(encodeNodeInfo(nodeInfoOf(peerKey, { channels: Uint8Array.of(0x60) }))))
      }, IncompatiblePeerError)
      expect((err as IncompatiblePeerError).rule).to.equal('channels')
    })

    it('an oversized NodeInfo (10241 bytes): FrameTooLargeError', async () => {
      const peerKey = NodeKey.generate()
      const err = await refusedBy({ peerKey }, (sc) => {
        const big = encodeNodeInfo(nodeInfoOf(peerKey, { moniker: 'm'.repeat(10241) }))
        sc.write(encodeDelimited(big))
      }, FrameTooLargeError)
      expect((err as FrameTooLargeError).max).to.equal(10240)
    })

    it('an invalid NodeInfo (empty moniker): InvalidNodeInfoError (rule "moniker")', async () => {
      const peerKey = NodeKey.generate()
      const err = await refusedBy({ peerKey }, (sc) => {
        sc.write(encodeDelimited(encodeNodeInfo(nodeInfoOf(peerKey, { moniker: '' }))))
      }, InvalidNodeInfoError)
      expect((err as InvalidNodeInfoError).rule).to.equal('moniker')
    })

    it('a connection to ourselves: SelfConnectionError', async () => {
      const key = NodeKey.generate()
      await refusedBy({ ourKey: key, peerKey: key, dialedId: key.id }, (sc) => {
        sc.write(encodeDelimited(encodeNodeInfo(nodeInfoOf(key))))
      }, SelfConnectionError)
    })

    it('a peer that never sends its NodeInfo: TimeoutError; the NodeInfo deadline starts after the handshake', async () => {
      const scheduler = new TestScheduler(() => {})
      const [ours, theirs] = memoryPair()
      const ourKey = NodeKey.generate()
      const peerKey = NodeKey.generate()
      let outcome: unknown
      void upgradeConnection(ours, { nodeKey: ourKey, nodeInfo: nodeInfoOf(ourKey), scheduler })
        .then(() => { outcome = 'resolved' }, (err: unknown) => { outcome = err })
      // 2 s of virtual time pass during the secret handshake…
      scheduler.schedule(() => {}, 2000)
      scheduler.maxFrames = 2000
      scheduler.flush()
      expect(scheduler.now()).to.equal(2000)
      // …then the peer answers the handshake but stays silent afterwards.
      const peer = await makeSecretConnection(theirs, peerKey)
      await settle()
      scheduler.maxFrames = 4999
      scheduler.flush()
      await settle()
      expect(outcome).to.equal(undefined) // a shared deadline would have fired at 3000
      scheduler.maxFrames = Number.POSITIVE_INFINITY
      scheduler.flush()
      await settle()
      expect(scheduler.now()).to.equal(5000)
      expect(outcome).to.be.instanceOf(TimeoutError)
      expect(ours.closed).to.equal(true)
      expect(await closedReason(peer)).to.be.instanceOf(Error)
    })

    it('a peer that stalls the NodeInfo exchange over TCP: TimeoutError after a short deadline', async () => {
      await refusedByTimeout()
      async function refusedByTimeout (): Promise<void> {
        const { dialer, acceptor, done } = await tcpPair()
        const ourKey = NodeKey.generate()
        void makeSecretConnection(acceptor, NodeKey.generate()).then((sc) => { sc.source$.subscribe({ error: () => {} }) }, () => {})
        const err = await rejection(upgradeConnection(dialer, { nodeKey: ourKey, nodeInfo: nodeInfoOf(ourKey), handshakeTimeoutMs: 200 }))
        expect(err).to.be.instanceOf(TimeoutError)
        expect((err as Error).message).to.match(/NodeInfo/)
        expect(dialer.closed).to.equal(true)
        await closedReason(acceptor)
        await done()
      }
    })
  })

  it('UpgradedConnection exposes the SecretConnection for the next layer', async () => {
    const [x, y] = memoryPair()
    const kx = NodeKey.generate()
    const ky = NodeKey.generate()
    const [ux, uy]: UpgradedConnection[] = await Promise.all([
      upgradeConnection(x, { nodeKey: kx, nodeInfo: nodeInfoOf(kx) }),
      upgradeConnection(y, { nodeKey: ky, nodeInfo: nodeInfoOf(ky) })
    ])
    expect(ux!.conn.remoteId).to.equal(ky.id)
    expect(uy!.conn.remoteId).to.equal(kx.id)
    ux!.conn.destroy()
    await closedReason(uy!.conn)
  })

  describe('the steps on their own (what upgradeConnection composes)', () => {
    it('authenticate, exchange, validate, check by hand on one side meet upgradeConnection on the other', async () => {
      const [x, y] = memoryPair()
      const kx = NodeKey.generate()
      const ky = NodeKey.generate()
      const byHand = (async () => {
        const sc = await authenticateConnection(x, { nodeKey: kx, dialedId: ky.id })
        const theirs = await exchangeNodeInfo(sc, nodeInfoOf(kx))
        validatePeerNodeInfo(theirs, sc.remoteId)
        checkPeerCompatible(nodeInfoOf(kx), theirs)
        return { sc, theirs }
      })()
      const [{ sc, theirs }, up] = await Promise.all([byHand, upgradeConnection(y, { nodeKey: ky, nodeInfo: nodeInfoOf(ky) })])
      expect(sc.remoteId).to.equal(ky.id)
      expect(theirs).to.deep.equal(nodeInfoOf(ky))
      expect(up.nodeInfo).to.deep.equal(nodeInfoOf(kx))
      sc.destroy()
      await closedReason(up.conn)
    })

    it('authenticateConnection: a key that is not the dialed ID is refused with PeerIdMismatchError, the connection closed', async () => {
      const [x, y] = memoryPair()
      const peerKey = NodeKey.generate()
      void makeSecretConnection(y, peerKey).then((sc) => { sc.source$.subscribe({ error: () => {} }) }, () => {})
      const dialed = NodeKey.generate().id
      const err = await rejection(authenticateConnection(x, { nodeKey: NodeKey.generate(), dialedId: dialed }))
      expect(err).to.be.instanceOf(PeerIdMismatchError)
      expect(err).to.include({ expected: dialed, actual: peerKey.id })
      expect(x.closed).to.equal(true)
    })

    it('validatePeerNodeInfo and checkPeerCompatible name the rule they refuse by', () => {
      const ours = NodeKey.generate()
      const peer = NodeKey.generate()
      expect(() => { validatePeerNodeInfo(nodeInfoOf(peer), peer.id) }).to.not.throw()
      expect(() => { validatePeerNodeInfo(nodeInfoOf(peer), ours.id) }).to.throw(PeerIdMismatchError)
      expect(() => { validatePeerNodeInfo(nodeInfoOf(peer, { moniker: '' }), peer.id) }).to.throw(InvalidNodeInfoError).with.property('rule', 'moniker')
      expect(() => { checkPeerCompatible(nodeInfoOf(ours), nodeInfoOf(peer)) }).to.not.throw()
      expect(() => { checkPeerCompatible(nodeInfoOf(ours), nodeInfoOf(ours)) }).to.throw(SelfConnectionError)
      expect(() => { checkPeerCompatible(nodeInfoOf(ours), nodeInfoOf(peer), peer.id) }).to.throw(SelfConnectionError)
      expect(() => { checkPeerCompatible(nodeInfoOf(ours), nodeInfoOf(peer, { network: 'another-chain' })) })
        .to.throw(IncompatiblePeerError).with.property('rule', 'network')
    })
  })
})
