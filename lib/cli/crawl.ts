/**
 * `rx-p2p crawl`: walks a network through PEX and writes a JSON report.
 *
 * @module
 */
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { interval, type Subscription } from 'rxjs'
import { Crawler, type CrawlInit, type CrawlStats } from '../crawler/crawler.js'
import { DEFAULT_CRAWL_CONCURRENCY } from '../crawler/defaults.js'
import type { CrawlEvent } from '../crawler/events.js'
import type { CrawlReport } from '../crawler/report.js'
import { formatCrawlReport, writeCrawlReport } from '../crawler/report-file.js'
import { InvalidAddressError } from '../errors.js'
import { NetAddress } from '../transport/net-address.js'
import {
  EXIT_FAILURE, UsageError, describeError, flag, parseCommandArgs, parseCount, parseDuration, println, stringOption,
  type CliContext
} from './args.js'

/** The crawl's default time limit: 60 s. */
export const DEFAULT_CLI_CRAWL_TIMEOUT = '60s'

/** How often a one-line summary is printed while the crawl runs, by default. */
export const DEFAULT_PROGRESS_INTERVAL = '5s'

/** `rx-p2p crawl --help`. */
export const CRAWL_USAGE = `usage: rx-p2p crawl <id@host:port>... [options]

Walks a network through PEX from its seeds: dials each node, asks it for addresses, hangs up, and goes on
with every node it heard of. Progress goes to stderr; the JSON report to --out (or stdout).

options:
  --network <chain-id>      the network to crawl (default: learned from the first seed that answers)
  --out <file>              where to write the report, '-' for stdout (default: stdout)
  --max-nodes <n>           contact at most n nodes
  --timeout <duration>      stop after this long, e.g. 90s, 5m, 1h, 1500ms (default: ${DEFAULT_CLI_CRAWL_TIMEOUT})
  --concurrency <n>         nodes contacted at once (default: ${DEFAULT_CRAWL_CONCURRENCY})
  --pex-timeout <duration>  how long a reached node has to answer (default: 10s)
  --dial-timeout <duration> TCP connect deadline (default: 3s)
  --allow-private           also dial private and loopback addresses heard through PEX
                            (CometBFT's addr_book_strict = false); seeds are always dialed
  --moniker <name>          the moniker we show (default: rx-p2p-crawler)
  --progress-interval <duration>  how often a one-line summary is printed, 0 for never (default: ${DEFAULT_PROGRESS_INTERVAL})
  -q, --quiet               no line per node (the periodic and final summaries remain)
  -h, --help                this help

Ctrl-C stops the crawl and still writes the report (a second Ctrl-C quits at once).
Exit status: 0 when at least one node was reached, 1 when none was, 2 on a usage error.
`

const OPTIONS = {
  network: { type: 'string' },
  out: { type: 'string', short: 'o' },
  'max-nodes': { type: 'string' },
  timeout: { type: 'string' },
  concurrency: { type: 'string' },
  'pex-timeout': { type: 'string' },
  'dial-timeout': { type: 'string' },
  'allow-private': { type: 'boolean' },
  moniker: { type: 'string' },
  'progress-interval': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' }
} as const

/** `rx-p2p crawl`'s arguments, parsed. */
export interface CrawlArgs {
  /** The crawl's options. */
  init: CrawlInit
  /** Where the report goes; undefined for stdout. */
  out: string | undefined
  /** No line per node. */
  quiet: boolean
  /** Milliseconds between two summary lines; 0 for none. */
  progressIntervalMs: number
  /** `--help` was given. */
  help: boolean
}

/** Parses `rx-p2p crawl` arguments into the crawl's options and the output path. @throws {UsageError} */
export function parseCrawlArgs (args: readonly string[]): CrawlArgs {
  const parsed = parseCommandArgs('crawl', args, OPTIONS, true)
  if (flag(parsed, 'help')) return { init: { seeds: [] }, out: undefined, quiet: false, progressIntervalMs: 0, help: true }
  if (parsed.positionals.length === 0) throw new UsageError('crawl: give at least one seed address (id@host:port)')
  const seeds = parsed.positionals.map((s) => {
    try {
      return NetAddress.parse(s)
    } catch (err) {
      if (err instanceof InvalidAddressError) throw new UsageError(`crawl: bad seed ${JSON.stringify(s)}: ${err.message}`)
      throw err
    }
  })
  const str = (name: keyof typeof OPTIONS): string | undefined => stringOption(parsed, name)
  const init: CrawlInit = {
    seeds,
    allowPrivate: flag(parsed, 'allow-private'),
    timeoutMs: parseDuration('timeout', str('timeout') ?? DEFAULT_CLI_CRAWL_TIMEOUT)
  }
  const network = str('network')
  if (network !== undefined) {
    if (network.trim() === '') throw new UsageError('crawl: --network: empty chain ID')
    init.network = network
  }
  const moniker = str('moniker')
  if (moniker !== undefined) init.moniker = moniker
  const maxNodes = str('max-nodes')
  if (maxNodes !== undefined) init.maxNodes = parseCount('max-nodes', maxNodes)
  const concurrency = str('concurrency')
  if (concurrency !== undefined) init.concurrency = parseCount('concurrency', concurrency)
  const pexTimeout = str('pex-timeout')
  if (pexTimeout !== undefined) init.pexTimeoutMs = parseDuration('pex-timeout', pexTimeout)
  const dialTimeout = str('dial-timeout')
  if (dialTimeout !== undefined) init.dialTimeoutMs = parseDuration('dial-timeout', dialTimeout)
  const out = str('out')
  const progressIntervalMs = parseDuration('progress-interval', str('progress-interval') ?? DEFAULT_PROGRESS_INTERVAL)
  return { init, out: out === '-' ? undefined : out, quiet: flag(parsed, 'quiet'), progressIntervalMs, help: false }
}

/** Runs `rx-p2p crawl`; resolves with the exit status. @throws {UsageError} */
export async function crawlCommand (args: readonly string[], ctx: CliContext): Promise<number> {
  const { init, out, quiet, progressIntervalMs, help } = parseCrawlArgs(args)
  if (help) {
    ctx.stdout.write(CRAWL_USAGE)
    return 0
  }
  const err = ctx.stderr
  if (out !== undefined) {
    // Fail now rather than lose the report at the end.
    const where = dirname(resolve(out))
    try {
      await access(where, constants.W_OK)
    } catch {
      println(err, `rx-p2p crawl: cannot write the report: ${where} is not a writable directory`)
      return EXIT_FAILURE
    }
  }
  const crawler = new Crawler(init)
  const started = Date.now()
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1)}s`
  const log = (line: string): void => { println(err, `[${elapsed()}] ${line}`) }
  const monikers = new Map<string, string>()
  const name = (id: string): string => monikers.get(id) ?? id.slice(0, 12)

  const subs: Subscription[] = []
  subs.push(crawler.events$.subscribe((e) => {
    if (e.type === 'reached') monikers.set(e.nodeInfo.id, e.nodeInfo.moniker)
    const line = describeEvent(e, name)
    if (line !== undefined && (!quiet || e.type === 'network')) log(line)
  }))
  if (progressIntervalMs > 0) subs.push(interval(progressIntervalMs).subscribe(() => { log(progressLine(crawler.stats())) }))

  let interrupts = 0
  const removeSignal = ctx.onSignal((signal) => {
    interrupts++
    if (interrupts === 1) {
      println(err, `crawl: ${signal}: stopping, the report will still be written (again to quit at once)`)
      crawler.stop()
    } else {
      ctx.exit(130)
    }
  })

  println(err, `crawl: from ${init.seeds.length} seed${init.seeds.length === 1 ? '' : 's'}` +
    `${init.network !== undefined ? ` on network ${init.network}` : ''}, time limit ${formatMs(init.timeoutMs ?? Infinity)}` +
    `${init.maxNodes !== undefined ? `, at most ${init.maxNodes} nodes` : ''} (our ID ${crawler.nodeKey.id})`)
  let report: CrawlReport
  try {
    report = await crawler.run()
  } finally {
    for (const s of subs) s.unsubscribe()
    removeSignal()
  }

  if (out !== undefined) await writeCrawlReport(out, report)
  else ctx.stdout.write(formatCrawlReport(report))
  const s = report.summary
  println(err, `crawl ${report.stopReason} in ${(report.durationMs / 1000).toFixed(1)} s: ${s.reached} reached, ` +
    `${s.heard} heard of, ${s.failed} failed, ${s.neverTried} never tried; ${s.answered} answered PEX, ${s.edges} edge${s.edges === 1 ? '' : 's'}` +
    `${report.network !== undefined ? ` (network ${report.network})` : ''}`)
  if (out !== undefined) println(err, `report written to ${resolve(out)}`)
  return s.reached > 0 ? 0 : EXIT_FAILURE
}

/** One progress line for an event, or undefined for events not worth a line. */
function describeEvent (e: CrawlEvent, name: (id: string) => string): string | undefined {
  switch (e.type) {
    case 'network': return `network ${e.network}${e.from !== undefined ? ` (from the NodeInfo of ${e.from.toString()})` : ''}`
    case 'reached': return `reached ${e.nodeInfo.moniker} ${e.address.toString()} (${e.nodeInfo.version === '' ? 'no version' : e.nodeInfo.version})`
    case 'answered': return `${name(e.id)} answered: ${e.count} address${e.count === 1 ? '' : 'es'}, ${e.fresh} new`
    case 'no-answer': return `${name(e.id)} gave no addresses: ${describeError(e.error)}`
    case 'failed': return `failed ${e.address.toString()}: ${describeError(e.error)}${e.final ? '' : ' (trying another address)'}`
    case 'probing':
    case 'dialing':
    case 'heard':
    case 'done':
      return undefined
  }
}

function progressLine (s: CrawlStats): string {
  return `${s.heard} heard of, ${s.reached} reached, ${s.failed} failed, ${s.inFlight} in progress, ${s.queued} queued`
}

function formatMs (ms: number): string {
  if (!Number.isFinite(ms)) return 'none'
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}
