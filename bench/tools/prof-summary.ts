/**
 * Summarizes V8 CPU profiles (`.cpuprofile`, as written by `node --cpu-prof` or `run.ts --cpu-prof <dir>`):
 * the functions with the most self time, and (with `--total`) with the most total time.
 *
 * ```
 * node --import tsx tools/prof-summary.ts <file-or-dir>... [--top N] [--total] [--callers <function name>]
 * ```
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }
interface Profile { nodes: Node[], samples?: number[], timeDeltas?: number[], startTime: number, endTime: number }

function files (args: string[]): string[] {
  const out: string[] = []
  for (const a of args) {
    if (fs.statSync(a).isDirectory()) {
      for (const f of fs.readdirSync(a, { recursive: true }) as string[]) if (f.endsWith('.cpuprofile')) out.push(path.join(a, f))
    } else out.push(a)
  }
  return out
}

function label (n: Node): string {
  const f = n.callFrame
  const file = f.url === '' ? '' : ` ${f.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules\/|lib\/|bench\/)/, '$1')}:${f.lineNumber + 1}`
  return `${f.functionName === '' ? '(anonymous)' : f.functionName}${file}`
}

function summarize (file: string, top: number, total: boolean, callers?: string): void {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map<number, number>()
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i] ?? 0))
  const all = [...self.values()].reduce((a, b) => a + b, 0)
  const idle = [...self].filter(([id]) => ['(idle)', '(program)', '(garbage collector)'].includes(byId.get(id)!.callFrame.functionName))
  const selfBy = new Map<string, number>()
  const totalBy = new Map<string, number>()
  for (const [id, t] of self) {
    selfBy.set(label(byId.get(id)!), (selfBy.get(label(byId.get(id)!)) ?? 0) + t)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!)
      if (seen.has(l)) continue
      seen.add(l)
      totalBy.set(l, (totalBy.get(l) ?? 0) + t)
    }
  }
  console.log(`\n== ${file}: ${(all / 1000).toFixed(0)} ms sampled; ${idle.map(([id, t]) => `${byId.get(id)!.callFrame.functionName} ${(t / all * 100).toFixed(1)}%`).join(', ')}`)
  const show = (m: Map<string, number>, title: string): void => {
    console.log(`-- ${title}`)
    for (const [l, t] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(t / all * 100).toFixed(1).padStart(6)}%  ${l}`)
  }
  show(selfBy, 'self')
  if (total) show(totalBy, 'total')
  if (callers !== undefined) {
    // time spent in functions named `callers`, by call path (5 frames up)
    const paths = new Map<string, number>()
    for (const [id, t] of self) {
      const chain: string[] = []
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) chain.push(label(byId.get(cur)!))
      const i = chain.findIndex((l) => l.startsWith(callers + ' ') || l === callers)
      if (i < 0) continue
      const key = chain.slice(i, i + 6).join(' ← ')
      paths.set(key, (paths.get(key) ?? 0) + t)
    }
    show(paths, `callers of ${callers}`)
  }
}

const args = process.argv.slice(2)
let top = 25
let total = false
let callers: string | undefined
const rest: string[] = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i])
  else if (args[i] === '--total') total = true
  else if (args[i] === '--callers') callers = args[++i]
  else rest.push(args[i]!)
}
for (const f of files(rest)) summarize(f, top, total, callers)
