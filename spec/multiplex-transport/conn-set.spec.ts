import { expect } from 'chai'
import { checkDuplicateIp, ConnSet } from '../../lib/multiplex-transport/conn-set.js'
import { memoryPair } from '../../lib/transport/memory.js'

describe('multiplex-transport/conn-set', () => {
  it('refuses a second connection from one IP unless duplicate IPs are allowed (ConnDuplicateIPFilter)', () => {
    const conns = new Map([['10.0.0.1', 1]])
    expect(checkDuplicateIp(conns, '10.0.0.1', false)?.reason).to.equal('duplicate-ip')
    expect(checkDuplicateIp(conns, '10.0.0.1', true)).to.equal(undefined)
    expect(checkDuplicateIp(conns, '10.0.0.2', false)).to.equal(undefined)
  })

  it('counts a connection by IP, and an inbound one apart, until it closes', () => {
    const set = new ConnSet()
    const [a] = memoryPair()
    const [b] = memoryPair()
    set.add(a, '10.0.0.1', true)
    set.add(b, '10.0.0.1', false)
    expect(set.byIp.get('10.0.0.1')).to.equal(2)
    expect(set.inbound).to.equal(1)
    expect(checkDuplicateIp(set.byIp, '10.0.0.1', false)?.reason).to.equal('duplicate-ip')
    a.destroy()
    expect(set.byIp.get('10.0.0.1')).to.equal(1)
    expect(set.inbound).to.equal(0)
    b.destroy()
    expect(set.has('10.0.0.1')).to.equal(false)
    expect(set.byIp.size).to.equal(0)
  })
})
