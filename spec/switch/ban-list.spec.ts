import { expect } from 'chai'
import { VirtualTimeScheduler } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { InvalidAddressError } from '../../lib/errors.js'
import { BanList } from '../../lib/switch/ban-list.js'
import { NetAddress } from '../../lib/transport/net-address.js'

describe('switch/BanList (virtual time)', () => {
  const id = NodeKey.fromSeed(new Uint8Array(32).fill(1)).id
  const later = (scheduler: VirtualTimeScheduler, ms: number): void => {
    scheduler.schedule(() => {}, ms)
    scheduler.flush()
  }

  it('bans an ID for its duration, then lets it go', () => {
    const scheduler = new VirtualTimeScheduler()
    const bans = new BanList({ scheduler })
    bans.ban(id, 1000, 'pex')
    expect(bans.isBanned(id)).to.equal(true)
    expect(bans.isBanned(new NetAddress(id, '192.0.2.1', 26656))).to.equal(true)
    later(scheduler, 999)
    expect(bans.idBan(id, 'accept')?.reason).to.equal('pex')
    later(scheduler, 1)
    expect(bans.isBanned(id)).to.equal(false)
    expect(bans.list()).to.deep.equal([])
  })

  it('keys an address by its ID, an address without ID or a bare IP by the IP; an IP ban covers any ID at that IP', () => {
    const bans = new BanList({ scheduler: new VirtualTimeScheduler() })
    bans.ban(`${id}@192.0.2.1:26656`, 1000)
    expect(bans.list().map((b) => [b.kind, b.key])).to.deep.equal([['id', id]])
    expect(bans.isBanned('192.0.2.1')).to.equal(false)
    bans.ban('198.51.100.7', 1000)
    bans.ban(new NetAddress('', '203.0.113.9', 1), 1000)
    expect(bans.isBanned(new NetAddress(NodeKey.generate().id, '198.51.100.7', 26656))).to.equal(true)
    expect(bans.isBanned('203.0.113.9')).to.equal(true)
    expect(bans.unban('198.51.100.7')).to.equal(true)
    expect(bans.isBanned('198.51.100.7')).to.equal(false)
    expect(() => bans.ban('not-an-id', 1000)).to.throw(InvalidAddressError)
  })

  it('a dial-only ban does not apply at accept; banning again keeps the later end and the wider scope', () => {
    const scheduler = new VirtualTimeScheduler()
    const bans = new BanList({ scheduler })
    bans.ban(id, 5000, 'failed too often', 'dial')
    expect([bans.isBanned(id, 'accept'), bans.isBanned(id, 'dial')]).to.deep.equal([false, true])
    bans.ban(id, 1000, 'pex', 'all')
    expect(bans.idBan(id, 'accept')?.until).to.equal(5000)
    bans.ban(id, 100, 'again', 'dial')
    expect(bans.idBan(id, 'accept')?.scope).to.equal('all')
  })

  it('holds at most maxBans: past it the ban that ends soonest goes', () => {
    const bans = new BanList({ maxBans: 3, scheduler: new VirtualTimeScheduler() })
    bans.ban('10.0.0.1', 3000)
    bans.ban('10.0.0.2', 1000)
    bans.ban('10.0.0.3', 2000)
    bans.ban('10.0.0.4', 4000)
    expect(bans.list().map((b) => b.key)).to.deep.equal(['10.0.0.1', '10.0.0.3', '10.0.0.4'])
  })
})
