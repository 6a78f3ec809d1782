// The mempool reactor between two real Switches over TCP on 127.0.0.1: one announces a height on 0x20 as a
// CometBFT node does and gets it mirrored back; txs go both ways, each reported once with its hash.
import { expect } from 'chai'
import { filter, firstValueFrom, ignoreElements, map, merge, Subject, tap, timeout } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { CONSENSUS_STATE_CHANNEL_DESCRIPTOR } from '../../lib/reactors/height-mirror.js'
import { mempoolReactor, txHash } from '../../lib/reactors/mempool.js'
import { actions } from '../../lib/switch/actions.js'
import { ofEventType } from '../../lib/switch/of-event-type.js'
import type { Reactor } from '../../lib/switch/reactor.js'
import { Switch } from '../../lib/switch/switch.js'
import { CONSENSUS_STATE_CHANNEL, decodeConsensusMessage, encodeNewRoundStep, type NewRoundStep } from '../../lib/wire/consensus.js'

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const step: NewRoundStep = { height: 42n, round: 0, step: 1, secondsSinceStartTime: 1n, lastCommitRound: 0 }

/** Plays a CometBFT node's consensus side: sends its NewRoundStep to each new peer, records what comes back. */
function announcer (replies: Subject<NewRoundStep>): Reactor {
  return {
    name: 'announcer',
    channels: [CONSENSUS_STATE_CHANNEL_DESCRIPTOR],
    run: (ctx) => merge(
      ctx.peerEvents$.pipe(ofEventType('added'), map((e) => actions.trySend(e.peer, CONSENSUS_STATE_CHANNEL, encodeNewRoundStep(step)))),
      ctx.envelopes$.pipe(
        map((env) => decodeConsensusMessage(env.message)),
        filter((m) => m.type === 'newRoundStep'),
        tap((m) => { replies.next(m) }),
        ignoreElements()
      )
    )
  }
}

describe('reactors/mempool over TCP', function () {
  this.timeout(10_000)
  const switches: Switch[] = []

  after(async () => {
    await Promise.all(switches.map(async (sw) => { await sw.stop() }))
  })

  it('mirrors a height announced on 0x20 and carries txs both ways, each reported once with its hash and sender', async () => {
    const listener = mempoolReactor()
    const nodeSide = mempoolReactor({ mirrorHeights: false })
    const replies = new Subject<NewRoundStep>()
    const a = new Switch({ nodeKey: NodeKey.generate(), moniker: 'listener', network: 'mempool-spec', listenAddress: '127.0.0.1:0', allowDuplicateIp: true, reactors: [listener] })
    const b = new Switch({ nodeKey: NodeKey.generate(), moniker: 'node', network: 'mempool-spec', allowDuplicateIp: true, reactors: [nodeSide, announcer(replies)] })
    switches.push(a, b)
    await a.start()
    await b.start()
    expect([...a.nodeInfo.channels]).to.deep.equal([0x30, 0x20])

    const mirrored = firstValueFrom(replies.pipe(timeout(5000)))
    const seenByListener = firstValueFrom(listener.roundSteps$.pipe(timeout(5000)))
    await b.dial(a.listenAddress!)
    expect(await mirrored).to.deep.equal({ type: 'newRoundStep', ...step })
    expect((await seenByListener).step).to.deep.equal(step)

    // node -> listener
    const tx = utf8(`in=${Date.now()}`)
    const arriving = firstValueFrom(listener.txs$.pipe(timeout(5000)))
    expect(nodeSide.broadcastTx(tx)).to.equal(true)
    const got = await arriving
    expect(got.hash).to.equal(txHash(tx))
    expect(got.tx).to.deep.equal(tx)
    expect(got.from.nodeInfo.moniker).to.equal('node')

    // listener -> node, and the same tx again is not reported twice
    const out = utf8(`out=${Date.now()}`)
    const hashes: string[] = []
    nodeSide.txs$.subscribe((t) => hashes.push(t.hash))
    const back = firstValueFrom(nodeSide.txs$.pipe(timeout(5000)))
    expect(listener.broadcastTx(out)).to.equal(true)
    expect((await back).hash).to.equal(txHash(out))
    expect(listener.broadcastTx(out)).to.equal(true)
    const marker = utf8(`marker=${Date.now()}`)
    const markerSeen = firstValueFrom(nodeSide.txs$.pipe(filter((t) => t.hash === txHash(marker)), timeout(5000)))
    listener.broadcastTx(marker)
    await markerSeen
    expect(hashes).to.deep.equal([txHash(out), txHash(marker)])
  })
})
