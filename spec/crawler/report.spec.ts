import { expect } from 'chai'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildCrawlReport } from '../../lib/crawler/build-report.js'
import { newNodeRecord, type NodeRecord } from '../../lib/crawler/node-record.js'
import { describeCrawlError } from '../../lib/crawler/report.js'
import { formatCrawlReport, writeCrawlReport } from '../../lib/crawler/report-file.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { IncompatiblePeerError, PeerRejectedError, TimeoutError } from '../../lib/errors.js'
import { fakeNodeInfo } from '../../lib/testing/reactor.js'
import { NetAddress } from '../../lib/transport/net-address.js'

function record (address: NetAddress, fill: Partial<NodeRecord>): NodeRecord {
  const r = newNodeRecord(address.id)
  r.addresses.push(address)
  r.addressKeys.add(address.toString())
  return Object.assign(r, fill)
}

describe('crawler/report', () => {
  it('describeCrawlError: name, code, the rule or reason, message; a plain Error has only name and message', () => {
    expect(describeCrawlError(new IncompatiblePeerError('network', 'other chain'))).to.deep.equal({
      name: 'IncompatiblePeerError', code: 'ERR_INCOMPATIBLE_PEER', rule: 'network', message: 'other chain'
    })
    expect(describeCrawlError(new PeerRejectedError('max-inbound', 'full'))).to.deep.include({ rule: 'max-inbound', code: 'ERR_PEER_REJECTED' })
    expect(describeCrawlError(new Error('boom'))).to.deep.equal({ name: 'Error', message: 'boom' })
  })

  it('buildCrawlReport: statuses, counts, the NodeInfo fields, pex outcome and the field order of the JSON', () => {
    const seed = new NetAddress(NodeKey.generate().id, '127.0.0.1', 26656)
    const dead = new NetAddress(NodeKey.generate().id, '10.0.0.1', 26656)
    const far = new NetAddress(NodeKey.generate().id, '10.0.0.2', 26656)
    const info = fakeNodeInfo({ id: seed.id, moniker: 'seed-0', network: 'net', channels: Uint8Array.of(0x00, 0x40) })
    const records = [
      record(seed, { seed: true, state: 'reached', dials: 1, address: seed, nodeInfo: info, connectMs: 12, pex: { answered: true, addresses: 2 } }),
      record(dead, { state: 'failed', dials: 1, address: dead, error: new TimeoutError('no answer'), heardFrom: new Set([seed.id]) }),
      record(far, { state: 'queued', heardFrom: new Set([seed.id]) })
    ]
    const edges = [{ from: seed.id, to: dead.id, address: dead.toString() }, { from: seed.id, to: far.id, address: far.toString() }]
    const report = buildCrawlReport({
      network: 'net',
      seeds: [seed],
      crawler: { id: 'c'.repeat(40), moniker: 'rx-p2p-crawler', version: '0.1.0' },
      startedAt: Date.UTC(2026, 0, 1),
      finishedAt: Date.UTC(2026, 0, 1) + 1500,
      stopReason: undefined,
      records,
      edges
    })
    expect(Object.keys(report)).to.deep.equal(['format', 'network', 'seeds', 'crawler', 'startedAt', 'finishedAt', 'durationMs', 'stopReason', 'summary', 'nodes', 'edges'])
    expect(report).to.deep.include({ format: 1, network: 'net', seeds: [seed.toString()], startedAt: '2026-01-01T00:00:00.000Z', durationMs: 1500, stopReason: 'stopped' })
    expect(report.summary).to.deep.equal({ heard: 3, reached: 1, failed: 1, neverTried: 1, answered: 1, edges: 2 })
    expect(report.nodes[0]).to.deep.equal({
      id: seed.id,
      address: seed.toString(),
      addresses: [seed.toString()],
      status: 'reached',
      seed: true,
      heardFrom: [],
      dials: 1,
      connectMs: 12,
      moniker: 'seed-0',
      network: 'net',
      version: '0.1.0',
      channels: '0040',
      listenAddr: '127.0.0.1:26656',
      protocolVersion: { p2p: 8, block: 11, app: 0 },
      txIndex: 'off',
      rpcAddress: '',
      pex: { answered: true, addresses: 2 }
    })
    expect(Object.keys(report.nodes[0]!)).to.deep.equal(['id', 'address', 'addresses', 'status', 'seed', 'heardFrom', 'dials', 'connectMs', 'moniker', 'network', 'version', 'channels', 'listenAddr', 'protocolVersion', 'txIndex', 'rpcAddress', 'pex'])
    expect(report.nodes[1]).to.deep.include({ status: 'failed', error: { name: 'TimeoutError', code: 'ERR_TIMEOUT', message: 'no answer' }, heardFrom: [seed.id] })
    expect(report.nodes[2]).to.deep.include({ status: 'never-tried', skipped: 'stopped', dials: 0, address: far.toString() })
    expect(report.edges).to.deep.equal(edges)
    expect(report.edges).to.not.equal(edges) // a copy: the report is a snapshot
  })

  it('formatCrawlReport and writeCrawlReport: indented JSON with a final newline, written whole (no temporary file left)', async () => {
    const report = buildCrawlReport({
      network: undefined, seeds: [], crawler: { id: 'c'.repeat(40), moniker: 'm', version: '' }, startedAt: 0, finishedAt: 0, stopReason: 'no-network', records: [], edges: []
    })
    const text = formatCrawlReport(report)
    expect(text).to.equal(`${JSON.stringify(report, null, 2)}\n`)
    const dir = await mkdtemp(join(tmpdir(), 'crawl-report-'))
    try {
      await writeCrawlReport(join(dir, 'report.json'), report)
      expect(await readFile(join(dir, 'report.json'), 'utf8')).to.equal(text)
      expect(await readdir(dir)).to.deep.equal(['report.json'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
