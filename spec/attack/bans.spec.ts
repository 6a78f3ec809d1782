// Bans hold: a peer that PEX banned for breaking its rules reconnects at once, with the same key, from the same
// IP or another one. On main it was accepted (bans lived only in the address book, which stops dials). Here the
// Switch holds the ban: the reconnect is refused right after the secret handshake names the peer, before any
// NodeInfo, and a dial to the banned address is refused without connecting. Honest peers talk meanwhile.
import { expect } from 'chai'
import { PEX_CHANNEL, encodePexAddrs } from '../../lib/wire/pex.js'
import { encodePacketFrame } from '../../lib/wire/packet.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { attackerHandshake, BULK_CHANNEL, ECHO_CHANNEL, honestTraffic, LONG, sleep, startTarget, waitFor, type Target } from './support/harness.js'

const CHANNELS = [ECHO_CHANNEL, BULK_CHANNEL, PEX_CHANNEL]

/**
 * The attacker's handshake again with `nodeKey` from `ip`: `'refused'` when the target hung up before sending
 * its NodeInfo, `'dropped'` when it hung up after, `'accepted'` when it kept the connection.
 */
async function reconnect (target: Target, nodeKey: NodeKey, ip: string): Promise<'accepted' | 'dropped' | 'refused'> {
  try {
    const a = await attackerHandshake(target, { nodeKey, sourceIp: ip, channels: CHANNELS })
    // the NodeInfo exchange passed: the target took it as a peer unless it closes now
    const closed = await new Promise<boolean>((resolve) => {
      a.socket.once('close', () => { resolve(true) })
      setTimeout(() => { resolve(false) }, 300)
    })
    a.close()
    return closed ? 'dropped' : 'accepted'
  } catch {
    return 'refused'
  }
}

describe('attack/bans: a peer banned by PEX stays out', function () {
  this.timeout(60_000)
  let target: Target
  beforeEach(async () => { target = await startTarget({ pex: true }) })
  afterEach(async () => { await target.stop() })

  it('a banned peer reconnecting (same key, same or another IP) is refused at accept; a dial to its address is refused', async () => {
    const honest = await honestTraffic(target, { peers: 2 })
    const nodeKey = NodeKey.generate()
    const a = await attackerHandshake(target, { nodeKey, sourceIp: '127.0.7.1', channels: CHANNELS })
    // an address list nobody asked for: a PEX violation (unsolicited-addrs), stopped and banned for 24 h
    const unsolicited = encodePexAddrs([NetAddress.parse(`${NodeKey.generate().id}@10.20.30.40:26656`)])
    a.sc.write(encodePacketFrame({ type: 'msg', channelId: PEX_CHANNEL, eof: true, data: unsolicited }))
    await waitFor(async () => a.socket.destroyed || a.socket.readableEnded || (await target.stats()).events.removed === 1, 3000, 'the violator stopped')
    a.close()
    const rounds = LONG ? 50 : 5
    const outcomes: string[] = []
    for (let i = 0; i < rounds; i++) {
      outcomes.push(await reconnect(target, nodeKey, i % 2 === 0 ? '127.0.7.1' : `127.0.7.${i + 2}`))
      await sleep(20)
    }
    const stats = await target.stats()
    // and the other way: the target dials the banned peer's address
    const dial = await target.dial(`${nodeKey.id}@127.0.7.1:26656`)
    await honest.stop()
    console.log(`      reconnects: ${outcomes.join(', ')}; refused ${JSON.stringify(stats.rejected)}; dial: ${dial.error?.reason ?? 'ok'}`)
    expect(outcomes).to.deep.equal(new Array(rounds).fill('refused'))
    expect(stats.rejected.banned).to.equal(rounds)
    expect(stats.events.added).to.equal(3) // two honest peers and the violator's first visit; none since
    expect(dial.ok).to.equal(false)
    expect(dial.error?.reason).to.equal('banned')
    honest.assertNoLoss()
  })

  it('a fresh key is not banned: the ban names the peer, not its neighbours', async () => {
    const honest = await honestTraffic(target, { peers: 1 })
    const banned = NodeKey.generate()
    const a = await attackerHandshake(target, { nodeKey: banned, sourceIp: '127.0.8.1', channels: CHANNELS })
    a.sc.write(encodePacketFrame({ type: 'msg', channelId: PEX_CHANNEL, eof: true, data: encodePexAddrs([]) }))
    await waitFor(async () => (await target.stats()).events.removed === 1, 3000, 'the violator stopped')
    a.close()
    expect(await reconnect(target, banned, '127.0.8.1')).to.equal('refused')
    expect(await reconnect(target, NodeKey.generate(), '127.0.8.1')).to.equal('accepted')
    await honest.stop()
    honest.assertNoLoss()
  })
})
