/**
 * `npm run attack`: runs the adversarial suite, `spec/attack/*.spec.ts`, and prints a summary per spec file.
 *
 * ```
 * npm run attack                       # the attack specs as `npm test` runs them (short versions)
 * npm run attack -- --long             # the long, bigger versions: RX_P2P_ATTACK_LONG=1 in every spec
 * npm run attack -- --long --grep squat   # only the tests whose title matches
 * npm run attack -- spec/attack/hosts.spec.ts   # only the files given
 * ```
 *
 * The specs run in this process through Mocha's API, with `.mocharc.json`'s timeout (a spec that needs more sets
 * its own, and a long version its longer one) and the spec reporter; then a table: per file the tests passed,
 * failed and skipped and the time, and every failure with its first line. Exits 1 when a test failed, 2 on a
 * usage error. The process exits when the summary is printed, after listing any handle the specs left open (a
 * leak to fix, which `npm test` would show by not exiting).
 */
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import Mocha from 'mocha'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const attackDir = join(root, 'spec', 'attack')

/** Command-line options. */
interface Options { long: boolean, grep: string | undefined, files: string[], bail: boolean }

const USAGE = `usage: npm run attack -- [--long] [--grep PATTERN] [--bail] [spec/attack/FILE.spec.ts ...]

  --long           the long, bigger version of each attack (sets RX_P2P_ATTACK_LONG=1)
  --grep PATTERN   only the tests whose full title matches PATTERN (a regular expression)
  --bail           stop at the first failure
  FILE ...         only these spec files (default: every spec/attack/*.spec.ts)
`

function usage (message: string): never {
  process.stderr.write(`attack: ${message}\n${USAGE}`)
  process.exit(2)
}

function parseArgs (argv: readonly string[]): Options {
  const opts: Options = { long: false, grep: undefined, files: [], bail: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--long') opts.long = true
    else if (arg === '--bail') opts.bail = true
    else if (arg === '--grep') {
      const v = argv[++i]
      if (v === undefined) usage('--grep needs a pattern')
      opts.grep = v
    } else if (arg.startsWith('--grep=')) opts.grep = arg.slice(7)
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE)
      process.exit(0)
    } else if (arg.startsWith('-')) usage(`unknown option ${arg}`)
    else opts.files.push(resolve(arg))
  }
  return opts
}

/** Every `*.spec.ts` directly in spec/attack (the support/ folder holds helpers, not specs). */
function attackSpecs (): string[] {
  let names: string[]
  try {
    names = readdirSync(attackDir)
  } catch {
    return []
  }
  return names.filter((n) => n.endsWith('.spec.ts')).sort().map((n) => join(attackDir, n))
}

/** The default timeout of the suite, from .mocharc.json, as `npm test` uses it. */
function mocharcTimeout (): number {
  try {
    const rc = JSON.parse(readFileSync(join(root, '.mocharc.json'), 'utf8')) as { timeout?: number }
    return rc.timeout ?? 20_000
  } catch {
    return 20_000
  }
}

/** What one spec file did. */
interface FileResult { passed: number, failed: number, skipped: number, ms: number, failures: string[] }

function fileOf (runnable: Mocha.Runnable | Mocha.Suite): string {
  let file = runnable.file
  let parent = runnable.parent
  while (file === undefined && parent !== undefined) {
    file = parent.file
    parent = parent.parent
  }
  return file === undefined ? '(unknown file)' : relative(root, file)
}

function firstLine (err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  return text.split('\n')[0]!.slice(0, 200)
}

function pad (s: string, n: number): string { return s.length >= n ? s : s + ' '.repeat(n - s.length) }

async function main (): Promise<void> {
  const opts = parseArgs(process.argv.slice(2))
  const files = opts.files.length > 0 ? opts.files : attackSpecs()
  if (files.length === 0) usage(`no spec files in ${relative(root, attackDir)}`)
  if (opts.long) process.env.RX_P2P_ATTACK_LONG = '1'
  else delete process.env.RX_P2P_ATTACK_LONG

  const mocha = new Mocha({ timeout: mocharcTimeout(), reporter: 'spec', bail: opts.bail })
  if (opts.grep !== undefined) mocha.grep(opts.grep)
  for (const f of files) mocha.addFile(f)
  const started = Date.now()
  process.stdout.write(`attack: ${files.length} spec file${files.length === 1 ? '' : 's'}, ${opts.long ? 'long versions (RX_P2P_ATTACK_LONG=1)' : 'short versions (as npm test)'}\n`)
  await mocha.loadFilesAsync()

  const results = new Map<string, FileResult>()
  const resultOf = (r: Mocha.Runnable | Mocha.Suite): FileResult => {
    const f = fileOf(r)
    let res = results.get(f)
    if (res === undefined) results.set(f, res = { passed: 0, failed: 0, skipped: 0, ms: 0, failures: [] })
    return res
  }
  const failures = await new Promise<number>((done) => {
    const runner = mocha.run(done)
    runner.on('pass', (t) => { const r = resultOf(t); r.passed++; r.ms += t.duration ?? 0 })
    runner.on('pending', (t) => { resultOf(t).skipped++ })
    runner.on('fail', (t, err) => {
      const r = resultOf(t)
      r.failed++
      r.ms += t.duration ?? 0
      r.failures.push(`${t.fullTitle()}: ${firstLine(err)}`)
    })
  })

  const wall = (Date.now() - started) / 1000
  const rows = [...results.entries()].sort(([a], [b]) => a.localeCompare(b))
  const width = Math.max(20, ...rows.map(([f]) => f.length))
  const out: string[] = ['', `attack summary (${opts.long ? 'long' : 'short'}, ${wall.toFixed(1)} s wall)`,
    `${pad('spec file', width)}  passed  failed  skipped  test time`]
  let total: FileResult = { passed: 0, failed: 0, skipped: 0, ms: 0, failures: [] }
  for (const [f, r] of rows) {
    out.push(`${pad(f, width)}  ${pad(String(r.passed), 6)}  ${pad(String(r.failed), 6)}  ${pad(String(r.skipped), 7)}  ${(r.ms / 1000).toFixed(1)} s`)
    total = { passed: total.passed + r.passed, failed: total.failed + r.failed, skipped: total.skipped + r.skipped, ms: total.ms + r.ms, failures: [...total.failures, ...r.failures] }
  }
  out.push(`${pad('total', width)}  ${pad(String(total.passed), 6)}  ${pad(String(total.failed), 6)}  ${pad(String(total.skipped), 7)}  ${(total.ms / 1000).toFixed(1)} s`)
  for (const f of total.failures) out.push(`  FAILED ${f}`)
  const leftOpen = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap')
  if (leftOpen.length > 0) out.push(`  note: the specs left ${leftOpen.length} handle${leftOpen.length === 1 ? '' : 's'} open (${[...new Set(leftOpen)].join(', ')})`)
  process.stdout.write(out.join('\n') + '\n', () => process.exit(failures > 0 ? 1 : 0))
}

main().catch((err: unknown) => {
  process.stderr.write(`attack: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
