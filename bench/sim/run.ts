/**
 * The network simulation benchmark: `npm run bench:sim` from the repository root.
 *
 * ```
 * node --import tsx bench/sim/run.ts [--nodes 1000] [--minutes 60] [--seed bench] [--latency 5] [--spread 60000] [--ping ms] [--json <file>]
 * ```
 *
 * Builds a network of real Switch + PEX nodes bootstrapped from one seed over the in-memory transport, runs it
 * for the given virtual time on the Simulation's virtual clock, and prints wall time, events per second and the
 * convergence curve (virtual time until 50 %, 90 %, 99 % and all of the nodes were at their outbound target).
 * A measurement, not a test: it exits 0 whatever the figures.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import * as os from 'node:os'
import { Simulation } from '../../lib/testing/simulation.js'

interface Args { nodes: number, minutes: number, seed: string, latency: number, spread: number, ping?: number, json?: string }

function parseArgs (argv: string[]): Args {
  const a: Args = { nodes: 1000, minutes: 60, seed: 'bench', latency: 5, spread: 60000 }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--nodes': a.nodes = Number(value()); break
      case '--minutes': a.minutes = Number(value()); break
      case '--seed': a.seed = value(); break
      case '--latency': a.latency = Number(value()); break
      case '--spread': a.spread = Number(value()); break
      case '--ping': a.ping = Number(value()); break
      case '--json': a.json = value(); break
      case '--help': case '-h':
        console.log('usage: npm run bench:sim -- [--nodes N] [--minutes M] [--seed S] [--latency ms] [--spread ms] [--json file]')
        process.exit(0)
        break
      default: throw new Error(`unknown argument ${flag} (try --help)`)
    }
  }
  return a
}

/** CPU seconds of this process's main thread (Linux /proc; GC and worker threads left out), or undefined elsewhere. */
function mainThreadCpuS (): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks of 1/100 s
  } catch {
    return undefined
  }
}

function fmt (ms: number | undefined): string {
  if (ms === undefined) return 'not reached'
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(2)} min` : `${(ms / 1000).toFixed(1)} s`
}

async function main (): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const cpus = os.cpus()
  console.log(`# network simulation: ${args.nodes} nodes (1 seed), ${args.minutes} virtual min, seed ${JSON.stringify(args.seed)}, latency ${args.latency} ms`)
  console.log(`node ${process.version}, ${os.platform()} ${os.release()}, ${cpus.length} × ${cpus[0]?.model ?? '?'}`)
  const t0 = performance.now()
  const cpu0 = mainThreadCpuS()
  const proc0 = process.cpuUsage()
  const sim = await Simulation.create({
    size: args.nodes,
    seed: args.seed,
    latencyMs: args.latency,
    startSpreadMs: args.spread,
    switchInit: () => args.ping === undefined ? {} : { mconnection: { pingIntervalMs: args.ping } }
  })
  const built = performance.now()
  const step = 60_000
  const rows: string[] = []
  for (let m = 1; m <= args.minutes; m++) {
    await sim.advance(step)
    const s = sim.stats()
    const line = `t=${String(m).padStart(3)} min  at target ${String(s.atTarget).padStart(5)}/${s.nodes}  knows ≥90% ${String(s.learned90).padStart(5)}/${s.nodes}  actions ${s.actions}  wall ${((performance.now() - t0) / 1000).toFixed(1)} s`
    rows.push(line)
    process.stderr.write(line + '\n')
  }
  const ran = performance.now()
  const cpu1 = mainThreadCpuS()
  const proc1 = process.cpuUsage(proc0)
  const s = sim.stats()
  const digest = sim.digest()
  await sim.stop()
  const wallS = (ran - t0) / 1000
  console.log('')
  console.log('| metric | value |')
  console.log('|---|---|')
  console.log(`| wall time (build + ${args.minutes} virtual min) | ${wallS.toFixed(1)} s (build ${((built - t0) / 1000).toFixed(1)} s) |`)
  console.log(`| CPU: main thread / whole process | ${cpu0 === undefined || cpu1 === undefined ? '?' : (cpu1 - cpu0).toFixed(1)} s / ${((proc1.user + proc1.system) / 1e6).toFixed(1)} s (load average at the end ${os.loadavg()[0]!.toFixed(2)}) |`)
  console.log(`| scheduler events | ${s.actions} (${Math.round(s.actions / wallS).toLocaleString('en-US')} /s) |`)
  console.log(`| event-loop turns (one per virtual instant with work) | ${s.turns} |`)
  console.log(`| peer events (trace) | ${s.traceEvents} (${Math.round(s.traceEvents / wallS).toLocaleString('en-US')} /s) |`)
  console.log(`| 50 % of nodes at outbound target | ${fmt(s.outboundTarget.p50)} |`)
  console.log(`| 90 % of nodes at outbound target | ${fmt(s.outboundTarget.p90)} |`)
  console.log(`| 99 % of nodes at outbound target | ${fmt(s.outboundTarget.p99)} |`)
  console.log(`| all nodes at outbound target | ${fmt(s.outboundTarget.all)} |`)
  console.log(`| 50 / 90 / 99 % of nodes know ≥ 90 % of the network | ${fmt(s.learned.p50)} / ${fmt(s.learned.p90)} / ${fmt(s.learned.p99)} |`)
  console.log(`| at the end: at target / know ≥ 90 % | ${s.atTarget}/${s.nodes} / ${s.learned90}/${s.nodes} |`)
  console.log(`| trace digest | ${digest.slice(0, 16)}… |`)
  console.log(`| peak RSS | ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB |`)
  if (args.json !== undefined) writeFileSync(args.json, JSON.stringify({ args, wallS, mainThreadCpuS: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0, stats: s, digest, minutes: rows }, null, 2))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
