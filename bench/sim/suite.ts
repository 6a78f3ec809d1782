/**
 * The network simulation in the bench registry (`npm run bench -- --case sim`): runs `sim/run.ts` (1,000 nodes of
 * the real Switch + PEX for one virtual hour; with `--quick`, 200 nodes for 10 virtual minutes) in a child
 * process and reports its figures. The target of issue 5: the hour of 1,000 nodes in under 60 s of wall time.
 *
 * `npm run bench:sim` runs the same script directly, with its per-minute progress.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { BenchCase, CaseResult, Metrics, Registry, RunOptions } from '../harness/case.js'
import { fmt } from '../harness/pair.js'
import { BENCH_DIR } from '../harness/workers.js'

/** Target of issue 5: the virtual hour of 1,000 nodes in under this many seconds of wall time. */
export const SIM_TARGET_WALL_S = 60

interface SimJson {
  wallS: number
  mainThreadCpuS?: number
  stats: {
    actions: number
    traceEvents: number
    outboundTarget: { p50?: number, p90?: number, p99?: number, all?: number }
    learned: { p50?: number, p90?: number, p99?: number, all?: number }
  }
  digest: string
}

async function runScript (args: string[], log: (line: string) => void): Promise<SimJson> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rx-bench-sim-'))
  const out = path.join(dir, 'sim.json')
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'sim', 'run.ts'), ...args, '--json', out], { cwd: BENCH_DIR, stdio: ['ignore', 'ignore', 'pipe'] })
      let last = ''
      child.stderr.on('data', (b: Buffer) => {
        for (const line of b.toString().split('\n')) if (line.startsWith('t=')) last = line
      })
      const progress = setInterval(() => { if (last !== '') log(`  ${last}`) }, 15_000)
      child.on('error', reject)
      child.on('exit', (code) => {
        clearInterval(progress)
        if (code === 0) resolve()
        else reject(new Error(`sim/run.ts exited with ${code}`))
      })
    })
    return JSON.parse(readFileSync(out, 'utf8')) as SimJson
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const minutes = (ms: number | undefined): number | undefined => ms === undefined ? undefined : ms / 60_000

function simCase (id: string, nodes: number, virtualMinutes: number): BenchCase {
  return {
    id,
    group: 'sim',
    title: `${nodes} nodes, ${virtualMinutes} virtual min`,
    description: `${nodes} Switch + PEX nodes bootstrapped from one seed over the in-memory transport (5 ms latency), joining over the first virtual minute`,
    run: async (opts: RunOptions): Promise<Metrics> => {
      const [n, m] = opts.quick ? [Math.min(nodes, 200), Math.min(virtualMinutes, 10)] : [nodes, virtualMinutes]
      const r = await runScript(['--nodes', String(n), '--minutes', String(m), '--spread', '60000'], opts.log)
      return {
        nodes: n,
        virtualMinutes: m,
        wallS: r.wallS,
        cpuS: r.mainThreadCpuS,
        events: r.stats.actions,
        eventsPerS: r.stats.actions / r.wallS,
        p50Min: minutes(r.stats.outboundTarget.p50),
        p90Min: minutes(r.stats.outboundTarget.p90),
        p99Min: minutes(r.stats.outboundTarget.p99),
        allMin: minutes(r.stats.outboundTarget.all),
        learned90Min: minutes(r.stats.learned.all),
        digest: r.digest.slice(0, 16)
      }
    }
  }
}

const num = (r: CaseResult, k: string): number | undefined => {
  const v = r.metrics[k]
  return typeof v === 'number' ? v : undefined
}

/** Registers the `sim` group, its case and its target. */
export function registerSimSuite (reg: Registry): void {
  reg.addGroup({
    id: 'sim',
    title: 'Network simulation: real Switch + PEX nodes from one seed, in virtual time',
    columns: [
      { header: 'case', align: 'left', cell: (r) => r.case.title },
      { header: 'id', align: 'left', cell: (r) => r.case.id },
      { header: 'nodes × virtual min (as run)', cell: (r) => `${num(r, 'nodes') ?? '–'} × ${num(r, 'virtualMinutes') ?? '–'}` },
      { header: 'wall s', cell: (r) => fmt(num(r, 'wallS')) },
      { header: 'main-thread CPU s', cell: (r) => fmt(num(r, 'cpuS')) },
      { header: 'events', cell: (r) => String(num(r, 'events') ?? '–') },
      { header: 'events/s', cell: (r) => fmt(num(r, 'eventsPerS')) },
      { header: '50/90/99/100 % at outbound target (virtual min)', cell: (r) => ['p50Min', 'p90Min', 'p99Min', 'allMin'].map((k) => fmt(num(r, k))).join(' / ') },
      { header: 'all know ≥ 90 % (virtual min)', cell: (r) => fmt(num(r, 'learned90Min')) },
      { header: 'trace digest', align: 'left', cell: (r) => String(r.metrics.digest ?? '–') }
    ],
    notes: ['events = virtual-clock actions executed (timers, deliveries); one run (no repetitions): the run is deterministic, only its wall time varies.']
  })
  reg.add(simCase('sim-1000', 1000, 60))
  reg.addTarget({
    id: 'sim-wall',
    description: `1,000 nodes for one virtual hour in < ${SIM_TARGET_WALL_S} s of wall time`,
    check: (res) => {
      const r = res.get('sim-1000')
      if (r === undefined || r.error !== undefined || num(r, 'nodes') !== 1000) return undefined
      const wall = num(r, 'wallS')
      return wall === undefined ? undefined : { pass: wall < SIM_TARGET_WALL_S, detail: `${fmt(wall)} s wall (${fmt(num(r, 'cpuS'))} s main-thread CPU)` }
    }
  })
}
