/**
 * The `rx-p2p` command line.
 *
 * @module
 */
const USAGE = `usage: rx-p2p <command> [options]

commands:
  help                 show this help
`

async function main (argv: string[]): Promise<number> {
  const [command] = argv
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return 0
    default:
      process.stderr.write(`rx-p2p: unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
      return 2
  }
}

process.exitCode = await main(process.argv.slice(2))
