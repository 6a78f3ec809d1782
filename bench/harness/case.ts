/**
 * The case registry: every benchmark (throughput pairs, handshakes, and later the 1,000-peer scale test, the
 * network simulation, the Go MConnection comparison) is a {@link BenchCase} with an id, a group and a `run`
 * that returns named metrics. The runner runs the selected cases one after the other; the table printer shows
 * each group with the columns it declares; targets read the results of the whole run.
 *
 * @module
 */

/** How hard to run. */
export interface RunOptions {
  /** A short smoke run: fewer, shorter repetitions. */
  readonly quick: boolean
  /** Timed repetitions per case (after one untimed warm-up). */
  readonly reps: number
  /** Progress output (stderr). */
  readonly log: (line: string) => void
  /** Before each case, wait up to this many seconds for the machine to be idle (0 = do not wait). */
  readonly waitIdleSeconds?: number
  /**
   * A timed repetition during which other processes used more than this share of the machine's CPUs is
   * repeated (at most 3 × reps times per case). @default Infinity (keep every repetition)
   */
  readonly maxForeign?: number
}

/** A metric value: a number, a list of samples, or text. */
export type MetricValue = number | string | number[] | undefined

/** What a case returns. */
export type Metrics = Record<string, MetricValue>

/** One benchmark. */
export interface BenchCase {
  /** Unique, kebab-case, used by `--case` (`mconn-1k`). */
  readonly id: string
  /** The table it is printed in (`plain`, `encrypted`, `handshake`, ...). */
  readonly group: string
  /** A human label (`rx-p2p MConnection`). */
  readonly title: string
  /** Message size in bytes, when the case has one. */
  readonly size?: number
  /** Id of the case its figures are divided by (raw TCP at the same size). */
  readonly baseline?: string
  /** Short description of the setup, for the report. */
  readonly description?: string
  /** Runs the case and returns its metrics. */
  run (opts: RunOptions): Promise<Metrics>
}

/** The result of one case in a run. */
export interface CaseResult {
  readonly case: BenchCase
  readonly metrics: Metrics
  /** Set when the case failed; `metrics` is then empty. */
  readonly error?: string
  /** Wall time the case took, in seconds. */
  readonly seconds: number
  /** How busy the whole machine was (0..1) just before the case started, when known. */
  readonly busyBefore?: number
}

/** Results by case id. */
export type Results = ReadonlyMap<string, CaseResult>

/** A column of a group's table. */
export interface Column {
  readonly header: string
  /** Formats the cell; `results` gives access to other cases (ratios). */
  readonly cell: (r: CaseResult, results: Results) => string
  readonly align?: 'left' | 'right'
}

/** A group: a title and the columns of its table. */
export interface Group {
  readonly id: string
  readonly title: string
  readonly columns: readonly Column[]
  /** Lines printed under the table. */
  readonly notes?: readonly string[]
}

/** A target checked against a run's results. */
export interface Target {
  readonly id: string
  readonly description: string
  /**
   * Returns `undefined` when the run lacks the cases the target needs (not selected, or failed); else whether
   * it passed and the figures that decided it.
   */
  readonly check: (results: Results) => { pass: boolean, detail: string } | undefined
}

import { cpuBusy, waitIdle } from './quiet.js'

/** Cases, groups and targets, in registration order. */
export class Registry {
  readonly cases: BenchCase[] = []
  readonly groups = new Map<string, Group>()
  readonly targets: Target[] = []

  addGroup (g: Group): this {
    this.groups.set(g.id, g)
    return this
  }

  add (...cs: BenchCase[]): this {
    for (const c of cs) {
      if (this.cases.some((x) => x.id === c.id)) throw new Error(`duplicate case id ${c.id}`)
      if (!this.groups.has(c.group)) throw new Error(`case ${c.id}: unknown group ${c.group}`)
      this.cases.push(c)
    }
    return this
  }

  addTarget (...ts: Target[]): this {
    this.targets.push(...ts)
    return this
  }

  get (id: string): BenchCase | undefined {
    return this.cases.find((c) => c.id === id)
  }

  /**
   * The cases `patterns` name (ids, or globs with `*`), in registration order; with `withBaselines`, also the
   * baselines they are compared with.
   */
  select (patterns: readonly string[], withBaselines = true): BenchCase[] {
    if (patterns.length === 0) return [...this.cases]
    const res = patterns.map((p) => new RegExp('^' + p.split('*').map(escapeRe).join('.*') + '$'))
    const chosen = new Set<string>()
    for (const [i, re] of res.entries()) {
      const hit = this.cases.filter((c) => re.test(c.id) || re.test(c.group))
      if (hit.length === 0) throw new Error(`no case matches '${patterns[i]}' (see --list)`)
      for (const c of hit) chosen.add(c.id)
    }
    if (withBaselines) {
      for (const id of [...chosen]) {
        const b = this.get(id)?.baseline
        if (b !== undefined) chosen.add(b)
      }
    }
    return this.cases.filter((c) => chosen.has(c.id))
  }
}

function escapeRe (s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
}

/** Runs `cases` in order; a failing case is recorded and the run goes on. */
export async function runCases (cases: readonly BenchCase[], opts: RunOptions): Promise<Map<string, CaseResult>> {
  const results = new Map<string, CaseResult>()
  for (const c of cases) {
    opts.log(`▶ ${c.id} (${c.title})`)
    const busyBefore = (opts.waitIdleSeconds ?? 0) > 0 ? await waitIdle(opts.waitIdleSeconds!, 0.15, opts.log) : await cpuBusy(300)
    if (busyBefore !== undefined) opts.log(`  machine ${(busyBefore * 100).toFixed(0)}% busy before the case`)
    const t0 = performance.now()
    try {
      const metrics = await c.run(opts)
      results.set(c.id, { case: c, metrics, seconds: (performance.now() - t0) / 1000, busyBefore })
    } catch (err) {
      const e = err as Error
      opts.log(`  ✗ ${c.id} failed: ${e.stack ?? e.message}`)
      results.set(c.id, { case: c, metrics: {}, error: e.message, seconds: (performance.now() - t0) / 1000, busyBefore })
    }
  }
  return results
}
