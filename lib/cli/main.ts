/**
 * The `rx-p2p` command line (the entry point that `bin/rx-p2p.js` loads). See {@link runCli}.
 *
 * @module
 */
import { processContext } from './args.js'
import { runCli } from './run.js'

process.exitCode = await runCli(process.argv.slice(2), processContext())
