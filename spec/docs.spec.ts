/**
 * The long-form docs stay true to the tree:
 *
 * - every path of the repository that `README.md` or `docs/*.md` names (`lib/...`, `spec/...`, `bench/...`,
 *   `examples/...`, `scripts/...`, `docs/...`) exists, so a newcomer following docs/ARCHITECTURE.md finds the file;
 * - `docs/CONFIGURATION.md` has a table for every exported `*Init` interface of lib/, with a row for each of its
 *   options whose default is the option's `@default` tag (backticks aside), and no table of an `*Init` that is gone.
 *
 * When a table is missing or wrong, the failure prints the table as it should read: paste it, then write its last
 * column (what the option does) where the first sentence of the option's doc is not enough.
 */
import { expect } from 'chai'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** One option of an `*Init` interface, as its source declares it. */
export interface InitOption {
  readonly name: string
  readonly optional: boolean
  /** The declared type, on one line. */
  readonly type: string
  /** The `@default` tag, `{@link X}` written as `X`; `undefined` when there is none. */
  readonly default: string | undefined
  /** The option's doc comment, on one line. */
  readonly doc: string
}

/** An exported `*Init` interface of lib/. */
export interface InitInterface {
  readonly name: string
  /** Its file, relative to the repository (`lib/conn/mconnection.ts`). */
  readonly file: string
  /** Its `extends` clause, if any (`AddrBookLimits`). */
  readonly extends: string | undefined
  readonly doc: string
  /** Tagged `@internal`: not part of the public API. */
  readonly internal: boolean
  readonly options: readonly InitOption[]
}

function oneLine (s: string): string {
  return s.replace(/\{@link\s+([^}|\s]+)\s*(?:\|\s*([^}]*))?\}/g, (_, target: string, text?: string) => '`' + (text ?? target).trim() + '`')
    .replace(/\s+/g, ' ').trim()
}

function docText (node: ts.Node): string {
  return oneLine(ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc).map((d) => ts.getTextOfJSDocComment(d.comment) ?? '').join(' '))
}

/** The exported interfaces named `*Init` in one source file. */
export function initInterfacesOf (file: string, source: string): InitInterface[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true)
  const out: InitInterface[] = []
  sf.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || !node.name.text.endsWith('Init')) return
    if (node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) !== true) return
    const options: InitOption[] = []
    for (const member of node.members) {
      if (member.name === undefined || !ts.isPropertySignature(member)) continue
      const tags = ts.getJSDocTags(member).filter((t) => t.tagName.text === 'default')
      options.push({
        name: member.name.getText(sf),
        optional: member.questionToken !== undefined,
        type: (member.type?.getText(sf) ?? 'unknown').replace(/\s+/g, ' '),
        default: tags.length === 0 ? undefined : oneLine(tags.map((t) => ts.getTextOfJSDocComment(t.comment) ?? '').join(' ')),
        doc: docText(member)
      })
    }
    const heritage = node.heritageClauses?.flatMap((h) => h.types.map((t) => t.getText(sf).replace(/\s+/g, ' ')))
    const internal = ts.getJSDocTags(node).some((t) => t.tagName.text === 'internal')
    out.push({ name: node.name.text, file, extends: heritage?.join(', '), doc: docText(node), internal, options })
  })
  return out
}

function sourceFiles (dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sourceFiles(path))
    else if (entry.name.endsWith('.ts')) out.push(path)
  }
  return out.sort()
}

/** Every exported `*Init` interface of lib/, file by file. */
export function initInterfaces (root = ROOT): InitInterface[] {
  return sourceFiles(join(root, 'lib')).flatMap((path) => {
    const source = readFileSync(path, 'utf8')
    return /export interface \w+Init\b/.test(source) ? initInterfacesOf(relative(root, path).split('\\').join('/'), source) : []
  })
}

/** What the default column of an option must say: its `@default`, else `(required)` or `(not set)`. */
export function expectedDefault (option: InitOption): string {
  return option.default ?? (option.optional ? '(not set)' : '(required)')
}

function cell (s: string): string {
  return s.replace(/\|/g, '\\|')
}

function code (s: string): string {
  return '`' + s.replace(/`/g, '') + '`'
}

/** A default as a table cell: literals and names in backticks, prose as it is. */
function defaultCell (s: string): string {
  if (/^(\(required\)|\(not set\)|none|nothing)$/.test(s)) return s
  if (/^('[^']*'|-?[\d_.]+|0o\d+|[\w.]+(\(\))?|\[\]|\{\}|\{ [^}]* \}|\(\) => \w+|`[^`]*`)$/.test(s)) return cell(code(s))
  return cell(s)
}

/** The first sentence of a doc comment (a full stop inside parentheses ends none). */
function firstSentence (doc: string): string {
  for (const m of doc.matchAll(/\.(?=\s+[A-Z(`]|$)/g)) {
    const head = doc.slice(0, m.index + 1)
    if ((head.match(/\(/g) ?? []).length === (head.match(/\)/g) ?? []).length) return head
  }
  return doc
}

/** The table of one `*Init`, as docs/CONFIGURATION.md carries it (heading, file, table). */
export function renderInitTable (init: InitInterface): string {
  const lines = [`#### \`${init.name}\``, '']
  const what = init.doc === '' ? '' : ` ${init.doc}`
  const ext = init.extends === undefined ? '' : ` Besides its own options, every option of \`${init.extends}\`.`
  const internal = init.internal ? ' Internal (`@internal`): not part of the public API.' : ''
  lines.push(`\`${init.file}\`.${what}${ext}${internal}`, '')
  if (init.options.length > 0) {
    lines.push('| option | type | default | what it does |', '|---|---|---|---|')
    for (const o of init.options) {
      lines.push(`| \`${o.name}\` | ${cell(code(o.type))} | ${defaultCell(expectedDefault(o))} | ${cell(firstSentence(o.doc))} |`)
    }
  }
  return lines.join('\n')
}

/** The cells of a markdown table row (`\|` kept inside a cell). */
function cellsOf (row: string): string[] {
  return row.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'))
}

/** Backticks and spacing aside, the same text. */
function plain (s: string): string {
  return s.replace(/`/g, '').replace(/\s+/g, ' ').trim()
}

/**
 * The differences between the table of `init` in `markdown` and its source: a missing heading, a missing or
 * extra option, a default that is not the `@default` tag. Empty when the table is right.
 */
export function checkInitTable (markdown: string, init: InitInterface): string[] {
  const lines = markdown.split('\n')
  const at = lines.findIndex((l) => l.trim() === `#### \`${init.name}\``)
  if (at < 0) return [`${init.name} (${init.file}) has no table (a heading \`#### \\\`${init.name}\\\`\`)`]
  const rows = new Map<string, string[]>()
  for (let i = at + 1; i < lines.length && !lines[i]!.startsWith('#'); i++) {
    const line = lines[i]!
    if (!line.startsWith('|') || /^\|\s*(option|-)/.test(line)) continue
    const cells = cellsOf(line)
    rows.set(plain(cells[0] ?? ''), cells)
  }
  const problems: string[] = []
  for (const o of init.options) {
    const row = rows.get(o.name)
    if (row === undefined) {
      problems.push(`${init.name}.${o.name}: no row`)
      continue
    }
    rows.delete(o.name)
    const want = expectedDefault(o)
    if (plain(row[2] ?? '') !== plain(want)) problems.push(`${init.name}.${o.name}: the default says "${row[2] ?? ''}", the source "${want}"`)
  }
  for (const name of rows.keys()) problems.push(`${init.name}.${name}: a row for an option it does not have`)
  return problems
}

/** The repository paths (`lib/...`, `spec/...`, ...) a markdown text names. */
export function pathsNamedIn (markdown: string): string[] {
  const found = new Set<string>()
  for (const m of markdown.matchAll(/(?<![\w/.@-])(?:lib|spec|bench|examples|scripts|docs)\/[\w./-]*[\w/]/g)) {
    // a glob or a placeholder (`lib/switch/*.ts`, `spec/<path>`) names no single file
    const next = markdown[m.index + m[0].length]
    if (next === '*' || next === '<' || next === '{') continue
    found.add(m[0])
  }
  return [...found].sort()
}

/**
 * What docs/ARCHITECTURE.md names beyond whole paths, checked against the source: a bare file name (`peer.ts`) must
 * exist in a folder its line names (`lib/switch/`), else anywhere in lib/; `Class.member` (or `Class.#member`) must
 * be a class of lib/ whose file has that member; `` `name` in `lib/file.ts` `` must be a name in that file.
 * Returns what does not hold.
 */
export function checkArchitectureNames (markdown: string, files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = []
  const classFile = new Map<string, string>()
  for (const [path, text] of files) {
    for (const m of text.matchAll(/^export (?:abstract )?class (\w+)/gm)) classFile.set(m[1]!, path)
  }
  const has = (text: string, name: string): boolean => new RegExp(`(^|[^\\w$])${name.replace(/[$#]/g, '\\$&')}(?![\\w$])`).test(text)
  for (const line of markdown.split('\n')) {
    const dirs = [...line.matchAll(/\blib\/([\w-]+)\//g)].map((m) => `lib/${m[1]!}/`)
    for (const m of line.matchAll(/`([\w-]+\.ts)`/g)) {
      const name = m[1]!
      const paths = [...files.keys()]
      const inDirs = dirs.length > 0 ? paths.some((p) => dirs.some((d) => p === d + name)) : false
      if (!inDirs && !paths.some((p) => p.endsWith('/' + name))) problems.push(`${name} is no file of lib/${dirs.length > 0 ? ` (looked in ${dirs.join(', ')})` : ''}`)
    }
    for (const m of line.matchAll(/`(\w+)\.(#?\w+)`/g)) {
      const [cls, member] = [m[1]!, m[2]!]
      const path = classFile.get(cls)
      if (path === undefined) continue // a value's property (`sw.peers`), not a class of lib/
      if (!has(files.get(path)!, member)) problems.push(`${cls}.${member}: ${path} has no ${member}`)
    }
    for (const m of line.matchAll(/`([#\w]+)` in `(lib\/[\w/.-]+\.ts)`/g)) {
      const text = files.get(m[2]!)
      if (text !== undefined && !has(text, m[1]!)) problems.push(`${m[1]!} is not in ${m[2]!}`)
    }
  }
  return problems
}

function markdownFiles (): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)
  return ['README.md', ...docs]
}

describe('docs: the long-form docs name what is in the tree', () => {
  it('every path of the repository named in README.md and docs/*.md exists (generated, git-ignored folders aside)', () => {
    // What a build writes (`docs/api`, `dist`, `bench/results`) is named by the docs but absent from a fresh clone.
    const generated = readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l.endsWith('/') && !l.startsWith('#'))
    const missing: string[] = []
    let named = 0
    for (const file of markdownFiles()) {
      for (const path of pathsNamedIn(readFileSync(join(ROOT, file), 'utf8'))) {
        named++
        if (generated.some((dir) => path === dir.slice(0, -1) || path.startsWith(dir))) continue
        if (!existsSync(join(ROOT, path))) missing.push(`${file} names ${path}, which does not exist`)
      }
    }
    expect(named).to.be.greaterThan(50)
    expect(missing, missing.join('\n')).to.deep.equal([])
  })

  it('docs/ARCHITECTURE.md exists and names a file of every layer of lib/', () => {
    const text = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8')
    const dirs = readdirSync(join(ROOT, 'lib'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    expect(dirs.filter((d) => !text.includes(`lib/${d}/`))).to.deep.equal([])
    expect(text).to.include('lib/errors.ts')
  })

  it('the files, classes\' members and functions docs/ARCHITECTURE.md names are in lib/', () => {
    const files = new Map(sourceFiles(join(ROOT, 'lib')).map((p) => [relative(ROOT, p).split('\\').join('/'), readFileSync(p, 'utf8')]))
    const problems = checkArchitectureNames(readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8'), files)
    expect(problems, problems.join('\n')).to.deep.equal([])
  })

  it('docs/CONFIGURATION.md has the table of every *Init of lib/, each default its @default tag', () => {
    const markdown = readFileSync(join(ROOT, 'docs/CONFIGURATION.md'), 'utf8')
    const inits = initInterfaces()
    expect(inits.length).to.be.greaterThan(30)
    const problems: string[] = []
    for (const init of inits) {
      const p = checkInitTable(markdown, init)
      if (p.length > 0) problems.push(...p, `  it should read:\n\n${renderInitTable(init)}\n`)
    }
    const names = new Set(inits.map((i) => i.name))
    for (const m of markdown.matchAll(/^#### `(\w+Init)`/gm)) {
      if (!names.has(m[1]!)) problems.push(`${m[1]!} has a table but is no exported interface of lib/ any more`)
    }
    expect(problems, problems.join('\n')).to.deep.equal([])
  })

  describe('the checkers', () => {
    const source = [
      '/** Options of a thing. */',
      'export interface ThingInit extends OtherInit {',
      '  /** The size. @default 16 */',
      '  size?: number',
      '  /** The clock. @default {@link asyncScheduler} */',
      '  scheduler?: SchedulerLike',
      '  /** Its name. */',
      '  name: string',
      '  /** A callback. */',
      '  onThing?: (a: string | number) => void',
      '}',
      'interface HiddenInit { x?: number }'
    ].join('\n')

    it('reads the exported *Init interfaces, their options and @default tags ({@link X} as X)', () => {
      const [init, ...rest] = initInterfacesOf('lib/thing.ts', source)
      expect(rest).to.deep.equal([])
      expect(init!.name).to.equal('ThingInit')
      expect(init!.extends).to.equal('OtherInit')
      expect(init!.options.map((o) => [o.name, expectedDefault(o)])).to.deep.equal([
        ['size', '16'], ['scheduler', '`asyncScheduler`'], ['name', '(required)'], ['onThing', '(not set)']
      ])
    })

    it('a rendered table passes its own check; a wrong default, a missing and an extra row are named', () => {
      const init = initInterfacesOf('lib/thing.ts', source)[0]!
      const table = renderInitTable(init)
      expect(table).to.include('| `onThing` | `(a: string \\| number) => void` | (not set) | A callback. |')
      expect(checkInitTable(table, init)).to.deep.equal([])
      const broken = table.replace('| `16` |', '| `32` |').replace(/^\| `name`.*$/m, '| `gone` | `number` | `1` | no more |')
      expect(checkInitTable(broken, init)).to.deep.equal([
        'ThingInit.size: the default says "`32`", the source "16"',
        'ThingInit.name: no row',
        'ThingInit.gone: a row for an option it does not have'
      ])
      expect(checkInitTable('# nothing', init)[0]).to.match(/^ThingInit \(lib\/thing\.ts\) has no table/)
    })

    it('names in ARCHITECTURE.md: a missing file, member or function is named; what exists passes', () => {
      const files = new Map([
        ['lib/conn/mconnection.ts', 'export class MConnection {\n  #pump (): void {}\n  send () {}\n}'],
        ['lib/switch/codec.ts', 'export function withCodec () {}']
      ])
      const ok = '| `mconnection.ts` in `lib/conn/` | `MConnection.#pump`, `MConnection.send`, `sw.peers` | `withCodec` in `lib/switch/codec.ts` |'
      expect(checkArchitectureNames(ok, files)).to.deep.equal([])
      const bad = '| `gone.ts` in `lib/conn/` | `MConnection.#pomp` | `withCodecs` in `lib/switch/codec.ts` |'
      expect(checkArchitectureNames(bad, files)).to.deep.equal([
        'gone.ts is no file of lib/ (looked in lib/conn/, lib/switch/)',
        'MConnection.#pomp: lib/conn/mconnection.ts has no #pomp',
        'withCodecs is not in lib/switch/codec.ts'
      ])
    })

    it('finds the repository paths a text names, not globs, placeholders or paths inside other paths', () => {
      expect(pathsNamedIn('see `lib/conn/mconnection.ts`, lib/pex/. and spec/<x>, lib/switch/*.ts, cometbft/spec/p2p, @x/lib/y')).to.deep.equal([
        'lib/conn/mconnection.ts', 'lib/pex/'
      ])
    })
  })
})
