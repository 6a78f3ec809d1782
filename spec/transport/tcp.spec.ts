import { expect } from 'chai'
import { firstValueFrom } from 'rxjs'
import { TransportError } from '../../lib/errors.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { duplexCompliance } from './compliance.js'

duplexCompliance('TCP (127.0.0.1)', async () => {
  const tcp = new TcpTransport()
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
  const accepted = firstValueFrom(listener.connections$)
  const a = await tcp.dial(listener.address)
  const b = await accepted
  return { a, b, close: async () => { await listener.close() } }
})

describe('transport/TcpTransport', () => {
  it('reports both ends’ addresses and refuses a dial to a closed port with TransportError', async () => {
    const tcp = new TcpTransport()
    const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
    const accepted = firstValueFrom(listener.connections$)
    const a = await tcp.dial(listener.address)
    const b = await accepted
    expect(a.remoteAddress).to.deep.equal(listener.address)
    expect(b.remoteAddress).to.deep.equal(a.localAddress)
    a.destroy()
    b.destroy()
    await listener.close()
    let err: unknown
    try { await tcp.dial(listener.address) } catch (e) { err = e }
    expect(err).to.be.instanceOf(TransportError)
  })
})
