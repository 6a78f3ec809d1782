// `rx-p2p crawl` as a real process against rx-p2p nodes of this test on 127.0.0.1.
import { expect } from 'chai'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EMPTY } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import type { CrawlReport } from '../../lib/crawler/report.js'
import { PEX_CHANNEL_DESCRIPTOR } from '../../lib/pex/pex-reactor.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { CliProcess, closedPort, rxP2p, startNodes, stopNodes } from './support.js'

describe('cli/crawl (rx-p2p crawl as a process)', function () {
  this.timeout(30_000)
  let dir: string

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'rx-p2p-cli-crawl-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('crawls a chain of three nodes from the first: report file with every node, edges and the learned network; progress and summary on stderr', async () => {
    const nodes = await startNodes(3)
    nodes[0]!.pex!.book.addAddress(nodes[1]!.address, nodes[0]!.address)
    nodes[1]!.pex!.book.addAddress(nodes[2]!.address, nodes[1]!.address)
    const out = join(dir, 'chain.json')
    try {
      const r = await rxP2p(['crawl', nodes[0]!.address.toString(), '--allow-private', '--out', out, '--timeout', '20s'])
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.equal('')
      const report = JSON.parse(await readFile(out, 'utf8')) as CrawlReport
      expect(report).to.deep.include({ network: 'cli-net', stopReason: 'complete' })
      expect(report.summary).to.deep.equal({ heard: 3, reached: 3, failed: 0, neverTried: 0, answered: 3, edges: 2 })
      expect(report.nodes.map((n) => [n.id, n.moniker, n.status, n.address])).to.deep.equal(
        nodes.map((n, i) => [n.sw.nodeId, `cli-node-${i}`, 'reached', n.address.toString()]))
      expect(report.edges).to.deep.equal([
        { from: nodes[0]!.sw.nodeId, to: nodes[1]!.sw.nodeId, address: nodes[1]!.address.toString() },
        { from: nodes[1]!.sw.nodeId, to: nodes[2]!.sw.nodeId, address: nodes[2]!.address.toString() }
      ])
      // A line per event, then the summary; plain lines (stderr is a pipe here).
      expect(r.stderr).to.match(/network cli-net \(from the NodeInfo of /)
      for (let i = 0; i < 3; i++) expect(r.stderr).to.include(`reached cli-node-${i} ${nodes[i]!.address.toString()}`)
      expect(r.stderr).to.match(/cli-node-0 answered: 1 address, 1 new/)
      expect(r.stderr).to.match(/crawl complete in [\d.]+ s: 3 reached, 3 heard of, 0 failed, 0 never tried; 3 answered PEX, 2 edges \(network cli-net\)/)
      expect(r.stderr).to.include(`report written to ${out}`)
      expect(r.stderr).to.not.include('\x1b') // no terminal control sequences
    } finally {
      await stopNodes(nodes)
    }
  })

  it('without --out the report goes to stdout; --max-nodes 1 and --network (given) are honoured; --quiet drops the per-node lines', async () => {
    const nodes = await startNodes(2)
    nodes[0]!.pex!.book.addAddress(nodes[1]!.address, nodes[0]!.address)
    try {
      const r = await rxP2p(['crawl', nodes[0]!.address.toString(), '--allow-private', '--max-nodes', '1', '--network', 'cli-net', '-q'])
      expect(r.code, r.stderr).to.equal(0)
      const report = JSON.parse(r.stdout) as CrawlReport
      expect(report.stopReason).to.equal('max-nodes')
      expect(report.nodes.map((n) => n.status)).to.deep.equal(['reached', 'never-tried'])
      expect(report.nodes[1]).to.deep.include({ skipped: 'max-nodes' })
      expect(r.stderr).to.not.include('reached cli-node-0')
      expect(r.stderr).to.match(/crawl max-nodes in [\d.]+ s: 1 reached, 2 heard of/)
    } finally {
      await stopNodes(nodes)
    }
  })

  it('Ctrl-C (SIGINT) stops a crawl that is waiting on a silent node (periodic summary meanwhile) and still writes the report', async () => {
    // Node 1 owns the PEX channel but never answers: the crawl would wait for it for the whole --pex-timeout.
    const nodes = await startNodes(2, { reactors: (i) => i === 1 ? [{ name: 'mute', channels: [PEX_CHANNEL_DESCRIPTOR], run: () => EMPTY }] : undefined })
    nodes[0]!.pex!.book.addAddress(nodes[1]!.address, nodes[0]!.address)
    const out = join(dir, 'interrupted.json')
    const p = new CliProcess(['crawl', nodes[0]!.address.toString(), '--allow-private', '--pex-timeout', '60s', '--out', out, '--progress-interval', '100ms'])
    try {
      await p.waitFor(/reached cli-node-1 /, 'stderr')
      // The periodic one-line summary while it waits.
      await p.waitFor(/^\[[\d.]+s\] 2 heard of, 2 reached, 0 failed, 1 in progress, 0 queued$/m, 'stderr')
      p.child.kill('SIGINT')
      const r = await p.exited
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stderr).to.match(/SIGINT: stopping, the report will still be written/)
      const report = JSON.parse(await readFile(out, 'utf8')) as CrawlReport
      expect(report.stopReason).to.equal('stopped')
      expect(report.nodes.map((n) => n.status)).to.deep.equal(['reached', 'reached'])
      expect(report.nodes[0]!.pex).to.deep.equal({ answered: true, addresses: 1 })
      expect(report.nodes[1]!.pex?.answered).to.equal(false)
    } finally {
      await p.kill()
      await stopNodes(nodes)
    }
  })

  it('no seed answers: exit status 1, the report says no-network and why the seed failed; an unwritable --out fails before crawling', async () => {
    const dead = new NetAddress(NodeKey.generate().id, '127.0.0.1', await closedPort())
    const [r, unwritable] = await Promise.all([
      rxP2p(['crawl', dead.toString()]),
      rxP2p(['crawl', dead.toString(), '--out', join(dir, 'no-such-dir', 'report.json')])
    ])
    expect(unwritable.code).to.equal(1)
    expect(unwritable.stderr).to.match(/cannot write the report: .*no-such-dir is not a writable directory/)
    expect(unwritable.stderr).to.not.match(/failed/)
    expect(r.code).to.equal(1)
    const report = JSON.parse(r.stdout) as CrawlReport
    expect(report.stopReason).to.equal('no-network')
    expect(report.nodes[0]).to.deep.include({ status: 'failed', seed: true })
    expect(report.nodes[0]!.error?.name).to.equal('TransportError')
    expect(r.stderr).to.match(/failed .*TransportError/)
  })
})
