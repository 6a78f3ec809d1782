/**
 * The `rx-p2p` command's dispatcher: picks the command, prints help and the version, and turns errors into
 * exit statuses (2 for usage errors, 1 for failures).
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { EXIT_FAILURE, EXIT_USAGE, UsageError, describeError, println, type CliContext } from './args.js'
import { CRAWL_USAGE, crawlCommand } from './crawl.js'
import { INIT_USAGE, initCommand } from './init.js'
import { NODE_USAGE, nodeCommand } from './node.js'
import { SHOW_NODE_ID_USAGE, showNodeIdCommand } from './show-node-id.js'

/** `rx-p2p help`. */
export const USAGE = `usage: rx-p2p <command> [options]

Peer-to-peer networking on RxJS, wire-compatible with CometBFT's p2p protocol.

commands:
  crawl <id@host:port>...   walk a network through PEX and write a JSON report of its nodes
  node                      run a node with PEX and an address book
  init                      create a home directory with a node key
  show-node-id              print the node ID of a home directory's key
  help [command]            this help, or a command's
  version                   print the version (also --version, -v)

'rx-p2p <command> --help' shows a command's options.
`

interface Command {
  readonly usage: string
  readonly run: (args: readonly string[], ctx: CliContext) => Promise<number>
}

const COMMANDS: Readonly<Record<string, Command>> = {
  crawl: { usage: CRAWL_USAGE, run: crawlCommand },
  node: { usage: NODE_USAGE, run: nodeCommand },
  init: { usage: INIT_USAGE, run: initCommand },
  'show-node-id': { usage: SHOW_NODE_ID_USAGE, run: showNodeIdCommand }
}

/** rx-p2p's version, from its package.json. */
export function packageVersion (): string {
  // lib/cli/run.ts and dist/cli/run.js both sit two levels below the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/** Runs the `rx-p2p` command line `argv` (without `node` and the script); resolves with the exit status. */
export async function runCli (argv: readonly string[], ctx: CliContext): Promise<number> {
  const [name, ...args] = argv
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h': {
      const topic = name === 'help' ? args[0] : undefined
      if (topic === undefined) {
        ctx.stdout.write(USAGE)
        return 0
      }
      const command = COMMANDS[topic]
      if (command === undefined) return usageError(ctx, `unknown command ${JSON.stringify(topic)}`, USAGE)
      ctx.stdout.write(command.usage)
      return 0
    }
    case 'version':
    case '--version':
    case '-v':
      println(ctx.stdout, packageVersion())
      return 0
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (command === undefined) {
    return usageError(ctx, name.startsWith('-') ? `unknown option ${JSON.stringify(name)}` : `unknown command ${JSON.stringify(name)}`, USAGE)
  }
  try {
    return await command.run(args, ctx)
  } catch (err) {
    if (err instanceof UsageError) {
      const message = err.message.startsWith(`${name}: `) ? err.message : `${name}: ${err.message}`
      return usageError(ctx, message, `run 'rx-p2p ${name} --help' for its options\n`)
    }
    println(ctx.stderr, `rx-p2p ${name}: ${describeError(err)}`)
    return EXIT_FAILURE
  }
}

function usageError (ctx: CliContext, message: string, usage: string): number {
  println(ctx.stderr, `rx-p2p: ${message}`)
  println(ctx.stderr)
  ctx.stderr.write(usage)
  return EXIT_USAGE
}
