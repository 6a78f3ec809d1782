/**
 * `rx-p2p show-node-id`: prints the node ID of a home directory's key.
 *
 * @module
 */
import { access } from 'node:fs/promises'
import { NodeKey } from '../crypto/node-key.js'
import { EXIT_FAILURE, flag, homeDir, homePaths, parseCommandArgs, println, type CliContext } from './args.js'

/** `rx-p2p show-node-id --help`. */
export const SHOW_NODE_ID_USAGE = `usage: rx-p2p show-node-id [--home <dir>]

Prints the node ID of <home>/config/node_key.json (a key from 'cometbft init' works too).

options:
  --home <dir>   home directory (default: $RX_P2P_HOME, else ~/.rx-p2p)
  -h, --help     this help
`

/** Runs `rx-p2p show-node-id`; resolves with the exit status. @throws {UsageError} */
export async function showNodeIdCommand (args: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseCommandArgs('show-node-id', args, { home: { type: 'string' } })
  if (flag(parsed, 'help')) {
    ctx.stdout.write(SHOW_NODE_ID_USAGE)
    return 0
  }
  const home = homeDir(parsed, ctx.env)
  const { nodeKey } = homePaths(home)
  if (!await access(nodeKey).then(() => true, () => false)) {
    println(ctx.stderr, `rx-p2p show-node-id: no node key at ${nodeKey} (run: rx-p2p init --home ${home})`)
    return EXIT_FAILURE
  }
  println(ctx.stdout, (await NodeKey.load(nodeKey)).id)
  return 0
}
