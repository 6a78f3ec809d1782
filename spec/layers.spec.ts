/**
 * The layers of lib/ point one way: a file imports only from its own layer or those below it. This spec reads
 * the imports of every file in lib/ (static `import` and `export ... from`, `import type`, and `import(...)`,
 * found with TypeScript's own pre-processor, so comments and strings are not taken for imports) and fails
 * naming each file that imports from a layer above its own, and the import.
 *
 * The staircase, bottom up (CometBFT's `p2p/conn` knows bytes and keys, never IDs or addresses; its
 * `transport.go` owns the upgrade and the connection filters):
 *
 * | layer | folders (under lib/)              | what lives there                                               |
 * |-------|-----------------------------------|----------------------------------------------------------------|
 * | 0     | `errors.ts`                       | typed errors, one class per condition                          |
 * | 1     | `crypto/`                         | Merlin, X25519, ed25519, AEAD, node keys and node IDs          |
 * | 2     | `transport/`                      | raw byte streams: the duplex contract, TCP, memory, it-pipe, NetAddress |
 * | 3     | `wire/`                           | the protobuf toolkit, the length prefix, the messages          |
 * | 4     | `conn/`                           | MConnection, channels, flow rate, SecretConnection             |
 * | 5     | `multiplex-transport/`            | the upgrade, connection filters, pending handshakes, dial-and-upgrade |
 * | 6     | `switch/`                         | admission, peer filters, the peer set, redial, reactors, bans  |
 * | 7     | `pex/`, `reactors/`, `crawler/`   | protocols and tools on the Switch (side by side: one level)    |
 * | 8     | `testing/`                        | marble helpers, networks in memory, simulation, compliance     |
 * | 9     | `cli/`                            | the rx-p2p command                                             |
 * | 10    | `index.ts`, `defaults.ts`         | the barrels of `rx-p2p` and `rx-p2p/defaults`, which nothing in lib/ imports |
 */
import { expect } from 'chai'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, posix, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** The layer of each top-level entry of lib/ (a folder, or a file at the root of lib/). */
export const LAYERS: ReadonlyMap<string, number> = new Map([
  ['errors.ts', 0],
  ['crypto', 1],
  ['transport', 2],
  ['wire', 3],
  ['conn', 4],
  ['multiplex-transport', 5],
  ['switch', 6],
  ['pex', 7],
  ['reactors', 7],
  ['crawler', 7],
  ['testing', 8],
  ['cli', 9],
  ['index.ts', 10],
  ['defaults.ts', 10]
])

/** An import that breaks the staircase, or a file outside every layer. */
export interface LayerViolation {
  /** The importing file, relative to lib/ (`conn/mconnection.ts`). */
  readonly file: string
  /** The import as written (`../switch/switch.js`). */
  readonly specifier: string
  /** What is wrong, naming both layers. */
  readonly message: string
}

/** The top-level entry of lib/ a path (relative to lib/, POSIX separators) belongs to. */
function entryOf (libPath: string): string {
  return libPath.split('/')[0]!
}

/** The relative module specifiers a source imports: `import`, `import type`, `export ... from`, `import(...)`. */
export function importsOf (source: string): string[] {
  const info = ts.preProcessFile(source, true, true)
  return info.importedFiles.map((f) => f.fileName)
}

/**
 * The violations in one file: each relative import that resolves into lib/ at a layer above the file's own,
 * or outside lib/; and the file itself when its folder is in no layer (add it to {@link LAYERS}).
 *
 * @param file the importing file, relative to lib/, POSIX separators (`conn/mconnection.ts`)
 * @param source its text
 */
export function checkLayers (file: string, source: string, layers: ReadonlyMap<string, number> = LAYERS): LayerViolation[] {
  const own = layers.get(entryOf(file))
  if (own === undefined) {
    return [{ file, specifier: '', message: `${file} is in no layer: add lib/${entryOf(file)} to the table of spec/layers.spec.ts` }]
  }
  const out: LayerViolation[] = []
  for (const specifier of importsOf(source)) {
    if (!specifier.startsWith('.')) continue // a package or node: built-in
    const target = posix.normalize(posix.join(posix.dirname(file), specifier))
    if (target.startsWith('../')) {
      out.push({ file, specifier, message: `${file} imports ${specifier}, outside lib/` })
      continue
    }
    const entry = entryOf(target.replace(/\.js$/, '.ts'))
    const theirs = layers.get(entry)
    if (theirs === undefined) {
      out.push({ file, specifier, message: `${file} imports ${specifier}, in no layer (lib/${entry})` })
    } else if (theirs > own) {
      out.push({
        file,
        specifier,
        message: `${file} (layer ${own}, ${entryOf(file)}) imports ${specifier} (layer ${theirs}, ${entry}): a layer above its own`
      })
    }
  }
  return out
}

function libFiles (dir: string, root: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...libFiles(path, root))
    else if (entry.name.endsWith('.ts')) out.push(relative(root, path).split('\\').join('/'))
  }
  return out.sort()
}

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../lib')

describe('layers: nothing in lib/ imports from a layer above its own', () => {
  it('every file of lib/ imports only from its own layer or below', () => {
    const files = libFiles(LIB, LIB)
    expect(files.length).to.be.greaterThan(50)
    const violations = files.flatMap((f) => checkLayers(f, readFileSync(join(LIB, f), 'utf8')))
    expect(violations.map((v) => v.message), violations.map((v) => v.message).join('\n')).to.deep.equal([])
  })

  it('every top-level entry of lib/ has a layer', () => {
    const entries = readdirSync(LIB).filter((e) => !e.startsWith('.'))
    expect(entries.filter((e) => !LAYERS.has(e))).to.deep.equal([])
  })

  describe('the checker', () => {
    it('fails on an upward import, naming the file, the import and both layers', () => {
      const v = checkLayers('conn/mconnection.ts', "import { Switch } from '../switch/switch.js'\n")
      expect(v).to.have.length(1)
      expect(v[0]!.file).to.equal('conn/mconnection.ts')
      expect(v[0]!.specifier).to.equal('../switch/switch.js')
      expect(v[0]!.message).to.equal('conn/mconnection.ts (layer 4, conn) imports ../switch/switch.js (layer 6, switch): a layer above its own')
    })

    it('reads import type, export ... from, multi-line imports and import(), and skips comments and strings', () => {
      const source = [
        "import type { NetAddress } from '../transport/net-address.js'",
        'import {',
        '  MConnection,',
        '  type MConnectionInit',
        "} from '../conn/mconnection.js'",
        "export { Switch } from '../switch/switch.js'",
        "export * from '../pex/index.js'",
        "const m = await import('../cli/main.js')",
        "// import { x } from '../testing/network.js'",
        "/** `import { y } from '../testing/reactor.js'` */",
        "const s = \"import { z } from '../cli/run.js'\""
      ].join('\n')
      expect(importsOf(source)).to.deep.equal([
        '../transport/net-address.js', '../conn/mconnection.js', '../switch/switch.js', '../pex/index.js', '../cli/main.js'
      ])
      expect(checkLayers('crypto/node-key.ts', source).map((v) => v.specifier)).to.deep.equal([
        '../transport/net-address.js', '../conn/mconnection.js', '../switch/switch.js', '../pex/index.js', '../cli/main.js'
      ])
    })

    it('lets a file import its own layer and those below, and packages', () => {
      const source = [
        "import { Observable } from 'rxjs'",
        "import { createHash } from 'node:crypto'",
        "import { PexReactor } from '../pex/pex-reactor.js'", // same layer (7)
        "import { Switch } from '../switch/switch.js'",
        "import { NodeKey } from '../crypto/node-key.js'",
        "import { InvalidAddressError } from '../errors.js'",
        "import { defaults } from './defaults.js'"
      ].join('\n')
      expect(checkLayers('crawler/crawler.ts', source)).to.deep.equal([])
    })

    it('the root barrel is above everything: importing it from lib/ is upward', () => {
      expect(checkLayers('cli/main.ts', "import { Switch } from '../index.js'").map((v) => v.message)).to.deep.equal([
        'cli/main.ts (layer 9, cli) imports ../index.js (layer 10, index.ts): a layer above its own'
      ])
    })

    it('names a file outside every layer, and an import out of lib/', () => {
      expect(checkLayers('gossip/x.ts', '')[0]!.message).to.match(/gossip\/x\.ts is in no layer/)
      expect(checkLayers('conn/x.ts', "import { a } from '../../spec/helpers.js'")[0]!.message).to.equal('conn/x.ts imports ../../spec/helpers.js, outside lib/')
    })
  })
})
