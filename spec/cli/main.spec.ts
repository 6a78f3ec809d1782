// The rx-p2p command as a real process: help, version, usage errors (exit status 2), init and show-node-id.
import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { rxP2p } from './support.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
const vectors = JSON.parse(readFileSync(new URL('../fixtures/cometbft/derived_handshake_vector.json', import.meta.url), 'utf8')) as {
  identities: { A_node_id: string, A_node_key_json: object }
}

describe('cli/main (rx-p2p as a process)', function () {
  this.timeout(30_000)
  let dir: string

  before(async () => { dir = await mkdtemp(join(tmpdir(), 'rx-p2p-cli-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('help, --help and no command print the commands; help <command> and <command> --help print its options', async () => {
    const [bare, help, crawlHelp, nodeHelp] = await Promise.all([rxP2p([]), rxP2p(['--help']), rxP2p(['help', 'crawl']), rxP2p(['node', '--help'])])
    for (const r of [bare, help]) {
      expect(r.code).to.equal(0)
      for (const command of ['crawl', 'node', 'init', 'show-node-id', 'help', 'version']) expect(r.stdout).to.match(new RegExp(`^  ${command}\\b`, 'm'))
      expect(r.stderr).to.equal('')
    }
    expect(crawlHelp.code).to.equal(0)
    for (const option of ['--network', '--out', '--max-nodes', '--timeout', '--concurrency', '--allow-private']) expect(crawlHelp.stdout).to.include(option)
    expect(nodeHelp.code).to.equal(0)
    for (const option of ['--home', '--listen', '--network', '--moniker', '--persistent-peers', '--seeds', '--seed-mode', '--pex']) expect(nodeHelp.stdout).to.include(option)
  })

  it('--version and version print package.json\'s version', async () => {
    const [a, b] = await Promise.all([rxP2p(['--version']), rxP2p(['version'])])
    expect(a).to.deep.include({ code: 0, stdout: `${pkg.version}\n`, stderr: '' })
    expect(b).to.deep.include({ code: 0, stdout: `${pkg.version}\n` })
  })

  it('usage errors exit with status 2 and say what is wrong: unknown command, unknown option, bad values, missing seed', async () => {
    const seed = `${'ab'.repeat(20)}@127.0.0.1:26656`
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['--frobnicate'], /unknown option "--frobnicate"/],
      [['crawl', seed, '--frobnicate'], /crawl: Unknown option '--frobnicate'/],
      [['crawl'], /crawl: give at least one seed address/],
      [['crawl', '127.0.0.1:26656'], /crawl: bad seed "127\.0\.0\.1:26656": .*no node ID/],
      [['crawl', seed, '--timeout', 'soon'], /crawl: --timeout: expected a duration/],
      [['crawl', seed, '--max-nodes', '0'], /crawl: --max-nodes: expected a positive integer, got "0"/],
      [['crawl', seed, '--out'], /crawl: Option '-o, --out <value>' argument missing/],
      [['node', '--home', dir, '--seeds', 'nope'], /node: --seeds: .*no node ID/],
      [['node', '--home', dir, '--no-pex'], /node: --no-pex: PEX is the only reactor of this node/],
      [['init', 'extra'], /init: Unexpected argument 'extra'/]
    ]
    const results = await Promise.all(cases.map(async ([args]) => await rxP2p(args)))
    results.forEach((r, i) => {
      const [args, message] = cases[i]!
      expect(r.code, args.join(' ')).to.equal(2)
      expect(r.stderr, args.join(' ')).to.match(message)
      expect(r.stdout, args.join(' ')).to.equal('')
    })
  })

  it('init makes config/node_key.json (mode 0600, CometBFT format) and keeps it; show-node-id prints its ID', async () => {
    const home = join(dir, 'home-init')
    const first = await rxP2p(['init', '--home', home])
    expect(first.code).to.equal(0)
    const keyPath = join(home, 'config', 'node_key.json')
    expect(first.stdout).to.include(`Generated node key ${keyPath}`)
    const key = NodeKey.fromJSON(await readFile(keyPath, 'utf8'))
    expect(first.stdout).to.include(`node ID ${key.id}`)
    expect((await stat(keyPath)).mode & 0o777).to.equal(0o600)

    const [again, shown] = await Promise.all([rxP2p(['init', '--home', home]), rxP2p(['show-node-id', '--home', home])])
    expect(again.stdout).to.include(`Found node key ${keyPath}`)
    expect(NodeKey.fromJSON(await readFile(keyPath, 'utf8')).id).to.equal(key.id)
    expect(shown).to.deep.include({ code: 0, stdout: `${key.id}\n`, stderr: '' })
  })

  it('show-node-id reads a key written by CometBFT (vector identity A), also through $RX_P2P_HOME; a missing key exits 1', async () => {
    const home = join(dir, 'home-comet')
    await mkdir(join(home, 'config'), { recursive: true })
    await writeFile(join(home, 'config', 'node_key.json'), JSON.stringify(vectors.identities.A_node_key_json))
    const [byFlag, byEnv, missing] = await Promise.all([
      rxP2p(['show-node-id', '--home', home]),
      rxP2p(['show-node-id'], { RX_P2P_HOME: home }),
      rxP2p(['show-node-id', '--home', join(dir, 'nothing-here')])
    ])
    expect(byFlag).to.deep.include({ code: 0, stdout: `${vectors.identities.A_node_id}\n` })
    expect(byEnv).to.deep.include({ code: 0, stdout: `${vectors.identities.A_node_id}\n` })
    expect(missing.code).to.equal(1)
    expect(missing.stderr).to.match(/no node key at .*nothing-here.*run: rx-p2p init --home/)
  })
})
