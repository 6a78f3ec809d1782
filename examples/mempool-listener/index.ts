/**
 * Prints the mempool transactions of a CometBFT node as it gossips them (see README.md in this folder).
 *
 *   node --import tsx examples/mempool-listener/index.ts --rpc http://127.0.0.1:26657
 *   node --import tsx examples/mempool-listener/index.ts --peer <id>@127.0.0.1:26656 --chain-id <chain-id>
 *
 * One line per transaction: time, hash (SHA-256, upper-case hex, as CometBFT's RPC shows it), size, and the
 * transaction itself when it is short printable text. Peer events (connected, disconnected, failed dials)
 * go to stderr. Ctrl-C (or --seconds) stops.
 */
import { parseArgs } from 'node:util'
import { NetAddress, type MempoolTx, type PeerEvent } from '../../lib/index.js'
import { discoverNode, mempoolTransactions$ } from './mempool-listener.js'

const USAGE = `usage: index.ts (--rpc <url> | --peer <id@host:port> --chain-id <chain-id>) [options]

  --rpc <url>          read the node's ID, P2P address and chain ID from its RPC /status
  --peer <id@host:port> the node's P2P address (overrides the one --rpc finds)
  --chain-id <id>      the node's chain ID (overrides the one --rpc finds)
  --moniker <name>     our moniker in the node's /net_info (default rx-p2p-mempool-listener)
  --seconds <n>        stop after n seconds (default: run until Ctrl-C)
`

const { values } = parseArgs({
  options: {
    rpc: { type: 'string' },
    peer: { type: 'string' },
    'chain-id': { type: 'string' },
    moniker: { type: 'string', default: 'rx-p2p-mempool-listener' },
    seconds: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false }
  }
})

function fail (message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`)
  process.exit(2)
}

if (values.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}

let peer = values.peer !== undefined ? NetAddress.parse(values.peer) : undefined
let chainId = values['chain-id']
let p2pVersion: number | undefined
if (values.rpc !== undefined) {
  const node = await discoverNode(values.rpc).catch((err: unknown) => fail(`cannot read ${values.rpc}/status: ${err instanceof Error ? err.message : String(err)}`))
  peer ??= node.address
  chainId ??= node.chainId
  p2pVersion = node.p2pVersion
  process.stderr.write(`* node ${node.moniker} (CometBFT ${node.version}) at height ${node.height}, chain ${node.chainId}\n`)
}
if (peer === undefined || chainId === undefined) fail('give --rpc, or --peer and --chain-id')
const seconds = values.seconds !== undefined ? Number(values.seconds) : undefined
if (seconds !== undefined && !(seconds > 0)) fail(`--seconds must be a positive number, got ${values.seconds}`)

const printable = (tx: Uint8Array): string | undefined => {
  if (tx.byteLength > 64) return undefined
  const text = new TextDecoder('utf-8', { fatal: false }).decode(tx)
  return /^[\x20-\x7e]*$/.test(text) ? text : undefined
}

function line ({ tx, hash }: MempoolTx): string {
  const text = printable(tx)
  return `${new Date().toISOString()} ${hash} ${tx.byteLength} bytes${text !== undefined ? `  ${JSON.stringify(text)}` : ''}`
}

function onEvent (e: PeerEvent): void {
  if (e.type === 'added') {
    const info = e.peer.nodeInfo
    process.stderr.write(`* connected to ${info.moniker} ${e.peer.socketAddr.toString()} (chain ${info.network}, CometBFT ${info.version}); listening to its mempool\n`)
  } else if (e.type === 'removed') {
    process.stderr.write(`* disconnected from ${e.peer.nodeInfo.moniker}: ${e.reason?.message ?? 'stopped'}\n`)
  } else if (e.type === 'dialFailed') {
    process.stderr.write(`* could not connect to ${e.address.toString()}: ${e.error.name}: ${e.error.message} (retrying)\n`)
  }
}

process.stderr.write(`* dialing ${peer.toString()} on chain ${chainId}\n`)
const subscription = mempoolTransactions$({ peer, chainId, moniker: values.moniker, onEvent, ...(p2pVersion !== undefined ? { p2pVersion } : {}) })
  .subscribe({
    next: (tx) => { process.stdout.write(`${line(tx)}\n`) },
    error: (err: unknown) => {
      process.stderr.write(`* ${err instanceof Error ? err.message : String(err)}\n`)
      process.exitCode = 1
    }
  })

let timer: NodeJS.Timeout | undefined
const stop = (): void => {
  clearTimeout(timer)
  process.stderr.write('* stopping\n')
  subscription.unsubscribe() // stops the Switch; the process ends once its sockets are closed
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
if (seconds !== undefined) timer = setTimeout(stop, seconds * 1000)
