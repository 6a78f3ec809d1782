import { expect } from 'chai'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InvalidNodeKeyError } from '../../lib/errors.js'
import { nodeIdFromPublicKey } from '../../lib/crypto/node-id.js'
import { NodeKey } from '../../lib/crypto/node-key.js'
import { verifyEd25519 } from '../../lib/crypto/ed25519.js'
import { handshakeVector, hex } from '../conn/secret-support.js'

describe('crypto/node-key', () => {
  const v = handshakeVector()
  let dir: string

  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'rx-p2p-nodekey-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

  it('derives the vector identities: public keys and node IDs from the seeds', () => {
    for (const side of ['A', 'B'] as const) {
      const key = NodeKey.fromSeed(hex(v.inputs[`${side}_ed25519_seed_hex`]))
      expect(Buffer.from(key.publicKey).toString('hex')).to.equal(v.identities[`${side}_ed25519_pub_hex`])
      expect(key.id).to.equal(v.identities[`${side}_node_id`])
      expect(nodeIdFromPublicKey(key.publicKey)).to.equal(key.id)
    }
  })

  it('reads and writes the vector node_key.json exactly (same shape as cometbft init)', () => {
    for (const side of ['A', 'B'] as const) {
      const json = v.identities[`${side}_node_key_json`]
      const key = NodeKey.fromJSON(JSON.stringify(json))
      expect(key.id).to.equal(v.identities[`${side}_node_id`])
      expect(key.toJSON()).to.deep.equal(json)
      expect(NodeKey.fromJSON(json).id).to.equal(key.id)
    }
  })

  it('saves compact JSON as Go writes it, with mode 0600, and loads it back', async () => {
    const key = NodeKey.fromSeed(hex(v.inputs.A_ed25519_seed_hex))
    const path = join(dir, 'node_key.json')
    await key.save(path)
    expect(await readFile(path, 'utf8')).to.equal(JSON.stringify(v.identities.A_node_key_json))
    expect((await stat(path)).mode & 0o777).to.equal(0o600)
    const loaded = await NodeKey.load(path)
    expect(loaded.id).to.equal(key.id)
    const msg = Uint8Array.of(9, 9, 9)
    expect(verifyEd25519(key.publicKey, msg, loaded.sign(msg))).to.equal(true)
  })

  it('loadOrGenerate creates a key once (0600) and returns the same key afterwards', async () => {
    const path = join(dir, 'sub-node_key.json')
    const first = await NodeKey.loadOrGenerate(path)
    expect((await stat(path)).mode & 0o777).to.equal(0o600)
    const second = await NodeKey.loadOrGenerate(path)
    expect(second.id).to.equal(first.id)
    expect(second.toJSON()).to.deep.equal(first.toJSON())
  })

  it('load of a missing file fails with InvalidNodeKeyError carrying the fs error', async () => {
    let err: unknown
    try { await NodeKey.load(join(dir, 'missing.json')) } catch (e) { err = e }
    expect(err).to.be.instanceOf(InvalidNodeKeyError)
    expect(((err as InvalidNodeKeyError).cause as NodeJS.ErrnoException).code).to.equal('ENOENT')
  })

  it('loadOrGenerate does not overwrite a corrupt file', async () => {
    const path = join(dir, 'node_key.json')
    await writeFile(path, '{broken')
    let err: unknown
    try { await NodeKey.loadOrGenerate(path) } catch (e) { err = e }
    expect(err).to.be.instanceOf(InvalidNodeKeyError)
    expect(await readFile(path, 'utf8')).to.equal('{broken')
  })

  const seedPub = (): Buffer => Buffer.concat([hex(v.inputs.A_ed25519_seed_hex), hex(v.identities.A_ed25519_pub_hex)])
  const bad: Array<[string, unknown]> = [
    ['not JSON', '{'],
    ['no priv_key', '{}'],
    ['priv_key null', { priv_key: null }],
    ['a secp256k1 key', { priv_key: { type: 'tendermint/PrivKeySecp256k1', value: seedPub().toString('base64') } }],
    ['a value that is not base64', { priv_key: { type: 'tendermint/PrivKeyEd25519', value: '!!!' } }],
    ['a 32-byte value', { priv_key: { type: 'tendermint/PrivKeyEd25519', value: hex(v.inputs.A_ed25519_seed_hex).toString('base64') } }],
    ['a public half that is not the seed\'s', { priv_key: { type: 'tendermint/PrivKeyEd25519', value: Buffer.concat([hex(v.inputs.A_ed25519_seed_hex), hex(v.identities.B_ed25519_pub_hex)]).toString('base64') } }]
  ]
  for (const [what, json] of bad) {
    it(`refuses ${what} with InvalidNodeKeyError`, () => {
      expect(() => NodeKey.fromJSON(json as object)).to.throw(InvalidNodeKeyError)
    })
  }

  it('fromSeed refuses a seed that is not 32 bytes', () => {
    expect(() => NodeKey.fromSeed(new Uint8Array(31))).to.throw(InvalidNodeKeyError)
  })

  it('generate gives distinct keys with 40-hex IDs', () => {
    const a = NodeKey.generate()
    const b = NodeKey.generate()
    expect(a.id).to.match(/^[0-9a-f]{40}$/)
    expect(a.id).to.not.equal(b.id)
  })
})
