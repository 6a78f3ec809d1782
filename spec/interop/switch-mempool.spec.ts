// Interop through the Switch and the library's mempool reactor: mempool gossip with a real CometBFT node.
//
// In: the mempool reactor mirrors the node's NewRoundStep on 0x20, the node's consensus state for us (seen
//     in its /dump_consensus_state) reaches its own height, and a tx submitted over RPC comes out of txs$
//     with the hash the RPC reported. A Switch whose reactor does not mirror heights gets no tx (the control).
// Out: a tx the reactor broadcasts on 0x30 is committed in a block, found by /tx and in /block.
// The example: examples/mempool-listener, run as a process with --rpc, prints a submitted tx's hash and size.
import { expect } from 'chai'
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { filter, firstValueFrom, timeout } from 'rxjs'
import { mempoolReactor, txHash as libTxHash, type MempoolReactor, type MempoolTx } from '../../lib/reactors/mempool.js'
import { COMET_VERSIONS, CometNode, requireCometBinary, sleep, txHash } from './support/cometbft.js'
import { startSwitch, type RxSwitch } from './support/rx-switch.js'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

/** `/dump_consensus_state` as far as the test reads it: the node's view of each peer's round state. */
interface ConsensusDump {
  peers: Array<{ node_address: string, peer_state: { round_state: { height: string | number, step: number } } }>
}

/** The height the node believes peer `id` is at (from its consensus PeerState), or undefined if unknown. */
async function peerHeightSeenByNode (node: CometNode, id: string): Promise<number | undefined> {
  const dump = await node.rpc<ConsensusDump>('dump_consensus_state')
  const entry = dump.peers.find((p) => p.node_address.startsWith(`${id}@`))
  return entry === undefined ? undefined : Number(entry.peer_state.round_state.height)
}

/** Waits until the node's consensus state for peer `id` is at (at least) the node's latest height. */
async function nodeSeesHeight (node: CometNode, id: string): Promise<number> {
  return await node.waitFor(`${node.moniker} to see ${id}'s height`, async () => {
    const [seen, height] = await Promise.all([peerHeightSeenByNode(node, id), node.height()])
    return seen !== undefined && seen >= height ? seen : undefined
  })
}

async function txFrom (mempool: MempoolReactor, hash: string, ms = 15_000): Promise<MempoolTx> {
  return await firstValueFrom(mempool.txs$.pipe(filter((t) => t.hash === hash), timeout(ms)))
}

for (const version of COMET_VERSIONS) {
  describe(`interop mempool through the Switch: CometBFT ${version.tag}`, function () {
    this.timeout(60_000)
    let node: CometNode | undefined
    let rx: RxSwitch | undefined
    let control: RxSwitch | undefined
    const mempool = mempoolReactor()
    const controlMempool = mempoolReactor({ mirrorHeights: false })
    const received: MempoolTx[] = []
    const controlReceived: MempoolTx[] = []

    before(async function () {
      const bin = requireCometBinary(this, version)
      node = await CometNode.create(bin, { moniker: `switch-mempool-${version.key}` })
      await node.start()
      // Past height 2, a peer that announces nothing (height 0) is below every new tx's height - 1.
      await node.waitForHeight(3)
      mempool.txs$.subscribe((t) => received.push(t))
      controlMempool.txs$.subscribe((t) => controlReceived.push(t))
      rx = await startSwitch({ network: node.chainId, moniker: `rx-mempool-${version.key}`, reactors: [mempool], listen: false })
      control = await startSwitch({ network: node.chainId, moniker: `rx-no-mirror-${version.key}`, reactors: [controlMempool], listen: false })
      await rx.sw.dial(node.address)
      await control.sw.dial(node.address)
    })

    after(async function () {
      await rx?.stop()
      await control?.stop()
      await node?.stop()
    })

    afterEach(function () {
      if (this.currentTest?.state === 'failed' && node !== undefined) {
        console.log(`      [interop] ${node.moniker} log (${node.logPath}), last lines:\n${node.logTail(25)}`)
      }
    })

    it('a tx submitted over RPC reaches the mempool reactor on 0x30 once it mirrors the node\'s height on 0x20', async function () {
      // The node's view of us: our mirrored NewRoundStep put us at its own height.
      const ourHeight = await nodeSeesHeight(node!, rx!.sw.nodeId)
      expect(ourHeight).to.be.at.least(3)
      expect(await peerHeightSeenByNode(node!, control!.sw.nodeId)).to.equal(0)

      const tx = utf8(`switch-in-${version.key}=${Date.now()}`)
      const arriving = txFrom(mempool, txHash(tx))
      const { hash } = await node!.broadcastTxSync(tx)
      expect(hash).to.equal(libTxHash(tx))
      const got = await arriving
      expect(got.tx).to.deep.equal(tx)
      expect(got.from.id).to.equal(node!.id)
      // The control, which never announced a height, got nothing: the tx was committed without reaching it.
      await node!.waitForTx(hash)
      await sleep(300)
      expect(controlReceived.map((t) => t.hash)).to.not.include(hash)
      expect(received.filter((t) => t.hash === hash)).to.have.length(1)
    })

    it('a tx the mempool reactor broadcasts on 0x30 is committed in a block', async function () {
      const tx = utf8(`switch-out-${version.key}=${Date.now()}`)
      expect(mempool.broadcastTx(tx)).to.equal(true)
      const committed = await node!.waitForTx(txHash(tx))
      expect(committed.tx_result.code).to.equal(0)
      expect(Buffer.from(committed.tx, 'base64')).to.deep.equal(Buffer.from(tx))
      const blockTxs = await node!.blockTxs(Number(committed.height))
      expect(blockTxs.map((t) => Buffer.from(t).toString('hex'))).to.include(Buffer.from(tx).toString('hex'))
      // Not echoed back to its sender, nor reported twice.
      expect(received.map((t) => t.hash)).to.not.include(txHash(tx))
      expect(rx!.recorded('removed')).to.deep.equal([])
    })

    it('examples/mempool-listener (--rpc) prints a submitted tx\'s hash and size', async function () {
      const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'examples', 'mempool-listener', 'index.ts'), '--rpc', node!.rpcUrl, '--moniker', `rx-example-${version.key}`], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe']
      })
      const out = collect(child)
      try {
        await waitForText(out, 'stderr', /connected to .* listening to its mempool/, 20_000)
        // The example's height must be announced before the tx enters the mempool (it mirrors the first
        // NewRoundStep the node sends right after the handshake).
        await nodeSeesHeight(node!, await exampleId(node!, `rx-example-${version.key}`))
        const tx = utf8(`example-${version.key}=${Date.now()}`)
        const { hash } = await node!.broadcastTxSync(tx)
        const line = await waitForText(out, 'stdout', new RegExp(`${hash} ${tx.byteLength} bytes`), 15_000)
        expect(line).to.include(JSON.stringify(new TextDecoder().decode(tx)))
      } finally {
        child.kill('SIGINT')
        const code = await new Promise<number | null>((resolveExit) => {
          if (child.exitCode !== null) resolveExit(child.exitCode)
          else child.once('exit', (c) => { resolveExit(c) })
        })
        expect(code, `example output:\n${out.stdout}\n${out.stderr}`).to.equal(0)
      }
      expect(out.stderr).to.match(/\* stopping/)
    })
  })
}

interface Output { stdout: string, stderr: string, child: ChildProcess }

function collect (child: ChildProcess): Output {
  const out: Output = { stdout: '', stderr: '', child }
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out.stdout += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { out.stderr += d })
  return out
}

/** Resolves with the first line of `stream` that matches `re`. */
async function waitForText (out: Output, stream: 'stdout' | 'stderr', re: RegExp, ms: number): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const line = out[stream].split('\n').find((l) => re.test(l))
    if (line !== undefined) return line
    if (out.child.exitCode !== null) throw new Error(`the example exited (${out.child.exitCode}) before printing ${String(re)}:\n${out.stdout}\n${out.stderr}`)
    if (Date.now() > deadline) throw new Error(`the example did not print ${String(re)} within ${ms} ms:\n${out.stdout}\n${out.stderr}`)
    await sleep(50)
  }
}

/** The ID of the peer with `moniker` in the node's /net_info. */
async function exampleId (node: CometNode, moniker: string): Promise<string> {
  return await node.waitFor(`a peer named ${moniker}`, async () => (await node.netInfo()).peers.find((p) => p.node_info.moniker === moniker)?.node_info.id)
}
