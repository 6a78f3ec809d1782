/**
 * `npm run fuzz`: runs every fuzz target of `spec/fuzz/properties.ts` for a given time with fresh seeds, under c8
 * for coverage, and writes each failing seed as a regression test in `spec/fuzz/regressions/`.
 *
 * The targets take turns, one seed each (`--runs-per-seed` runs, fewer for a slow target: its `runScale`), until
 * the time is up; a seed still running at the deadline is cut short.
 *
 * ```
 * npm run fuzz -- --seconds 60              # all targets, 60 s, coverage report in coverage/fuzz
 * npm run fuzz -- --seconds 10 --target packet-decode --no-coverage
 * npm run fuzz -- --seconds 10 --target secret-connection,addrbook-file
 * ```
 *
 * Exits with 1 when a failure was found (the regression files say which), else 0.
 */
import { spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')

interface Options { seconds: number, target: string | undefined, coverage: boolean, worker: boolean, runsPerSeed: number }

function parseArgs (argv: string[]): Options {
  const opts: Options = { seconds: 60, target: undefined, coverage: true, worker: false, runsPerSeed: 200 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value`)
      return v
    }
    if (arg === '--seconds') opts.seconds = Number(value())
    else if (arg.startsWith('--seconds=')) opts.seconds = Number(arg.slice(10))
    else if (arg === '--target') opts.target = value()
    else if (arg === '--runs-per-seed') opts.runsPerSeed = Number(value())
    else if (arg === '--no-coverage') opts.coverage = false
    else if (arg === '--worker') opts.worker = true
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run fuzz -- [--seconds N] [--target NAME[,NAME...]] [--runs-per-seed N] [--no-coverage]')
      process.exit(0)
    } else throw new Error(`unknown argument ${arg}`)
  }
  if (!(opts.seconds > 0)) throw new Error('--seconds must be > 0')
  return opts
}

function underCoverage (argv: string[]): number {
  // Re-run this script as a worker under c8, which collects V8 coverage and maps it back to the .ts sources.
  const c8 = join(root, 'node_modules', 'c8', 'bin', 'c8.js')
  const args = [
    c8, '--reporter=text', '--reporter=html', '--report-dir', join(root, 'coverage', 'fuzz'),
    '--temp-directory', join(root, 'coverage', 'fuzz', '.v8'), '--include', 'lib/**', '--exclude-after-remap',
    process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--worker', ...argv
  ]
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
  return result.status ?? 1
}

function regressionFile (name: string, seed: number, path: string | null, message: string, chunks: Uint8Array[]): string {
  const hexChunks = chunks.map((c) => `'${Buffer.from(c).toString('hex')}'`).join(', ')
  const title = message.split('\n')[0]!.replace(/[\\']/g, '').slice(0, 160)
  return `// Written by \`npm run fuzz\` on ${new Date().toISOString()}: target ${name}, seed ${seed}, path ${path ?? '-'}.
// It fails until the bug is fixed, then stays as a regression test.
import { replay } from '../properties.js'

describe('fuzz regression: ${name} (seed ${seed})', () => {
  it('${title}', async () => {
    await replay('${name}', [${hexChunks}])
  })
})
`
}

async function work (opts: Options): Promise<number> {
  const { targets, propertyOf } = await import('./properties.js')
  // --target takes a name or a comma-separated list of names.
  const wanted = opts.target?.split(',')
  const chosen = wanted === undefined ? targets : targets.filter((t) => wanted.includes(t.name))
  if (chosen.length === 0) throw new Error(`no fuzz target named ${opts.target}; known: ${targets.map((t) => t.name).join(', ')}`)
  const deadline = Date.now() + opts.seconds * 1000
  const stats = new Map(chosen.map((t) => [t.name, { runs: 0, seeds: 0, failures: 0 }]))
  const written: string[] = []
  const regressions = join(here, 'regressions')
  mkdirSync(regressions, { recursive: true })
  console.log(`fuzzing ${chosen.map((t) => t.name).join(', ')} for ${opts.seconds} s`)
  for (let round = 0; Date.now() < deadline; round++) {
    const target = chosen[round % chosen.length]!
    const seed = randomInt(0, 2 ** 31 - 1)
    // A slow target runs fewer times per seed (its runScale), so that seeds take about as long; no seed runs past the deadline.
    const numRuns = Math.max(1, Math.round(opts.runsPerSeed * (target.runScale ?? 1)))
    const details = await fc.check(propertyOf(target), { seed, numRuns, interruptAfterTimeLimit: Math.max(1, deadline - Date.now()) })
    const s = stats.get(target.name)!
    s.seeds++
    s.runs += details.numRuns
    // Cut at the deadline before a single run finished: fast-check calls that a failure, with no counterexample.
    const cutShort = details.interrupted && details.counterexample === null
    if (details.failed && !cutShort) {
      s.failures++
      const chunks = details.counterexample?.[0] ?? []
      const err = details.errorInstance
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      const file = join(regressions, `${target.name}-${seed}.spec.ts`)
      writeFileSync(file, regressionFile(target.name, seed, details.counterexamplePath, message, chunks))
      written.push(relative(root, file))
      console.log(`FAIL ${target.name} seed ${seed}: ${message.split('\n')[0]} -> ${relative(root, file)}`)
    }
  }
  console.log('\ntarget                      seeds      runs  failures')
  for (const [name, s] of stats) console.log(`${name.padEnd(26)} ${String(s.seeds).padStart(6)} ${String(s.runs).padStart(9)} ${String(s.failures).padStart(9)}`)
  if (written.length > 0) {
    console.log(`\n${written.length} regression test(s) written:\n  ${written.join('\n  ')}`)
    return 1
  }
  console.log('\nno failure found')
  return 0
}

const argv = process.argv.slice(2)
const opts = parseArgs(argv)
if (opts.coverage && !opts.worker && process.env.NODE_V8_COVERAGE === undefined) {
  process.exitCode = underCoverage(argv)
} else {
  process.exitCode = await work(opts)
}
