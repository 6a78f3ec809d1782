import { expect } from 'chai'
import { AddrBook } from '../../lib/pex/addr-book.js'
import { ZERO_TIME } from '../../lib/pex/known-address.js'
import { PackedAddrBook, packedBookStore } from '../../lib/testing/packed-book.js'
import { sampleBook } from '../pex/support.js'

describe('testing/PackedAddrBook', () => {
  it('gives back exactly what a book saved (new and old entries, IPv6, attempts, sub-millisecond times, never-set times), and a book restarted from the store holds the same entries', async () => {
    const book = sampleBook()
    const data = book.toData()
    expect(data.addrs.some((e) => e.bucketType === 2)).to.equal(true)
    expect(data.addrs.some((e) => e.buckets.length > 1)).to.equal(true)
    expect(data.addrs.some((e) => e.lastSuccess === ZERO_TIME)).to.equal(true)
    const packed = new PackedAddrBook(data)
    expect(packed.size).to.equal(data.addrs.length)
    expect(packed.unpack()).to.deep.equal(data)

    const store = packedBookStore()
    await store.save(data)
    const again = new AddrBook({ store, key: 'ffffffffffffffffffffffff' })
    await again.start()
    expect(again.toData()).to.deep.equal(data)
    await again.stop()
  })
})
