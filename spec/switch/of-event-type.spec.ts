import { expect } from 'chai'
import { TestScheduler } from 'rxjs/testing'
import { ofEventType } from '../../lib/switch/of-event-type.js'
import type { PeerEvent } from '../../lib/switch/events.js'
import { fakePeer, peerAdded, peerRemoved } from '../../lib/testing/reactor.js'
import { NetAddress } from '../../lib/transport/net-address.js'

describe('switch/ofEventType', () => {
  it('keeps only the named event types', () => {
    const scheduler = new TestScheduler((a, b) => { expect(a).to.deep.equal(b) })
    const alice = fakePeer('alice')
    const failed: PeerEvent = { type: 'dialFailed', address: new NetAddress(alice.id, '127.0.0.1', 1), error: new Error('refused') }
    scheduler.run(({ cold, expectObservable }) => {
      const events$ = cold<PeerEvent>('-a-r-f-a-|', { a: peerAdded(alice), r: peerRemoved(alice, new Error('x')), f: failed })
      expectObservable(events$.pipe(ofEventType('added'))).toBe('-a-----a-|', { a: peerAdded(alice) })
      expectObservable(events$.pipe(ofEventType('removed', 'dialFailed'))).toBe('---r-f---|', { r: peerRemoved(alice, new Error('x')), f: failed })
    })
  })
})
