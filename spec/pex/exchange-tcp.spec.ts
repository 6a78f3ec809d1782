import { expect } from 'chai'
import { firstValueFrom } from 'rxjs'
import { AddrBook, selectionSize } from '../../lib/pex/addr-book.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import type { DuplexConnection } from '../../lib/transport/duplex.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { encodeDelimited, readDelimited } from '../../lib/wire/delimited.js'
import { MAX_PEX_MESSAGE_SIZE, decodePexMessage, encodePexMessage } from '../../lib/wire/pex.js'
import { PexViolationError } from '../../lib/errors.js'
import { addrIn, idOf, seededRandom, srcIn } from './support.js'

// A minimal request/answer over delimited frames: enough to carry the PEX messages and the book over real
// sockets. (The PEX reactor runs them over MConnection channel 0x00.)
describe('pex over TCP (codec and book, 127.0.0.1)', () => {
  it('a node answers a PexRequest with a selection from its book; the asker adds every address', async () => {
    const tcp = new TcpTransport()
    const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
    const seedBook = new AddrBook({ random: seededRandom(1) })
    for (let i = 0; i < 300; i++) seedBook.addAddress(addrIn(11 + (i % 100), (i / 100) | 0, 3), srcIn(200, i % 9))
    const seedAddr = new NetAddress(idOf('seed'), '127.0.0.1', listener.address.port)

    const served = firstValueFrom(listener.connections$).then(async (conn: DuplexConnection) => {
      const req = decodePexMessage(await readDelimited(conn, MAX_PEX_MESSAGE_SIZE))
      expect(req.type).to.equal('request')
      conn.write(encodeDelimited(encodePexMessage({ type: 'addrs', addrs: seedBook.getSelection() })))
      conn.end()
    })

    const conn = await tcp.dial(listener.address)
    conn.write(encodeDelimited(encodePexMessage({ type: 'request' })))
    const answer = decodePexMessage(await readDelimited(conn, MAX_PEX_MESSAGE_SIZE))
    await served
    conn.destroy()
    await listener.close()

    expect(answer.type).to.equal('addrs')
    const addrs = (answer as { addrs: NetAddress[] }).addrs
    expect(addrs).to.have.length(selectionSize(300))
    const book = new AddrBook({ random: seededRandom(2) })
    book.addOurAddress(new NetAddress(idOf('me'), '127.0.0.1', 1))
    const results = addrs.map((a) => book.addAddress(a, seedAddr))
    expect(results.every((r) => r === 'added')).to.equal(true)
    expect(book.size).to.equal(addrs.length)
    for (const a of addrs) expect(seedBook.hasAddress(a)).to.equal(true)
  })

  it('an answer with a bad IP is refused whole on the receiving side', async () => {
    const tcp = new TcpTransport()
    const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
    const served = firstValueFrom(listener.connections$).then((conn: DuplexConnection) => {
      // a good address, then NetAddress{ip: "1.2.3", port: 1} written by hand
      const good = encodePexMessage({ type: 'addrs', addrs: [addrIn(20, 1, 1)] }) // 12 <len> <addrs…>
      const bad = Buffer.from('0a09' + '1205' + Buffer.from('1.2.3').toString('hex') + '1801', 'hex')
      const body = Buffer.concat([good.subarray(2), bad])
      conn.write(encodeDelimited(Buffer.concat([Uint8Array.of(0x12, body.length), body])))
      conn.end()
    })
    const conn = await tcp.dial(listener.address)
    const bytes = await readDelimited(conn, MAX_PEX_MESSAGE_SIZE)
    await served
    conn.destroy()
    await listener.close()
    let err: unknown
    try { decodePexMessage(bytes) } catch (e) { err = e }
    expect(err).to.be.instanceOf(PexViolationError)
    expect((err as PexViolationError).rule).to.equal('bad-address')
  })
})
