/**
 * The command line of `bench/sim/run.ts` (`npm run bench:sim -- …`), parsed into a `SimulationInit`: also what
 * a failed chaos invariant's replay command (`Simulation.replayCommand()`) is parsed by.
 *
 * @module
 */
import { CHAOS_FLAGS, type ChaosInit, type SimulationInit } from '../../lib/testing/index.js'

/** The parsed command line. */
export interface SimArgs {
  nodes: number
  minutes: number
  seed: string
  seeds?: number
  latency?: number
  spread: number
  outbound?: number
  inbound?: number
  ping?: number
  json?: string
  /** Stop after the first virtual minute that ends past this many seconds of wall time (a bounded measurement). */
  wallLimitS?: number
  /** Set by `--chaos` (with any chaos flags after it) or `--faults` (the benchmark's standard mix). */
  chaos?: ChaosInit
}

/** The flags, for `--help`. */
export const USAGE = `usage: npm run bench:sim -- [--nodes N] [--minutes M] [--seed S] [--seeds K] [--latency ms] [--spread ms]
  [--outbound N] [--inbound N] [--ping ms] [--json file] [--wall-limit s]
  [--faults]        the standard fault mix (see BENCHMARKS.md), printed as --chaos flags
  [--chaos ${Object.values(CHAOS_FLAGS).map((f) => `[${f} n]`).join(' ')}]`

/**
 * The standard fault mix of the benchmark for `nodes` nodes: 5 % of the nodes crash and 5 % leave per virtual
 * hour (back after a minute), a partition of 10 % of the honest nodes every 15 virtual minutes for 2, one chunk
 * in 100,000 lost on every link, 3 % of the nodes attackers (poison, squat, silent), invariants every 30 s.
 */
export function standardFaults (nodes: number): ChaosInit {
  return {
    linkLoss: 0.00001,
    crashesPerHour: Math.max(1, Math.round(nodes * 0.05)),
    churnPerHour: Math.max(1, Math.round(nodes * 0.05)),
    restartAfterMs: 60_000,
    partitionEveryMs: 15 * 60_000,
    partitionMs: 2 * 60_000,
    partitionShare: 0.1,
    attackers: 0.03,
    checkEveryMs: 30_000
  }
}

const chaosKeyByFlag = new Map<string, keyof ChaosInit>(Object.entries(CHAOS_FLAGS).map(([k, f]) => [f, k as keyof ChaosInit]))

/** Parses the arguments (after `--`); throws on an unknown flag or a missing value. */
export function parseSimArgs (argv: readonly string[]): SimArgs {
  const a: SimArgs = { nodes: 1000, minutes: 60, seed: 'bench', spread: 60000 }
  let faults = false
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    const num = (): number => {
      const v = Number(value())
      if (!Number.isFinite(v)) throw new Error(`${flag} needs a number`)
      return v
    }
    const chaosKey = chaosKeyByFlag.get(flag)
    if (chaosKey !== undefined) {
      a.chaos ??= {}
      a.chaos[chaosKey] = num()
      continue
    }
    switch (flag) {
      case '--nodes': a.nodes = num(); break
      case '--minutes': a.minutes = num(); break
      case '--seed': {
        const v = value()
        a.seed = v.startsWith('"') ? JSON.parse(v) as string : v
        break
      }
      case '--seeds': a.seeds = num(); break
      case '--latency': a.latency = num(); break
      case '--spread': a.spread = num(); break
      case '--outbound': a.outbound = num(); break
      case '--inbound': a.inbound = num(); break
      case '--ping': a.ping = num(); break
      case '--json': a.json = value(); break
      case '--wall-limit': a.wallLimitS = num(); break
      case '--chaos': a.chaos ??= {}; break
      case '--faults': faults = true; break
      default: throw new Error(`unknown argument ${flag} (try --help)`)
    }
  }
  if (faults) a.chaos = { ...standardFaults(a.nodes), ...a.chaos }
  return a
}

/** The `SimulationInit` of parsed arguments. */
export function simInit (a: SimArgs): SimulationInit {
  const init: SimulationInit = { size: a.nodes, seed: a.seed, startSpreadMs: a.spread }
  if (a.seeds !== undefined) init.seeds = a.seeds
  if (a.latency !== undefined) init.latencyMs = a.latency
  if (a.outbound !== undefined) init.maxOutboundPeers = a.outbound
  if (a.inbound !== undefined) init.maxInboundPeers = a.inbound
  if (a.ping !== undefined) {
    const ping = a.ping
    init.switchInit = () => ({ mconnection: { pingIntervalMs: ping } })
  }
  if (a.chaos !== undefined) init.chaos = a.chaos
  return init
}
