/**
 * The network simulation benchmark: `npm run bench:sim` from the repository root.
 *
 * ```
 * node --import tsx bench/sim/run.ts [--nodes 1000] [--minutes 60] [--seed bench] [--latency 5] [--spread 60000] [--ping ms] [--json <file>] [--wall-limit s]
 * node --import tsx bench/sim/run.ts --nodes 10000 --faults            # with the standard fault mix (args.ts)
 * node --import tsx bench/sim/run.ts --chaos --crashes 100 --attackers 0.05 ...   # any chaos (the replay of a failed invariant)
 * ```
 *
 * Builds a network of real Switch + PEX nodes bootstrapped from one seed over the in-memory transport, runs it
 * for the given virtual time on the Simulation's virtual clock, and prints wall time, events per second and the
 * convergence curve (virtual time until 50 %, 90 %, 99 % and all of the nodes were at their outbound target).
 * A measurement, not a test: it exits 0 whatever the figures.
 */
import { writeFileSync, readFileSync } from 'node:fs'
import * as os from 'node:os'
import { chaosFlags, Simulation } from '../../lib/testing/index.js'
import { parseSimArgs, simInit, USAGE } from './args.js'

function parseArgs (argv: string[]): ReturnType<typeof parseSimArgs> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE)
    process.exit(0)
  }
  return parseSimArgs(argv)
}

const mib = (bytes: number): number => Math.round(bytes / 2 ** 20)

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
  console.log(`# network simulation: ${args.nodes} nodes (${args.seeds ?? 1} seed), ${args.minutes} virtual min, seed ${JSON.stringify(args.seed)}, latency ${args.latency ?? 5} ms`)
  if (args.chaos !== undefined) console.log(`chaos: --chaos ${chaosFlags(args.chaos).join(' ')}`)
  console.log(`node ${process.version}, ${os.platform()} ${os.release()}, ${cpus.length} × ${cpus[0]?.model ?? '?'}`)
  const t0 = performance.now()
  const cpu0 = mainThreadCpuS()
  const proc0 = process.cpuUsage()
  const sim = await Simulation.create(simInit(args))
  const built = performance.now()
  const step = 60_000
  const rows: string[] = []
  const rssAt: number[] = []
  let minutes = 0
  for (let m = 1; m <= args.minutes; m++) {
    try {
      await sim.advance(step)
    } catch (err) {
      console.error(String((err as Error).message ?? err))
      process.exit(1)
    }
    const s = sim.stats()
    const c = sim.chaosStats()
    const rss = process.memoryUsage().rss
    rssAt.push(rss)
    const chaosPart = c === undefined ? '' : `  crashes ${c.crashes} leaves ${c.leaves} partitions ${c.partitions} cut ${c.cutConnections} book junk ${(c.attackerBookShare.mean * 100).toFixed(1)}%`
    const line = `t=${String(m).padStart(3)} min  at target ${String(s.atTarget).padStart(5)}/${s.nodes}  knows ≥90% ${String(s.learned90).padStart(5)}/${s.nodes}  actions ${s.actions}  rss ${mib(rss)} MiB${chaosPart}  wall ${((performance.now() - t0) / 1000).toFixed(1)} s`
    rows.push(line)
    process.stderr.write(line + '\n')
    minutes = m
    if (args.wallLimitS !== undefined && (performance.now() - t0) / 1000 > args.wallLimitS && m < args.minutes) {
      console.log(`stopped at the wall limit (--wall-limit ${args.wallLimitS}) after ${m} of ${args.minutes} virtual min`)
      break
    }
  }
  const ran = performance.now()
  const cpu1 = mainThreadCpuS()
  const proc1 = process.cpuUsage(proc0)
  const s = sim.stats()
  const c = sim.chaosStats()
  const components = c === undefined ? undefined : sim.honestComponents()
  const digest = sim.digest()
  // A run stopped at its wall limit is not stopped node by node (10,000 Switches flushing take minutes): the process exits.
  if (minutes === args.minutes) await sim.stop()
  const wallS = (ran - t0) / 1000
  console.log('')
  console.log('| metric | value |')
  console.log('|---|---|')
  console.log(`| wall time (build + ${minutes} virtual min) | ${wallS.toFixed(1)} s (build ${((built - t0) / 1000).toFixed(1)} s) |`)
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
  const peakRss = process.resourceUsage().maxRSS * 1024
  console.log(`| peak RSS | ${mib(peakRss)} MiB |`)
  if (c !== undefined) {
    console.log(`| chaos: crashes / leaves / restarts | ${c.crashes} / ${c.leaves} / ${c.restarts} |`)
    console.log(`| chaos: partitions / heals, virtual s until the honest graph was whole again | ${c.partitions} / ${c.heals}, ${c.reconnectMs.map((ms) => (ms / 1000).toFixed(0)).join(', ') || '–'} |`)
    console.log(`| chaos: connections cut / chunks lost / squatting connections | ${c.cutConnections} / ${c.droppedChunks} / ${c.squatConnections} |`)
    console.log(`| invariant checks / violations | ${c.checks} / ${c.violations.length} |`)
    console.log(`| most peers of an honest node (outbound / inbound) | ${c.maxPeers.outbound} / ${c.maxPeers.inbound} |`)
    console.log(`| most bytes held by an honest node for its connections / by an attacker | ${c.maxBufferedBytes} / ${c.maxAttackerBufferedBytes} |`)
    console.log(`| most messages queued by an honest node | ${c.maxQueuedMessages} |`)
    console.log(`| share of honest books that is junk or attackers (mean at the end / max) | ${(c.attackerBookShare.mean * 100).toFixed(1)} % / ${(c.attackerBookShare.max * 100).toFixed(1)} % |`)
    console.log(`| honest graph at the end (non-seed nodes up ≥ 1 min) | ${components!.components} component(s), ${components!.nodes} nodes, largest ${components!.largest} |`)
  }
  if (args.json !== undefined) writeFileSync(args.json, JSON.stringify({ args, virtualMinutes: minutes, wallS, peakRssMiB: mib(peakRss), rssMiB: rssAt.map(mib), mainThreadCpuS: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0, stats: s, chaos: c === undefined ? undefined : { ...c, violations: c.violations.map((v) => v.message) }, digest, minutes: rows }, null, 2))
}

main().then(() => { process.exit(0) }, (err: unknown) => {
  console.error(err)
  process.exit(1)
})
