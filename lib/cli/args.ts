/**
 * Argument parsing for the `rx-p2p` command: `util.parseArgs` with usage errors, durations, counts, lists,
 * and the context every command runs in.
 *
 * @module
 */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Exit status of a usage error (unknown command or option, bad value). */
export const EXIT_USAGE = 2

/** Exit status of a failure at run time. */
export const EXIT_FAILURE = 1

/** A command line that does not parse: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** Where a command reads and writes, and how it hears of Ctrl-C (so it can be run in-process too). */
export interface CliContext {
  /** Standard output (results). */
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean }
  /** Standard error (progress, errors). */
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean }
  /** Environment variables. */
  readonly env: NodeJS.ProcessEnv
  /** Calls `handler` on SIGINT and SIGTERM until the returned function is called. */
  onSignal (handler: (signal: NodeJS.Signals) => void): () => void
  /** Ends the process at once (a second Ctrl-C). */
  exit (code: number): void
}

/** The context of the real process. */
export function processContext (): CliContext {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onSignal (handler) {
      const on = (signal: NodeJS.Signals): void => { handler(signal) }
      process.on('SIGINT', on)
      process.on('SIGTERM', on)
      return () => {
        process.off('SIGINT', on)
        process.off('SIGTERM', on)
      }
    },
    exit (code) {
      process.exit(code)
    }
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

/** The result of {@link parseCommandArgs}. */
export interface ParsedArgs {
  /** Option values by name (strings, booleans, or arrays of them for `multiple` options). */
  readonly values: Record<string, string | boolean | Array<string | boolean> | undefined>
  /** Positional arguments. */
  readonly positionals: string[]
}

/**
 * `util.parseArgs` in strict mode, with `--help`/`-h` added; its errors become {@link UsageError}s that
 * name the command.
 *
 * @throws {UsageError} an unknown option, a missing value, or positionals where none are allowed
 */
export function parseCommandArgs (command: string, args: readonly string[], options: Options, allowPositionals = false): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { help: { type: 'boolean', short: 'h' }, ...options },
      strict: true,
      allowPositionals,
      // `--no-<flag>` sets a boolean option to false (`--no-pex`).
      allowNegative: true
    })
    return { values: values as ParsedArgs['values'], positionals }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    throw new UsageError(`${command}: ${firstSentence(message)}`)
  }
}

function firstSentence (message: string): string {
  // Node adds advice on '--' after the first sentence of an unknown-option message.
  const cut = message.indexOf('. To specify a positional argument')
  return cut >= 0 ? message.slice(0, cut) : message
}

/** A string option's value, or `undefined`. */
export function stringOption (parsed: ParsedArgs, name: string): string | undefined {
  const v = parsed.values[name]
  return typeof v === 'string' ? v : undefined
}

/** A boolean option's value (false when absent). */
export function flag (parsed: ParsedArgs, name: string): boolean {
  return parsed.values[name] === true
}

/**
 * A duration: `90s`, `1.5m`, `2h`, `1500ms`; a bare number is seconds.
 *
 * @throws {UsageError} it does not parse
 */
export function parseDuration (option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (m === null) throw new UsageError(`--${option}: expected a duration such as 60s, 5m, 1h or 1500ms, got ${JSON.stringify(text)}`)
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000
  return Math.round(n * factor)
}

/**
 * A positive integer.
 *
 * @throws {UsageError} it is not one
 */
export function parseCount (option: string, text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${option}: expected a positive integer, got ${JSON.stringify(text)}`)
  }
  return Number(text)
}

/** A comma-separated list (CometBFT's `persistent_peers` / `seeds` form); empty items dropped. */
export function parseList (text: string | undefined): string[] {
  if (text === undefined) return []
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

/** The home directory: `--home`, else `$RX_P2P_HOME`, else `~/.rx-p2p`. */
export function homeDir (parsed: ParsedArgs, env: NodeJS.ProcessEnv): string {
  const given = stringOption(parsed, 'home') ?? env.RX_P2P_HOME
  return resolve(given !== undefined && given !== '' ? given : join(homedir(), '.rx-p2p'))
}

/** Paths inside a home directory, in CometBFT's layout. */
export function homePaths (home: string): { config: string, nodeKey: string, addrBook: string, genesis: string } {
  const config = join(home, 'config')
  return {
    config,
    nodeKey: join(config, 'node_key.json'),
    addrBook: join(config, 'addrbook.json'),
    genesis: join(config, 'genesis.json')
  }
}

/** Writes one line. */
export function println (stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`)
}

/** An error's one-line description: `Name: message`. */
export function describeError (err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return String(err)
}
