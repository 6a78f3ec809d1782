import { expect } from 'chai'
import { memoryPair } from '../../lib/transport/memory.js'
import { duplexCompliance } from '../../lib/testing/compliance.js'

duplexCompliance('memoryPair', async () => {
  const [a, b] = memoryPair()
  return { a, b, close: async () => {} }
})

duplexCompliance('memoryPair with latency and bandwidth', async () => {
  const [a, b] = memoryPair({ latencyMs: 2, bandwidth: 50_000_000 })
  return { a, b, close: async () => {} }
})

describe('transport/memoryPair', () => {
  it('counts bytes put back with unshift only once against the writer’s high-water mark', async () => {
    const [a, b] = memoryPair({ highWaterMark: 1000 })
    a.write(new Uint8Array(600))
    await new Promise((resolve) => setImmediate(resolve))
    // read the chunk, put most of it back, read it again
    let first: Uint8Array | undefined
    const sub = b.source$.subscribe((c) => { first = c })
    sub.unsubscribe()
    b.unshift(first!.subarray(100))
    const again: Uint8Array[] = []
    const sub2 = b.source$.subscribe((c) => again.push(c))
    expect(again.map((c) => c.byteLength)).to.deep.equal([500])
    sub2.unsubscribe()
    // 600 bytes were written and consumed: the writer may have 999 bytes in flight again, not 1499
    b.pause()
    expect(a.write(new Uint8Array(999))).to.equal(true)
    expect(a.write(new Uint8Array(1))).to.equal(false)
  })
})
