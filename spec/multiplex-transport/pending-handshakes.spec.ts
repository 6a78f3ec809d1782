import { expect } from 'chai'
import { PeerRejectedError } from '../../lib/errors.js'
import { PendingHandshakes } from '../../lib/multiplex-transport/pending-handshakes.js'

describe('multiplex-transport/PendingHandshakes', () => {
  it('refuses a connection from an IP that already has maxPendingPerIp pending (pending-per-ip), and takes it again once one ends', () => {
    const p = new PendingHandshakes<string>({ maxPending: 10, maxPendingPerIp: 2 })
    expect(p.add('a1', '1.1.1.1')).to.deep.equal({ admitted: true, evicted: undefined })
    expect(p.add('a2', '1.1.1.1').admitted).to.equal(true)
    const refused = p.add('a3', '1.1.1.1')
    expect(refused.admitted).to.equal(false)
    expect(!refused.admitted && refused.error).to.be.instanceOf(PeerRejectedError)
    expect(!refused.admitted && refused.error.reason).to.equal('pending-per-ip')
    expect(p.check('1.1.1.1')?.reason).to.equal('pending-per-ip')
    expect(p.add('b1', '2.2.2.2').admitted).to.equal(true)
    expect(p.delete('a1')).to.equal(true)
    expect(p.delete('a1')).to.equal(false)
    expect(p.add('a3', '1.1.1.1').admitted).to.equal(true)
    expect([p.size, p.countOf('1.1.1.1'), p.countOf('2.2.2.2')]).to.deep.equal([3, 2, 1])
  })

  it('when full, a newcomer evicts the oldest connection of the IP holding the most pending', () => {
    const p = new PendingHandshakes<string>({ maxPending: 4, maxPendingPerIp: 4 })
    p.add('x1', '9.9.9.9')
    p.add('a1', '1.1.1.1')
    p.add('a2', '1.1.1.1')
    p.add('b1', '2.2.2.2')
    // 1.1.1.1 holds two: its oldest goes, although x1 is older
    expect(p.add('c1', '3.3.3.3')).to.deep.equal({ admitted: true, evicted: 'a1' })
    // now every IP holds one: the oldest overall goes
    expect(p.add('d1', '4.4.4.4')).to.deep.equal({ admitted: true, evicted: 'x1' })
    expect(p.list()).to.deep.equal(['a2', 'b1', 'c1', 'd1'])
    expect(p.size).to.equal(4)
  })

  it('evicts silent connections before those that sent their ephemeral key, whatever their age', () => {
    const p = new PendingHandshakes<string>({ maxPending: 3, maxPendingPerIp: 3 })
    p.add('honest', '5.5.5.5')
    p.markProgressed('honest')
    p.add('s1', '6.6.6.1')
    p.add('s2', '6.6.6.2')
    const evicted: string[] = []
    for (let i = 3; i < 40; i++) {
      const a = p.add(`s${i}`, `6.6.6.${i}`)
      if (a.admitted && a.evicted !== undefined) evicted.push(a.evicted)
    }
    expect(evicted).to.have.length(37)
    expect(evicted).to.not.include('honest')
    expect(p.has('honest')).to.equal(true)
    // once everything pending has progressed, age decides again
    p.markProgressed('s38')
    p.markProgressed('s39')
    expect(p.add('late', '7.7.7.7')).to.deep.equal({ admitted: true, evicted: 'honest' })
  })

  it('clear() empties the set and its per-IP counts', () => {
    const p = new PendingHandshakes<number>({ maxPending: 5, maxPendingPerIp: 1 })
    p.add(1, 'a')
    p.add(2, 'b')
    expect(p.clear()).to.deep.equal([1, 2])
    expect([p.size, p.countOf('a')]).to.deep.equal([0, 0])
    expect(p.add(3, 'a').admitted).to.equal(true)
  })
})
