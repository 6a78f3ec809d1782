/**
 * Prints results as Markdown tables (so a run's output pastes straight into BENCHMARKS.md), one per group,
 * and the targets as PASS / MISS lines.
 *
 * @module
 */
import type { CaseResult, Group, Registry, Results, Target } from './case.js'

/** Renders rows as a Markdown table with padded columns. */
export function markdownTable (headers: readonly string[], rows: ReadonlyArray<readonly string[]>, align: ReadonlyArray<'left' | 'right'>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length), 3))
  const pad = (s: string, i: number): string => align[i] === 'right' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)
  const line = (cells: readonly string[]): string => '| ' + cells.map((c, i) => pad(c, i)).join(' | ') + ' |'
  const sep = '|' + widths.map((w, i) => align[i] === 'right' ? '-'.repeat(w + 1) + ':' : ':' + '-'.repeat(w + 1)).join('|') + '|'
  return [line(headers), sep, ...rows.map(line)].join('\n')
}

/** One group's table, or '' when none of its cases ran. */
export function groupTable (group: Group, rows: readonly CaseResult[], results: Results): string {
  if (rows.length === 0) return ''
  const headers = group.columns.map((c) => c.header)
  const align = group.columns.map((c) => c.align ?? 'right')
  const body = rows.map((r) => group.columns.map((c) => r.error !== undefined && c !== group.columns[0] ? 'error' : c.cell(r, results)))
  const notes = (group.notes ?? []).map((n) => `\n${n}`).join('')
  return `### ${group.title}\n\n${markdownTable(headers, body, align)}\n${notes}`
}

/** Every group's table, in registration order. */
export function resultTables (registry: Registry, results: Results): string {
  const out: string[] = []
  for (const g of registry.groups.values()) {
    const rows = [...results.values()].filter((r) => r.case.group === g.id)
    const t = groupTable(g, rows, results)
    if (t !== '') out.push(t)
  }
  const failed = [...results.values()].filter((r) => r.error !== undefined)
  if (failed.length > 0) out.push('Failed cases:\n' + failed.map((r) => `- ${r.case.id}: ${r.error ?? ''}`).join('\n'))
  return out.join('\n\n')
}

/** Target lines: `PASS`/`MISS` with the deciding figures; targets whose cases did not run are counted in one line. */
export function targetLines (targets: readonly Target[], results: Results): { text: string, pass: number, miss: number } {
  let pass = 0
  let miss = 0
  const lines: string[] = []
  let skipped = 0
  for (const t of targets) {
    const r = t.check(results)
    if (r === undefined) {
      skipped++
      continue
    }
    if (r.pass) pass++
    else miss++
    lines.push(`- [${r.pass ? 'PASS' : 'MISS'}] ${t.description}: ${r.detail}`)
  }
  if (skipped > 0) lines.push(`- (${skipped} target${skipped === 1 ? '' : 's'} of cases that did not run: not measured)`)
  return { text: lines.join('\n'), pass, miss }
}
