/**
 * The bench runner: `npm run bench` (from the repository root or `bench/`).
 *
 * ```
 * node --import tsx run.ts [--quick] [--case <id|glob|group>]... [--reps N] [--no-baseline]
 *                          [--json <file>] [--cpu-prof <dir>] [--no-pin] [--wait-idle <max seconds>] [--max-foreign <0..1>] [--quiet-machine] [--worker-flag [sender:|receiver:]<node flag>]... [--list]
 * ```
 *
 * Runs the selected cases (all by default) one after the other, each between fresh worker processes, then
 * prints one Markdown table per group and the targets as PASS / MISS. Exits 0 even when a target is missed
 * (it is a measurement, not a test); exits 1 when a case failed to run.
 *
 * @module
 */
import './harness/polyfill.js'
import { execSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { runCases, type RunOptions } from './harness/case.js'
import { median } from './harness/stats.js'
import { resultTables, targetLines } from './harness/table.js'
import { BENCH_DIR, nodeWorkerFlags, pinning, profiling } from './harness/workers.js'
import { buildRegistry } from './suites/index.js'

interface Args { maxForeign?: number, waitIdle: number, workerFlags: string[], pin: boolean, quick: boolean, cases: string[], reps?: number, list: boolean, json?: string, baselines: boolean, cpuProf?: string }

function parseArgs (argv: string[]): Args {
  const a: Args = { waitIdle: 0, workerFlags: [], pin: true, quick: false, cases: [], list: false, baselines: true }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value`)
      return v
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const val = (): string => inline ?? value()
    switch (flag) {
      case '--quick': a.quick = true; break
      case '--case': a.cases.push(...val().split(',').filter((s) => s !== '')); break
      case '--reps': a.reps = Number(val()); break
      case '--list': a.list = true; break
      case '--json': a.json = val(); break
      case '--no-baseline': a.baselines = false; break
      case '--cpu-prof': a.cpuProf = val(); break
      case '--no-pin': a.pin = false; break
      case '--wait-idle': a.waitIdle = Number(val()); break
      case '--max-foreign': a.maxForeign = Number(val()); break
      case '--quiet-machine': a.waitIdle = 60; a.maxForeign = 0.15; break
      case '--worker-flag': a.workerFlags.push(val()); break
      case '--help': case '-h':
        console.log('usage: npm run bench -- [--quick] [--case <id|glob|group>]... [--reps N] [--no-baseline] [--json <file>] [--cpu-prof <dir>] [--no-pin] [--wait-idle <max seconds>] [--max-foreign <0..1>] [--quiet-machine] [--worker-flag [sender:|receiver:]<node flag>]... [--list]')
        process.exit(0)
        break
      default: throw new Error(`unknown argument ${arg} (try --help)`)
    }
  }
  return a
}

function machine (): string {
  const cpus = os.cpus()
  let commit = '?'
  try { commit = execSync('git rev-parse --short HEAD', { cwd: BENCH_DIR, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() } catch {}
  return `node ${process.version}, ${os.platform()} ${os.release()}, ${cpus.length} × ${cpus[0]?.model ?? '?'}, rx-p2p ${commit}`
}

async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const registry = buildRegistry()
  if (args.list) {
    for (const c of registry.cases) console.log(`${c.id.padEnd(28)} ${c.group.padEnd(10)} ${c.title}`)
    return
  }
  if (args.cpuProf !== undefined) {
    fs.mkdirSync(args.cpuProf, { recursive: true })
    profiling.dir = path.resolve(args.cpuProf)
  }
  if (!args.pin) pinning.enabled = false
  nodeWorkerFlags.push(...args.workerFlags)
  const cases = registry.select(args.cases, args.baselines)
  const opts: RunOptions = { quick: args.quick, reps: args.reps ?? (args.quick ? 3 : 5), waitIdleSeconds: args.waitIdle, maxForeign: args.maxForeign, log: (s) => { process.stderr.write(s + '\n') } }
  const load0 = os.loadavg()
  const t0 = performance.now()
  const results = await runCases(cases, opts)
  const load1 = os.loadavg()
  const busy = [...results.values()].map((r) => r.busyBefore).filter((b): b is number => b !== undefined)
  const minutes = (performance.now() - t0) / 60_000

  const out: string[] = []
  out.push(`## rx-p2p bench${args.quick ? ' (--quick)' : ''}, ${new Date().toISOString()}`)
  out.push('')
  out.push(`${machine()}; ${opts.reps} timed repetitions per case after an untimed warm-up; ${pinning.enabled ? 'sender pinned to CPU 0, receiver to CPU 1' : 'not pinned'}; load average ${load0[0]!.toFixed(2)} at start, ${load1[0]!.toFixed(2)} at end; machine busy before each case (other processes) median ${busy.length > 0 ? (median(busy) * 100).toFixed(0) : '?'}%, max ${busy.length > 0 ? (Math.max(...busy) * 100).toFixed(0) : '?'}%${args.waitIdle > 0 ? ` (waited up to ${args.waitIdle} s for < 15%)` : ''}${args.maxForeign !== undefined ? `; repetitions during which other processes used more than ${(args.maxForeign * 100).toFixed(0)}% of the CPUs were repeated` : ''}; ${minutes < 2 ? `${(minutes * 60).toFixed(0)} s` : `${minutes.toFixed(1)} min`}.`)
  out.push('')
  out.push(resultTables(registry, results))
  const t = targetLines(registry.targets, results)
  out.push('')
  out.push(`### Targets (${t.pass} pass, ${t.miss} miss)`)
  out.push('')
  out.push(t.text)
  console.log(out.join('\n'))

  if (args.json !== undefined) {
    const json = {
      date: new Date().toISOString(),
      machine: machine(),
      quick: args.quick,
      reps: opts.reps,
      loadavg: { start: load0, end: load1 },
      results: Object.fromEntries([...results].map(([id, r]) => [id, { title: r.case.title, group: r.case.group, size: r.case.size, baseline: r.case.baseline, metrics: r.metrics, error: r.error, seconds: r.seconds, busyBefore: r.busyBefore }])),
      targets: registry.targets.map((tg) => ({ id: tg.id, description: tg.description, result: tg.check(results) ?? null }))
    }
    fs.writeFileSync(args.json, JSON.stringify(json, null, 2) + '\n')
  }
  if ([...results.values()].some((r) => r.error !== undefined)) process.exitCode = 1
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message)
  process.exit(2)
})
