import { expect } from 'chai'
import { pipe } from 'it-pipe'
import { firstValueFrom, toArray } from 'rxjs'
import { ConnectionClosedError, TransportError } from '../../lib/errors.js'
import { fromItDuplex, toItDuplex } from '../../lib/transport/it-pipe.js'
import { memoryPair } from '../../lib/transport/memory.js'
import { TcpTransport } from '../../lib/transport/tcp.js'
import { duplexCompliance } from '../../lib/testing/compliance.js'

duplexCompliance('it-pipe adapter (fromItDuplex ∘ toItDuplex over memoryPair)', async () => {
  const [a, b] = memoryPair()
  return { a: fromItDuplex(toItDuplex(a)), b: fromItDuplex(toItDuplex(b)), close: async () => {} }
})

duplexCompliance('it-pipe adapter over TCP', async () => {
  const tcp = new TcpTransport()
  const listener = await tcp.listen({ host: '127.0.0.1', port: 0 })
  const accepted = firstValueFrom(listener.connections$)
  const a = await tcp.dial(listener.address)
  const b = await accepted
  return { a: fromItDuplex(toItDuplex(a)), b: fromItDuplex(toItDuplex(b)), close: async () => { await listener.close() } }
})

describe('transport/it-pipe', () => {
  it('pipes an iterable into a connection and reads it back with for await', async () => {
    const [a, b] = memoryPair()
    const chunks = [Uint8Array.of(1, 2), Uint8Array.of(3), new Uint8Array(100_000).fill(4)]
    const reading = (async () => {
      const got: Uint8Array[] = []
      for await (const chunk of toItDuplex(b).source) got.push(chunk)
      return Buffer.concat(got)
    })()
    await pipe(chunks, toItDuplex(a))
    expect((await reading).equals(Buffer.concat(chunks))).to.equal(true)
  })

  it('reads ahead a bounded amount: the connection is paused, and unread bytes go back on break', async () => {
    const [a, b] = memoryPair()
    for (let i = 0; i < 8; i++) a.write(new Uint8Array(16_384).fill(i))
    a.end()
    const iterator = toItDuplex(b, { readAhead: 20_000 }).source[Symbol.asyncIterator]()
    const first = await iterator.next()
    expect(first.value![0]).to.equal(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(b.isPaused).to.equal(true)
    await iterator.return!()
    const rest = await firstValueFrom(b.source$.pipe(toArray()))
    expect(rest.map((c) => c[0])).to.deep.equal([1, 2, 3, 4, 5, 6, 7])
  })

  it('sink rejects with ConnectionClosedError when the connection closes while it waits for drain', async () => {
    const [a] = memoryPair({ highWaterMark: 10 })
    const duplex = toItDuplex(a)
    const writing = duplex.sink((async function * () {
      yield new Uint8Array(100) // fills the buffer: the sink waits for drain
      yield new Uint8Array(100)
    })())
    setTimeout(() => { a.destroy() }, 10)
    let err: unknown
    try { await writing } catch (e) { err = e }
    expect(err).to.be.instanceOf(ConnectionClosedError)
  })

  it('fromItDuplex accepts Uint8ArrayList-like chunks and closes with TransportError when the source throws', async () => {
    const conn = fromItDuplex({
      source: (async function * () {
        yield { byteLength: 3, subarray: () => Uint8Array.of(7, 8, 9) }
        throw new Error('stream reset')
      })(),
      sink: async (source) => { for await (const _ of source) { /* discard */ } }
    })
    const got: number[] = []
    let err: unknown
    await new Promise<void>((resolve) => {
      conn.source$.subscribe({ next: (c) => got.push(...c), error: (e) => { err = e; resolve() }, complete: resolve })
    })
    expect(got).to.deep.equal([7, 8, 9])
    expect(err).to.be.instanceOf(TransportError)
    expect(await firstValueFrom(conn.closed$)).to.be.instanceOf(TransportError)
  })
})
