/**
 * `rx-p2p init`: makes a home directory with a node key, in CometBFT's layout.
 *
 * @module
 */
import { access, mkdir } from 'node:fs/promises'
import { NodeKey } from '../crypto/node-key.js'
import { flag, homeDir, homePaths, parseCommandArgs, println, type CliContext } from './args.js'

/** `rx-p2p init --help`. */
export const INIT_USAGE = `usage: rx-p2p init [--home <dir>]

Creates <home>/config/node_key.json (CometBFT's format, mode 0600) unless it exists, and prints the node ID.
An existing key is kept, as 'cometbft init' does.

options:
  --home <dir>   home directory (default: $RX_P2P_HOME, else ~/.rx-p2p)
  -h, --help     this help
`

/** Runs `rx-p2p init`; resolves with the exit status. @throws {UsageError} */
export async function initCommand (args: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseCommandArgs('init', args, { home: { type: 'string' } })
  if (flag(parsed, 'help')) {
    ctx.stdout.write(INIT_USAGE)
    return 0
  }
  const paths = homePaths(homeDir(parsed, ctx.env))
  await mkdir(paths.config, { recursive: true, mode: 0o700 })
  const existed = await access(paths.nodeKey).then(() => true, () => false)
  const key = await NodeKey.loadOrGenerate(paths.nodeKey)
  println(ctx.stdout, `${existed ? 'Found' : 'Generated'} node key ${paths.nodeKey}`)
  println(ctx.stdout, `node ID ${key.id}`)
  return 0
}
