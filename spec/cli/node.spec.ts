// `rx-p2p node` as a real process: starts with a fresh home, a peer of this test connects, SIGTERM stops it
// cleanly and the address book is on disk; a restart keeps the key and reads the book back.
import { expect } from 'chai'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { filter, firstValueFrom, timeout } from 'rxjs'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { decodeAddrBookJson } from '../../lib/pex/addr-book-file.js'
import { NetAddress } from '../../lib/transport/net-address.js'
import { CliProcess, rxP2p, startNodes, stopNodes } from './support.js'

describe('cli/node (rx-p2p node as a process)', function () {
  this.timeout(30_000)
  let dir: string

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'rx-p2p-cli-node-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('runs with a fresh home, prints a peer that connects, stops on SIGTERM saving addrbook.json; a restart reads it back', async () => {
    const home = join(dir, 'home')
    const args = ['node', '--home', home, '--listen', 'tcp://127.0.0.1:0', '--network', 'cli-net', '--moniker', 'cli-under-test', '--allow-private']
    const visitors = await startNodes(1, { moniker: () => 'visitor' })
    const visitor = visitors[0]!
    let p = new CliProcess(args)
    try {
      const [, id] = await p.waitFor(/^node ([0-9a-f]{40}) \(cli-under-test\) on network cli-net/m)
      const [, port] = await p.waitFor(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)/m)
      const key = NodeKey.fromJSON(await readFile(join(home, 'config', 'node_key.json'), 'utf8'))
      expect(key.id).to.equal(id)

      // The visitor dials the node; the node prints it and puts its self-reported address in the book.
      const peer = await visitor.sw.dial(new NetAddress(id!, '127.0.0.1', Number(port)))
      expect(peer.nodeInfo).to.deep.include({ moniker: 'cli-under-test', network: 'cli-net' })
      expect(Buffer.from(peer.nodeInfo.channels).toString('hex')).to.equal('00')
      await p.waitFor(new RegExp(`^peer added ${visitor.sw.nodeId}@127\\.0\\.0\\.1:\\d+ \\(visitor, inbound\\)`, 'm'))
      await p.waitFor(new RegExp(`^learned ${visitor.address.toString()} from visitor`, 'm'))

      const removed = firstValueFrom(visitor.sw.peerEvents$.pipe(filter((e) => e.type === 'removed'), timeout(10_000)))
      p.child.kill('SIGTERM')
      const r = await p.exited
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.match(/^stopping \(SIGTERM\)$/m)
      expect(r.stdout).to.match(/^address book saved: 1 address in .*addrbook\.json$/m)
      expect(r.stdout).to.match(/^stopped$/m)
      expect(r.stderr).to.equal('')
      await removed // the node closed the connection on its way out
      const book = decodeAddrBookJson(await readFile(join(home, 'config', 'addrbook.json'), 'utf8'))
      expect(book.addrs.map((k) => k.addr.toString())).to.deep.equal([visitor.address.toString()])

      // Same home again: same key, the book loaded.
      p = new CliProcess(args)
      await p.waitFor(new RegExp(`^node ${id} `, 'm'))
      await p.waitFor(/^address book .*addrbook\.json: 1 address \(private addresses allowed\)$/m)
      p.child.kill('SIGINT')
      expect((await p.exited).code).to.equal(0)
    } finally {
      await p.kill()
      await stopNodes(visitors)
    }
  })

  it('a listen address in use: the node says so and exits with status 1 (nothing left running)', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
    try {
      const { port } = server.address() as AddressInfo
      const r = await rxP2p(['node', '--home', join(dir, 'home-busy'), '--listen', `tcp://127.0.0.1:${port}`])
      expect(r.code).to.equal(1)
      expect(r.stderr).to.match(/rx-p2p node: TransportError: .*EADDRINUSE/)
    } finally {
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    }
  })
})
