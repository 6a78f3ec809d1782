/**
 * The crawl report as a file: the JSON text `rx-p2p crawl` prints or writes.
 *
 * @module
 */
import { rename, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { CrawlReport } from './report.js'

/**
 * The report as JSON text: two-space indents, a final newline.
 *
 * @example
 * ```ts
 * process.stdout.write(formatCrawlReport(await new Crawler({ seeds }).run()))
 * ```
 */
export function formatCrawlReport (report: CrawlReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}

/**
 * Writes the report as {@link formatCrawlReport} text to `path`, through a temporary file beside it that is
 * renamed into place, so a reader never sees half a report.
 *
 * @example
 * ```ts
 * await writeCrawlReport('report.json', report)
 * ```
 */
export async function writeCrawlReport (path: string, report: CrawlReport): Promise<void> {
  const target = resolve(path)
  const tmp = `${target}.${process.pid}.tmp`
  await writeFile(tmp, formatCrawlReport(report))
  await rename(tmp, target)
}
