/**
 * The public API: what the package exports, read with TypeScript's checker (types count as names too).
 *
 * - The root (`rx-p2p`, lib/index.ts) exports at most {@link ROOT_LIMIT} names; the count is printed.
 * - No file of lib/ has an `export *`: every barrel lists its names.
 * - A name is exported from one entry point only (`rx-p2p`, `rx-p2p/conn`, `rx-p2p/wire`, `rx-p2p/defaults`,
 *   `rx-p2p/testing`), and the entry points are the same in package.json `exports`, typedoc.json and here.
 * - Each layer barrel (lib/switch/index.ts, ...) lists that layer's share of the root, no more.
 * - Every `import { ... } from 'rx-p2p...'` in README.md, docs/, examples/ and the doc comments of lib/ names only
 *   what that entry point exports.
 * - docs/API.md has one line (`` - `Name` (kind): ... ``) for every name of every entry point, under its entry
 *   point's heading (`## rx-p2p/wire`), and none for a name that is not exported there.
 */
import { expect } from 'chai'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** At most this many names at the root. */
export const ROOT_LIMIT = 200

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The package's entry points: specifier -> source file (relative to the repository). */
export const ENTRY_POINTS: ReadonlyMap<string, string> = new Map([
  ['rx-p2p', 'lib/index.ts'],
  ['rx-p2p/conn', 'lib/conn/index.ts'],
  ['rx-p2p/wire', 'lib/wire/index.ts'],
  ['rx-p2p/defaults', 'lib/defaults.ts'],
  ['rx-p2p/testing', 'lib/testing/index.ts']
])

/** The barrels that list one layer's share of the root (not entry points themselves). */
const LAYER_BARRELS = [
  'lib/crypto/index.ts', 'lib/transport/index.ts', 'lib/multiplex-transport/index.ts', 'lib/switch/index.ts',
  'lib/pex/index.ts', 'lib/reactors/index.ts', 'lib/crawler/index.ts'
]

/** The names each module exports (values and types), from one TypeScript program over all of them. */
export function exportedNames (files: readonly string[], root = ROOT): Map<string, string[]> {
  const paths = files.map((f) => join(root, f))
  const program = ts.createProgram(paths, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node']
  })
  const checker = program.getTypeChecker()
  const out = new Map<string, string[]>()
  for (const [i, path] of paths.entries()) {
    const source = program.getSourceFile(path)
    if (source === undefined) throw new Error(`${files[i]!} is not in the program`)
    const mod = checker.getSymbolAtLocation(source)
    out.set(files[i]!, mod === undefined ? [] : checker.getExportsOfModule(mod).map((s) => s.name).sort())
  }
  return out
}

/** The lines of a source that re-export a whole module (`export * from`, `export * as x from`). */
export function exportStarsOf (source: string): string[] {
  return source.split('\n').filter((line) => /^\s*export\s*\*/.test(line))
}

/** One named import from a package entry point, as written in a document or a doc comment. */
export interface NamedImport {
  readonly specifier: string
  readonly names: string[]
}

/**
 * The named imports from `rx-p2p` and its subpaths in a text (`import { a, type B } from 'rx-p2p/testing'`, over
 * several lines too, in Markdown code blocks or in doc comments, whose leading `*` are dropped).
 */
export function packageImportsOf (text: string): NamedImport[] {
  const plain = text.replace(/^\s*\*(?: |$)/gm, '')
  const out: NamedImport[] = []
  for (const m of plain.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*'(rx-p2p(?:\/[\w-]+)?)'/g)) {
    const names = m[1]!.split(',').map((n) => n.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!.trim()).filter((n) => n !== '')
    out.push({ specifier: m[2]!, names })
  }
  return out
}

/** The problems of some imports: an entry point that is not one, or a name it does not export. */
export function checkImports (where: string, imports: readonly NamedImport[], exports: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = []
  for (const { specifier, names } of imports) {
    const names_ = exports.get(specifier)
    if (names_ === undefined) {
      problems.push(`${where}: '${specifier}' is no entry point of the package`)
      continue
    }
    for (const n of names) if (!names_.includes(n)) problems.push(`${where}: '${specifier}' exports no ${n}`)
  }
  return problems
}

/** The names docs/API.md lists under each entry point's heading (`## rx-p2p/conn`), from its `` - `Name` `` lines. */
export function apiDocNames (markdown: string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of markdown.split('\n')) {
    const heading = /^## (rx-p2p(?:\/[\w-]+)?)\s*$/.exec(line)
    if (heading !== null) {
      current = []
      out.set(heading[1]!, current)
      continue
    }
    const item = /^- `(\w+)` \(/.exec(line)
    if (item !== null && current !== undefined) current.push(item[1]!)
  }
  return out
}

function filesUnder (dir: string, ext: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'api') out.push(...filesUnder(path, ext))
    } else if (entry.name.endsWith(ext)) out.push(path.split('\\').join('/'))
  }
  return out.sort()
}

describe('api: the public surface of the package', function () {
  this.timeout(60_000)
  let names: Map<string, string[]>
  let byEntry: Map<string, string[]>

  before(() => {
    names = exportedNames([...ENTRY_POINTS.values(), ...LAYER_BARRELS])
    byEntry = new Map([...ENTRY_POINTS].map(([specifier, file]) => [specifier, names.get(file)!]))
  })

  it(`the root exports at most ${ROOT_LIMIT} names (printed)`, () => {
    const root = names.get('lib/index.ts')!
    const counts = [...byEntry].map(([specifier, n]) => `${specifier} ${n.length}`).join(', ')
    console.log(`      exports: ${counts}`)
    expect(root.length).to.be.greaterThan(50)
    expect(root.length, `the root exports ${root.length} names`).to.be.at.most(ROOT_LIMIT)
  })

  it('no file of lib/ has an export *', () => {
    const stars = filesUnder('lib', '.ts').flatMap((f) => exportStarsOf(readFileSync(join(ROOT, f), 'utf8')).map((line) => `${f}: ${line.trim()}`))
    expect(stars, stars.join('\n')).to.deep.equal([])
  })

  it('a name is exported from one entry point only', () => {
    const home = new Map<string, string>()
    const twice: string[] = []
    for (const [specifier, n] of byEntry) {
      for (const name of n) {
        const first = home.get(name)
        if (first === undefined) home.set(name, specifier)
        else twice.push(`${name}: ${first} and ${specifier}`)
      }
    }
    expect(twice, twice.join('\n')).to.deep.equal([])
  })

  it('package.json exports and typedoc.json name the same entry points', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }
    const fromPackage = Object.keys(pkg.exports).filter((k) => k !== './package.json')
      .map((k) => k === '.' ? 'rx-p2p' : `rx-p2p/${k.slice(2)}`).sort()
    expect(fromPackage).to.deep.equal([...ENTRY_POINTS.keys()].sort())
    for (const [key, target] of Object.entries(pkg.exports)) {
      if (key === './package.json') continue
      const specifier = key === '.' ? 'rx-p2p' : `rx-p2p/${key.slice(2)}`
      const built = ENTRY_POINTS.get(specifier)!.replace(/^lib\//, './dist/').replace(/\.ts$/, '')
      expect(target, key).to.deep.equal({ types: `${built}.d.ts`, import: `${built}.js` })
    }
    const typedoc = JSON.parse(readFileSync(join(ROOT, 'typedoc.json'), 'utf8')) as { entryPoints: string[] }
    expect([...typedoc.entryPoints].sort()).to.deep.equal([...ENTRY_POINTS.values()].sort())
  })

  it("each layer barrel lists that layer's share of the root, no more", () => {
    const root = new Set(names.get('lib/index.ts')!)
    const extra = LAYER_BARRELS.flatMap((f) => names.get(f)!.filter((n) => !root.has(n)).map((n) => `${f}: ${n}`))
    expect(extra, extra.join('\n')).to.deep.equal([])
  })

  it('the imports from rx-p2p in README.md, docs/, examples/ and the doc comments of lib/ name what the entry point exports', () => {
    const texts = ['README.md', ...filesUnder('docs', '.md'), ...filesUnder('examples', '.md'), ...filesUnder('lib', '.ts')]
    let seen = 0
    const problems = texts.flatMap((f) => {
      const imports = packageImportsOf(readFileSync(join(ROOT, f), 'utf8'))
      seen += imports.length
      return checkImports(f, imports, byEntry)
    })
    expect(problems, problems.join('\n')).to.deep.equal([])
    expect(seen).to.be.greaterThan(10)
  })

  it('docs/API.md lists every name of every entry point, and nothing else', () => {
    const listed = apiDocNames(readFileSync(join(ROOT, 'docs/API.md'), 'utf8'))
    const problems: string[] = []
    for (const [specifier, exported] of byEntry) {
      const inDoc = listed.get(specifier)
      if (inDoc === undefined) {
        problems.push(`docs/API.md has no section ## ${specifier}`)
        continue
      }
      for (const n of exported) if (!inDoc.includes(n)) problems.push(`docs/API.md, ${specifier}: no line for ${n}`)
      for (const n of inDoc) if (!exported.includes(n)) problems.push(`docs/API.md, ${specifier}: ${n} is not exported there`)
    }
    for (const specifier of listed.keys()) if (!byEntry.has(specifier)) problems.push(`docs/API.md: ${specifier} is no entry point`)
    expect(problems, problems.join('\n')).to.deep.equal([])
  })

  describe('its checkers', () => {
    it('read the names of docs/API.md by entry point', () => {
      const md = '# API\n- `Intro` (x): not in a section\n## rx-p2p\n\n### Errors\n\n- `P2PError` (class): base.\n## rx-p2p/wire\n- `PEX_CHANNEL` (const): 0.\n'
      expect([...apiDocNames(md)]).to.deep.equal([['rx-p2p', ['P2PError']], ['rx-p2p/wire', ['PEX_CHANNEL']]])
    })

    it('find an export * but not one in a comment', () => {
      expect(exportStarsOf("export * from './a.js'\n/**\n * export * is not used\n */\n  export * as b from './b.js'")).to.deep.equal([
        "export * from './a.js'", "  export * as b from './b.js'"
      ])
    })

    it('read named imports from Markdown and doc comments, type-only and renamed ones too', () => {
      const md = "```ts\nimport { a, type B,\n  c as d } from 'rx-p2p'\nimport { e } from 'rx-p2p/testing'\nimport { f } from 'rxjs'\n```"
      expect(packageImportsOf(md)).to.deep.equal([{ specifier: 'rx-p2p', names: ['a', 'B', 'c'] }, { specifier: 'rx-p2p/testing', names: ['e'] }])
      expect(packageImportsOf(" * ```ts\n * import type { G } from 'rx-p2p/wire'\n * ```")).to.deep.equal([{ specifier: 'rx-p2p/wire', names: ['G'] }])
    })

    it('name an unknown entry point and a name it does not export', () => {
      const exports = new Map([['rx-p2p', ['Switch']]])
      expect(checkImports('README.md', [{ specifier: 'rx-p2p', names: ['Switch', 'Channel'] }, { specifier: 'rx-p2p/internal', names: ['x'] }], exports)).to.deep.equal([
        "README.md: 'rx-p2p' exports no Channel",
        "README.md: 'rx-p2p/internal' is no entry point of the package"
      ])
    })
  })
})
