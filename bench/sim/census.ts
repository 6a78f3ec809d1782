/**
 * A census of the simulation: what every honest node's PEX reactor did in each step of virtual time, and how
 * big the books are. The tool behind the PEX counts of BENCHMARKS.md ("Profiles, fixes and figures at scale").
 *
 * ```
 * node --import tsx bench/sim/census.ts --nodes 1000 --minutes 60 --faults      # the flags of bench/sim/run.ts
 * STEP=15000 node --max-old-space-size=7600 --import tsx bench/sim/census.ts --nodes 10000 --minutes 1 --faults
 * ```
 *
 * Per step: wall time; PEX requests sent, answers received (addresses, new ones), answers from attacker nodes
 * (and what they added), requests answered, dials; the mean and largest honest book and how many still need
 * addresses (`needMoreAddrs`); scheduler actions, peer events, memory and connected peer ends. A SIGTERM ends
 * the run where it is (so that `--cpu-prof` / `--heap-prof` write their files). A measurement, not a test.
 */
import { Simulation } from '../../lib/testing/index.js'
import { parseSimArgs, simInit } from './args.js'

const step = Number(process.env['STEP'] ?? 60_000)
const args = parseSimArgs(process.argv.slice(2))
const sim = await Simulation.create(simInit(args))
process.on('SIGTERM', () => {
  console.log(`SIGTERM at virtual ${sim.now()} ms`)
  process.exit(0)
})

const c = { req: 0, recv: 0, addrs: 0, added: 0, fromAttacker: 0, addedFromAttacker: 0, answered: 0, dials: 0 }
const attackerIds = new Set(sim.nodes.filter((n) => n.attack !== undefined).map((n) => n.address.id))
const watched = new WeakSet<object>()
// Restarted nodes get a new PEX reactor: watch each one once.
const watch = (): void => {
  for (const n of sim.nodes) {
    if (watched.has(n.pex) || n.attack === 'poison') continue
    watched.add(n.pex)
    n.pex.events$.subscribe((e) => {
      if (e.type === 'request-sent') c.req++
      else if (e.type === 'addrs-received') {
        c.recv++
        c.addrs += e.count
        c.added += e.added
        if (attackerIds.has(e.peer.id)) {
          c.fromAttacker++
          c.addedFromAttacker += e.added
        }
      } else if (e.type === 'request-answered') c.answered++
      else if (e.type === 'dial') c.dials++
    })
  }
}
watch()
const mib = (n: number): string => (n / 2 ** 20).toFixed(0)
const t0 = performance.now()
for (let k = 1; k <= Math.round(args.minutes * 60_000 / step); k++) {
  const w0 = performance.now()
  await sim.advance(step)
  watch()
  let size = 0
  let need = 0
  let n = 0
  let maxSize = 0
  let peers = 0
  for (const node of sim.nodes) {
    peers += node.switch.peers.size
    if (node.attack !== undefined || node.isSeed) continue
    n++
    const s = node.pex.book.size
    size += s
    if (s > maxSize) maxSize = s
    if (node.pex.book.needMoreAddrs()) need++
  }
  const m = process.memoryUsage()
  const st = sim.stats()
  console.log(`t=${(sim.now() / 1000).toFixed(0)}s wall ${((performance.now() - w0) / 1000).toFixed(1)}s total ${((performance.now() - t0) / 1000).toFixed(0)}s` +
    ` requests ${c.req} answers ${c.recv} addrs ${c.addrs} new ${c.added} from-attackers ${c.fromAttacker}/${c.addedFromAttacker}` +
    ` answered ${c.answered} dials ${c.dials} book mean ${(size / n).toFixed(0)} max ${maxSize} needMore ${need}/${n}` +
    ` actions ${st.actions} peer-events ${st.traceEvents} rss ${mib(m.rss)} heap ${mib(m.heapUsed)} MiB peer-ends ${peers}`)
  for (const key of Object.keys(c) as Array<keyof typeof c>) c[key] = 0
}
console.log(`digest ${sim.digest()}`)
process.exit(0)
