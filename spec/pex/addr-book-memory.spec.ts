import { expect } from 'chai'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { AddrBook } from '../../lib/pex/addr-book.js'
import { addrIn, seededRandom, srcIn } from './support.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapUsedAfterGc (): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

// A simulation holds one book per node (10,000 books in the 10,000-node run of BENCHMARKS.md): what an empty or
// nearly empty book costs is multiplied by that. The 256 + 64 buckets and 256 per-bucket share counts used to be
// made up front as 576 empty Maps, ~106 KiB a book (1 GiB for 10,000 nodes); now a bucket is made when it is used.
describe('pex/addr-book memory', () => {
  it('2,000 empty books cost under 16 KiB of heap each, and one with 100 addresses still works as before', () => {
    const before = heapUsedAfterGc()
    const books: AddrBook[] = []
    for (let i = 0; i < 2000; i++) books.push(new AddrBook({ addrBookStrict: false, random: seededRandom(i), key: '0123456789abcdef01234567' }))
    const perBook = (heapUsedAfterGc() - before) / books.length
    expect(perBook).to.be.below(16 * 1024)

    const book = books[0]!
    for (let i = 0; i < 100; i++) expect(book.addAddress(addrIn(30 + (i % 20), 1, i + 1), srcIn(10 + (i % 7), 1))).to.equal('added')
    expect(book.size).to.equal(100)
    expect(book.pickAddress(50)).to.not.equal(undefined)
    expect(book.getSelectionWithBias(30).length).to.be.greaterThan(0)
    book.markGood(book.getSelection()[0]!.id)
    expect(book.sizeOld).to.equal(1)
  })
})
