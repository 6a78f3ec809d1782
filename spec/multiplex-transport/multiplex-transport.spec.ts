import { expect } from 'chai'
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { PeerRejectedError, TransportError } from '../../lib/errors.js'
import { MultiplexTransport, type AcceptEvent, type MultiplexTransportInit } from '../../lib/multiplex-transport/multiplex-transport.js'
import { MemoryNetwork } from '../../lib/transport/memory.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { defaultNodeInfo } from '../../lib/wire/node-info.js'

const PORT = 26656

function node (net: MemoryNetwork, host: string, init: Partial<MultiplexTransportInit> = {}): { mt: MultiplexTransport, key: NodeKey, address: NetAddress } {
  const key = NodeKey.generate()
  const nodeInfo = defaultNodeInfo({ id: key.id, network: 'mt-test', moniker: host, channels: Uint8Array.of(0x20), listenAddr: `${host}:${PORT}` })
  const mt = new MultiplexTransport({ nodeKey: key, nodeInfo: () => nodeInfo, transport: net.transport(host), ...init })
  return { mt, key, address: new NetAddress(key.id, host, PORT) }
}

const accepted = (accept$: Observable<AcceptEvent>): Promise<AcceptEvent> => firstValueFrom(accept$)

describe('multiplex-transport/MultiplexTransport', () => {
  const open: MultiplexTransport[] = []
  afterEach(async () => { await Promise.all(open.splice(0).map(async (mt) => { await mt.close() })) })

  it('accept() yields the upgraded inbound connection; dial() resolves with the upgraded outbound one', async () => {
    const net = new MemoryNetwork()
    const a = node(net, '10.0.0.1')
    const b = node(net, '10.0.0.2')
    open.push(a.mt, b.mt)
    expect(await a.mt.listen({ host: '10.0.0.1', port: PORT })).to.deep.equal({ host: '10.0.0.1', port: PORT })
    const inbound = accepted(a.mt.accept())
    const out = await b.mt.dial(a.address)
    const e = await inbound
    expect(e.type).to.equal('accepted')
    if (e.type !== 'accepted') return
    expect(e.conn.outbound).to.equal(false)
    expect(e.conn.remoteId).to.equal(b.key.id)
    expect(e.conn.nodeInfo.moniker).to.equal('10.0.0.2')
    expect(e.conn.socketAddr.id).to.equal(b.key.id)
    expect(e.conn.socketAddr.host).to.equal('10.0.0.2')
    expect(out.outbound).to.equal(true)
    expect(out.remoteId).to.equal(a.key.id)
    expect(out.socketAddr).to.equal(a.address)
    expect(a.mt.connections.inbound).to.equal(1)
    expect(b.mt.connections.has('10.0.0.1')).to.equal(true)
    expect(a.mt.pendingHandshakes).to.equal(0)
  })

  it('refuses a second connection from one IP (duplicate-ip) as a typed refusal on accept(), the dial failing', async () => {
    const net = new MemoryNetwork()
    const a = node(net, '10.0.0.1')
    const b = node(net, '10.0.0.2')
    const c = node(net, '10.0.0.2')
    open.push(a.mt, b.mt, c.mt)
    await a.mt.listen({ host: '10.0.0.1', port: PORT })
    const events: AcceptEvent[] = []
    a.mt.accept().subscribe((e) => { events.push(e) })
    await b.mt.dial(a.address)
    let failed: unknown
    await c.mt.dial(a.address).catch((err: unknown) => { failed = err })
    expect(failed).to.be.instanceOf(Error)
    const refusals = events.filter((e) => e.type === 'refused')
    expect(refusals).to.have.length(1)
    const r = refusals[0]!
    expect(r.type === 'refused' && r.error).to.be.instanceOf(PeerRejectedError)
    expect(r.type === 'refused' && (r.error as PeerRejectedError).reason).to.equal('duplicate-ip')
    expect(r.type === 'refused' && r.remoteAddress?.host).to.equal('10.0.0.2')
  })

  it('asks the connection filters first, at accept and on a dialed connection, and the ID hook after authentication', async () => {
    const net = new MemoryNetwork()
    const asked: Array<[string, string | undefined]> = []
    const refuse = new PeerRejectedError('banned', 'ip 10.0.0.3 is banned: test')
    const a = node(net, '10.0.0.1', {
      allowDuplicateIp: true,
      connFilters: [(ip, dialed) => {
        asked.push([ip, dialed?.toString()])
        return ip === '10.0.0.3' ? refuse : undefined
      }],
      onAuthenticated: (id) => { if (id === b.key.id) throw new PeerRejectedError('banned', `peer ${id} is banned: test`) }
    })
    const b = node(net, '10.0.0.2')
    const c = node(net, '10.0.0.3')
    open.push(a.mt, b.mt, c.mt)
    await a.mt.listen({ host: '10.0.0.1', port: PORT })
    const events: AcceptEvent[] = []
    a.mt.accept().subscribe((e) => { events.push(e) })
    await c.mt.dial(a.address).catch(() => {})
    await b.mt.dial(a.address).catch(() => {})
    let second: unknown
    a.mt.accept().subscribe({ error: (err: unknown) => { second = err } })
    expect(second, 'one subscriber at a time').to.be.instanceOf(TransportError)
    const byIp = events.find((e) => e.type === 'refused' && e.remoteAddress?.host === '10.0.0.3')
    expect(byIp?.type === 'refused' && byIp.error).to.equal(refuse)
    expect(byIp?.type === 'refused' && byIp.peerId).to.equal(undefined)
    const byId = events.find((e) => e.type === 'refused' && e.remoteAddress?.host === '10.0.0.2')
    expect(byId?.type === 'refused' && byId.peerId).to.equal(b.key.id)
    expect(byId?.type === 'refused' && (byId.error as PeerRejectedError).reason).to.equal('banned')
    // dialing out: the filter sees the dialed address
    const d = node(net, '10.0.0.4')
    open.push(d.mt)
    await d.mt.listen({ host: '10.0.0.4', port: PORT })
    d.mt.accept().subscribe()
    await a.mt.dial(d.address)
    expect(asked).to.deep.include(['10.0.0.4', d.address.toString()])
    expect(asked.slice(0, 2)).to.deep.equal([['10.0.0.3', undefined], ['10.0.0.2', undefined]])
  })

  it('close() cancels a handshake in flight: it is refused on accept(), which then completes', async () => {
    const net = new MemoryNetwork()
    const a = node(net, '10.0.0.1')
    open.push(a.mt)
    await a.mt.listen({ host: '10.0.0.1', port: PORT })
    const all = lastValueFrom(a.mt.accept().pipe(toArray()))
    // A raw connection that never says a word: it stays in its handshake.
    const silent = await net.transport('10.0.0.9').dial({ host: '10.0.0.1', port: PORT })
    await new Promise((resolve) => setImmediate(resolve))
    expect(a.mt.pendingHandshakes).to.equal(1)
    await a.mt.close()
    const events = await all
    expect(events).to.have.length(1)
    expect(events[0]!.type).to.equal('refused')
    expect(a.mt.pendingHandshakes).to.equal(0)
    expect(silent.closed).to.equal(true)
    expect(a.mt.listenAddress).to.equal(undefined)
  })

  it('accept() before listen() is a TransportError, and a closed transport does not listen', async () => {
    const net = new MemoryNetwork()
    const a = node(net, '10.0.0.1')
    let error: unknown
    a.mt.accept().subscribe({ error: (err: unknown) => { error = err } })
    expect(error).to.be.instanceOf(TransportError)
    await a.mt.close()
    let listenError: unknown
    await a.mt.listen({ host: '10.0.0.1', port: PORT }).catch((err: unknown) => { listenError = err })
    expect(listenError).to.be.instanceOf(TransportError)
  })
})
